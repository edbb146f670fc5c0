//! The quickstart's story (the README's first command), run as a test: the very code of
//! `examples/quickstart.rs`, against the fake Inbox.

#[path = "../../examples/quickstart.rs"]
#[allow(dead_code)]
mod example;

use wix_inbox::types::ParticipantId;
use wix_inbox_fake::{ContactDetails, FakeInbox};

#[tokio::test]
async fn the_quickstart_story_runs_end_to_end() {
    let mut lines = Vec::new();
    let result = example::story(&mut |line| lines.push(line)).await;
    crate::harness::assert_told(
        result,
        &lines,
        &[
        "Message Sent To Business, signature verified",
        "get or create conversation for AnonymousVisitorId",
        "Message Sent To Participant for our reply",
        "becomes contact",
        "Conversations Merged",
        "contacts_by_email(jo@example.com) -> contact 890a3816-85b4-44ab-9085-524972a850ef, the sender",
        "(the merge target)",
        "messages in 2 pages, newest first",
        "webhooks were delivered and verified",
        ],
    );
}

#[tokio::test]
async fn the_quickstart_api_part_runs_against_any_inbox() {
    // What `WIX_API_KEY=… WIX_SITE_ID=… WIX_BASE_URL=…` runs, here against a fake.
    let fake = FakeInbox::start().await.unwrap();
    fake.contact_writes("c-1", "hello");
    let mut lines = Vec::new();
    example::api_part(
        fake.base_url(),
        fake.api_key(),
        fake.site_id(),
        example::Who::Id(ParticipantId::ContactId("c-1".into())),
        Some("hi from the quickstart"),
        &mut |line| lines.push(line),
    )
    .await
    .unwrap();
    assert!(lines.last().unwrap().contains("2 messages"), "{lines:?}");
    // Wrong credentials: a clear error, not a panic.
    let error = example::api_part(
        fake.base_url(),
        "wrong",
        fake.site_id(),
        example::Who::Id(ParticipantId::ContactId("c-1".into())),
        None,
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(error.contains("401"), "{error}");
}

#[tokio::test]
async fn the_quickstart_api_part_finds_the_contact_by_email() {
    // What `WIX_CONTACT_EMAIL=… WIX_QUICKSTART_REPLY=…` runs.
    let fake = FakeInbox::start().await.unwrap();
    fake.add_contact(ContactDetails::new("c-1").email("jo@example.com"));
    fake.contact_writes("c-1", "hello");
    let by_email = |email: &str| example::Who::ContactEmail(email.into());
    let mut lines = Vec::new();
    example::api_part(
        fake.base_url(),
        fake.api_key(),
        fake.site_id(),
        by_email("jo@example.com"),
        Some("hi, Jo"),
        &mut |line| lines.push(line),
    )
    .await
    .unwrap();
    assert!(lines[0].contains("jo@example.com is c-1"), "{lines:?}");
    let contact = ParticipantId::ContactId("c-1".into());
    assert_eq!(fake.participant_messages(&contact).len(), 2);

    // No contact, or several: a clear error, and nothing sent.
    fake.add_contact(ContactDetails::new("c-2").email("jo@example.com"));
    for (email, needle) in [
        (
            "nobody@example.com",
            "no contact has the email nobody@example.com",
        ),
        (
            "jo@example.com",
            r#"several contacts have the email jo@example.com: ["c-1", "c-2"]"#,
        ),
    ] {
        let error = example::api_part(
            fake.base_url(),
            fake.api_key(),
            fake.site_id(),
            by_email(email),
            Some("hi again"),
            &mut |_| {},
        )
        .await
        .unwrap_err();
        assert!(error.contains(needle), "{error}");
    }
    assert_eq!(fake.participant_messages(&contact).len(), 2);
}
