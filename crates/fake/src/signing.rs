//! The key pair the fake signs webhooks with: the webhooks module's [`TestSigner`], which signs
//! exactly as Wix does (RS256 over `{data, iat, exp}`, the envelope built by [`TestEvent`]).

use wix_inbox::webhooks::test_signer::{TestEvent, TestSigner};

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

    /// The compact JWT of `event`, as [`TestSigner::sign_event`] makes it.
    pub(crate) fn sign_event(&self, event: &TestEvent) -> String {
        self.get().sign_event(event)
    }
}
