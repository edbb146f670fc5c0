//! The axum receiver: it trusts no size the sender declares, and works with any deduplicator.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wix_inbox::webhooks::axum::WebhookReceiver;

use super::{good_token, verifier};

#[tokio::test]
async fn a_lying_content_length_reserves_nothing_even_without_a_limit() {
    let (receiver, mut events) =
        WebhookReceiver::with_channel(verifier().with_max_body_size(usize::MAX), 4);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = receiver.into_router("/webhooks/wix");
    tokio::spawn(async move { axum::serve(listener, app).await });

    // Declares 8 EiB, sends a few bytes and stops: the answer is 400 (not a dropped
    // connection, which is what a panic in the handler would give), and the process lives.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /webhooks/wix HTTP/1.1\r\nhost: x\r\n\
              content-length: 9223372036854775807\r\n\r\nabc",
        )
        .await
        .unwrap();
    stream.shutdown().await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");

    // The receiver still takes a genuine delivery.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let token = good_token();
    let request = format!(
        "POST /webhooks/wix HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{token}",
        token.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(events.recv().await.is_some());
}

/// A deduplicator shared by two receivers (two instances of an app behind a load balancer), as
/// a database would be; it logs what it is asked.
#[derive(Default)]
struct SharedStore {
    seen: std::sync::Mutex<std::collections::HashSet<String>>,
    forgotten: std::sync::Mutex<Vec<String>>,
}

impl wix_inbox::webhooks::Deduplicator for SharedStore {
    async fn check_and_insert(&self, event_id: &str) -> wix_inbox::webhooks::Sighting {
        if self.seen.lock().unwrap().insert(event_id.to_owned()) {
            wix_inbox::webhooks::Sighting::First
        } else {
            wix_inbox::webhooks::Sighting::Duplicate
        }
    }

    async fn forget(&self, event_id: &str) {
        self.seen.lock().unwrap().remove(event_id);
        self.forgotten.lock().unwrap().push(event_id.to_owned());
    }
}

fn delivery(token: &str) -> axum::extract::Request {
    axum::http::Request::post("/webhooks/wix")
        .body(axum::body::Body::from(token.to_owned()))
        .unwrap()
}

fn token_with_id(id: &str) -> String {
    let mut event = super::good_event();
    event.domain_event["id"] = serde_json::Value::String(id.into());
    super::signer().sign_event(&event)
}

async fn answer(
    receiver: &WebhookReceiver<std::sync::Arc<SharedStore>>,
    token: &str,
) -> (u16, String) {
    let response = receiver.handle(delivery(token)).await;
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn a_shared_deduplicator_spans_receivers_and_forgets_what_could_not_be_handed_on() {
    let store = std::sync::Arc::new(SharedStore::default());
    let (a, mut events_a) = WebhookReceiver::with_channel(verifier(), 1);
    let a = a.with_deduplicator(store.clone());
    let (b, _events_b) = WebhookReceiver::with_channel(verifier(), 1);
    let b = b.with_deduplicator(store.clone());

    // Accepted by one instance, a duplicate at the other.
    let first = token_with_id("evt-1");
    assert_eq!(answer(&a, &first).await, (200, "ok".into()));
    assert_eq!(answer(&b, &first).await, (200, "duplicate".into()));

    // A's channel is full: 503, and the ID is forgotten so that Wix's retry gets through.
    let second = token_with_id("evt-2");
    assert_eq!(answer(&a, &second).await.0, 503);
    assert_eq!(*store.forgotten.lock().unwrap(), ["evt-2"]);
    assert_eq!(events_a.recv().await.unwrap().id, "evt-1");
    assert_eq!(answer(&a, &second).await, (200, "ok".into()));
    assert_eq!(events_a.recv().await.unwrap().id, "evt-2");
}

/// Sends `token` as one delivery over a new connection to `addr`; the whole answer.
async fn deliver_raw(addr: std::net::SocketAddr, token: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /webhooks/wix HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{token}",
        token.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

async fn serve_receiver<D: wix_inbox::webhooks::Deduplicator>(
    receiver: WebhookReceiver<D>,
) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = receiver.into_router("/webhooks/wix");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A callback that panics gets Wix a 500 (not a dropped connection), and the event ID is
/// forgotten so that Wix's retry is processed.
#[tokio::test]
async fn a_panicking_handler_is_answered_500_and_the_retry_is_processed() {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let handled = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (c, h) = (calls.clone(), handled.clone());
    let receiver = WebhookReceiver::new(verifier(), move |event| {
        if c.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            panic!("a bug in the app's handler");
        }
        h.lock().unwrap().push(event.id);
    });
    let addr = serve_receiver(receiver).await;
    let token = token_with_id("evt-panic");
    let answer = deliver_raw(addr, &token).await;
    assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
    assert!(handled.lock().unwrap().is_empty());

    let answer = deliver_raw(addr, &token).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(*handled.lock().unwrap(), ["evt-panic"]);
}

/// A deduplicator that panics (a store's client with a bug) gets a 500 as well.
#[tokio::test]
async fn a_panicking_deduplicator_is_answered_500() {
    struct Broken;
    impl wix_inbox::webhooks::Deduplicator for Broken {
        async fn check_and_insert(&self, _: &str) -> wix_inbox::webhooks::Sighting {
            panic!("the store's client has a bug")
        }
        async fn forget(&self, _: &str) {}
    }
    let receiver = WebhookReceiver::new(verifier(), |_| {}).with_deduplicator(Broken);
    let addr = serve_receiver(receiver).await;
    let answer = deliver_raw(addr, &good_token()).await;
    assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
}
