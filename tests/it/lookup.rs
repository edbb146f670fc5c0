//! The typed lookups (`wix_inbox::lookup`) against a recording server on 127.0.0.1: the filter,
//! fieldsets, sorting and paging they send, and that every match of every page comes back once.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use futures_util::{StreamExt as _, TryStreamExt as _};
use serde_json::{json, Value};
use wix_inbox::{
    lookup::{Found, Key},
    types, ErrorKind,
};

use crate::harness::{json as answer, Seen, Server};

/// `n` contacts that share one email address, oldest first.
fn contacts(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({
                "id": format!("contact-{i:04}"),
                "revision": 1,
                "info": {"emails": {"items": [{"email": "shared@example.com", "tag": "MAIN"}]}}
            })
        })
        .collect()
}

/// The page `records[offset..offset + limit]` of a query body, as Wix answers it: in
/// `contacts` + `pagingMetadata` or `members` + `metadata`, with `total` unless `count_all` is
/// off (then `tooManyToCount`).
fn page(seen: &Seen, records: &[Value], count_all: bool) -> Value {
    let body = seen.json();
    let paging = &body["query"]["paging"];
    let offset = paging["offset"].as_u64().unwrap() as usize;
    let limit = paging["limit"].as_u64().unwrap() as usize;
    let slice: Vec<Value> = records.iter().skip(offset).take(limit).cloned().collect();
    let mut metadata = json!({"count": slice.len(), "offset": offset});
    if count_all {
        metadata["total"] = json!(records.len());
    } else {
        metadata["tooManyToCount"] = json!(true);
    }
    if seen.path.starts_with("/members/") {
        json!({"members": slice, "metadata": metadata})
    } else {
        json!({"contacts": slice, "pagingMetadata": metadata})
    }
}

async fn serving(records: Vec<Value>, count_all: bool) -> Server {
    let records = Arc::new(records);
    Server::start(move |seen, _| {
        let records = records.clone();
        async move { answer(200, page(&seen, &records, count_all), &[]) }
    })
    .await
}

