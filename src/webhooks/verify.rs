//! [`WebhookVerifier`]: checks that a webhook body is a JWT that Wix signed with the app's key,
//! then hands its claims to the decoder ([`super::event`]).
//!
//! The order of the checks is the order of their cost: size, shape, header and algorithm,
//! signature, and only then the claims (time, then the nested JSON layers). Nothing the sender
//! controls is parsed before the signature is checked, except the small JOSE header.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::{DecodeSliceError, Engine as _};
use jsonwebtoken::DecodingKey;
use serde::Deserialize;

use super::error::{Layer, WebhookError};
use super::event::{decode_claims, TimePolicy, WebhookEvent};

/// The default body size limit: 1 MiB. Wix's webhooks are a few kilobytes.
pub const DEFAULT_MAX_BODY_SIZE: usize = 1024 * 1024;

/// The default leeway for `exp` and `nbf`: 60 seconds of clock skew.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// The longest JOSE header accepted, in base64url characters. Wix's is about 40.
const MAX_HEADER_B64: usize = 4096;

/// The longest RS256 signature, in bytes: that of an 8192-bit key.
const MAX_SIGNATURE: usize = 1024;

/// Decoded header bytes that fit on the stack (no zeroing of a 3 KB buffer per call).
const SMALL_HEADER: usize = 192;

/// Verifies and decodes Wix webhook deliveries with one app's public key.
///
/// The key is parsed once, in [`from_public_key`](Self::from_public_key). The verifier is
/// `Send + Sync` and cloning it only bumps a reference count, so build one at start-up and share
/// it between requests.
///
/// Policy, and why:
/// - **RS256 only.** Wix signs with RS256; any other `alg` (`none` in any casing, HS256 with the
///   public key as secret, RS384, PS256, ES256, …) is [`WebhookError::WrongAlgorithm`]. Header
///   parameters that carry keys (`jwk`, `jku`, `x5u`, `x5c`, `kid`) are ignored: the key is the
///   one given here, never one named by the token. A `crit` header is refused, since this
///   verifier understands no extension.
/// - **`exp` is required by default.** Wix puts `iat` and `exp` in every token. A token without
///   `exp` would stay valid forever, so a captured delivery could be replayed long after the
///   48 hours during which a [`Deduplicator`](super::Deduplicator) remembers its event id. Use
///   [`allow_missing_expiry`](Self::allow_missing_expiry) to accept such tokens anyway.
/// - `exp` and `nbf` are enforced when present, with a leeway of [`DEFAULT_LEEWAY`] for clock
///   skew ([`leeway`](Self::leeway)).
/// - Bodies over [`DEFAULT_MAX_BODY_SIZE`] are refused before anything else is looked at
///   ([`with_max_body_size`](Self::with_max_body_size)).
///
/// ```
/// use std::time::Duration;
/// use wix_inbox::webhooks::{InboxEvent, WebhookVerifier};
/// # use wix_inbox::webhooks::test_signer::{TestEvent, TestSigner};
/// # let signer = TestSigner::shared();
/// # let public_key_pem = signer.public_key_pem();
/// # let body = signer.sign_event(&TestEvent::new(
/// #     "wix.crm.inbox.v2.conversation_conversations_merged",
/// #     serde_json::json!({"id": "e1", "entityFqdn": "wix.crm.inbox.v2.conversation",
/// #         "slug": "conversations_merged",
/// #         "actionEvent": {"body": {"targetConversationId": "c2"}}}),
/// # ));
///
/// let verifier = WebhookVerifier::from_public_key(public_key_pem)?
///     .leeway(Duration::from_secs(30));
/// let event = verifier.verify(body.as_bytes())?;
/// match event.event {
///     InboxEvent::ConversationsMerged(merged) => {
///         assert_eq!(merged.target_conversation_id.as_deref(), Some("c2"));
///     }
///     other => panic!("unexpected {other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct WebhookVerifier {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    /// The RSA key, parsed once: `jsonwebtoken::crypto::verify` would re-parse it from DER on
    /// every call.
    key: Arc<ParsedPublicKey>,
    max_body_size: usize,
    time: TimePolicy,
}

impl std::fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("key", &"[RSA public key]")
            .field("max_body_size", &self.inner.max_body_size)
            .field("leeway_secs", &self.inner.time.leeway_secs)
            .field("require_exp", &self.inner.time.require_exp)
            .finish()
    }
}

