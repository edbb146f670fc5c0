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
