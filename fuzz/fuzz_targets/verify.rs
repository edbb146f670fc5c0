//! The whole verifier: arbitrary bytes as a webhook body.
//!
//! `cargo +nightly fuzz run verify` (from the repository root).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wix_inbox::webhooks::test_signer::TestSigner;
use wix_inbox::webhooks::WebhookVerifier;

fn verifier() -> &'static WebhookVerifier {
    static VERIFIER: OnceLock<WebhookVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| TestSigner::shared().verifier())
}

fuzz_target!(|body: &[u8]| {
    let _ = verifier().verify(body);
});
