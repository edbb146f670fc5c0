//! `Client::send_to_participant`: Get Or Create, then Send, once more when a merge moved the
//! conversation in between; never twice otherwise. The merge is injected between the two calls
//! by a proxy on 127.0.0.1 that runs a hook on the first Send Message before forwarding it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use wix_inbox::types::{IdentificationData, Message, OverrideSenderOptions, ParticipantId};
use wix_inbox::{ErrorCode, ErrorKind, RetryPolicy};
use wix_inbox_fake::{FakeInbox, Fault};

const VISITOR: &str = "v-1";
const CONTACT: &str = "c-1";

/// Runs before the proxy forwards a Send Message, with the number of the Send (1, 2...).
type Hook = Box<dyn Fn(&FakeInbox, usize) + Send + Sync>;

struct Proxy {
    fake: Arc<FakeInbox>,
    upstream: String,
    http: reqwest::Client,
    hook: Hook,
    sends: AtomicUsize,
}

/// Serves a proxy to `fake` on 127.0.0.1 that runs `hook` on each Send Message before
/// forwarding it; returns its base URL.
async fn proxy(fake: Arc<FakeInbox>, hook: Hook) -> String {
    let state = Arc::new(Proxy {
        upstream: fake.base_url().to_owned(),
        fake,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        hook,
        sends: AtomicUsize::new(0),
    });
    let app = axum::Router::new().fallback(forward).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let is_send = parts.method == "POST" && parts.uri.path() == "/inbox/v2/messages";
    if is_send {
        let n = proxy.sends.fetch_add(1, Ordering::SeqCst) + 1;
        (proxy.hook)(&proxy.fake, n);
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut upstream = proxy
        .http
        .request(parts.method, format!("{}{path}", proxy.upstream))
        .body(body);
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            upstream = upstream.header(name, value);
        }
    }
    let answer = upstream.send().await.unwrap();
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            response = response.header(name, value);
        }
    }
    response
        .body(Body::from(answer.bytes().await.unwrap()))
        .unwrap()
}

fn client(fake: &FakeInbox, base_url: &str) -> wix_inbox::Client {
    fake.client_builder()
        .base_url(base_url)
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap()
}

fn calls(fake: &FakeInbox, method: &str, path: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.method == method && r.uri.starts_with(path))
        .count()
}

#[tokio::test]
async fn a_merge_between_get_or_create_and_send_ends_with_one_message_in_the_new_conversation() {
    let fake = Arc::new(FakeInbox::start().await.unwrap());
    let old = fake.visitor_writes(VISITOR, "hi").conversation_id.unwrap();
    let url = proxy(
        fake.clone(),
        Box::new(|fake, n| {
            if n == 1 {
                fake.visitor_becomes_contact(VISITOR, CONTACT).unwrap();
            }
        }),
    )
    .await;
    let client = client(&fake, &url);

    let visitor = ParticipantId::AnonymousVisitorId(VISITOR.into());
    let sent = client
        .send_to_participant(&visitor, Message::reply("Thanks!"))
        .await
        .unwrap();

    let new = fake.merged_into(&old).expect("the merge happened");
    assert_eq!(sent.conversation_id, new);
    assert_eq!(sent.resolutions, 2);
    assert_eq!(fake.message_texts(&new), ["hi", "Thanks!"]);
    assert_eq!(sent.message.plain_text().as_deref(), Some("Thanks!"));
    // Two sends: the first answered 404 and stored nothing.
    assert_eq!(calls(&fake, "POST", "/inbox/v2/messages"), 2);
    assert_eq!(calls(&fake, "POST", "/inbox/v2/conversations"), 2);
}

#[tokio::test]
async fn without_a_merge_it_gets_the_conversation_once_and_sends_once() {
    let fake = FakeInbox::start().await.unwrap();
    let written = fake.contact_writes(CONTACT, "hello");
    let client = fake.client();
    let sender = written.message.unwrap().sender.unwrap();
    let sent = client
        .send_to_sender(&sender, Message::reply("Hi!"))
        .send_as(OverrideSenderOptions::Caller)
        .send_notifications(false)
        .await
        .unwrap();
    assert_eq!(
        Some(sent.conversation_id.as_str()),
        written.conversation_id.as_deref()
    );
    assert_eq!(sent.resolutions, 1);
    assert_eq!(fake.message_texts(&sent.conversation_id), ["hello", "Hi!"]);
}

#[tokio::test]
async fn any_other_send_error_is_returned_as_it_is_and_nothing_is_sent_again() {
    let fake = Arc::new(FakeInbox::start().await.unwrap());
    fake.visitor_writes(VISITOR, "hi");
    let url = proxy(
        fake.clone(),
        Box::new(|fake, n| {
            if n == 1 {
                fake.fail_next(1, Fault::Status(400));
            }
        }),
    )
    .await;
    let client = client(&fake, &url);
    let error = client
        .send_to_participant(
            &ParticipantId::AnonymousVisitorId(VISITOR.into()),
            Message::reply("Thanks!"),
        )
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(400));
    assert_eq!(error.operation(), Some("send_message"));
    assert_eq!(calls(&fake, "POST", "/inbox/v2/messages"), 1);
    assert_eq!(calls(&fake, "POST", "/inbox/v2/conversations"), 1);
}

#[tokio::test]
async fn a_conversation_gone_again_on_the_second_send_is_returned_and_nothing_is_stored() {
    // A merge before each Send: the second 404 is the answer (one more try, not a loop).
    let fake = Arc::new(FakeInbox::start().await.unwrap());
    fake.visitor_writes(VISITOR, "hi");
    let url = proxy(
        fake.clone(),
        Box::new(|fake, n| match n {
            1 => drop(fake.visitor_becomes_contact(VISITOR, CONTACT).unwrap()),
            2 => drop(fake.contact_becomes_member(CONTACT, "m-1").unwrap()),
            _ => panic!("a third Send"),
        }),
    )
    .await;
    let error = client(&fake, &url)
        .send_to_participant(
            &ParticipantId::AnonymousVisitorId(VISITOR.into()),
            Message::reply("Thanks!"),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(&ErrorCode::ConversationNotFound));
    assert_eq!(error.status().map(|s| s.as_u16()), Some(404));
    assert_eq!(calls(&fake, "POST", "/inbox/v2/messages"), 2);
    let member = ParticipantId::MemberId("m-1".into());
    let texts: Vec<_> = fake
        .participant_messages(&member)
        .iter()
        .filter_map(|m| m.plain_text())
        .collect();
    assert_eq!(texts, ["hi"]);
}

#[tokio::test]
async fn the_business_or_an_app_as_sender_is_a_clear_error_and_nothing_is_called() {
    let fake = FakeInbox::start().await.unwrap();
    let business = IdentificationData {
        wix_user_id: Some("u-1".into()),
        ..Default::default()
    };
    let error = fake
        .client()
        .send_to_sender(&business, Message::reply("x"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    assert!(error.to_string().contains("not a participant"), "{error}");
    let source = std::error::Error::source(&error).unwrap().to_string();
    assert!(source.contains("Wix user of the business"), "{source}");
    assert!(fake.requests().is_empty());
}
