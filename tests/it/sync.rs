//! The sync flow of `examples/sync.rs` against the fake: the message lands in the contact's
//! current conversation, for the business only, with its badge, and comes back as Message Sent
//! To Business.

#[path = "../../examples/sync.rs"]
#[allow(dead_code)]
mod example;

use wix_inbox::fake::FakeInbox;
use wix_inbox::types::{Badge, MessageDirection, MessageVisibility};

#[tokio::test]
async fn a_synced_message_is_the_contact_s_for_the_business_with_its_badge() {
    let fake = FakeInbox::start().await.unwrap();
    fake.visitor_writes("v-1", "hi");
    fake.visitor_becomes_contact("v-1", "c-1").unwrap();
    let badge = Badge {
        text: Some("From Helpdesk".into()),
        icon_url: Some("https://example.com/helpdesk.png".into()),
        ..Default::default()
    };
    let sent = example::sync_to_contact(
        &fake.client(),
        "c-1",
        "Where is my order?",
        Some(badge.clone()),
    )
    .await
    .unwrap();
    let stored = fake.messages(&sent.conversation_id);
    assert_eq!(stored.len(), 2, "the visitor's message moved in, then ours");
    let synced = &stored[1];
    assert_eq!(synced.plain_text().as_deref(), Some("Where is my order?"));
    assert_eq!(
        synced.direction,
        Some(MessageDirection::ParticipantToBusiness)
    );
    assert_eq!(synced.visibility, Some(MessageVisibility::Business));
    assert_eq!(synced.badges, [badge]);
    fake.settle().await;
    assert!(
        fake.events()
            .iter()
            .any(|e| e.event_type.ends_with("message_sent_to_business")
                && e.domain_event.id.is_some())
    );
}

#[tokio::test]
async fn the_example_s_demo_runs() {
    let mut lines = Vec::new();
    let result = example::demo(&mut |line| lines.push(line)).await;
    assert!(result.is_ok(), "{result:?}\n{}", lines.join("\n"));
}
