//! The key pair the fake signs webhooks with, and the signing itself (RS256, as Wix does).

use std::sync::{Arc, OnceLock};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use rsa::{RsaPrivateKey, RsaPublicKey};

use crate::types::WebhookPayload;

/// An RSA key pair: the private half signs, the public half is what the app is given.
pub(crate) struct Signer {
    key: EncodingKey,
    public_key_pem: String,
}

impl Signer {
    /// The signer of this process: an RSA-2048 key generated on first use (generation is the
    /// slow part, so every fake of the process shares it).
    pub(crate) fn shared() -> Arc<Signer> {
        static SHARED: OnceLock<Arc<Signer>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
                    .expect("RSA-2048 key generation");
                Arc::new(Signer::from_key(&key).expect("a generated key encodes"))
            })
            .clone()
    }

    /// A signer with a private key given as PEM (PKCS#1 `RSA PRIVATE KEY` or PKCS#8
    /// `PRIVATE KEY`).
    pub(crate) fn from_private_pem(pem: &str) -> Result<Signer, String> {
        let key = RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
            .map_err(|e| format!("not an RSA private key in PEM: {e}"))?;
        Signer::from_key(&key)
    }

    fn from_key(key: &RsaPrivateKey) -> Result<Signer, String> {
        let private_pem = key
            .to_pkcs1_pem(LineEnding::LF)
            .map_err(|e| format!("encoding the private key: {e}"))?;
        let public_key_pem = RsaPublicKey::from(key)
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| format!("encoding the public key: {e}"))?;
        let key = EncodingKey::from_rsa_pem(private_pem.as_bytes())
            .map_err(|e| format!("loading the key for RS256: {e}"))?;
        Ok(Signer {
            key,
            public_key_pem,
        })
    }

    /// The public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`), as Wix shows an app's key.
    pub(crate) fn public_key_pem(&self) -> &str {
        &self.public_key_pem
    }

    /// The compact JWT of `claims`: header `{"typ":"JWT","alg":"RS256"}`, RS256 signature.
    pub(crate) fn sign(&self, claims: &WebhookPayload) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &self.key)
            .expect("RS256 signing with an RSA key")
    }
}
