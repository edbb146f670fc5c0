//! Contacts v4 and Members v1 operations through the same client: Wix's documented bodies, query
//! names, path segments, shared auth, retries and errors.

use super::*;

// Contacts v4 and Members v1, through the same client.

/// A body the docs' curl example sends, parsed.
fn documented_request(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn contact_query(filter: Value) -> types::ContactQuery {
    types::ContactQuery {
        filter: serde_json::from_value(filter).unwrap(),
        ..Default::default()
    }
}

#[tokio::test]
async fn query_contacts_sends_wix_documented_body() {
    let server = server(fixture("query-contacts-by-email.json")).await;
    let client = client(&server.url);
    let r = client
        .query_contacts()
        .body(types::QueryContactsRequest {
            query: Some(types::ContactQuery {
                fieldsets: vec![
                    types::ContactFieldSet::Basic,
                    types::ContactFieldSet::CommunicationDetails,
                ],
                ..contact_query(json!({"info.emails.email": "email2@example.com"}))
            }),
            search: None,
        })
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.contacts[0].id.as_deref(),
        Some("8046df3c-7575-4098-a5ab-c91ad8f33c47")
    );
    let seen = server.seen()[0].clone();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/contacts/v4/contacts/query");
    assert!(seen.query.is_empty());
    // contacts.service.json, Query Contacts example "Query Contacts by Email".
    assert_eq!(
        seen.json(),
        documented_request(
            r#"{"query": {"filter": {"info.emails.email": "email2@example.com"},
                "fieldsets": ["BASIC", "COMMUNICATION_DETAILS"]}}"#
        )
    );
}

