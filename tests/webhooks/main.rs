//! Webhook tests: attacks, Wix's own examples, duplicates, the axum receiver and properties.
//! One test binary, so the crate is linked once.

mod attacks;
mod dedup;
mod http;
mod props;
mod receiver;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
#[path = "../common/redis_server.rs"]
mod redis_server;
#[path = "../common/redis_tls.rs"]
mod redis_tls;
mod trace;
mod wix_examples;

use serde_json::Value;
use wix_inbox::webhooks::test_signer::{TestEvent, TestSigner};
use wix_inbox::webhooks::WebhookVerifier;

/// The process's test signer (one RSA key, generated once).
pub fn signer() -> &'static TestSigner {
    TestSigner::shared()
}

/// A verifier for [`signer`]'s key.
pub fn verifier() -> WebhookVerifier {
    signer().verifier()
}

/// A Wix example domain event (`body` of `tests/fixtures/webhooks/<Name>DomainEvent.json`,
/// Wix's own examples), by slug: `conversations_merged`, `message_sent_to_business`, ...
pub fn fixture(slug: &str) -> Value {
    let name: String = slug
        .split('_')
        .map(|word| word[..1].to_uppercase() + &word[1..])
        .collect();
    let path = format!(
        "{}/tests/fixtures/webhooks/{name}DomainEvent.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut fixture: Value = serde_json::from_str(&text).unwrap();
    fixture["body"].take()
}

/// A valid Message Sent To Business delivery (Wix's example), not yet signed.
pub fn good_event() -> TestEvent {
    TestEvent::new(
        "wix.crm.inbox.v2.message_message_sent_to_business",
        fixture("message_sent_to_business"),
    )
}

/// A valid signed delivery.
pub fn good_token() -> String {
    signer().sign_event(&good_event())
}

/// Small helpers shared by the attack and HTTP tests.
pub mod attacks_support {
    /// The token with one character of its claims changed (the signature no longer matches).
    pub fn tampered(token: &str) -> String {
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let claims = &mut parts[1];
        let last = claims.pop().unwrap();
        claims.push(if last == 'A' { 'B' } else { 'A' });
        parts.join(".")
    }
}
