//! [`TokenKey`]: access tokens sealed (AES-256-GCM) before [`RedisFleet`](super::RedisFleet)
//! writes them to Redis, so that a copy of Redis (a dump, a replica, an AOF file, a user who may
//! read the keys) holds no usable token.
//!
//! A sealed token is `sealed:v1:` then, in URL-safe base64 without padding, a random 96-bit
//! nonce, the ciphertext and the 128-bit tag. The additional data is the Redis key it is stored
//! under, so a sealed token copied to another instance's key does not open. The cipher is
//! aws-lc-rs's (already the crate's crypto backend), with a random nonce per token: an app
//! seals a token per instance and hour, far from the 2³² seals a key allows.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::aead::{Aad, Nonce, RandomizedNonceKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;

/// The environment variable [`TokenKey::from_env`] reads: 32 bytes in base64.
pub const TOKEN_KEY_VAR: &str = "WIX_INBOX_TOKEN_KEY";

/// What starts a sealed token in Redis (a Wix access token never does).
const SEALED: &str = "sealed:v1:";

/// The key that seals the fleet's access tokens in Redis ([`RedisFleet::seal_tokens`]): 32
/// random bytes, the same in every process of the app (`openssl rand -base64 32`). `Debug`
/// never shows it.
///
/// [`RedisFleet::seal_tokens`]: super::RedisFleet::seal_tokens
#[derive(Clone)]
pub struct TokenKey(Arc<RandomizedNonceKey>);

/// A [`TokenKey`] that could not be read. It never quotes the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKeyError {
    /// The value is not base64 (standard or URL-safe, with or without padding).
    NotBase64,
    /// The value is base64 of this many bytes, not 32.
    Length(usize),
    /// The cipher refused the key or failed (should not happen with 32 bytes).
    Cipher,
}

impl fmt::Display for TokenKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenKeyError::NotBase64 => write!(f, "the token key is not base64"),
            TokenKeyError::Length(n) => write!(
                f,
                "the token key must be 32 bytes (base64 of `openssl rand -base64 32`), not {n}"
            ),
            TokenKeyError::Cipher => write!(f, "the token key was refused by AES-256-GCM"),
        }
    }
}

impl std::error::Error for TokenKeyError {}

impl TokenKey {
    /// The key from its 32 bytes.
    ///
    /// # Errors
    ///
    /// [`TokenKeyError::Length`] for any other length.
    pub fn from_bytes(bytes: &[u8]) -> Result<TokenKey, TokenKeyError> {
        if bytes.len() != 32 {
            return Err(TokenKeyError::Length(bytes.len()));
        }
        RandomizedNonceKey::new(&AES_256_GCM, bytes)
            .map(|key| TokenKey(Arc::new(key)))
            .map_err(|_| TokenKeyError::Cipher)
    }

    /// The key from base64 of its 32 bytes (standard or URL-safe; padding optional; spaces
    /// around it ignored).
    ///
    /// # Errors
    ///
    /// [`TokenKeyError::NotBase64`] or [`TokenKeyError::Length`].
    pub fn from_base64(text: &str) -> Result<TokenKey, TokenKeyError> {
        let text = text.trim();
        let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .ok_or(TokenKeyError::NotBase64)?;
        TokenKey::from_bytes(&bytes)
    }

    /// The key in [`TOKEN_KEY_VAR`] (`WIX_INBOX_TOKEN_KEY`), `None` when it is unset or empty.
    ///
    /// # Errors
    ///
    /// As [`TokenKey::from_base64`], when it is set to something else than a key.
    pub fn from_env() -> Result<Option<TokenKey>, TokenKeyError> {
        crate::client::env::var(TOKEN_KEY_VAR)
            .map(|text| TokenKey::from_base64(&text))
            .transpose()
    }

    /// `token` sealed for the Redis key `key`.
    pub(crate) fn seal(&self, key: &str, token: &str) -> Option<String> {
        let mut in_out = token.as_bytes().to_vec();
        let nonce = self
            .0
            .seal_in_place_append_tag(Aad::from(key.as_bytes()), &mut in_out)
            .ok()?;
        let mut sealed = nonce.as_ref().to_vec();
        sealed.extend_from_slice(&in_out);
        Some(format!("{SEALED}{}", URL_SAFE_NO_PAD.encode(sealed)))
    }

    /// The token `value` (read from the Redis key `key`) holds, if this key sealed it there.
    pub(crate) fn open(&self, key: &str, value: &str) -> Option<String> {
        let bytes = URL_SAFE_NO_PAD.decode(value.strip_prefix(SEALED)?).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut in_out = sealed.to_vec();
        let token = self
            .0
            .open_in_place(nonce, Aad::from(key.as_bytes()), &mut in_out)
            .ok()?;
        String::from_utf8(token.to_vec()).ok()
    }
}

/// Whether `value` is a sealed token (which a process without the key must not send to Wix).
pub(crate) fn is_sealed(value: &str) -> bool {
    value.starts_with(SEALED)
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> TokenKey {
        TokenKey::from_bytes(&[byte; 32]).unwrap()
    }

    #[test]
    fn a_sealed_token_opens_with_its_key_under_its_redis_key_only() {
        let sealed = key(1).seal("p:token:{a}", "OauthNG.JWS.secret").unwrap();
        assert!(sealed.starts_with(SEALED) && !sealed.contains("secret"));
        assert_eq!(
            key(1).open("p:token:{a}", &sealed).as_deref(),
            Some("OauthNG.JWS.secret")
        );
        assert_eq!(key(2).open("p:token:{a}", &sealed), None, "another key");
        assert_eq!(
            key(1).open("p:token:{b}", &sealed),
            None,
            "another instance"
        );
        assert_ne!(
            sealed,
            key(1).seal("p:token:{a}", "OauthNG.JWS.secret").unwrap()
        );
    }

    #[test]
    fn a_changed_or_foreign_value_does_not_open() {
        let sealed = key(1).seal("k", "token").unwrap();
        let mut bytes = sealed.into_bytes();
        let last = bytes.len() - 1;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(key(1).open("k", &tampered), None);
        for foreign in ["token", "sealed:v1:", "sealed:v1:!!", "sealed:v1:AAAA"] {
            assert_eq!(key(1).open("k", foreign), None, "{foreign}");
        }
        assert!(!is_sealed("OauthNG.JWS.x") && is_sealed("sealed:v1:x"));
    }

    #[test]
    fn a_key_is_32_bytes_of_base64_and_never_shown() {
        let text = STANDARD.encode([7u8; 32]);
        assert!(TokenKey::from_base64(&format!(" {text}\n")).is_ok());
        assert!(TokenKey::from_base64(&URL_SAFE_NO_PAD.encode([7u8; 32])).is_ok());
        assert_eq!(
            TokenKey::from_base64(&STANDARD.encode([7u8; 16])).unwrap_err(),
            TokenKeyError::Length(16)
        );
        assert_eq!(
            TokenKey::from_base64("not base64 at all!").unwrap_err(),
            TokenKeyError::NotBase64
        );
        assert_eq!(format!("{:?}", key(7)), "TokenKey(<redacted>)");
        let message = TokenKeyError::Length(16).to_string();
        assert!(message.contains("32 bytes"), "{message}");
    }
}