fn offsets(server: &Server) -> Vec<u64> {
    let seen = server.seen();
    seen.iter()
        .map(|s| s.json()["query"]["paging"]["offset"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn contacts_by_email_sends_wix_filter_syntax_and_yields_every_match() {
    let server = serving(contacts(3), true).await;
    let client = server.client();
    let found = client
        .contacts_by_email("shared@example.com")
        .all()
        .await
        .unwrap();
    let ids: Vec<_> = found.iter().map(|c| c.id.clone().unwrap()).collect();
    assert_eq!(ids, ["contact-0000", "contact-0001", "contact-0002"]);
    let seen = server.seen();
    assert_eq!(seen.len(), 1, "the total says one page holds them all");
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/contacts/v4/contacts/query");
    assert_eq!(seen[0].header("authorization"), Some("test-key"));
    assert_eq!(
        seen[0].json(),
        json!({"query": {
            "filter": {"info.emails.email": {"$eq": "shared@example.com"}},
            "sort": [{"fieldName": "createdDate", "order": "ASC"}],
            "paging": {"limit": 1000, "offset": 0},
            "fieldsets": ["COMMUNICATION_DETAILS"]
        }})
    );
}

#[tokio::test]
async fn contacts_by_phone_filters_on_the_phone_as_entered() {
    let server = serving(contacts(1), true).await;
    let found = server
        .client()
        .contacts_by_phone("097495550")
        .all()
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        server.seen()[0].json()["query"]["filter"],
        json!({"info.phones.phone": {"$eq": "097495550"}})
    );
}

#[tokio::test]
async fn members_by_login_email_asks_for_the_full_fieldset() {
    let members: Vec<Value> = (0..2)
        .map(|i| {
            json!({"id": format!("member-{i}"), "loginEmail": "john@example.com",
                        "contactId": format!("contact-{i}"), "status": "APPROVED"})
        })
        .collect();
    let server = serving(members, true).await;
    let found = server
        .client()
        .members_by_login_email("john@example.com")
        .all()
        .await
        .unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found[1].contact_id.as_deref(), Some("contact-1"));
    assert_eq!(found[0].status, Some(types::MemberStatus::Approved));
    let seen = server.seen();
    assert_eq!(seen[0].path, "/members/v1/members/query");
    assert_eq!(
        seen[0].json(),
        json!({
            "query": {
                "filter": {"loginEmail": "john@example.com"},
                "paging": {"limit": 100, "offset": 0},
                "sorting": [{"fieldName": "createdDate", "order": "ASC"}]
            },
            "fieldsets": ["FULL"]
        })
    );
}

/// 2,500 contacts with one email: three pages of Wix's largest size, every contact once and in
/// order; then 250 members, a hundred a page.
#[tokio::test]
async fn every_page_is_read() {
    let server = serving(contacts(2500), true).await;
    let found = server
        .client()
        .contacts_by_email("shared@example.com")
        .all()
        .await
        .unwrap();
    assert_eq!(found.len(), 2500);
    assert!(
        found.windows(2).all(|w| w[0].id < w[1].id),
        "in Wix's order"
    );
    assert_eq!(offsets(&server), [0, 1000, 2000]);

    let members: Vec<Value> = (0..250)
        .map(|i| json!({"id": format!("m-{i:03}")}))
        .collect();
    let server = serving(members, true).await;
    let found = server
        .client()
        .members_matching(Default::default())
        .all()
        .await
        .unwrap();
    assert_eq!(found.len(), 250);
    assert_eq!(offsets(&server), [0, 100, 200]);
}

/// Without a total (`tooManyToCount`), the page shorter than asked is the last; a full last
/// page costs one more, empty, page.
#[tokio::test]
async fn without_a_total_a_short_or_empty_page_ends_it() {
    let server = serving(contacts(5), false).await;
    let client = server.client();
    let found = client
        .contacts_by_email("x")
        .page_size(2)
        .all()
        .await
        .unwrap();
    assert_eq!(found.len(), 5);
    assert_eq!(offsets(&server), [0, 2, 4]);

    let server = serving(contacts(4), false).await;
    let found = server
        .client()
        .contacts_by_email("x")
        .page_size(2)
        .all()
        .await
        .unwrap();
    assert_eq!(found.len(), 4);
    assert_eq!(offsets(&server), [0, 2, 4]);
}

/// One email, several contacts: `found` says so with all of them, never the first alone.
#[tokio::test]
async fn found_says_none_one_or_several() {
    for (n, requests) in [(0, 1), (1, 1), (3, 2)] {
        let server = serving(contacts(n), true).await;
        let found = server
            .client()
            .contacts_by_email("shared@example.com")
            .page_size(2)
            .found()
            .await
            .unwrap();
        match (n, found) {
            (0, Found::None) => {}
            (1, Found::One(contact)) => assert_eq!(contact.id.as_deref(), Some("contact-0000")),
            (3, Found::Several(all)) => {
                let ids: Vec<_> = all.iter().map(|c| c.id.as_deref().unwrap()).collect();
                assert_eq!(ids, ["contact-0000", "contact-0001", "contact-0002"]);
            }
            (n, other) => panic!("{n} contacts: {other:?}"),
        }
        assert_eq!(server.seen().len(), requests, "{n} contacts");
    }
}

/// Nothing is sent before the stream is polled; the next page is asked for only when the last
/// one is used up.
#[tokio::test]
async fn pages_are_fetched_as_the_stream_is_consumed() {
    let server = serving(contacts(5), true).await;
    let client = server.client();
    let mut matches = client.contacts_by_email("x").page_size(2);
    tokio::task::yield_now().await;
    assert_eq!(server.seen().len(), 0, "nothing sent before the first poll");
    let first = matches.next().await.unwrap().unwrap();
    assert_eq!(first.id.as_deref(), Some("contact-0000"));
    assert_eq!(server.seen().len(), 1);
    matches.next().await.unwrap().unwrap();
    assert_eq!(
        server.seen().len(),
        1,
        "the second contact was on the first page"
    );
    matches.next().await.unwrap().unwrap();
    assert_eq!(server.seen().len(), 2);
    let rest: Vec<_> = matches.try_collect().await.unwrap();
    assert_eq!(rest.len(), 2);
    assert_eq!(offsets(&server), [0, 2, 4]);
}

/// A contact Wix repeats on the next page (one was created before the offset in between) is
/// yielded once.
#[tokio::test]
async fn a_repeated_match_is_yielded_once() {
    let all = contacts(4);
    let server = Server::start(move |seen, _| {
        let all = all.clone();
        async move {
            let offset = seen.json()["query"]["paging"]["offset"].as_u64().unwrap();
            // The second page starts one back: contact 1 again.
            let slice = if offset == 0 { &all[0..2] } else { &all[1..4] };
            answer(
                200,
                json!({"contacts": slice, "pagingMetadata": {"total": 5}}),
                &[],
            )
        }
    })
    .await;
    let found = server
        .client()
        .contacts_by_email("x")
        .page_size(2)
        .all()
        .await
        .unwrap();
    let ids: Vec<_> = found.iter().map(|c| c.id.as_deref().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "contact-0000",
            "contact-0001",
            "contact-0002",
            "contact-0003"
        ]
    );
}

