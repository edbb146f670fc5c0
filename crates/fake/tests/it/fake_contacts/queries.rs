//! Sorting by Wix's sortable fields, Get Contact through a chain of merges, and fieldsets projected
//! as Wix does.

use super::*;

#[tokio::test]
async fn queries_sort_by_wixs_sortable_fields_and_refuse_others() {
    use wix_inbox::types::{ContactQuery, QueryContactsRequest, SortOrder, Sorting};

    let fake = FakeInbox::start().await.unwrap();
    for id in ["c-1", "c-2", "c-3"] {
        fake.add_contact(ContactDetails::new(id).name("Same", "Name"));
    }
    let client = fake.client();
    let query = |sort: Vec<Sorting>| {
        let client = client.clone();
        async move {
            let body = QueryContactsRequest {
                query: Some(ContactQuery {
                    sort,
                    filter: filter(json!({"info.name.last": "Name"})),
                    ..Default::default()
                }),
                search: None,
            };
            client.query_contacts().body(body).send().await
        }
    };
    let sorting = |field: &str, order| Sorting {
        field_name: Some(field.into()),
        order: Some(order),
    };
    // Oldest first by default, as Wix's Query Contacts.
    let page = query(Vec::new()).await.unwrap().into_inner();
    assert_eq!(
        ids(&page.contacts, |c| c.id.as_deref()),
        ["c-1", "c-2", "c-3"]
    );
    let page = query(vec![sorting("createdDate", SortOrder::Desc)]).await;
    let page = page.unwrap().into_inner();
    assert_eq!(
        ids(&page.contacts, |c| c.id.as_deref()),
        ["c-3", "c-2", "c-1"]
    );
    // A field Wix sorts by: the same name everywhere, so creation order holds.
    let page = query(vec![sorting("info.name.first", SortOrder::Asc)]).await;
    let page = page.unwrap().into_inner();
    assert_eq!(
        ids(&page.contacts, |c| c.id.as_deref()),
        ["c-1", "c-2", "c-3"]
    );
    let refused = query(vec![sorting("info.nickname", SortOrder::Asc)]).await;
    assert_eq!(status_of(refused), 400);
    let two = vec![
        sorting("createdDate", SortOrder::Asc),
        sorting("info.company", SortOrder::Asc),
    ];
    assert_eq!(status_of(query(two).await), 400);
}

#[tokio::test]
async fn get_contact_follows_a_chain_of_merges() {
    let fake = FakeInbox::start().await.unwrap();
    for id in ["c-1", "c-2", "c-3"] {
        fake.add_contact(ContactDetails::new(id).email(format!("{id}@example.com")));
    }
    let first = fake.contact_writes("c-1", "one").conversation_id.unwrap();
    fake.merge_contacts("c-1", "c-2").unwrap();
    let merged = fake.merge_contacts("c-2", "c-3").unwrap().unwrap();
    let last = merged.target_conversation_id.unwrap();
    assert_eq!(fake.merged_into(&first), Some(last.clone()));
    assert_eq!(fake.message_texts(&last), ["one"]);
    for gone in ["c-1", "c-2"] {
        let got = fake.client().get_contact().contact_id(gone).send().await;
        let got = got.unwrap().into_inner();
        assert_eq!(got.contact.unwrap().id.as_deref(), Some("c-3"), "{gone}");
        assert_eq!(got.response_type, Some(GetContactResponseType::Merged));
    }
    let survivor = fake.contact("c-1").unwrap();
    let emails = survivor.info.unwrap().emails.unwrap().items;
    let primary: Vec<_> = emails.iter().map(|e| e.primary).collect();
    assert_eq!(
        primary,
        [Some(true), Some(false), Some(false)],
        "one primary"
    );
    assert_eq!(fake.contacts().len(), 1);
    // Writing as a merged-away contact brings back no contact; a new contact who writes is one.
    fake.contact_writes("c-1", "still here");
    fake.contact_writes("c-new", "hello");
    let ids_now = ids(&fake.contacts(), |c| c.id.as_deref());
    assert_eq!(ids_now, ["c-3", "c-new"]);
}

#[tokio::test]
async fn contact_fieldsets_and_fields_project_as_wix_does() {
    use wix_inbox::types::ContactFieldSet;

    let fake = FakeInbox::start().await.unwrap();
    let details = ContactDetails::new("c-1")
        .name("Jane", "Doe")
        .email("jane@example.com")
        .phone("123");
    fake.add_contact(details);
    let client = fake.client();
    let get = |fieldsets: Vec<ContactFieldSet>, fields: Vec<String>| {
        let client = client.clone();
        async move {
            let call = client.get_contact().contact_id("c-1");
            let call = if fieldsets.is_empty() {
                call
            } else {
                call.fieldsets(fieldsets)
            };
            let call = if fields.is_empty() {
                call
            } else {
                call.fields(fields)
            };
            call.send().await.map(|r| r.into_inner().contact.unwrap())
        }
    };
    // FULL by default.
    let full = get(Vec::new(), Vec::new()).await.unwrap();
    assert!(full.created_date.is_some() && full.info.unwrap().emails.is_some());
    // BASIC: id, revision, primaryInfo, name; no emails, no dates.
    let basic = get(vec![ContactFieldSet::Basic], Vec::new()).await.unwrap();
    assert_eq!(basic.id.as_deref(), Some("c-1"));
    assert!(basic.revision.is_some() && basic.primary_info.is_some());
    assert_eq!(basic.created_date, None);
    let info = basic.info.unwrap();
    assert!(info.name.is_some());
    assert_eq!(info.emails, None);
    // Fields alone: those and the ID.
    let projected = get(Vec::new(), vec!["info.phones".into()]).await.unwrap();
    let info = projected.info.unwrap();
    assert_eq!((info.name, info.phones.is_some()), (None, true));
    assert_eq!(projected.primary_info, None);
    // A fieldset Wix does not have is refused.
    let unknown = get(vec![ContactFieldSet::from("EVERYTHING")], Vec::new()).await;
    assert_eq!(status_of(unknown), 400);
}
