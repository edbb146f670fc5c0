//! The axum receiver: it trusts no size the sender declares, and works with any deduplicator.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wix_inbox::webhooks::axum::WebhookReceiver;
use wix_inbox::webhooks::{Claim, DedupError, Deduplicator, Lease};

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
/// a database would be; it logs what it is asked, and fails on demand.
#[derive(Default)]
struct SharedStore {
    ids: std::sync::Mutex<std::collections::HashMap<String, Option<String>>>,
    released: std::sync::Mutex<Vec<String>>,
    next: std::sync::atomic::AtomicU64,
    /// While set, every call fails as an unreachable store would.
    down: std::sync::atomic::AtomicBool,
}

impl SharedStore {
    fn check(&self) -> Result<(), DedupError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            Err(DedupError::unavailable("connection refused"))
        } else {
            Ok(())
        }
    }
}

impl Deduplicator for SharedStore {
    async fn claim(&self, event_id: &str) -> Result<Claim, DedupError> {
        self.check()?;
        let mut ids = self.ids.lock().unwrap();
        Ok(match ids.get(event_id) {
            Some(None) => Claim::Done,
            Some(Some(_)) => Claim::InProgressElsewhere,
            None => {
                let token = self
                    .next
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                    .to_string();
                ids.insert(event_id.to_owned(), Some(token.clone()));
                Claim::First(Lease::new(event_id, token, Duration::from_secs(60)))
            }
        })
    }

    async fn complete(&self, lease: &Lease) -> Result<(), DedupError> {
        self.check()?;
        let mut ids = self.ids.lock().unwrap();
        match ids.get_mut(lease.event_id()) {
            Some(held @ Some(_)) if held.as_deref() == Some(lease.token()) => {
                *held = None;
                Ok(())
            }
            _ => Err(DedupError::LeaseLost {
                event_id: lease.event_id().to_owned(),
            }),
        }
    }

