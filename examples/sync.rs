//! Wix's example flow "Sync messages from an external service": a message a contact wrote
//! elsewhere (an email, a form of another service) is recorded in their Inbox conversation,
//! visible to the business only, with a badge naming the service.
//!
//! ```sh
//! cargo run --example sync --features fake
//! ```
//!
//! With no environment it runs against the embedded fake Inbox. The message is sent with
//! direction `PARTICIPANT_TO_BUSINESS` and visibility `BUSINESS` to the contact's current
//! conversation (Get Or Create Conversation, then Send Message, once more after a merge:
//! `send_to_participant`).

use wix_inbox::send::SentMessage;
use wix_inbox::types::{
    Badge, Message, MessageContent, MessageDirection, MessageVisibility, ParticipantId,
};

/// The message of the flow: the participant's words, for the business's eyes, with a badge
/// (text + icon URL) saying where they came from.
pub fn synced_message(text: &str, badge: Option<Badge>) -> Message {
    Message {
        content: Some(MessageContent::text(text)),
        direction: Some(MessageDirection::ParticipantToBusiness),
        visibility: Some(MessageVisibility::Business),
        badges: badge.into_iter().collect(),
        ..Default::default()
    }
}

/// Records `text` in the contact's current conversation.
pub async fn sync_to_contact(
    client: &wix_inbox::Client,
    contact_id: &str,
    text: &str,
    badge: Option<Badge>,
) -> Result<SentMessage, wix_inbox::Error> {
    let contact = ParticipantId::ContactId(contact_id.to_owned());
    client
        .send_to_participant(&contact, synced_message(text, badge))
        .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    demo().await
}

/// The flow against the fake Inbox (Get Or Create makes the contact's conversation).
pub async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    let fake = wix_inbox::fake::FakeInbox::start().await?;
    let badge = Badge {
        text: Some("From Helpdesk".into()),
        icon_url: Some("https://example.com/helpdesk.png".into()),
        ..Default::default()
    };
    let sent = sync_to_contact(
        &fake.client(),
        "890a3816-85b4-44ab-9085-524972a850ef",
        "Where is my order?",
        Some(badge),
    )
    .await?;
    println!(
        "synced into {} as message {}",
        sent.conversation_id,
        sent.message.id.unwrap_or_default()
    );
    Ok(())
}
