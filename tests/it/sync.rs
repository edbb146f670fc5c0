//! The sync flow of `examples/sync.rs` against the fake: the contact found by email (or created,
//! when asked), several contacts refused, and the message in the contact's current
//! conversation, for the business only, with its badge, back as Message Sent To Business.

#[path = "../../examples/sync.rs"]
#[allow(dead_code)]
mod example;

use example::SyncError;
use wix_inbox::types::ParticipantId;
use wix_inbox_fake::{ContactDetails, FakeInbox};

use crate::sync_flow::{assert_synced, badge, fake_with_jane};

#[tokio::test]
async fn a_contact_found_by_email_gets_the_message_in_their_current_conversation() {
    let fake = fake_with_jane().await;
    let synced = example::sync_by_email(
        &fake.client(),
        "jane@example.com",
        "Where is my order?",
        Some(badge()),
        true,
    )
    .await
    .unwrap();
    assert_eq!(synced.contact_id, "c-1");
    assert!(!synced.contact_created);
    let contact = ParticipantId::ContactId("c-1".into());
    assert_eq!(
        fake.current_conversation_id(&contact).as_ref(),
        Some(&synced.sent.conversation_id)
    );
    let stored = fake.messages(&synced.sent.conversation_id);
    assert_eq!(stored.len(), 2, "the visitor's message moved in, then ours");
    assert_synced(&stored[1], "Where is my order?", &[badge()]);
    assert_eq!(fake.contacts().len(), 1, "nothing created");
    fake.settle().await;
    assert!(
        fake.events()
            .iter()
            .any(|e| e.event_type.ends_with("message_sent_to_business")
                && e.domain_event.id.is_some())
    );
}

#[tokio::test]
async fn no_contact_is_an_error_unless_creating_one_is_asked_for() {
    let fake = FakeInbox::start().await.unwrap();
    let client = fake.client();
    let refused = example::sync_by_email(&client, "new@example.com", "hi", Some(badge()), false)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, SyncError::NoContact(email) if email == "new@example.com"),
        "{refused:?}"
    );
    assert!(fake.contacts().is_empty());
    assert!(fake.conversations().is_empty(), "nothing sent");

    let synced = example::sync_by_email(&client, "new@example.com", "hi", Some(badge()), true)
        .await
        .unwrap();
    assert!(synced.contact_created);
    let created = fake
        .contact(&synced.contact_id)
        .expect("the contact is stored");
    let emails = created.info.unwrap().emails.unwrap().items;
    assert_eq!(emails[0].email.as_deref(), Some("new@example.com"));
    let stored = fake.messages(&synced.sent.conversation_id);
    assert_eq!(stored.len(), 1);
    assert_synced(&stored[0], "hi", &[badge()]);
}

#[tokio::test]
async fn several_contacts_are_refused_with_all_of_them() {
    let fake = FakeInbox::start().await.unwrap();
    fake.add_contact(ContactDetails::new("c-1").email("shared@example.com"));
    fake.add_contact(ContactDetails::new("c-2").email("shared@example.com"));
    let refused = example::sync_by_email(&fake.client(), "shared@example.com", "hi", None, true)
        .await
        .unwrap_err();
    let SyncError::SeveralContacts(contacts) = &refused else {
        panic!("{refused:?}");
    };
    let ids: Vec<_> = contacts.iter().filter_map(|c| c.id.as_deref()).collect();
    assert_eq!(ids, ["c-1", "c-2"]);
    assert!(
        refused.to_string().contains(r#"["c-1", "c-2"]"#),
        "{refused}"
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
    let synced = example::sync_by_email(
        &fake.client(),
        "old@example.com",
        "synced",
        Some(badge()),
        false,
    )
    .await
    .unwrap();
    assert_eq!(synced.contact_id, "c-new");
    assert_eq!(
        fake.message_texts(&synced.sent.conversation_id),
        ["from the old contact", "synced"]
    );
}

#[tokio::test]
async fn the_example_s_demo_runs() {
    let mut lines = Vec::new();
    let result = example::demo(&mut |line| lines.push(line)).await;
    crate::harness::assert_told(
        result,
        &lines,
        &[
            "1. no contact has jane@example.com: nothing sent",
            "2. created contact",
            "3. found contact",
            "4. 2 contacts have this email",
        ],
    );
}