/// A server that ignores the offset answers the same full page for ever: the lookup stops with
/// a paging error after the first repeat instead of asking for ever.
#[tokio::test]
async fn a_server_that_ignores_the_offset_is_caught() {
    let all = contacts(2);
    let server = Server::start(move |_, _| {
        let all = all.clone();
        async move {
            answer(
                200,
                json!({"contacts": all, "pagingMetadata": {"total": 10}}),
                &[],
            )
        }
    })
    .await;
    let mut matches = server.client().contacts_by_email("x").page_size(2);
    assert!(matches.next().await.unwrap().is_ok());
    assert!(matches.next().await.unwrap().is_ok());
    let e = matches.next().await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Paging);
    assert!(
        e.to_string().contains("at offset 2 with 2 already read"),
        "{e}"
    );
    assert!(matches.next().await.is_none(), "an error ends the lookup");
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn max_pages_bounds_a_lookup() {
    let server = serving(contacts(10), true).await;
    let e = server
        .client()
        .contacts_by_email("x")
        .page_size(2)
        .max_pages(3)
        .all()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Paging);
    assert!(
        e.to_string().contains("stopped after 3 pages of contacts"),
        "{e}"
    );
    // The error names the operation that paged, and advises on a lookup, not on messages.
    assert_eq!(e.operation(), Some("query_contacts"));
    assert!(e.to_string().starts_with("Query Contacts failed"), "{e}");
    let hint = e.hint().unwrap();
    assert!(
        hint.contains("lookup") && !hint.contains("conversation"),
        "{hint}"
    );
    assert_eq!(server.seen().len(), 3);
}

/// An error on a later page comes after the matches of the pages before, and ends the lookup.
#[tokio::test]
async fn an_error_ends_the_lookup_after_the_matches_before_it() {
    let all = contacts(3);
    let server = Server::start(move |seen, _| {
        let all = all.clone();
        async move {
            match seen.json()["query"]["paging"]["offset"].as_u64().unwrap() {
                0 => answer(
                    200,
                    json!({"contacts": &all[0..2], "pagingMetadata": {"total": 3}}),
                    &[],
                ),
                _ => answer(
                    400,
                    json!({"message": "filter not supported",
                           "details": {"applicationError": {"code": "INVALID_FILTER"}}}),
                    &[],
                ),
            }
        }
    })
    .await;
    let results: Vec<_> = server
        .client()
        .contacts_by_email("x")
        .page_size(2)
        .collect()
        .await;
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok() && results[1].is_ok());
    let e = results[2].as_ref().unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(400));
    assert_eq!(e.operation(), Some("query_contacts"));
    assert_eq!(e.attempts(), 1, "a 400 is not retried");
}

/// A page answered 503 is asked again (the query may be repeated), with the same offset.
#[tokio::test]
async fn a_page_answered_503_is_retried() {
    let all = Arc::new(contacts(4));
    let calls = Arc::new(AtomicUsize::new(0));
    let server = {
        let calls = calls.clone();
        Server::start(move |seen, _| {
            let (all, n) = (all.clone(), calls.fetch_add(1, Ordering::SeqCst));
            async move {
                if n == 1 {
                    answer(503, json!({}), &[])
                } else {
                    answer(200, page(&seen, &all, true), &[])
                }
            }
        })
        .await
    };
    let found = server
        .client()
        .contacts_by_email("x")
        .page_size(2)
        .all()
        .await
        .unwrap();
    assert_eq!(found.len(), 4);
    assert_eq!(offsets(&server), [0, 2, 2]);
}

