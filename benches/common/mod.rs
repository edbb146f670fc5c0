//! The tokens both webhook benches verify: Wix's example events, signed by the test signer.

use serde_json::Value;
use wix_inbox::webhooks::test_signer::TestEvent;

/// `body` of a Wix example in `tests/fixtures/webhooks/`: the domain event.
pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/webhooks/{name}DomainEvent.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut fixture: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON");
    fixture["body"].take()
}

/// A delivery of a Wix example event that does not expire during the run.
pub fn event(event_type: &str, name: &str) -> TestEvent {
    let mut event = TestEvent::new(event_type, fixture(name));
    event.exp = Some(i64::MAX / 2);
    event
}

/// `(short name, eventType, fixture name)` of the two benched events.
pub const EVENTS: [(&str, &str, &str); 2] = [
    (
        "conversations_merged",
        "wix.crm.inbox.v2.conversation_conversations_merged",
        "ConversationsMerged",
    ),
    (
        "message_sent_to_business",
        "wix.crm.inbox.v2.message_message_sent_to_business",
        "MessageSentToBusiness",
    ),
];

/// The floor: split the token and check its RS256 signature with the key parsed once, as the
/// verifier does; nothing else.
pub fn floor(token: &str, key: &aws_lc_rs::signature::ParsedPublicKey) -> bool {
    use base64::Engine as _;
    let Some((message, signature)) = token.rsplit_once('.') else {
        return false;
    };
    let mut decoded = [0u8; 1024];
    let Ok(len) =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode_slice(signature, &mut decoded)
    else {
        return false;
    };
    key.verify_sig(message.as_bytes(), &decoded[..len]).is_ok()
}

/// The floor's key: the test signer's public key, parsed once.
pub fn floor_key(
    signer: &wix_inbox::webhooks::test_signer::TestSigner,
) -> aws_lc_rs::signature::ParsedPublicKey {
    let der =
        jsonwebtoken::DecodingKey::from_rsa_pem(signer.public_key_pem().as_bytes()).expect("key");
    aws_lc_rs::signature::ParsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        der.as_bytes(),
    )
    .expect("an RSA key")
}

/// Runs `work` on a tokio runtime of 2 worker threads (the machine has 2 cores): the load
/// benches' client and server share it.
pub fn on_two_threads<F: std::future::Future>(work: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(work)
}
