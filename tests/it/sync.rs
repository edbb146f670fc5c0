//! The sync job of `examples/sync.rs` and `contacts::find_or_create_by_email` against the fake:
//! the contact found by email (or created), several contacts refused, two syncs racing on a new
//! email, and the message in the contact's current conversation, for the business only, with
//! its badge, sent as the caller.

#[path = "../../examples/sync.rs"]
#[allow(dead_code)]
pub(crate) mod example;

use wix_inbox::contacts::{find_or_create_by_email, ByEmail, FindOrCreateError};
use wix_inbox::state::Replies;
use wix_inbox::types::{Badge, ParticipantId};
use wix_inbox_fake::{ContactDetails, FakeInbox};

use crate::sync_flow::{assert_synced, fake_with_jane};

#[tokio::test]
async fn a_contact_found_by_email_gets_the_message_in_their_current_conversation() {
    let fake = fake_with_jane().await;
    let own = Replies::new();
    let sent = example::sync(
        &fake.client(),
        &own,
        "jane@example.com",
        "Where is my order?",
    )
    .await
    .unwrap();
    let contact = ParticipantId::ContactId("c-1".into());
    assert_eq!(
        fake.current_conversation_id(&contact).as_ref(),
        Some(&sent.conversation_id)
    );
    let stored = fake.messages(&sent.conversation_id);
    assert_eq!(stored.len(), 2, "the visitor's message moved in, then ours");
    assert_synced(&stored[1], "Where is my order?", &[Badge::named("Email")]);
    // Sent as the caller (an API key: the business), not as the participant.
    let sender = stored[1].sender.clone().unwrap_or_default();
    assert!(sender.participant_id().is_none(), "{sender:?}");
    assert_eq!(fake.contacts().len(), 1, "nothing created");
}

#[tokio::test]
async fn no_contact_is_created_then_found() {
    let fake = FakeInbox::start().await.unwrap();
    let client = fake.client();
    let created = find_or_create_by_email(&client, "new@example.com")
        .await
        .unwrap();
    let ByEmail::Created(contact) = &created else {
        panic!("{created:?}");
    };
    assert!(created.created());
    let emails = contact.info.clone().unwrap().emails.unwrap().items;
    assert_eq!(emails[0].email.as_deref(), Some("new@example.com"));
    let found = find_or_create_by_email(&client, "new@example.com")
        .await
        .unwrap();
    assert!(matches!(&found, ByEmail::Found(_)) && found.id() == created.id());
    assert_eq!(
        found.participant_id(),
        ParticipantId::ContactId(created.id().into())
    );
    assert_eq!(fake.contacts().len(), 1);
}

#[tokio::test]
async fn two_syncs_racing_on_a_new_email_end_with_one_contact() {
    let fake = FakeInbox::start().await.unwrap();
    let client = fake.client();
    let (a, b) = tokio::join!(
        find_or_create_by_email(&client, "race@example.com"),
        find_or_create_by_email(&client, "race@example.com"),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.id(), b.id());
    assert_eq!(fake.contacts().len(), 1, "the 409 was taken as found");
}

#[tokio::test]
async fn several_contacts_are_refused_with_all_of_them() {
    let fake = FakeInbox::start().await.unwrap();
    fake.add_contact(ContactDetails::new("c-1").email("shared@example.com"));
    fake.add_contact(ContactDetails::new("c-2").email("shared@example.com"));
    let refused = find_or_create_by_email(&fake.client(), "shared@example.com")
        .await
        .unwrap_err();
    let FindOrCreateError::Several(contacts) = &refused else {
        panic!("{refused:?}");
    };
    let ids: Vec<_> = contacts.iter().filter_map(|c| c.id.as_deref()).collect();
    assert_eq!(ids, ["c-1", "c-2"]);
    assert_eq!(refused.to_string(), "2 contacts have the email");
    let own = Replies::new();
    assert!(
        example::sync(&fake.client(), &own, "shared@example.com", "hi")
            .await
            .is_err()
    );
    assert_eq!(fake.contacts().len(), 2, "nothing created");
    assert!(fake.conversations().is_empty(), "nothing sent");
}

/// Two contacts merged: the email of the one merged away now finds the survivor, and the
/// message lands in the survivor's conversation, which holds both contacts' messages.
#[tokio::test]
async fn after_a_contact_merge_the_survivor_gets_the_message() {
    let fake = FakeInbox::start().await.unwrap();
    fake.add_contact(ContactDetails::new("c-old").email("old@example.com"));
    fake.add_contact(ContactDetails::new("c-new").email("new@example.com"));
    fake.contact_writes("c-old", "from the old contact");
    fake.merge_contacts("c-old", "c-new").unwrap();
    let own = Replies::new();
    let sent = example::sync(&fake.client(), &own, "old@example.com", "synced")
        .await
        .unwrap();
    assert_eq!(
        fake.message_texts(&sent.conversation_id),
        ["from the old contact", "synced"]
    );
}