#[tokio::test]
async fn setters_clamp_and_start_over() {
    let server = serving(contacts(3), true).await;
    let client = server.client();
    client
        .contacts_by_email("x")
        .page_size(5000)
        .all()
        .await
        .unwrap();
    client
        .members_matching(Default::default())
        .page_size(500)
        .all()
        .await
        .unwrap();
    client
        .contacts_by_email("x")
        .page_size(0)
        .all()
        .await
        .unwrap();
    let limits: Vec<_> = server
        .seen()
        .iter()
        .map(|s| s.json()["query"]["paging"]["limit"].as_u64().unwrap())
        .collect();
    assert_eq!(limits[..2], [1000, 100]);
    assert!(limits[2..].iter().all(|&l| l == 1), "{limits:?}");

    // A setter after the first poll starts the lookup over, with the new setting.
    let server = serving(contacts(3), true).await;
    let mut matches = server.client().contacts_by_email("x");
    matches.next().await.unwrap().unwrap();
    let again: Vec<_> = matches
        .fieldsets(vec![types::ContactFieldSet::Full])
        .try_collect()
        .await
        .unwrap();
    assert_eq!(again.len(), 3);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].json()["query"]["fieldsets"], json!(["FULL"]));
    // No fieldsets: Wix's default, the field left out.
    let server = serving(contacts(1), true).await;
    server
        .client()
        .contacts_by_email("x")
        .fieldsets(vec![])
        .all()
        .await
        .unwrap();
    assert!(server.seen()[0].json()["query"].get("fieldsets").is_none());
}

#[test]
fn keys_write_and_recognise_wix_filters() {
    let key = Key::ContactPhone("+1 555".into());
    assert_eq!(
        Value::Object(key.filter()),
        json!({"info.phones.phone": {"$eq": "+1 555"}})
    );
    assert_eq!(Key::from_filter(&key.filter()), Some(key));
    let recognise = |filter: Value| Key::from_filter(filter.as_object().unwrap());
    assert_eq!(
        recognise(json!({"info.emails.email": "a@b.c"})),
        Some(Key::ContactEmail("a@b.c".into()))
    );
    assert_eq!(
        recognise(json!({"loginEmail": {"$eq": "a@b.c"}})),
        Some(Key::MemberLoginEmail("a@b.c".into()))
    );
    // Anything else is not a lookup key.
    for other in [
        json!({}),
        json!({"info.name.last": "Smith"}),
        json!({"info.emails.email": {"$ne": "a@b.c"}}),
        json!({"info.emails.email": {"$eq": "a@b.c", "$ne": "d"}}),
        json!({"info.emails.email": {"$in": ["a@b.c"]}}),
        json!({"info.emails.email": 7}),
        json!({"info.emails.email": "a@b.c", "loginEmail": "a@b.c"}),
    ] {
        assert_eq!(recognise(other.clone()), None, "{other}");
    }
    assert!(Key::ContactEmail(String::new()).is_contact());
    assert!(!Key::MemberLoginEmail(String::new()).is_contact());
}

/// An app's client for one instance looks up with that instance's token, like every operation.
#[tokio::test]
async fn an_app_instance_looks_up_with_its_own_token() {
    let records = Arc::new(contacts(2));
    let server = Server::start(move |seen, _| {
        let records = records.clone();
        async move {
            if seen.path == "/oauth2/token" {
                let instance = seen.json()["instance_id"].as_str().unwrap().to_owned();
                return answer(
                    200,
                    json!({"access_token": format!("token-{instance}"), "expires_in": 14400}),
                    &[],
                );
            }
            answer(200, page(&seen, &records, true), &[])
        }
    })
    .await;
    let app = wix_inbox::App::builder()
        .app_id("app-1")
        .app_secret("secret-1")
        .base_url(&server.url)
        .build()
        .unwrap();
    for instance in ["inst-1", "inst-2"] {
        let found = app
            .instance(instance)
            .contacts_by_email("x")
            .all()
            .await
            .unwrap();
        assert_eq!(found.len(), 2);
    }
    let queries: Vec<_> = server
        .seen()
        .into_iter()
        .filter(|s| s.path == "/contacts/v4/contacts/query")
        .map(|s| s.header("authorization").unwrap().to_owned())
        .collect();
    assert_eq!(queries, ["token-inst-1", "token-inst-2"]);
}