    async fn release(&self, lease: &Lease) -> Result<(), DedupError> {
        self.check()?;
        let mut ids = self.ids.lock().unwrap();
        if ids.get(lease.event_id()) == Some(&Some(lease.token().to_owned())) {
            ids.remove(lease.event_id());
            self.released
                .lock()
                .unwrap()
                .push(lease.event_id().to_owned());
            Ok(())
        } else {
            Err(DedupError::LeaseLost {
                event_id: lease.event_id().to_owned(),
            })
        }
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

async fn answer<D: Deduplicator>(receiver: &WebhookReceiver<D>, token: &str) -> (u16, String) {
    let response = receiver.handle(delivery(token)).await;
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn a_shared_deduplicator_spans_receivers_and_releases_what_could_not_be_handed_on() {
    let store = Arc::new(SharedStore::default());
    let (a, mut events_a) = WebhookReceiver::with_channel(verifier(), 1);
    let a = a.deduplicator(store.clone());
    let (b, _events_b) = WebhookReceiver::with_channel(verifier(), 1);
    let b = b.deduplicator(store.clone());

    // Accepted by one instance, a duplicate at the other.
    let first = token_with_id("evt-1");
    assert_eq!(answer(&a, &first).await, (200, "ok".into()));
    assert_eq!(answer(&b, &first).await, (200, "duplicate".into()));

    // A's channel is full: 503, and the claim is released so that Wix's retry gets through.
    let second = token_with_id("evt-2");
    assert_eq!(answer(&a, &second).await.0, 503);
    assert_eq!(*store.released.lock().unwrap(), ["evt-2"]);
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

/// A callback that panics gets Wix a 500 (not a dropped connection), and the claim is
/// released so that Wix's retry is processed.
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
    impl Deduplicator for Broken {
        async fn claim(&self, _: &str) -> Result<Claim, DedupError> {
            panic!("the store's client has a bug")
        }
        async fn complete(&self, _: &Lease) -> Result<(), DedupError> {
            Ok(())
        }
        async fn release(&self, _: &Lease) -> Result<(), DedupError> {
            Ok(())
        }
    }
    let receiver = WebhookReceiver::new(verifier(), |_| {}).deduplicator(Broken);
    let addr = serve_receiver(receiver).await;
    let answer = deliver_raw(addr, &good_token()).await;
    assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
}

/// An event ID longer than 256 bytes (Wix's are 36-character GUIDs) is a bad event: refused
/// before the deduplicator stores it, so the store's memory is bounded by count and size.
#[tokio::test]
async fn an_event_id_over_256_bytes_is_refused_before_the_deduplicator() {
    let store = std::sync::Arc::new(SharedStore::default());
    let (receiver, mut events) = WebhookReceiver::with_channel(verifier(), 4);
    let receiver = receiver.deduplicator(store.clone());

    let longest = "i".repeat(256);
    assert_eq!(
        answer(&receiver, &token_with_id(&longest)).await,
        (200, "ok".into())
    );
    assert_eq!(events.recv().await.unwrap().id, longest);

    let too_long = "i".repeat(257);
    let err = verifier()
        .verify(token_with_id(&too_long).as_bytes())
        .unwrap_err();
    assert!(
        matches!(
            err,
            wix_inbox::webhooks::WebhookError::Malformed {
                layer: wix_inbox::webhooks::Layer::DomainEvent,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("256"), "{err}");
    let huge = "i".repeat(700 * 1024);
    for id in [too_long, huge] {
        assert_eq!(answer(&receiver, &token_with_id(&id)).await.0, 400);
    }
    assert!(events.try_recv().is_err());
    assert_eq!(
        store.ids.lock().unwrap().len(),
        1,
        "only the 256-byte ID is stored"
    );
}

/// A store that fails is an error, never a guess: 503, the handler is not called; once the
/// store is back the retry is handed on, exactly once.
#[tokio::test]
async fn a_store_error_is_answered_503_and_nothing_is_handed_on() {
    let store = Arc::new(SharedStore::default());
    let handled = Arc::new(Mutex::new(Vec::new()));
    let h = handled.clone();
    let receiver = WebhookReceiver::new(verifier(), move |event| h.lock().unwrap().push(event.id))
        .deduplicator(store.clone());
    let token = token_with_id("evt-down");
    store.down.store(true, Ordering::SeqCst);
    assert_eq!(
        answer(&receiver, &token).await,
        (503, "de-duplication store unavailable, retry later".into())
    );
    assert!(handled.lock().unwrap().is_empty());
    assert!(store.ids.lock().unwrap().is_empty());

    store.down.store(false, Ordering::SeqCst);
    assert_eq!(answer(&receiver, &token).await, (200, "ok".into()));
    assert_eq!(answer(&receiver, &token).await, (200, "duplicate".into()));
    assert_eq!(*handled.lock().unwrap(), ["evt-down"]);
}

/// An async handler: 200 only once it returned `Ok`; an `Err` is answered 503 and the claim
/// released, so the retry is handed on.
#[tokio::test]
async fn an_async_handler_answers_200_only_once_it_handed_on() {
    let calls = Arc::new(AtomicUsize::new(0));
    let handled = Arc::new(Mutex::new(Vec::new()));
    let (c, h) = (calls.clone(), handled.clone());
    let store = Arc::new(SharedStore::default());
    let receiver = WebhookReceiver::with_handler(verifier(), move |event| {
        let (c, h) = (c.clone(), h.clone());
        async move {
            tokio::task::yield_now().await;
            if c.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err("the app is down");
            }
            h.lock().unwrap().push(event.id);
            Ok(())
        }
    })
    .deduplicator(store.clone());
    let token = token_with_id("evt-async");
    assert_eq!(
        answer(&receiver, &token).await,
        (503, "not handed on, retry later".into())
    );
    assert_eq!(*store.released.lock().unwrap(), ["evt-async"]);
    assert!(handled.lock().unwrap().is_empty());
    assert_eq!(answer(&receiver, &token).await, (200, "ok".into()));
    assert_eq!(answer(&receiver, &token).await, (200, "duplicate".into()));
    assert_eq!(*handled.lock().unwrap(), ["evt-async"]);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// While one request hands an event on, a second delivery of it is answered 503 (Wix will
/// retry: see the module docs for why not 200) and not handed on again; after the first
/// completed, a redelivery is a duplicate (200).
#[tokio::test]
async fn an_event_in_progress_elsewhere_is_not_handled_again() {
    let (entered_tx, entered_rx) = tokio::sync::oneshot::channel::<()>();
    let entered_tx = Arc::new(Mutex::new(Some(entered_tx)));
    let gate = Arc::new(tokio::sync::Notify::new());
    let calls = Arc::new(AtomicUsize::new(0));
    let (g, c) = (gate.clone(), calls.clone());
    let receiver = WebhookReceiver::with_handler(verifier(), move |_event| {
        let (g, c, entered) = (g.clone(), c.clone(), entered_tx.lock().unwrap().take());
        async move {
            c.fetch_add(1, Ordering::SeqCst);
            if let Some(entered) = entered {
                let _ = entered.send(());
            }
            g.notified().await;
            Ok::<(), std::convert::Infallible>(())
        }
    });
    let token = token_with_id("evt-slow");
    let first = tokio::spawn({
        let (receiver, token) = (receiver.clone(), token.clone());
        async move { answer(&receiver, &token).await }
    });
    tokio::time::timeout(Duration::from_secs(10), entered_rx)
        .await
        .unwrap()
        .unwrap();
    // Each answer within 10 s: a store that forgot the claim would hand the event to the
    // handler again, which waits on the gate for ever.
    let within = |work| async move {
        tokio::time::timeout(Duration::from_secs(10), work)
            .await
            .expect("the receiver did not answer within 10 s")
    };
    assert_eq!(
        within(answer(&receiver, &token)).await,
        (503, "in progress elsewhere, retry later".into())
    );
    gate.notify_one();
    assert_eq!(first.await.unwrap(), (200, "ok".into()));
    assert_eq!(
        within(answer(&receiver, &token)).await,
        (200, "duplicate".into())
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A request dropped while its handler runs (the sender hung up, as Wix does after 1,250 ms;
/// a server's request timeout) does not cancel the hand-off: the handler runs to its end once,
/// the claim is completed, and the resend is answered 200 without handing the event on again.
/// (Before: the claim was released, and every resend handed the event on again.)
#[tokio::test]
async fn a_dropped_request_hands_on_once_and_its_resend_is_answered_200() {
    let calls = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let (c, f) = (calls.clone(), finished.clone());
    let store = Arc::new(SharedStore::default());
    let receiver = WebhookReceiver::with_handler(verifier(), move |_event| {
        let (c, f) = (c.clone(), f.clone());
        async move {
            c.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(300)).await;
            f.fetch_add(1, Ordering::SeqCst);
            Ok::<(), std::convert::Infallible>(())
        }
    })
    .deduplicator(store.clone());
    let token = token_with_id("evt-dropped");
    let timed_out =
        tokio::time::timeout(Duration::from_millis(50), answer(&receiver, &token)).await;
    assert!(timed_out.is_err());
    // While the handler still runs, a resend is asked to come back later.
    assert_eq!(answer(&receiver, &token).await.0, 503);
    // Once it ended (bounded wait), the claim is done: the resend is a duplicate.
    for _ in 0..400 {
        if finished.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        finished.load(Ordering::SeqCst),
        1,
        "the handler was cancelled"
    );
    let mut resend = answer(&receiver, &token).await;
    for _ in 0..200 {
        if resend.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        resend = answer(&receiver, &token).await;
    }
    assert_eq!(resend, (200, "duplicate".into()));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(store.released.lock().unwrap().is_empty());
}

/// A request dropped while its handler runs, and the handler then fails: the claim is
/// released, so the resend is handed on again.
#[tokio::test]
async fn a_dropped_request_whose_handler_fails_releases_its_claim() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let store = Arc::new(SharedStore::default());
    let receiver = WebhookReceiver::with_handler(verifier(), move |_event| {
        let first = c.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            if first {
                tokio::time::sleep(Duration::from_millis(100)).await;
                return Err("the app is down");
            }
            Ok(())
        }
    })
    .deduplicator(store.clone());
    let token = token_with_id("evt-dropped-failed");
    let timed_out =
        tokio::time::timeout(Duration::from_millis(20), answer(&receiver, &token)).await;
    assert!(timed_out.is_err());
    for _ in 0..400 {
        if !store.released.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(*store.released.lock().unwrap(), ["evt-dropped-failed"]);
    assert_eq!(answer(&receiver, &token).await, (200, "ok".into()));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// Handed on, but the store fails before the claim is completed: still 200 (the event was
/// handed on; a 503 would only have it handed on again), and it was handed on once.
#[tokio::test]
async fn handed_on_but_not_completed_is_still_200() {
    let store = Arc::new(SharedStore::default());
    let handled = Arc::new(AtomicUsize::new(0));
    let (s, h) = (store.clone(), handled.clone());
    let receiver = WebhookReceiver::new(verifier(), move |_| {
        h.fetch_add(1, Ordering::SeqCst);
        s.down.store(true, Ordering::SeqCst);
    })
    .deduplicator(store.clone());
    assert_eq!(
        answer(&receiver, &token_with_id("evt-half")).await,
        (200, "ok".into())
    );
    assert_eq!(handled.load(Ordering::SeqCst), 1);
}
