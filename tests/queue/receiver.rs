//! The receiver in queue mode: 200 at once whatever the handler takes; 503 within 1 s when
//! Redis is down or slow, never 200 for an event not stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use wix_inbox::queue::{QueueStore, Worker};
use wix_inbox::trace::TraceContext;
use wix_inbox::webhooks::axum::{serve, WebhookReceiver};
use wix_inbox::webhooks::test_signer::{TestEvent, TestSigner};
use wix_inbox_fake::FakeInbox;

use crate::redis_server::RedisServer;
use crate::{queue, quick, spawn_worker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wix_gets_200_on_the_first_try_while_a_3_s_handler_runs() {
    const EVENTS: usize = 5;
    let server = RedisServer::start();
    let queue = queue(&server).await;
    let fake = FakeInbox::builder()
        .webhook_attempts(10)
        .webhook_backoff(Duration::from_millis(400))
        .start()
        .await
        .unwrap();
    let verifier =
        wix_inbox::webhooks::WebhookVerifier::from_public_key(fake.public_key_pem()).unwrap();
    let receiver = WebhookReceiver::queue(verifier, queue.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/wix", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, receiver.into_router("/webhooks/wix")));
    let handled: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let seen = handled.clone();
    let (stop, task) = spawn_worker(
        Worker::new(queue.clone(), quick().visibility(Duration::from_secs(5))),
        move |e| {
            let seen = seen.clone();
            async move {
                tokio::time::sleep(Duration::from_secs(3)).await;
                *seen.lock().unwrap().entry(e.id).or_default() += 1;
                Ok(())
            }
        },
    );
    fake.add_webhook_receiver(url);
    for i in 0..EVENTS {
        fake.visitor_writes(&format!("visitor-{i}"), "hello");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(fake.deliveries().len() == EVENTS && fake.deliveries().iter().all(|d| d.finished)) {
        assert!(Instant::now() < deadline, "{:?}", fake.deliveries());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for delivery in fake.deliveries() {
        assert_eq!(delivery.attempts.len(), 1, "resent: {delivery:?}");
        assert_eq!(delivery.attempts[0].status, Some(200), "{delivery:?}");
        assert!(
            delivery.attempts[0].latency < Duration::from_millis(1_250),
            "{delivery:?}"
        );
    }
    crate::until(Duration::from_secs(20), "every event handled", || {
        handled.lock().unwrap().len() == EVENTS
    })
    .await;
    let _ = stop.send(());
    task.await.unwrap().unwrap();
    assert!(handled.lock().unwrap().values().all(|&n| n == 1));
    fake.shutdown().await;
}

/// A delivery of a new event, signed by the test signer.
fn delivery(id: &str) -> Request<Body> {
    let body = TestSigner::shared().sign_event(&TestEvent::new(
        "wix.crm.inbox.v2.message_message_sent_to_business",
        serde_json::json!({"id": id, "actionEvent": {"body": {"conversationId": "c1"}}}),
    ));
    Request::post("/").body(Body::from(body)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_down_or_slow_is_503_within_a_second() {
    let mut server = RedisServer::start();
    let queue = queue(&server).await;
    let receiver = WebhookReceiver::queue(TestSigner::shared().verifier(), queue.clone());
    let answer = receiver.handle(delivery("stored")).await;
    assert_eq!(answer.status(), 200);
    let again = receiver.handle(delivery("stored")).await;
    assert_eq!(again.status(), 200, "a resend is answered 200");
    assert_eq!(queue.stats().await.unwrap().length, 1, "appended once");

    // Slow: writes paused for 3 s.
    let mut admin = crate::redis(&server).await;
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(3000)
        .arg("WRITE")
        .query_async(&mut admin)
        .await
        .unwrap();
    let start = Instant::now();
    let answer = receiver.handle(delivery("while-slow")).await;
    assert_eq!(answer.status(), 503);
    assert!(
        start.elapsed() < Duration::from_millis(1_200),
        "{:?}",
        start.elapsed()
    );
    let _: () = redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query_async(&mut admin)
        .await
        .unwrap();

    // Down.
    server.stop();
    let start = Instant::now();
    let answer = receiver.handle(delivery("while-down")).await;
    assert_eq!(answer.status(), 503);
    assert!(
        start.elapsed() < Duration::from_millis(1_200),
        "{:?}",
        start.elapsed()
    );
}

/// The delivery's `traceparent` is stored with the event (in Redis): the worker runs the
/// handler in a child span of that trace. An event appended outside any trace gets one of its
/// own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_handles_each_event_in_its_deliverys_trace() {
    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let server = RedisServer::start();
    let queue = queue(&server).await;
    let receiver = WebhookReceiver::queue(TestSigner::shared().verifier(), queue.clone());
    let mut traced = delivery("traced");
    traced
        .headers_mut()
        .insert("traceparent", PARENT.parse().unwrap());
    assert_eq!(receiver.handle(traced).await.status(), 200);
    crate::append(&queue, &crate::event("untraced", "c2")).await;
    let seen: Arc<Mutex<HashMap<String, Option<TraceContext>>>> = Arc::default();
    let record = seen.clone();
    let (stop, task) = spawn_worker(Worker::new(queue.clone(), quick()), move |e| {
        record.lock().unwrap().insert(e.id, TraceContext::current());
        async { Ok(()) }
    });
    crate::until(Duration::from_secs(10), "both handled", || {
        seen.lock().unwrap().len() == 2
    })
    .await;
    let _ = stop.send(());
    task.await.unwrap().unwrap();
    let seen = seen.lock().unwrap();
    let parent = TraceContext::parse(PARENT).unwrap();
    let traced = seen["traced"].expect("a trace in the handler");
    assert_eq!(traced.trace_id(), parent.trace_id(), "the delivery's trace");
    assert_ne!(traced.span_id(), parent.span_id());
    let untraced = seen["untraced"].expect("a trace of its own");
    assert_ne!(untraced.trace_id(), parent.trace_id());
}
