//! The key pair the fake signs webhooks with: the webhooks module's [`TestSigner`], which signs
//! exactly as Wix does (RS256 over `{data, iat, exp}`).

use crate::types::WebhookPayload;
use crate::webhooks::test_signer::TestSigner;

/// The process's shared test key, or one of the fake's own.
pub(crate) enum Signer {
    Shared(&'static TestSigner),
    Own(Box<TestSigner>),
}

impl Signer {
    fn get(&self) -> &TestSigner {
        match self {
            Signer::Shared(s) => s,
            Signer::Own(s) => s,
        }
    }

    /// The public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`), as Wix shows an app's key.
    pub(crate) fn public_key_pem(&self) -> &str {
        self.get().public_key_pem()
    }

    /// The compact JWT of `claims`: header `{"alg":"RS256","typ":"JWT"}`, RS256 signature.
    pub(crate) fn sign(&self, claims: &WebhookPayload) -> String {
        let claims = serde_json::to_value(claims).expect("generated types serialize");
        self.get().sign_claims(&claims)
    }
}
