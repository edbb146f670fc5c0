//! A handler slower than Wix waits (1,250 ms), the fake playing Wix: each event is handled
//! exactly once, and Wix's next resend is answered 200.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wix_inbox::webhooks::axum::{serve, WebhookReceiver};
use wix_inbox_fake::FakeInbox;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_3_s_handler_handles_each_event_once_and_wix_gets_its_200() {
    const EVENTS: usize = 3;
    let fake = FakeInbox::builder()
        .webhook_attempts(10)
        .webhook_backoff(Duration::from_millis(400))
        .start()
        .await
        .unwrap();
    let verifier =
        wix_inbox::webhooks::WebhookVerifier::from_public_key(fake.public_key_pem()).unwrap();
    let handled: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let seen = handled.clone();
    let receiver = WebhookReceiver::with_handler(verifier, move |event| {
        let seen = seen.clone();
        async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            *seen.lock().unwrap().entry(event.id).or_default() += 1;
            Ok::<(), std::convert::Infallible>(())
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/wix", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, receiver.into_router("/webhooks/wix")));
    fake.add_webhook_receiver(url);
    for i in 0..EVENTS {
        fake.visitor_writes(&format!("visitor-{i}"), "hello");
    }
    let deadline = Instant::now() + Duration::from_secs(40);
    while !(fake.deliveries().len() == EVENTS && fake.deliveries().iter().all(|d| d.finished)) {
        assert!(Instant::now() < deadline, "{:?}", fake.deliveries());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let handled = handled.lock().unwrap().clone();
    for delivery in fake.deliveries() {
        assert!(delivery.delivered, "{delivery:?}");
        // The first attempt timed out: the handler outlived the request.
        assert_eq!(delivery.attempts[0].status, None, "{delivery:?}");
        assert_eq!(handled.get(&delivery.event_id), Some(&1), "{delivery:?}");
    }
    assert_eq!(handled.len(), EVENTS);
    fake.shutdown().await;
}