/// The JOSE header, as far as this verifier reads it.
#[derive(Deserialize)]
struct JoseHeader<'a> {
    #[serde(borrow, default)]
    alg: Option<Cow<'a, str>>,
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

impl WebhookVerifier {
    /// Builds a verifier from the app's public key: an RSA public key as SPKI PEM
    /// (`-----BEGIN PUBLIC KEY-----`, as the Wix app dashboard shows it; PKCS#1
    /// `BEGIN RSA PUBLIC KEY` works too), or base64 of that whole PEM text. Surrounding
    /// whitespace is ignored.
    ///
    /// The key is parsed here, once. Errors are [`WebhookError::InvalidPublicKey`]; they never
    /// quote the key.
    pub fn from_public_key(public_key: &str) -> Result<Self, WebhookError> {
        let trimmed = public_key.trim();
        let pem: Cow<'_, str> = if trimmed.contains("-----BEGIN") {
            Cow::Borrowed(trimmed)
        } else {
            let compact: String = trimmed.split_ascii_whitespace().collect();
            let decoded = STANDARD
                .decode(compact.as_bytes())
                .map_err(|_| invalid_key("neither PEM nor base64 of a PEM"))?;
            let text = String::from_utf8(decoded)
                .map_err(|_| invalid_key("base64 that does not decode to PEM text"))?;
            if !text.contains("-----BEGIN") {
                return Err(invalid_key("base64 that does not decode to PEM text"));
            }
            Cow::Owned(text)
        };
        if pem.contains("PRIVATE KEY") {
            return Err(invalid_key(
                "this is a private key; the verifier needs the public key",
            ));
        }
        if !(pem.contains("-----BEGIN PUBLIC KEY-----")
            || pem.contains("-----BEGIN RSA PUBLIC KEY-----"))
        {
            return Err(invalid_key("the PEM holds no public key"));
        }
        // jsonwebtoken reads the PEM; its backend, aws-lc, parses the key once, here, for RS256
        // (RSASSA-PKCS1-v1_5 with SHA-256, keys of 2048 to 8192 bits).
        let der = DecodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|_| invalid_key("not an RSA public key"))?;
        let key = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der.as_bytes())
            .map_err(|_| invalid_key("not an RSA public key"))?;
        Ok(WebhookVerifier {
            inner: Arc::new(Inner {
                key: Arc::new(key),
                max_body_size: DEFAULT_MAX_BODY_SIZE,
                time: TimePolicy {
                    leeway_secs: DEFAULT_LEEWAY.as_secs() as i64,
                    require_exp: true,
                },
            }),
        })
    }

    /// Sets the largest body accepted, in bytes (default [`DEFAULT_MAX_BODY_SIZE`]).
    pub fn with_max_body_size(mut self, bytes: usize) -> Self {
        Arc::make_mut(&mut self.inner).max_body_size = bytes;
        self
    }

    /// Sets the clock-skew leeway for `exp` and `nbf` (default [`DEFAULT_LEEWAY`]); whole
    /// seconds count.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        Arc::make_mut(&mut self.inner).time.leeway_secs =
            i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX);
        self
    }

    /// Whether to accept tokens that have no `exp` claim (default `false`; see the type's docs
    /// for why).
    pub fn allow_missing_expiry(mut self, allow: bool) -> Self {
        Arc::make_mut(&mut self.inner).time.require_exp = !allow;
        self
    }

    /// The largest body accepted, in bytes.
    pub fn max_body_size(&self) -> usize {
        self.inner.max_body_size
    }

    /// Verifies a webhook request body (the whole body is the JWT) and decodes the event in it,
    /// checking `exp`/`nbf` against the system clock.
    pub fn verify(&self, body: &[u8]) -> Result<WebhookEvent, WebhookError> {
        self.verify_at(body, unix_now())
    }

    /// Like [`verify`](Self::verify), with the clock given as seconds since the Unix epoch.
    pub fn verify_at(&self, body: &[u8], now_unix_secs: i64) -> Result<WebhookEvent, WebhookError> {
        let claims = self.verify_signature(body)?;
        decode_claims(&claims, &self.inner.time, now_unix_secs)
    }

    /// Checks size, shape, algorithm and signature; returns the decoded claims JSON.
    fn verify_signature(&self, body: &[u8]) -> Result<Vec<u8>, WebhookError> {
        let limit = self.inner.max_body_size;
        if body.len() > limit {
            return Err(WebhookError::TooLarge {
                size: body.len(),
                limit,
            });
        }
        let token = body.trim_ascii();
        if token.is_empty() {
            return Err(not_a_jwt("the body is empty"));
        }
        if token[0] == b'{' {
            return Err(not_a_jwt(
                "the JSON serialization of JWS is not accepted, only compact `a.b.c`",
            ));
        }
        if !token.is_ascii() {
            return Err(not_a_jwt("the body is not ASCII text"));
        }
        let token = std::str::from_utf8(token).map_err(|_| not_a_jwt("the body is not text"))?;

        let (header_b64, rest) = token
            .split_once('.')
            .ok_or_else(|| not_a_jwt("it has no `.` separators"))?;
        let (claims_b64, signature_b64) = rest
            .split_once('.')
            .ok_or_else(|| not_a_jwt("it has two parts, not three"))?;
        if signature_b64.contains('.') {
            return Err(not_a_jwt(
                "it has more than three parts (an encrypted JWE?)",
            ));
        }

        check_header(header_b64)?;

        // An RS256 signature is as long as the key: 512 bytes at most for 4096 bits, 1024 for the
        // 8192 bits aws-lc accepts.
        // An empty signature decodes and then fails the check like any other wrong one.
        let mut signature = [0u8; MAX_SIGNATURE];
        let Ok(len) = URL_SAFE_NO_PAD.decode_slice(signature_b64, &mut signature) else {
            return Err(WebhookError::BadSignature);
        };
        let signature = &signature[..len];
        let message = &token[..header_b64.len() + 1 + claims_b64.len()];
        if self
            .inner
            .key
            .verify_sig(message.as_bytes(), signature)
            .is_err()
        {
            return Err(WebhookError::BadSignature);
        }

        URL_SAFE_NO_PAD
            .decode(claims_b64)
            .map_err(|_| WebhookError::malformed_because(Layer::Claims, "not base64url"))
    }
}

