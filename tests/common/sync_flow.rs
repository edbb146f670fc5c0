//! The sync flow's shared checks: the badge, what a synced message is, and a fake where Jane
//! Doe became a contact. Used by the library's `sync` tests (`examples/sync.rs`) and the CLI's
//! `sync` tests; included by both test binaries with `#[path]`.

use wix_inbox::types::{Badge, Message, MessageDirection, MessageVisibility};
use wix_inbox_fake::{ContactDetails, FakeInbox};

/// The badge of the tests (the CLI's tests give the same with `--badge-text`, `--badge-icon`).
pub(crate) fn badge() -> Badge {
    Badge {
        text: Some("From Helpdesk".into()),
        icon_url: Some("https://example.com/helpdesk.png".into()),
        ..Default::default()
    }
}

/// The message is what the flow promises: the text, from the participant, for the business,
/// with these badges. (The CLI's `sync` tests check the fake's messages with it too.)
pub(crate) fn assert_synced(message: &Message, text: &str, badges: &[Badge]) {
    assert_eq!(message.plain_text().as_deref(), Some(text));
    assert_eq!(
        message.direction,
        Some(MessageDirection::ParticipantToBusiness)
    );
    assert_eq!(message.visibility, Some(MessageVisibility::Business));
    assert_eq!(message.badges, badges);
}

/// A fake where a visitor (`v-1`) wrote "hi" in the chat, then left their name and email
/// (Jane Doe, jane@example.com): contact `c-1`, in a new conversation. The CLI's tests start
/// from it too.
pub(crate) async fn fake_with_jane() -> FakeInbox {
    let fake = FakeInbox::start().await.unwrap();
    fake.visitor_writes("v-1", "hi");
    let jane = ContactDetails::new("c-1")
        .name("Jane", "Doe")
        .email("jane@example.com");
    fake.visitor_becomes_contact("v-1", jane).unwrap();
    fake
}
