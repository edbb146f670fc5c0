//! The auto-reply app of `examples/auto_reply.rs` (a newcomer's first app), end to end against
//! the fake: it answers a visitor, the contact and the member they become, never its own
//! message, and its count follows the merges.

#[path = "../../examples/auto_reply.rs"]
#[allow(dead_code)]
mod example;

use std::time::Duration;

use wix_inbox::types::{
    Message, MessageDirection, MessageVisibility, OverrideSenderOptions, ParticipantId,
};
use wix_inbox::webhooks::WebhookVerifier;
use wix_inbox_fake::FakeInbox;

#[tokio::test]
async fn answers_visitor_contact_and_member_never_itself_and_counts_across_merges() {
    let fake = FakeInbox::start().await.unwrap();
    let app = example::AutoReply::new(fake.app_client_builder().build().unwrap(), fake.app_id());
    let verifier = WebhookVerifier::from_public_key(fake.public_key_pem()).unwrap();
    fake.add_webhook_router("/webhooks", app.router(verifier))
        .unwrap();
    let member = ParticipantId::MemberId("m-1".into());
    let answered = |text: &'static str| {
        move |fake: &FakeInbox| {
            let reply = format!("Thanks, we got: {text}");
            fake.participant_messages(&ParticipantId::AnonymousVisitorId("v-1".into()))
                .iter()
                .any(|m| m.plain_text().as_deref() == Some(&reply))
        }
    };
    let wait = Duration::from_secs(10);

    fake.visitor_writes("v-1", "Hi");
    fake.wait_until("the visitor's answer", wait, answered("Hi"))
        .await
        .unwrap();
    fake.visitor_becomes_contact("v-1", "c-1").unwrap();
    fake.contact_writes("c-1", "jo@example.com");
    fake.wait_until("the contact's answer", wait, answered("jo@example.com"))
        .await
        .unwrap();
    fake.contact_becomes_member("c-1", "m-1").unwrap();
    fake.member_writes("m-1", "Signed up");
    fake.wait_until("the member's answer", wait, answered("Signed up"))
        .await
        .unwrap();

    // The app's own message, sent as the participant, comes back as Message Sent To Business
    // with the member as sender: it is not answered.
    let synced = Message {
        direction: Some(MessageDirection::ParticipantToBusiness),
        visibility: Some(MessageVisibility::Business),
        ..Message::reply("from the shop")
    };
    fake.app_client_builder()
        .build()
        .unwrap()
        .send_to_participant(&member, synced)
        .send_as(OverrideSenderOptions::Participant)
        .await
        .unwrap();
    fake.settle().await;

    let conversation = fake.current_conversation_id(&member).unwrap();
    assert_eq!(
        fake.message_texts(&conversation),
        [
            "Hi",
            "Thanks, we got: Hi",
            "jo@example.com",
            "Thanks, we got: jo@example.com",
            "Signed up",
            "Thanks, we got: Signed up",
            "from the shop",
        ]
    );
    let counted = fake
        .events()
        .iter()
        .filter(|e| e.event_type.contains("sent_to_business"))
        .count();
    assert_eq!(
        counted, 4,
        "the app's own message came back as a webhook too"
    );
    // Three answered, counted under the member's conversation, whichever ID the app asks by.
    let first = fake.conversations()[0].id.clone().unwrap();
    assert_ne!(first, conversation);
    assert_eq!(app.count(&conversation).await.unwrap(), 3);
    assert_eq!(app.count(&first).await.unwrap(), 3);
    fake.shutdown().await;
}

#[tokio::test]
async fn the_example_s_demo_runs() {
    example::demo().await.unwrap();
}
