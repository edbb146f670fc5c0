//! The fake's contacts and members: the lifecycle drivers store them, the Contacts v4 and
//! Members v1 routes serve them as Wix does (filters, fieldsets, offset paging, Get Contact of
//! a merged-away ID), the crate's lookups find them, and merging two contacts merges their
//! conversations.

use std::num::NonZeroU32;

use serde_json::{json, Map, Value};
use wix_inbox::lookup::Found;
use wix_inbox::types::{
    ContactEmail, ContactEmails, ContactInfo, ContactName, CreateContactRequest,
    GetContactResponseType, MemberFieldSet, MemberStatus, ParticipantId,
};
use wix_inbox::ErrorKind;
use wix_inbox_fake::{ContactDetails, FakeInbox, MemberDetails, MergeContactsError};

mod queries;

fn filter(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

/// The HTTP status of a call that must fail.
fn status_of<T: std::fmt::Debug>(result: Result<T, wix_inbox::Error>) -> u16 {
    result.unwrap_err().status().unwrap().as_u16()
}

fn ids<T>(records: &[T], id: impl Fn(&T) -> Option<&str>) -> Vec<String> {
    records
        .iter()
        .map(|r| id(r).unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_visitor_who_becomes_a_contact_is_found_by_email_and_by_phone() {
    let fake = FakeInbox::start().await.unwrap();
    fake.visitor_writes("v-1", "Call me back?");
    let details = ContactDetails::new("c-1")
        .name("Jane", "Doe")
        .email("Jane@Example.com")
        .phone("097495550");
    fake.visitor_becomes_contact("v-1", details).unwrap();
    let client = fake.client();

    // Wix compares email addresses ignoring case.
    let found = client
        .contacts_by_email("jane@example.com")
        .found()
        .await
        .unwrap();
    let Found::One(contact) = found else {
        panic!("one contact expected: {found:?}")
    };
    assert_eq!(contact.id.as_deref(), Some("c-1"));
    let primary = contact.primary_info.unwrap();
    assert_eq!(primary.email.as_deref(), Some("Jane@Example.com"));
    assert_eq!(primary.phone.as_deref(), Some("097495550"));
    let info = contact.info.unwrap();
    assert_eq!(info.name.unwrap().first.as_deref(), Some("Jane"));
    let email = &info.emails.unwrap().items[0];
    assert_eq!(email.primary, Some(true));
    assert!(email.id.is_some(), "Wix gives each email an ID");

    let by_phone = client.contacts_by_phone("097495550").all().await.unwrap();
    assert_eq!(ids(&by_phone, |c| c.id.as_deref()), ["c-1"]);
    assert!(client
        .contacts_by_phone("000")
        .all()
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn an_email_several_contacts_share_finds_them_all() {
    let fake = FakeInbox::start().await.unwrap();
    for id in ["c-1", "c-2", "c-3"] {
        fake.add_contact(ContactDetails::new(id).email("shared@example.com"));
    }
    fake.add_contact(ContactDetails::new("c-4").email("other@example.com"));
    let found = fake
        .client()
        .contacts_by_email("shared@example.com")
        .found()
        .await
        .unwrap();
    let Found::Several(contacts) = found else {
        panic!("several contacts expected: {found:?}")
    };
    assert_eq!(ids(&contacts, |c| c.id.as_deref()), ["c-1", "c-2", "c-3"]);
}

#[tokio::test]
async fn a_member_is_found_by_login_email_and_public_hides_it() {
    let fake = FakeInbox::start().await.unwrap();
    fake.visitor_becomes_contact("v-1", ContactDetails::new("c-1").email("jane@example.com"));
    // Without a login email, the member logs in with the contact's primary email.
    fake.contact_becomes_member("c-1", "m-1");
    fake.visitor_becomes_member(
        "v-2",
        ContactDetails::new("c-2").name("John", "Doe"),
        MemberDetails::new("m-2").login_email("john@example.com"),
    );
    let client = fake.client();

    let found = client
        .members_by_login_email("JANE@example.com")
        .all()
        .await
        .unwrap();
    assert_eq!(ids(&found, |m| m.id.as_deref()), ["m-1"]);
    assert_eq!(found[0].login_email.as_deref(), Some("jane@example.com"));
    assert_eq!(found[0].contact_id.as_deref(), Some("c-1"));
    assert_eq!(found[0].status, Some(MemberStatus::Approved));
    let john = client
        .members_by_login_email("john@example.com")
        .all()
        .await
        .unwrap();
    assert_eq!(john[0].contact_id.as_deref(), Some("c-2"));
    let profile = john[0].profile.clone().unwrap();
    assert_eq!(profile.nickname.as_deref(), Some("John Doe"));

    // Members' default fieldset, PUBLIC, gives no email, no contact ID, statuses UNKNOWN.
    let public = client
        .members_matching(filter(json!({"loginEmail": "john@example.com"})))
        .fieldsets(Vec::new())
        .all()
        .await
        .unwrap();
    assert_eq!(ids(&public, |m| m.id.as_deref()), ["m-2"]);
    assert_eq!(public[0].login_email, None);
    assert_eq!(public[0].contact_id, None);
    assert_eq!(public[0].status, Some(MemberStatus::Unknown));
    assert!(public[0].profile.is_some());

    // Get Member: PUBLIC unless asked for more.
    let get = |fieldsets: Vec<MemberFieldSet>| {
        let client = client.clone();
        async move {
            let mut call = client.get_member().member_id("m-1");
            if !fieldsets.is_empty() {
                call = call.fieldsets(fieldsets);
            }
            call.send().await.unwrap().into_inner().member.unwrap()
        }
    };
    assert_eq!(get(Vec::new()).await.login_email, None);
    let full = get(vec![MemberFieldSet::Full]).await;
    assert_eq!(full.login_email.as_deref(), Some("jane@example.com"));
    let extended = get(vec![MemberFieldSet::Extended]).await;
    assert_eq!(
        (extended.login_email, extended.contact_id.as_deref()),
        (None, Some("c-1"))
    );
    assert_eq!(
        status_of(client.get_member().member_id("m-9").send().await),
        404
    );
}

#[tokio::test]
async fn merging_contacts_merges_their_conversations_and_get_contact_follows() {
    let fake = FakeInbox::start().await.unwrap();
    fake.add_contact(ContactDetails::new("c-src").email("old@example.com"));
    fake.add_contact(ContactDetails::new("c-dst").email("new@example.com"));
    let source = fake.contact_writes("c-src", "first, as the old contact");
    let target = fake.contact_writes("c-dst", "then, as the new one");
    let source_conversation = source.conversation_id.unwrap();
    let target_conversation = target.conversation_id.unwrap();

    let merged = fake.merge_contacts("c-src", "c-dst").unwrap().unwrap();
    assert_eq!(
        merged.old_conversation_ids,
        std::slice::from_ref(&source_conversation)
    );
    assert_eq!(
        merged.target_conversation_id.as_deref(),
        Some(target_conversation.as_str())
    );
    assert_eq!(
        fake.message_texts(&target_conversation),
        ["first, as the old contact", "then, as the new one"]
    );
    assert_eq!(fake.conversation(&source_conversation), None);
    assert_eq!(
        fake.current_conversation_id(&ParticipantId::ContactId("c-src".into())),
        Some(target_conversation.clone())
    );
    fake.settle().await;
    let sent: Vec<_> = fake
        .events()
        .into_iter()
        .filter(|e| e.event_type.ends_with("conversation_conversations_merged"))
        .collect();
    assert_eq!(sent.len(), 1, "one Conversations Merged");

    // Get Contact with the merged-away ID returns the survivor, saying so.
    let client = fake.client();
    let got = client
        .get_contact()
        .contact_id("c-src")
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.response_type, Some(GetContactResponseType::Merged));
    let survivor = got.contact.unwrap();
    assert_eq!(survivor.id.as_deref(), Some("c-dst"));
    let emails: Vec<_> = survivor.info.unwrap().emails.unwrap().items;
    let emails: Vec<_> = emails.iter().map(|e| e.email.as_deref().unwrap()).collect();
    assert_eq!(emails, ["new@example.com", "old@example.com"]);
    let regular = client
        .get_contact()
        .contact_id("c-dst")
        .send()
        .await
        .unwrap();
    assert_eq!(regular.response_type, Some(GetContactResponseType::Regular));
    // No other operation knows the merged-away ID: the query finds the survivor by email.
    let found = client
        .contacts_by_email("old@example.com")
        .all()
        .await
        .unwrap();
    assert_eq!(ids(&found, |c| c.id.as_deref()), ["c-dst"]);
    assert!(client
        .contacts_matching(filter(json!({"id": "c-src"})))
        .all()
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        status_of(client.get_contact().contact_id("c-none").send().await),
        404
    );
}

#[tokio::test]
async fn a_merge_into_a_contact_without_a_conversation_starts_one() {
    let fake = FakeInbox::start().await.unwrap();
    fake.add_contact("c-src");
    fake.add_contact("c-dst");
    let old = fake
        .contact_writes("c-src", "hello")
        .conversation_id
        .unwrap();
    let merged = fake.merge_contacts("c-src", "c-dst").unwrap().unwrap();
    let new = merged.target_conversation_id.unwrap();
    assert_ne!(
        new, old,
        "the participant is addressed by another ID: a new conversation"
    );
    let conversation = fake.conversation(&new).unwrap();
    assert_eq!(
        conversation.participant.unwrap().contact_id.as_deref(),
        Some("c-dst")
    );
    assert_eq!(fake.message_texts(&new), ["hello"]);
}

#[tokio::test]
async fn merges_wix_refuses_are_refused() {
    let fake = FakeInbox::start().await.unwrap();
    fake.visitor_becomes_member("v", "c-member", "m");
    fake.add_contact("c-plain");
    assert_eq!(
        fake.merge_contacts("c-member", "c-plain"),
        Err(MergeContactsError::SourceIsMember("c-member".into()))
    );
    assert_eq!(
        fake.merge_contacts("c-plain", "c-none"),
        Err(MergeContactsError::UnknownContact("c-none".into()))
    );
    assert_eq!(
        fake.merge_contacts("c-plain", "c-plain"),
        Err(MergeContactsError::SameContact("c-plain".into()))
    );
    // A member can be a target.
    assert_eq!(fake.merge_contacts("c-plain", "c-member"), Ok(None));
    assert_eq!(fake.contacts().len(), 1);
}

#[tokio::test]
async fn a_filter_the_fake_does_not_support_is_wix_s_400_not_an_empty_list() {
    let fake = FakeInbox::start().await.unwrap();
    fake.add_contact(ContactDetails::new("c-1").email("jane@example.com"));
    let client = fake.client();
    for unsupported in [
        json!({"info.company": {"$eq": "Wix"}}),
        json!({"info.emails.email": {"$startsWith": "jane"}}),
    ] {
        let error = client
            .contacts_matching(filter(unsupported.clone()))
            .all()
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Api, "{unsupported}");
        assert_eq!(error.status().map(|s| s.as_u16()), Some(400));
        let violation = &error.field_violations()[0];
        assert_eq!(violation.field.as_deref(), Some("query.filter"));
        assert_eq!(violation.violated_rule.as_deref(), Some("INVALID_FILTER"));
    }
    let members = client.members_matching(filter(json!({"contact.company": "Wix"})));
    assert_eq!(status_of(members.all().await), 400);
    // What the lookups send, $in and id work.
    let found = client
        .contacts_matching(filter(json!({
            "id": {"$in": ["c-1", "c-9"]},
            "info.emails.email": {"$eq": "jane@example.com"}
        })))
        .all()
        .await
        .unwrap();
    assert_eq!(ids(&found, |c| c.id.as_deref()), ["c-1"]);
}

#[tokio::test]
async fn a_contact_created_through_the_client_is_found_and_duplicates_are_refused() {
    let fake = FakeInbox::start().await.unwrap();
    let client = fake.client();
    let request = CreateContactRequest {
        info: ContactInfo {
            name: Some(ContactName {
                first: Some("Ann".into()),
                ..Default::default()
            }),
            emails: Some(ContactEmails {
                items: vec![ContactEmail {
                    email: Some("ann@example.com".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        },
        allow_duplicates: None,
    };
    let created = client
        .create_contact()
        .body(request.clone())
        .send()
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    let id = created.id.clone().unwrap();
    assert!(uuid::Uuid::try_parse(&id).is_ok(), "a GUID: {id}");
    assert_eq!(created.revision.map(|r| r.get()), Some(1));
    let found = client
        .contacts_by_email("ann@example.com")
        .all()
        .await
        .unwrap();
    assert_eq!(ids(&found, |c| c.id.as_deref()), std::slice::from_ref(&id));

    // The same email again: refused, naming the contact that has it; allowed when asked.
    let error = client
        .create_contact()
        .body(request.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(409));
    let data = &error.response().unwrap().details.as_ref().unwrap();
    let data = &data.application_error.as_ref().unwrap().data;
    assert_eq!(data["duplicateContactId"], json!(id));
    let allowed = CreateContactRequest {
        allow_duplicates: Some(true),
        ..request
    };
    client.create_contact().body(allowed).send().await.unwrap();
    assert_eq!(fake.contacts().len(), 2);

    let empty = CreateContactRequest {
        info: ContactInfo::default(),
        allow_duplicates: None,
    };
    assert_eq!(
        status_of(client.create_contact().body(empty).send().await),
        400
    );
}

#[tokio::test]
async fn lookups_and_lists_page_by_offset() {
    let fake = FakeInbox::start().await.unwrap();
    for i in 0..7 {
        fake.add_contact(ContactDetails::new(format!("c-{i}")).email("many@example.com"));
    }
    let client = fake.client();
    let all = client
        .contacts_by_email("many@example.com")
        .page_size(3)
        .all()
        .await
        .unwrap();
    let expected: Vec<String> = (0..7).map(|i| format!("c-{i}")).collect();
    assert_eq!(ids(&all, |c| c.id.as_deref()), expected);
    let queries = fake
        .requests()
        .iter()
        .filter(|r| r.uri == "/contacts/v4/contacts/query")
        .count();
    assert_eq!(queries, 3, "pages of 3, 3 and 1");

    // List Contacts: pagingMetadata with count, offset and total.
    let page = client
        .list_contacts()
        .paging_limit(NonZeroU32::new(3).unwrap())
        .paging_offset(6)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(&page.contacts, |c| c.id.as_deref()), ["c-6"]);
    let metadata = page.paging_metadata.unwrap();
    let numbers = [metadata.count, metadata.offset, metadata.total].map(|n| n.unwrap().get());
    assert_eq!(numbers, [1, 6, 7]);

    // Members page the same way, up to 100 a page.
    for i in 0..3 {
        fake.visitor_becomes_member(
            &format!("v-{i}"),
            format!("mc-{i}"),
            MemberDetails::new(format!("m-{i}")).login_email(format!("m{i}@example.com")),
        );
    }
    let page = client
        .list_members()
        .paging_limit(NonZeroU32::new(2).unwrap())
        .paging_offset(1)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(&page.members, |m| m.id.as_deref()), ["m-1", "m-2"]);
    assert_eq!(page.metadata.unwrap().total.map(|t| t.get()), Some(3));
    assert_eq!(
        status_of(
            client
                .list_members()
                .paging_limit(NonZeroU32::new(101).unwrap())
                .send()
                .await
        ),
        400
    );
}

#[tokio::test]
async fn contacts_and_members_are_each_site_s_and_need_credentials() {
    let fake = FakeInbox::start().await.unwrap();
    let second = fake.add_instance();
    let site_b = fake.instance(&second).unwrap();
    site_b.add_contact(ContactDetails::new("c-b").email("b@example.com"));
    fake.add_contact(ContactDetails::new("c-a").email("a@example.com"));

    let on_b = site_b
        .app_client()
        .contacts_by_email("b@example.com")
        .all()
        .await;
    assert_eq!(ids(&on_b.unwrap(), |c| c.id.as_deref()), ["c-b"]);
    let on_a = fake.client().contacts_by_email("b@example.com").all().await;
    assert!(
        on_a.unwrap().is_empty(),
        "another site's contact is not found"
    );
    assert_eq!(site_b.contacts().len(), 1);

    assert_eq!(
        status_of(
            wix_inbox::Client::builder()
                .api_key("wrong")
                .site_id(fake.site_id())
                .base_url(fake.base_url())
                .build()
                .unwrap()
                .contacts_by_email("a@example.com")
                .all()
                .await
        ),
        401
    );
}

#[tokio::test]
async fn the_control_api_takes_details_and_merges_contacts() {
    use crate::control::post;
    use axum::http::StatusCode;

    let fake = FakeInbox::start().await.unwrap();
    fake.visitor_writes("v-1", "hello");
    let (status, answer) = post(
        &fake,
        "participants/become-contact",
        json!({"visitorId": "v-1", "contactId": "c-1", "firstName": "Jane", "email": "jane@example.com"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, _) = post(
        &fake,
        "participants/become-member",
        json!({"contactId": "c-1", "memberId": "m-1", "loginEmail": "login@example.com"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let client = fake.client();
    let contacts = client.contacts_by_email("jane@example.com").all().await;
    assert_eq!(ids(&contacts.unwrap(), |c| c.id.as_deref()), ["c-1"]);
    let members = client
        .members_by_login_email("login@example.com")
        .all()
        .await;
    assert_eq!(ids(&members.unwrap(), |m| m.id.as_deref()), ["m-1"]);

    fake.add_contact("c-2");
    let (status, answer) = post(
        &fake,
        "contacts/merge",
        json!({"sourceId": "c-2", "targetId": "c-1"}),
    )
    .await;
    assert_eq!((status, answer), (StatusCode::OK, json!({"merged": null})));
    let (status, _) = post(
        &fake,
        "contacts/merge",
        json!({"sourceId": "c-1", "targetId": "c-9"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    fake.add_contact("c-3");
    let (status, answer) = post(
        &fake,
        "contacts/merge",
        json!({"sourceId": "c-1", "targetId": "c-3"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a member is never merged away: {answer}"
    );
}