/// Decodes and checks the JOSE header: a JSON object whose `alg` is exactly `RS256`.
fn check_header(header_b64: &str) -> Result<(), WebhookError> {
    if header_b64.len() > MAX_HEADER_B64 {
        return Err(not_a_jwt("the header is too long"));
    }
    // Wix's header fits the stack buffer; a longer one (still bounded) goes to the heap.
    let mut stack = [0u8; SMALL_HEADER];
    let heap;
    let decoded: &[u8] = match URL_SAFE_NO_PAD.decode_slice(header_b64, &mut stack) {
        Ok(len) => &stack[..len],
        Err(DecodeSliceError::OutputSliceTooSmall) => {
            heap = URL_SAFE_NO_PAD
                .decode(header_b64)
                .map_err(|_| not_a_jwt("the header is not base64url"))?;
            &heap
        }
        Err(DecodeSliceError::DecodeError(_)) => {
            return Err(not_a_jwt("the header is not base64url"))
        }
    };
    let header: JoseHeader<'_> = serde_json::from_slice(decoded)
        .map_err(|_| not_a_jwt("the header is not a JSON object with a string `alg`"))?;
    match header.alg.as_deref() {
        Some("RS256") => {}
        other => return Err(WebhookError::wrong_algorithm(other)),
    }
    if header.crit.is_some() {
        return Err(not_a_jwt(
            "the header lists `crit` extensions, which this verifier does not support",
        ));
    }
    Ok(())
}

fn not_a_jwt(reason: &'static str) -> WebhookError {
    WebhookError::NotAJwt { reason }
}

fn invalid_key(reason: &'static str) -> WebhookError {
    WebhookError::InvalidPublicKey { reason }
}

/// Seconds since the Unix epoch by the system clock (0 if the clock is before 1970).
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone>() {}

    #[test]
    fn verifier_is_send_sync_clone() {
        assert_send_sync::<WebhookVerifier>();
    }

    #[test]
    fn rejects_garbage_keys_without_quoting_them() {
        for key in [
            "",
            "hello",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
        ] {
            let err = WebhookVerifier::from_public_key(key).unwrap_err();
            assert!(
                matches!(err, WebhookError::InvalidPublicKey { .. }),
                "{err}"
            );
        }
        let private = "-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----";
        let err = WebhookVerifier::from_public_key(private).unwrap_err();
        assert!(!err.to_string().contains("secret"));
    }
}
