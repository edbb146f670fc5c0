//! The fake refuses what Wix refuses (issue 25), with Wix's error bodies, and injects Wix's
//! application errors on demand. Each request here is valid but for the one thing under test.

use serde_json::{json, Value};
use wix_inbox_fake::{FakeInbox, Fault};

use crate::harness::http_client;

async fn call(
    fake: &FakeInbox,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = http_client()
        .request(method, format!("{}{path}", fake.base_url()))
        .header("Authorization", fake.api_key())
        .header("wix-site-id", fake.site_id());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post(fake: &FakeInbox, path: &str, body: Value) -> (u16, Value) {
    call(fake, reqwest::Method::POST, path, Some(body)).await
}

async fn get(fake: &FakeInbox, path: &str) -> (u16, Value) {
    call(fake, reqwest::Method::GET, path, None).await
}

/// The `(field, violatedRule)` of the first field violation.
fn violation(body: &Value) -> (String, String) {
    let v = &body["details"]["validationError"]["fieldViolations"][0];
    let text = |key: &str| v[key].as_str().unwrap_or_default().to_owned();
    (text("field"), text("violatedRule"))
}

async fn conversation(fake: &FakeInbox) -> String {
    let (status, body) = post(
        fake,
        "/inbox/v2/conversations",
        json!({"participantId": {"anonymousVisitorId": "v-1"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["conversation"]["id"].as_str().unwrap().to_owned()
}

fn message(content: Value) -> Value {
    json!({"content": content, "visibility": "BUSINESS", "direction": "BUSINESS_TO_PARTICIPANT"})
}

#[tokio::test]
async fn send_message_refuses_two_kinds_a_media_item_without_url_and_an_ftp_url() {
    let fake = FakeInbox::start().await.unwrap();
    let id = conversation(&fake).await;
    let send = |content: Value| {
        let body = json!({"conversationId": id, "message": message(content)});
        post(&fake, "/inbox/v2/messages", body)
    };
    let text = json!({"basic": {"items": [{"text": "Hi"}]}});
    assert_eq!(send(text).await.0, 200);

    let two = json!({"basic": {"items": [{"text": "Hi"}]}, "minimal": {"text": "Hi"}});
    let (status, body) = send(two).await;
    assert_eq!(
        (status, violation(&body)),
        (400, ("message.content".into(), "ONE_OF".into()))
    );

    let no_url = json!({"basic": {"items": [{"image": {"filename": "a.png"}}]}});
    let (status, body) = send(no_url).await;
    let field = "message.content.basic.items[0].image.url";
    assert_eq!(
        (status, violation(&body)),
        (400, (field.into(), "REQUIRED_FIELD".into()))
    );

    let ftp = json!({"basic": {"items": [{"file": {"url": "ftp://example.com/a.pdf"}}]}});
    let (status, body) = send(ftp).await;
    let field = "message.content.basic.items[0].file.url";
    assert_eq!(
        (status, violation(&body)),
        (400, (field.into(), "FORMAT".into()))
    );
    assert_eq!(
        fake.messages(&id).len(),
        1,
        "only the valid message was stored"
    );
}

#[tokio::test]
async fn a_null_field_an_int32_overflow_and_an_unknown_sort_order_are_refused() {
    let fake = FakeInbox::start().await.unwrap();
    let (status, body) = post(
        &fake,
        "/contacts/v4/contacts/query",
        json!({"query": {"paging": null}}),
    )
    .await;
    assert_eq!(
        (status, violation(&body)),
        (400, ("query.paging".into(), "FORMAT".into()))
    );

    let (status, body) = get(&fake, "/members/v1/members?paging.offset=2147483648").await;
    assert_eq!(
        (status, violation(&body)),
        (400, ("paging.offset".into(), "FORMAT".into()))
    );

    // The query string's enums are the spec's (its `sort.order`); a body's sort is the route's.
    let (status, body) = get(&fake, "/contacts/v4/contacts?sort.order=AAA").await;
    let not_an_order = ("sort.order".into(), "INVALID_ENUM_VALUE".into());
    assert_eq!((status, violation(&body)), (400, not_an_order));

    let (status, body) = get(&fake, "/members/v1/members?paging.limit=0").await;
    assert_eq!(
        (status, violation(&body)),
        (400, ("paging.limit".into(), "MIN".into()))
    );

    let tagged = json!({"info": {"emails": {"items": [{"email": "a@example.com", "tag": "AAA"}]}}});
    let (status, body) = post(&fake, "/contacts/v4/contacts", tagged).await;
    let unknown_tag = ("info.emails.items.tag".into(), "INVALID_ENUM_VALUE".into());
    assert_eq!((status, violation(&body)), (400, unknown_tag));

    let (status, body) = get(&fake, "/contacts/v4/contacts?fieldsets=").await;
    assert_eq!(status, 400, "an empty fieldset is no fieldset: {body}");
}

#[tokio::test]
async fn contacts_sort_by_any_of_wixs_sortable_fields_and_members_filter_by_created_date() {
    let fake = FakeInbox::start().await.unwrap();
    for first in ["Carol", "alice", "Bob"] {
        let body = json!({"info": {"name": {"first": first}}});
        assert_eq!(post(&fake, "/contacts/v4/contacts", body).await.0, 200);
    }
    let (status, body) = get(
        &fake,
        "/contacts/v4/contacts?sort.fieldName=info.name.first&sort.order=DESC",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["info"]["name"]["first"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "Carol", "Bob"], "byte order, descending");

    let (status, body) = get(&fake, "/contacts/v4/contacts?sort.fieldName=info.nickname").await;
    assert_eq!(
        (status, violation(&body).1),
        (400, "INVALID_ENUM_VALUE".into())
    );

    let query = |filter: Value| json!({"query": {"filter": filter}});
    let created = query(json!({"createdDate": "2020-01-01T00:00:00Z"}));
    let (status, body) = post(&fake, "/members/v1/members/query", created).await;
    assert_eq!(status, 200, "createdDate is filterable: {body}");
    let by_contact = query(json!({"contactId": "c-1"}));
    let (status, body) = post(&fake, "/members/v1/members/query", by_contact).await;
    assert_eq!((status, violation(&body).1), (400, "INVALID_FILTER".into()));
}

#[tokio::test]
async fn an_injected_application_error_has_wixs_body() {
    let fake = FakeInbox::start().await.unwrap();
    let id = conversation(&fake).await;
    fake.fail_next(
        1,
        Fault::Error {
            status: 400,
            code: Some("INVALID_MEDIA_URL".into()),
            message: "Cannot fetch the media".into(),
            violations: vec![wix_inbox_fake::violation(
                "message.content",
                "bad URL",
                "FORMAT",
            )],
        },
    );
    let path = format!("/inbox/v2/conversations/{id}");
    let (status, body) = get(&fake, &path).await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "Cannot fetch the media");
    assert_eq!(
        body["details"]["applicationError"]["code"],
        "INVALID_MEDIA_URL"
    );
    assert_eq!(
        violation(&body),
        ("message.content".into(), "FORMAT".into())
    );

    // Through the control API, the same fault.
    let fault =
        json!({"kind": "error", "status": 403, "code": "NO_INBOX_INSTANCE", "message": "No Inbox"});
    let (status, pending) = post(&fake, "/_fake/faults", fault).await;
    assert_eq!(status, 200, "{pending}");
    assert_eq!(pending["pendingFaults"][0]["code"], "NO_INBOX_INSTANCE");
    let (status, body) = get(&fake, &path).await;
    assert_eq!(
        (status, &body["details"]["applicationError"]["code"]),
        (403, &json!("NO_INBOX_INSTANCE"))
    );
    assert_eq!(
        get(&fake, &path).await.0,
        200,
        "one fault, then served again"
    );
}

/// Wix drops a request field it does not know, at any depth: it is neither stored nor echoed.
#[tokio::test]
async fn unknown_request_fields_are_dropped_at_every_depth_never_echoed() {
    let fake = FakeInbox::start().await.unwrap();
    let contact = json!({
        "info": {
            "name": {"first": "Ann", "nickname": "nested"},
            "emails": {"items": [{"email": "ann@example.com", "label": "in a list"}]},
            "favourite": "in info"
        },
        "topLevel": true
    });
    let (status, created) = post(&fake, "/contacts/v4/contacts", contact).await;
    assert_eq!(status, 200, "{created}");
    let id = created["contact"]["id"].as_str().unwrap().to_owned();
    let (status, got) = get(&fake, &format!("/contacts/v4/contacts/{id}")).await;
    assert_eq!(status, 200, "{got}");
    for answer in [&created, &got] {
        let info = &answer["contact"]["info"];
        assert_eq!(info["name"]["first"], "Ann", "{answer}");
        assert_eq!(info["emails"]["items"][0]["email"], "ann@example.com");
        for unknown in [
            &info["name"]["nickname"],
            &info["emails"]["items"][0]["label"],
            &info["favourite"],
        ] {
            assert_eq!(unknown, &Value::Null, "an unknown field echoed: {answer}");
        }
    }

    let id = conversation(&fake).await;
    let content = json!({"basic": {"items": [{"text": "Hi", "colour": "red"}]}, "mood": 1});
    let body = json!({"conversationId": id, "message": message(content)});
    let (status, sent) = post(&fake, "/inbox/v2/messages", body).await;
    assert_eq!(status, 200, "{sent}");
    let content = &sent["message"]["content"];
    assert_eq!(content["basic"]["items"][0]["text"], "Hi", "{sent}");
    assert_eq!(
        content["basic"]["items"][0]["colour"],
        Value::Null,
        "{sent}"
    );
    assert_eq!(content["mood"], Value::Null, "{sent}");
}

/// A participant ID is closed in the spec (`additionalProperties: false`): a field it does not
/// declare is refused, not dropped.
#[tokio::test]
async fn a_participant_id_with_an_unknown_field_is_refused() {
    let fake = FakeInbox::start().await.unwrap();
    let participant = json!({"participantId": {"memberId": "m-1", "nickname": "x"}});
    let (status, body) = post(&fake, "/inbox/v2/conversations", participant).await;
    assert_eq!(
        (status, violation(&body)),
        (
            400,
            ("participantId.nickname".into(), "FIELD_NOT_ALLOWED".into())
        ),
        "{body}"
    );
    assert!(fake.conversations().is_empty(), "nothing was created");
}

/// Query Contacts' `search` is at most as long as the spec's `maxLength` (100 characters).
#[tokio::test]
async fn a_search_longer_than_the_spec_allows_is_refused() {
    let fake = FakeInbox::start().await.unwrap();
    let search = |n: usize| json!({"search": "é".repeat(n)});
    let (status, body) = post(&fake, "/contacts/v4/contacts/query", search(100)).await;
    assert_eq!(
        status, 200,
        "100 characters (200 bytes) are allowed: {body}"
    );
    let (status, body) = post(&fake, "/contacts/v4/contacts/query", search(101)).await;
    assert_eq!(
        (status, violation(&body)),
        (400, ("search".into(), "MAX_LENGTH".into())),
        "{body}"
    );
}

/// An integer of the query string that is given empty (`paging.offset=`) is not an integer:
/// refused as Wix refuses a value of the wrong type, never read as absent (schemathesis,
/// ST201). Absent, the default applies.
#[tokio::test]
async fn an_empty_integer_in_the_query_string_is_refused() {
    let fake = FakeInbox::start().await.unwrap();
    for (path, field) in [
        ("/members/v1/members?paging.offset=", "paging.offset"),
        ("/contacts/v4/contacts?paging.limit=", "paging.limit"),
    ] {
        let (status, body) = get(&fake, path).await;
        assert_eq!(
            (status, violation(&body)),
            (400, (field.into(), "FORMAT".into())),
            "{path}: {body}"
        );
    }
    let (status, body) = get(&fake, "/members/v1/members").await;
    assert_eq!(status, 200, "absent, the default applies: {body}");
}

/// An enum of the query string that is given empty (`sorting.order=`) is not one of its values:
/// refused as any value outside the enum is, never read as absent (schemathesis, ST201).
#[tokio::test]
async fn an_empty_enum_in_the_query_string_is_refused() {
    let fake = FakeInbox::start().await.unwrap();
    let list = format!(
        "/inbox/v2/messages?conversationId={}&visibility=BUSINESS",
        conversation(&fake).await
    );
    for (query, field) in [
        ("&sorting.order=", "sorting.order"),
        ("&sorting.fieldName=", "sorting.fieldName"),
    ] {
        let path = format!("{list}{query}");
        let (status, body) = get(&fake, &path).await;
        assert_eq!(
            (status, violation(&body)),
            (400, (field.into(), "INVALID_ENUM_VALUE".into())),
            "{path}: {body}"
        );
    }
    // The spec's minimum of List Messages' `paging.limit` is 1: 0 is refused, not the default.
    let path = format!("{list}&paging.limit=0");
    let (status, body) = get(&fake, &path).await;
    assert_eq!(
        (status, violation(&body)),
        (400, ("paging.limit".into(), "MIN".into())),
        "{path}: {body}"
    );
    for path in [
        "/contacts/v4/contacts?sort.order=",
        "/contacts/v4/contacts?sort.fieldName=",
    ] {
        let (status, body) = get(&fake, path).await;
        assert_eq!(status, 400, "{path}: {body}");
    }
}
