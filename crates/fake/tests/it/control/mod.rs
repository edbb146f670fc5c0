//! The simulator's control API (`/_fake/`), without a browser: who may use it (the fake's own
//! `Host` and `Origin`, JSON bodies for changes), what each endpoint does to the fake's state,
//! the live stream, and that the page shows no secret.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse as _;
use serde_json::{json, Value};
use wix_inbox::types::{MessageDirection, MessageVisibility, ParticipantId};
use wix_inbox::webhooks::WebhookVerifier;
use wix_inbox_fake::{FakeInbox, Fault};

use crate::harness::{http_client, Server};

mod stream;

async fn fake() -> FakeInbox {
    FakeInbox::builder()
        .webhook_backoff(Duration::from_millis(5))
        .start()
        .await
        .unwrap()
}

/// `POST /_fake/{path}` with a JSON body, as the page sends it.
pub(crate) async fn post(fake: &FakeInbox, path: &str, body: Value) -> (StatusCode, Value) {
    let response = http_client()
        .post(format!("{}/_fake/{path}", fake.base_url()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

async fn get(fake: &FakeInbox, path: &str) -> (StatusCode, Value) {
    let response = http_client()
        .get(format!("{}{path}", fake.base_url()))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn visitor(id: &str) -> Value {
    json!({ "anonymousVisitorId": id })
}

async fn write(fake: &FakeInbox, visitor_id: &str, text: &str) -> Value {
    let (status, body) = post(
        fake,
        "participants/write",
        json!({"participant": visitor(visitor_id), "text": text}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

// ---------------------------------------------------------------------------------------------
// Who may use it

#[tokio::test]
async fn a_request_from_another_origin_is_refused_and_changes_nothing() {
    let fake = fake().await;
    let write = json!({"participant": visitor("v1"), "text": "hi"}).to_string();
    for origin in [
        "http://evil.example",
        "null",
        "http://127.0.0.1:1",
        "https://127.0.0.1", // another scheme and port
    ] {
        let response = http_client()
            .post(format!("{}/_fake/participants/write", fake.base_url()))
            .header("content-type", "application/json")
            .header("origin", origin)
            .body(write.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "Origin: {origin}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "FORBIDDEN");
        let response = http_client()
            .get(format!("{}/_fake/state", fake.base_url()))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "Origin: {origin}");
    }
    // What a browser says of a cross-site request it sends without Origin (a GET).
    for site in ["cross-site", "same-site"] {
        let response = http_client()
            .get(format!("{}/_fake/state", fake.base_url()))
            .header("sec-fetch-site", site)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "Sec-Fetch-Site: {site}"
        );
    }
    assert!(
        fake.conversations().is_empty(),
        "no refused request changed the fake"
    );

    // The fake's own page is served, by either name of the address.
    let port = fake.addr().port();
    for origin in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
    ] {
        let response = http_client()
            .post(format!("{}/_fake/participants/write", fake.base_url()))
            .header("content-type", "application/json")
            .header("origin", &origin)
            .header("sec-fetch-site", "same-origin")
            .body(write.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "Origin: {origin}");
    }
    assert_eq!(
        fake.messages(&fake.conversations()[0].id.clone().unwrap())
            .len(),
        2
    );
}

#[tokio::test]
async fn a_request_for_another_host_is_refused_dns_rebinding() {
    let fake = fake().await;
    let port = fake.addr().port();
    // A page of evil.example whose name now resolves to 127.0.0.1 sends its own Host.
    for host in [
        format!("evil.example:{port}"),
        "127.0.0.1".to_owned(),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        format!("localhost.evil.example:{port}"),
    ] {
        for path in ["/", "/_fake/state", "/_fake/ui/app.js", "/_fake/stream"] {
            let response = http_client()
                .get(format!("{}{path}", fake.base_url()))
                .header("host", &host)
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "Host: {host}, {path}"
            );
        }
        let response = http_client()
            .post(format!("{}/_fake/receivers/add", fake.base_url()))
            .header("host", &host)
            .header("content-type", "application/json")
            .body(json!({"url": "http://127.0.0.1:9/x"}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "Host: {host}");
    }
    assert!(fake.webhook_receivers().is_empty());
    let response = http_client()
        .get(format!("{}/_fake/state", fake.base_url()))
        .header("host", format!("localhost:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_change_needs_a_json_body_so_a_form_of_another_page_cannot_send_one() {
    let fake = fake().await;
    for content_type in [
        None,
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("text/plain"),
    ] {
        let mut request = http_client()
            .post(format!("{}/_fake/receivers/add", fake.base_url()))
            .body(r#"{"url": "http://127.0.0.1:9/x"}"#);
        if let Some(t) = content_type {
            request = request.header("content-type", t);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
    }
    assert!(fake.webhook_receivers().is_empty());
    // With parameters it is still JSON.
    let response = http_client()
        .post(format!("{}/_fake/receivers/add", fake.base_url()))
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"url": "http://127.0.0.1:9/x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // A read never changes anything: GET is refused where a change is expected.
    let (status, _) = get(&fake, "/_fake/tokens/expire").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn bad_bodies_are_refused_with_a_reason() {
    let fake = fake().await;
    for (path, body) in [
        (
            "participants/write",
            json!({"participant": visitor(""), "text": "x"}),
        ),
        (
            "participants/write",
            json!({"participant": visitor("v"), "text": " "}),
        ),
        ("participants/write", json!({"participant": visitor("v")})),
        (
            "participants/write",
            json!({"participant": {"nobody": "v"}, "text": "x"}),
        ),
        ("participants/become-contact", json!({"visitorId": "v"})),
        ("receivers/add", json!({"url": "ftp://127.0.0.1/x"})),
        ("receivers/add", json!({"url": "not a url"})),
        ("faults", json!({"kind": "status", "status": 200})),
        (
            "faults",
            json!({"kind": "status", "status": 503, "count": 0}),
        ),
        (
            "faults",
            json!({"kind": "status", "status": 503, "count": 1_000_000}),
        ),
        ("faults", json!({"kind": "explode"})),
    ] {
        let (status, answer) = post(&fake, path, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}: {answer}");
        assert_eq!(answer["code"], "BAD_REQUEST");
        assert!(!answer["message"].as_str().unwrap().is_empty());
    }
    let response = http_client()
        .post(format!("{}/_fake/participants/write", fake.base_url()))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // The body is bounded.
    let huge = json!({"participant": visitor("v"), "text": "x".repeat(200 * 1024)});
    let (status, _) = post(&fake, "participants/write", huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, answer) = get(&fake, "/_fake/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["code"], "NOT_FOUND");
    assert!(fake.conversations().is_empty());
    assert!(fake.pending_faults().is_empty());
}

// ---------------------------------------------------------------------------------------------
// What each endpoint does

#[tokio::test]
async fn participants_write_press_buttons_and_become_contacts_and_members() {
    let fake = fake().await;
    let written = write(&fake, "v1", "Hello").await;
    let conversation = written["conversationId"].as_str().unwrap().to_owned();
    let messages = fake.messages(&conversation);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].plain_text().as_deref(), Some("Hello"));
    assert_eq!(
        messages[0].direction,
        Some(MessageDirection::ParticipantToBusiness)
    );
    assert_eq!(written["message"]["id"], json!(messages[0].id));

    // A whole message (a form, business-only), as a script would send it.
    let (status, _) = post(
        &fake,
        "participants/write",
        json!({"participant": visitor("v1"), "message": {
            "visibility": "BUSINESS",
            "content": {"form": {"title": "Order", "fields": [{"name": "size", "value": "M"}]}}
        }}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let messages = fake.messages(&conversation);
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1].visibility, Some(MessageVisibility::Business));

    let (status, pressed) = post(
        &fake,
        "participants/press-button",
        json!({"participant": visitor("v1"), "interactionId": "track-order"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pressed["interactionId"], "track-order");
    assert_eq!(pressed["conversationId"], json!(conversation));
    let (status, _) = post(
        &fake,
        "participants/press-button",
        json!({"participant": visitor("nobody"), "interactionId": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, answer) = post(
        &fake,
        "participants/become-contact",
        json!({"visitorId": "v1", "contactId": "c1"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let target = answer["merged"]["targetConversationId"].as_str().unwrap();
    assert_eq!(
        answer["merged"]["oldConversationIds"],
        json!([conversation])
    );
    assert_eq!(fake.merged_into(&conversation).as_deref(), Some(target));
    assert_eq!(fake.messages(target).len(), 2);

    let (status, answer) = post(
        &fake,
        "participants/become-member",
        json!({"contactId": "c1", "memberId": "m1"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let member_conversation = answer["merged"]["targetConversationId"].as_str().unwrap();
    assert_eq!(
        fake.current_conversation_id(&ParticipantId::MemberId("m1".into()))
            .as_deref(),
        Some(member_conversation)
    );

    // A visitor straight to member; with no conversation there is nothing to merge.
    let (status, answer) = post(
        &fake,
        "participants/become-member",
        json!({"visitorId": "v2", "contactId": "c2", "memberId": "m2"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["merged"], Value::Null);

    let types: Vec<String> = fake.events().into_iter().map(|e| e.event_type).collect();
    assert_eq!(
        types
            .iter()
            .filter(|t| t.ends_with("conversations_merged"))
            .count(),
        2
    );
    assert!(types.iter().any(|t| t.ends_with("button_interacted")));
}

#[tokio::test]
async fn the_business_writes_from_its_inbox_without_taking_the_apps_faults() {
    let fake = fake().await;
    let written = write(&fake, "v1", "Hello").await;
    let conversation = written["conversationId"].as_str().unwrap();
    fake.fail_next(1, Fault::Status(503));
    let (status, sent) = post(
        &fake,
        "business/send",
        json!({"conversationId": conversation, "text": "Note to self", "visibility": "BUSINESS"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!(fake.pending_faults(), [Fault::Status(503)]);
    let messages = fake.messages(conversation);
    let m = &messages[1];
    assert_eq!(m.plain_text().as_deref(), Some("Note to self"));
    assert_eq!(m.direction, Some(MessageDirection::BusinessToParticipant));
    assert_eq!(m.visibility, Some(MessageVisibility::Business));
    assert_eq!(
        m.sender.as_ref().unwrap().wix_user_id.as_deref(),
        Some(fake.business_user_id())
    );
    assert!(fake
        .events()
        .last()
        .unwrap()
        .event_type
        .ends_with("message_sent_to_participant"));
    let (status, _) = post(
        &fake,
        "business/send",
        json!({"conversationId": "2b7e4ad9-0000-0000-0000-000000000000", "text": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn receivers_are_added_and_removed_and_events_redelivered() {
    let fake = fake().await;
    let hook = Server::start(|_, _| async { StatusCode::OK.into_response() }).await;
    let url = format!("{}/hook", hook.url);
    let (status, answer) = post(&fake, "receivers/add", json!({ "url": url })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["receivers"], json!([url]));
    // Adding it twice keeps one.
    post(&fake, "receivers/add", json!({ "url": url })).await;
    assert_eq!(fake.webhook_receivers(), vec![url.clone()]);

    write(&fake, "v1", "Hello").await;
    fake.settle().await;
    assert_eq!(hook.count("/hook"), 1);
    let event_id = fake.events()[0].domain_event.id.clone().unwrap();

    // The event in full: the JWT verifies with the fake's key, and decodes to the same event.
    let (status, detail) = get(&fake, &format!("/_fake/webhooks/{event_id}")).await;
    assert_eq!(status, StatusCode::OK);
    let verified = WebhookVerifier::from_public_key(fake.public_key_pem())
        .unwrap()
        .verify(detail["jwt"].as_str().unwrap().as_bytes())
        .unwrap();
    assert_eq!(verified.id, event_id);
    assert_eq!(detail["decoded"]["data"]["id"], json!(event_id));
    assert_eq!(detail["decoded"]["instanceId"], json!(fake.instance_id()));
    assert_eq!(detail["jwtHeader"]["alg"], "RS256");
    assert_eq!(detail["deliveries"][0]["attempts"][0]["status"], 200);

    let (status, answer) = post(&fake, &format!("webhooks/{event_id}/redeliver"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["deliveries"], 1);
    fake.settle().await;
    assert_eq!(hook.count("/hook"), 2);
    let bodies: Vec<String> = hook.seen().iter().map(|s| s.text()).collect();
    let verifier = WebhookVerifier::from_public_key(fake.public_key_pem()).unwrap();
    let ids: Vec<String> = bodies
        .iter()
        .map(|b| verifier.verify(b.as_bytes()).unwrap().id)
        .collect();
    assert_eq!(ids, [event_id.clone(), event_id.clone()], "same event ID");
    let deliveries = fake.deliveries();
    assert_eq!(deliveries.len(), 2);
    assert!(deliveries
        .iter()
        .all(|d| d.delivered && d.event_id == event_id));

    let (status, _) = post(&fake, "webhooks/no-such-event/redeliver", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&fake, "/_fake/webhooks/no-such-event").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, answer) = post(&fake, "receivers/remove", json!({ "url": url })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["receivers"], json!([]));
    let (status, _) = post(&fake, "receivers/remove", json!({ "url": url })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, answer) = post(&fake, &format!("webhooks/{event_id}/redeliver"), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    // ...unless a receiver is named.
    let (status, _) = post(
        &fake,
        &format!("webhooks/{event_id}/redeliver"),
        json!({ "receiver": url }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    fake.settle().await;
    assert_eq!(hook.count("/hook"), 3);
}

#[tokio::test]
async fn faults_are_queued_listed_taken_and_cleared() {
    let fake = fake().await;
    let (status, answer) = post(
        &fake,
        "faults",
        json!({"kind": "status", "status": 503, "count": 2}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        answer["pendingFaults"],
        json!([{"kind": "status", "status": 503}, {"kind": "status", "status": 503}])
    );
    post(
        &fake,
        "faults",
        json!({"kind": "status", "status": 429, "retryAfter": 3}),
    )
    .await;
    post(&fake, "faults", json!({"kind": "drop"})).await;
    post(&fake, "faults", json!({"kind": "delay", "ms": 10})).await;
    assert_eq!(
        fake.pending_faults(),
        [
            Fault::Status(503),
            Fault::Status(503),
            Fault::StatusRetryAfter(429, 3),
            Fault::Drop,
            Fault::Delay(Duration::from_millis(10)),
        ]
    );
    // The app's next call takes one; the simulator's own requests take none.
    get(&fake, "/_fake/state").await;
    let response = http_client()
        .get(format!(
            "{}/inbox/v2/conversations/2b7e4ad9-0000-0000-0000-000000000000",
            fake.base_url()
        ))
        .header("authorization", fake.api_key())
        .header("wix-site-id", fake.site_id())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(fake.pending_faults().len(), 4);
    let (_, state) = get(&fake, "/_fake/state").await;
    assert_eq!(state["pendingFaults"].as_array().unwrap().len(), 4);
    assert_eq!(
        state["pendingFaults"][1],
        json!({"kind": "status", "status": 429, "retryAfter": 3})
    );

    let (status, answer) = post(&fake, "faults/clear", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["pendingFaults"], json!([]));
    assert!(fake.pending_faults().is_empty());

    // Only the app's call is in the request log, not the simulator's.
    let log = fake.requests();
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(log[0].uri.starts_with("/inbox/"));
}

#[tokio::test]
async fn expiring_tokens_makes_the_next_call_with_one_answer_401() {
    let fake = fake().await;
    let token: Value = http_client()
        .post(format!("{}/oauth2/token", fake.base_url()))
        .json(&json!({
            "grant_type": "client_credentials",
            "client_id": fake.app_id(),
            "client_secret": fake.app_secret(),
            "instance_id": fake.instance_id(),
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let call = || async {
        http_client()
            .post(format!("{}/inbox/v2/conversations", fake.base_url()))
            .header("authorization", &token)
            .json(&json!({"participantId": {"contactId": "c1"}}))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(call().await, StatusCode::OK);
    // An empty body reads as `{}`.
    let response = http_client()
        .post(format!("{}/_fake/tokens/expire", fake.base_url()))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(call().await, StatusCode::UNAUTHORIZED);
}
