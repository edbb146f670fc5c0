//! The axum receiver over real HTTP on 127.0.0.1.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use jsonwebtoken::Algorithm;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wix_inbox::webhooks::axum::WebhookReceiver;
use wix_inbox::webhooks::test_signer::encode_unsigned;
use wix_inbox::webhooks::{InboxEvent, WebhookVerifier};

use super::{good_event, good_token, signer, verifier};

async fn serve<D: wix_inbox::webhooks::Deduplicator>(receiver: WebhookReceiver<D>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = receiver.into_router("/webhooks/wix");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A reqwest client that ignores `HTTP_PROXY` and friends: the receiver is on 127.0.0.1.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn post(
    addr: SocketAddr,
    body: impl Into<reqwest::Body>,
    content_type: Option<&str>,
) -> (u16, String) {
    let mut request = http_client()
        .post(format!("http://{addr}/webhooks/wix"))
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn accepted_then_duplicate() {
    let (receiver, mut events) = WebhookReceiver::with_channel(verifier(), 16);
    let addr = serve(receiver).await;
    let token = good_token();
    assert_eq!(
        post(addr, token.clone(), Some("text/plain")).await,
        (200, "ok".into())
    );
    let event = events.recv().await.unwrap();
    assert!(matches!(event.event, InboxEvent::MessageSentToBusiness(_)));
    assert_eq!(
        post(addr, token, Some("text/plain")).await,
        (200, "duplicate".into())
    );
    assert!(events.try_recv().is_err());
}

#[tokio::test]
async fn any_content_type_or_none() {
    let (receiver, mut events) = WebhookReceiver::with_channel(verifier(), 16);
    let addr = serve(receiver).await;
    for (i, content_type) in [
        None,
        Some("application/json"),
        Some("application/x-www-form-urlencoded"),
        Some("application/octet-stream"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut event = good_event();
        event.domain_event["id"] = json!(format!("ct-{i}"));
        let (status, _) = post(addr, signer().sign_event(&event), content_type).await;
        assert_eq!(status, 200, "{content_type:?}");
        assert_eq!(events.recv().await.unwrap().id, format!("ct-{i}"));
    }
}

#[tokio::test]
async fn callback_receives_events() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let receiver =
        WebhookReceiver::new(verifier(), move |event| sink.lock().unwrap().push(event.id));
    let addr = serve(receiver).await;
    assert_eq!(post(addr, good_token(), None).await.0, 200);
    assert_eq!(
        *seen.lock().unwrap(),
        ["95c2f87d-ae78-4df9-aa21-95189231d6f7"]
    );
}

#[tokio::test]
async fn unauthorized_cases_are_401() {
    let (receiver, _events) = WebhookReceiver::with_channel(verifier(), 16);
    let addr = serve(receiver).await;
    let claims = good_event().claims();
    let mut expired = good_event();
    expired.exp = Some(expired.iat - 3600);
    let cases = [
        (
            "bad signature",
            crate::attacks_support::tampered(&good_token()),
        ),
        (
            "alg none",
            encode_unsigned(&json!({"alg": "none"}), &claims),
        ),
        (
            "RS384",
            signer().sign_with(Algorithm::RS384, &json!({"alg": "RS384"}), &claims),
        ),
        ("expired", signer().sign_event(&expired)),
    ];
    for (name, body) in cases {
        let (status, text) = post(addr, body, Some("text/plain")).await;
        assert_eq!(status, 401, "{name}");
        assert_eq!(text, "invalid webhook token");
    }
}

#[tokio::test]
async fn malformed_is_400() {
    let (receiver, _events) = WebhookReceiver::with_channel(verifier(), 16);
    let addr = serve(receiver).await;
    let broken = signer().sign_claims(&json!({"data": "{oops", "exp": i64::MAX}));
    for body in [
        "hello".to_owned(),
        "{\"payload\": \"x\"}".to_owned(),
        broken,
    ] {
        assert_eq!(post(addr, body, None).await.0, 400);
    }
    assert_eq!(post(addr, vec![0xffu8, 0xfe, 0x00], None).await.0, 400);
}

#[tokio::test]
async fn too_large_is_413() {
    let (receiver, _events) = WebhookReceiver::with_channel(verifier(), 16);
    let addr = serve(receiver).await;
    let (status, text) = post(addr, vec![b'a'; 2 * 1024 * 1024], None).await;
    assert_eq!((status, text.as_str()), (413, "webhook body too large"));
}

#[tokio::test]
async fn too_large_chunked_without_content_length_is_413() {
    let limit = 1000;
    let (receiver, _events) =
        WebhookReceiver::with_channel(verifier().with_max_body_size(limit), 16);
    let addr = serve(receiver).await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let chunk = "a".repeat(limit + 1);
    let request = format!(
        "POST /webhooks/wix HTTP/1.1\r\nhost: {addr}\r\ntransfer-encoding: chunked\r\n\
         connection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
}

#[tokio::test]
async fn full_channel_is_503_and_the_retry_is_processed() {
    let (receiver, mut events) = WebhookReceiver::with_channel(verifier(), 1);
    let addr = serve(receiver).await;
    let first = good_token();
    let mut second = good_event();
    second.domain_event["id"] = json!("second");
    let second = signer().sign_event(&second);
    assert_eq!(post(addr, first, None).await.0, 200);
    assert_eq!(post(addr, second.clone(), None).await.0, 503);
    events.recv().await.unwrap();
    assert_eq!(post(addr, second, None).await.0, 200);
    // A retry dropped as a duplicate would leave the channel empty: fail, do not hang.
    let retried = tokio::time::timeout(std::time::Duration::from_secs(10), events.recv()).await;
    assert_eq!(
        retried.expect("the retry was handed on").unwrap().id,
        "second"
    );
}

#[tokio::test]
async fn wrong_method_is_405() {
    let receiver = WebhookReceiver::new(verifier(), |_| {});
    let addr = serve(receiver).await;
    let response = http_client()
        .get(format!("http://{addr}/webhooks/wix"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let _ = WebhookVerifier::from_public_key(signer().public_key_pem()).unwrap();
}
