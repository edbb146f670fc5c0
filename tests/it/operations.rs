//! Each operation called through the generated client against a real HTTP server on 127.0.0.1:
//! method, path, query names (with their dots) and JSON body asserted.

use std::sync::{Arc, Mutex};

use axum::{body::Bytes, http::Request, Router};
use serde_json::{json, Value};
use wix_inbox::types::{self, MessageVisibility, ParticipantId, SortOrder};

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Value>,
}

/// A server on 127.0.0.1 that records every request and answers with `reply`.
async fn server(reply: Value) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = Router::new().fallback(move |req: Request<axum::body::Body>| {
        let log = log.clone();
        let reply = reply.clone();
        async move {
            let (parts, body) = req.into_parts();
            let bytes: Bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            let query = parts.uri.query().map(url_pairs).unwrap_or_default();
            log.lock().unwrap().push(Seen {
                method: parts.method.to_string(),
                path: parts.uri.path().to_string(),
                query,
                body: (!bytes.is_empty()).then(|| serde_json::from_slice(&bytes).unwrap()),
            });
            axum::Json(reply)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn client(url: &str) -> wix_inbox::Client {
    wix_inbox::Client::builder()
        .base_url(url)
        .no_auth()
        .build()
        .unwrap()
}

fn url_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/responses/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["body"].clone()
}

#[tokio::test]
async fn get_conversation() {
    let (url, seen) = server(fixture("get-conversation.json")).await;
    let client = client(&url);
    let r = client
        .get_conversation()
        .conversation_id("6202c3bb-f263-3c16-8c90-d6387d9ed420")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.conversation.as_ref().unwrap().id.as_deref(),
        Some("6202c3bb-f263-3c16-8c90-d6387d9ed420")
    );
    let seen = seen.lock().unwrap()[0].clone();
    assert_eq!(seen.method, "GET");
    assert_eq!(
        seen.path,
        "/inbox/v2/conversations/6202c3bb-f263-3c16-8c90-d6387d9ed420"
    );
    assert!(seen.query.is_empty());
    assert!(seen.body.is_none());
}

#[tokio::test]
async fn get_or_create_conversation() {
    let (url, seen) = server(fixture("get-or-create-conversation.json")).await;
    let client = client(&url);
    let r = client
        .get_or_create_conversation()
        .body(types::GetOrCreateConversationRequest {
            participant_id: ParticipantId::AnonymousVisitorId(
                "40096143-3643-4cc1-8329-30a7fc2c595e".into(),
            ),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(r.new_conversation, Some(true));
    let seen = seen.lock().unwrap()[0].clone();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/inbox/v2/conversations");
    assert_eq!(
        seen.body.unwrap(),
        json!({"participantId": {"anonymousVisitorId": "40096143-3643-4cc1-8329-30a7fc2c595e"}})
    );
}

#[tokio::test]
async fn list_messages_uses_dotted_query_names() {
    let (url, seen) = server(fixture("list-messages.json")).await;
    let client = client(&url);
    let r = client
        .list_messages()
        .conversation_id("conv-1")
        .visibility(MessageVisibility::Business)
        .paging_limit(std::num::NonZeroU32::new(50).unwrap())
        .paging_cursor("abc")
        .sorting_field_name("sequence")
        .sorting_order(SortOrder::Asc)
        .send()
        .await
        .unwrap();
    assert!(!r.messages.is_empty());
    let seen = seen.lock().unwrap()[0].clone();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.path, "/inbox/v2/messages");
    let mut query = seen.query;
    query.sort();
    let expected: Vec<(String, String)> = [
        ("conversationId", "conv-1"),
        ("paging.cursor", "abc"),
        ("paging.limit", "50"),
        ("sorting.fieldName", "sequence"),
        ("sorting.order", "ASC"),
        ("visibility", "BUSINESS"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(query, expected);
}

#[tokio::test]
async fn send_message() {
    let (url, seen) = server(fixture("send-message-send-message-basic.json")).await;
    let client = client(&url);
    let message = types::Message {
        content: Some(types::MessageContent {
            preview_text: Some("Hey!".into()),
            basic: Some(types::BasicMessagePayload {
                items: vec![types::BasicMessageData {
                    text: Some("Hey!".into()),
                    ..Default::default()
                }],
            }),
            ..Default::default()
        }),
        visibility: Some(MessageVisibility::BusinessAndParticipant),
        direction: Some(types::MessageDirection::BusinessToParticipant),
        ..Default::default()
    };
    let r = client
        .send_message()
        .body(types::SendMessageRequest {
            conversation_id: "conv-1".into(),
            message,
            send_as: Some(types::OverrideSenderOptions::Caller),
            send_notifications: Some(true),
            silent: None,
        })
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.message.as_ref().unwrap().id.as_deref(),
        Some("1640849952353627")
    );
    let seen = seen.lock().unwrap()[0].clone();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/inbox/v2/messages");
    assert_eq!(
        seen.body.unwrap(),
        json!({
            "conversationId": "conv-1",
            "sendAs": "CALLER",
            "sendNotifications": true,
            "message": {
                "content": {"previewText": "Hey!", "basic": {"items": [{"text": "Hey!"}]}},
                "visibility": "BUSINESS_AND_PARTICIPANT",
                "direction": "BUSINESS_TO_PARTICIPANT"
            }
        })
    );
}