#[tokio::test]
async fn query_contacts_with_an_operator_sort_and_paging() {
    let server = server(fixture(
        "query-contacts-by-amount-spent-sorted-by-first-name.json",
    ))
    .await;
    let client = client(&server.url);
    client
        .query_contacts()
        .body(types::QueryContactsRequest {
            query: Some(types::ContactQuery {
                sort: vec![types::Sorting {
                    field_name: Some("info.name.last".into()),
                    order: Some(SortOrder::Asc),
                }],
                fields: vec!["info.name".into(), "info.extendedFields".into()],
                paging: Some(types::Paging {
                    limit: Some(30.into()),
                    offset: Some(30.into()),
                }),
                ..contact_query(
                    json!({"info.extendedFields.ecom.totalSpentAmount": {"$lte": 50.0}}),
                )
            }),
            search: Some("Smith".into()),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(
        server.seen()[0].json(),
        json!({
            "search": "Smith",
            "query": {
                "filter": {"info.extendedFields.ecom.totalSpentAmount": {"$lte": 50.0}},
                "sort": [{"fieldName": "info.name.last", "order": "ASC"}],
                "fields": ["info.name", "info.extendedFields"],
                "paging": {"limit": 30, "offset": 30}
            }
        })
    );
}

#[tokio::test]
async fn list_contacts_uses_dotted_and_repeated_query_names() {
    let server = server(fixture("list-contacts-paginated.json")).await;
    let client = client(&server.url);
    let r = client
        .list_contacts()
        .paging_limit(std::num::NonZeroU32::new(2).unwrap())
        .paging_offset(10)
        .sort_field_name("info.name.first")
        .sort_order(SortOrder::Asc)
        .fields(vec!["info.name".to_string(), "info.emails".to_string()])
        .fieldsets(vec![
            types::ContactFieldSet::Basic,
            types::ContactFieldSet::Full,
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.contacts.len(), 2);
    let seen = server.seen()[0].clone();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.path, "/contacts/v4/contacts");
    assert!(seen.body.is_empty());
    let mut query = seen.query_pairs();
    query.sort();
    let expected: Vec<(String, String)> = [
        ("fields", "info.emails"),
        ("fields", "info.name"),
        ("fieldsets", "BASIC"),
        ("fieldsets", "FULL"),
        ("paging.limit", "2"),
        ("paging.offset", "10"),
        ("sort.fieldName", "info.name.first"),
        ("sort.order", "ASC"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(query, expected);
}

#[tokio::test]
async fn get_contact_puts_the_id_in_one_path_segment() {
    let server = server(fixture("get-contact.json")).await;
    let client = client(&server.url);
    let r = client
        .get_contact()
        .contact_id("8046df3c-7575-4098-a5ab-c91ad8f33c47")
        .fieldsets(vec![types::ContactFieldSet::Basic])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.response_type,
        Some(types::GetContactResponseType::Regular)
    );
    let seen = server.seen()[0].clone();
    assert_eq!(seen.method, "GET");
    assert_eq!(
        seen.path,
        "/contacts/v4/contacts/8046df3c-7575-4098-a5ab-c91ad8f33c47"
    );
    assert_eq!(seen.query, "fieldsets=BASIC");
    // An ID cannot reach another endpoint.
    client
        .get_contact()
        .contact_id("../members/v1/members")
        .send()
        .await
        .unwrap();
    assert_eq!(
        server.seen()[1].path,
        "/contacts/v4/contacts/..%2Fmembers%2Fv1%2Fmembers"
    );
    let e = client
        .get_contact()
        .contact_id("..")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), wix_inbox::ErrorKind::InvalidRequest, "{e}");
    assert_eq!(server.seen().len(), 2, "nothing was sent for `..`");
}

#[tokio::test]
async fn create_contact_sends_wix_documented_body() {
    let server = server(fixture("create-contact.json")).await;
    let client = client(&server.url);
    // contacts.service.json, Create Contact example: its addresses, company, labels, extended
    // fields and locations are fields the spec does not name; they are sent as given.
    let documented =
        documented_request(include_str!("../../fixtures/requests/create-contact.json"));
    let request: types::CreateContactRequest = serde_json::from_value(documented.clone()).unwrap();
    assert_eq!(
        request.info.name.as_ref().unwrap().last.as_deref(),
        Some("One")
    );
    let r = client.create_contact().body(request).send().await.unwrap();
    assert_eq!(
        r.contact.as_ref().unwrap().id.as_deref(),
        Some("8046df3c-7575-4098-a5ab-c91ad8f33c47")
    );
    let seen = server.seen()[0].clone();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/contacts/v4/contacts");
    assert_eq!(seen.json(), documented);

    // Built in code: only what was set.
    let info = types::ContactInfo {
        name: Some(types::ContactName {
            first: Some("Ada".into()),
            ..Default::default()
        }),
        emails: Some(types::ContactEmails {
            items: vec![types::ContactEmail {
                email: Some("ada@example.com".into()),
                tag: Some(types::EmailTag::Main),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    client
        .create_contact()
        .body(types::CreateContactRequest {
            info,
            allow_duplicates: Some(true),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(
        server.seen()[1].json(),
        json!({
            "info": {
                "name": {"first": "Ada"},
                "emails": {"items": [{"tag": "MAIN", "email": "ada@example.com"}]}
            },
            "allowDuplicates": true
        })
    );
}

#[tokio::test]
async fn query_members_asks_for_the_full_fieldset() {
    let server = server(fixture("query-members-by-id-full-fieldset.json")).await;
    let client = client(&server.url);
    let r = client
        .query_members()
        .body(types::QueryMembersRequest {
            query: Some(types::MemberQuery {
                filter: serde_json::from_value(json!({"loginEmail": "john@example.com"})).unwrap(),
                paging: Some(types::Paging {
                    limit: Some(100.into()),
                    offset: Some(0.into()),
                }),
                sorting: vec![types::Sorting {
                    field_name: Some("createdDate".into()),
                    order: Some(SortOrder::Desc),
                }],
            }),
            fieldsets: vec![types::MemberFieldSet::Full],
        })
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.members[0].login_email.as_deref(),
        Some("john@example.com")
    );
    let seen = server.seen()[0].clone();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/members/v1/members/query");
    assert_eq!(
        seen.json(),
        json!({
            "query": {
                "filter": {"loginEmail": "john@example.com"},
                "paging": {"limit": 100, "offset": 0},
                "sorting": [{"fieldName": "createdDate", "order": "DESC"}]
            },
            "fieldsets": ["FULL"]
        })
    );
}

#[tokio::test]
async fn list_members_uses_dotted_query_names() {
    let server = server(fixture("list-members-with-full-fieldset.json")).await;
    let client = client(&server.url);
    client
        .list_members()
        .paging_limit(std::num::NonZeroU32::new(100).unwrap())
        .paging_offset(200)
        .fieldsets(vec![types::MemberFieldSet::Full])
        .send()
        .await
        .unwrap();
    let seen = server.seen()[0].clone();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.path, "/members/v1/members");
    let mut query = seen.query_pairs();
    query.sort();
    assert_eq!(
        query,
        [
            ("fieldsets".to_string(), "FULL".to_string()),
            ("paging.limit".to_string(), "100".to_string()),
            ("paging.offset".to_string(), "200".to_string()),
        ]
    );
}

#[tokio::test]
async fn get_member() {
    let server = server(fixture("get-member-full-fieldset.json")).await;
    let client = client(&server.url);
    let r = client
        .get_member()
        .member_id("e62e3011-55cf-4de3-a497-e097b52d86b7")
        .fieldsets(vec![types::MemberFieldSet::Full])
        .send()
        .await
        .unwrap();
    let member = r.into_inner().member.unwrap();
    assert_eq!(
        member.contact_id.as_deref(),
        Some("0fac596f-ff7c-4d2b-b826-63c60ee36ee8")
    );
    let seen = server.seen()[0].clone();
    assert_eq!(seen.method, "GET");
    assert_eq!(
        seen.path,
        "/members/v1/members/e62e3011-55cf-4de3-a497-e097b52d86b7"
    );
    assert_eq!(seen.query, "fieldsets=FULL");
}

/// The contacts and members operations go through the one client: its credentials, its retries
/// (a query may be repeated, a create may not) and its errors.
#[tokio::test]
async fn contacts_and_members_share_the_clients_auth_retries_and_errors() {
    let server = Server::start(|seen, n| async move {
        match (seen.path.as_str(), n) {
            // Each first attempt fails with a status that says "try again later".
            ("/contacts/v4/contacts/query", 0) | ("/contacts/v4/contacts", 2) => {
                crate::harness::json(503, json!({}), &[])
            }
            ("/contacts/v4/contacts/query", _) => {
                crate::harness::json(200, json!({"contacts": []}), &[])
            }
            ("/members/v1/members/gone", _) => crate::harness::json(
                404,
                json!({"message": "member not found",
                       "details": {"applicationError": {"code": "MEMBER_NOT_FOUND"}}}),
                &[("x-wix-request-id", "req-404")],
            ),
            _ => crate::harness::json(500, json!({}), &[]),
        }
    })
    .await;
    let client = server.client();
    client
        .query_contacts()
        .body(types::QueryContactsRequest::default())
        .send()
        .await
        .unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "a query is repeated after a 503");
    for request in &seen {
        assert_eq!(request.header("authorization"), Some("test-key"));
        assert_eq!(request.header("wix-site-id"), Some("site-1"));
    }
    let e = client
        .create_contact()
        .body(types::CreateContactRequest {
            info: types::ContactInfo::default(),
            allow_duplicates: None,
        })
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.attempts(), 1, "a create is not repeated: {e}");
    assert_eq!(e.operation(), Some("create_contact"));
    assert!(
        e.to_string()
            .starts_with("Create Contact failed: Wix responded 503"),
        "{e}"
    );
    let e = client
        .get_member()
        .member_id("gone")
        .send()
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert_eq!(e.code().map(|c| c.as_str()), Some("MEMBER_NOT_FOUND"));
    assert_eq!(e.request_id(), Some("req-404"));
    assert!(
        e.to_string()
            .starts_with("Get Member failed: Wix responded 404"),
        "{e}"
    );
    assert_eq!(server.seen()[3].header("authorization"), Some("test-key"));
}
