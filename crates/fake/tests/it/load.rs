//! The load test (`wix_inbox_fake::load`): examples/bot.rs passes it; an app that answers
//! twice fails it with the right counts; Wix's resend schedule and API limit.
#[path = "../../../../examples/bot.rs"]
#[allow(dead_code)]
mod bot;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wix_inbox::types::{Message, SendMessageRequest};
use wix_inbox::webhooks::{InboxEvent, WebhookEvent};
use wix_inbox_fake::load::{LoadConfig, LoadTest};
use wix_inbox_fake::{ApiLimit, DeliveryPolicy, FakeInbox};

fn quick(sites: usize, rate: f64) -> LoadConfig {
    LoadConfig {
        sites,
        rate,
        duration: Duration::from_secs(2),
        time_scale: 36_000.0,
        grace: Duration::from_secs(3),
        ..LoadConfig::default()
    }
}

/// Serves `router` as the test's app and runs the test against it.
async fn run(test: &LoadTest, router: axum::Router) -> wix_inbox_fake::load::Report {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
    let app = tokio::spawn(async move { axum::serve(listener, router).await });
    let report = test.run(&url, |_| {}).await;
    app.abort();
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_passes_with_merges_duplicates_and_reordering() {
    let config = LoadConfig {
        duplicate_share: 0.2,
        reorder_share: 0.2,
        convert_share: 0.5,
        ..quick(5, 25.0)
    };
    let test = LoadTest::start(config).await.unwrap();
    let router = bot::router(test.fake().app()).unwrap();
    let report = run(&test, router).await;
    assert!(report.passed(), "{}", report.table());
    assert_eq!(report.visitor_messages, 50);
    assert_eq!(report.replies.one, 50);
    assert!(
        report.conversions > 0 && report.deliveries.repeats > 0,
        "{report:?}"
    );
    // Every event reached the app: the visitors' messages, its replies, the merges.
    assert!(report.deliveries.deliveries >= 100 + report.conversions);
    assert_eq!(report.api_calls.len(), 5);
    let calls: u64 = report.api_calls.iter().map(|c| c.calls).sum();
    assert!(calls >= 50, "one Send Message a reply at least: {calls}");
    assert!(report.deliveries.time_to_200_ms.max > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_answers_twice_fails_with_the_right_counts() {
    // No merges: this app sends to the event's conversation, and only duplicates are tested.
    let config = LoadConfig {
        convert_share: 0.0,
        ..quick(2, 10.0)
    };
    let test = LoadTest::start(config).await.unwrap();
    let app = test.fake().app();
    let router = app
        .clone()
        .webhook_router(move |event: WebhookEvent| {
            let app = app.clone();
            async move {
                let InboxEvent::MessageSentToBusiness(sent) = &event.event else {
                    return Ok::<(), Box<dyn std::error::Error + Send + Sync>>(());
                };
                if event.is_from_app(app.app_id()) {
                    return Ok(());
                }
                let text = sent.plain_text().unwrap_or_default();
                let client = app.client_for(&event)?;
                let conversation = sent.conversation_id.clone().unwrap_or_default();
                for _ in 0..2 {
                    let reply = Message::reply(format!("Got: {text}"));
                    client
                        .send_message()
                        .body(SendMessageRequest::new(&conversation, reply))
                        .send()
                        .await?;
                }
                Ok(())
            }
        })
        .unwrap();
    let report = run(&test, router).await;
    assert_eq!(report.replies.more, 20, "{}", report.table());
    assert_eq!((report.replies.one, report.replies.zero), (0, 0));
    assert_eq!(
        report.replies.to_own_messages, 0,
        "a repeat is not an answer to itself"
    );
    assert!(!report.passed());
    assert!(report.failures[0].contains("20 visitor messages answered more than once"));
    // The first ten named, to look for.
    assert_eq!(
        report.replies.repeated_examples,
        (0..10).collect::<Vec<u64>>()
    );
    assert!(
        report.failures[0].ends_with("first: m0, m1, m2, m3, m4, m5, m6, m7, m8, m9"),
        "{}",
        report.failures[0]
    );
}

/// An app that answers 200 and never replies: every message lost, the first ten named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_never_replies_fails_naming_the_first_messages_lost() {
    let config = LoadConfig {
        convert_share: 0.0,
        grace: Duration::from_millis(500),
        ..quick(2, 10.0)
    };
    let test = LoadTest::start(config).await.unwrap();
    let router = axum::Router::new().route("/webhooks", axum::routing::post(|| async { "" }));
    let report = run(&test, router).await;
    assert_eq!(report.replies.zero, 20, "{}", report.table());
    assert_eq!(
        report.replies.unanswered_examples,
        (0..10).collect::<Vec<u64>>()
    );
    assert_eq!(report.deliveries.lost_examples, Vec::<String>::new());
    assert!(
        report.failures[0].starts_with("20 visitor messages never answered (lost), first: m0, m1,"),
        "{:?}",
        report.failures
    );
}

#[tokio::test]
async fn wix_schedule_resends_until_200_and_counts_the_time_to_it() {
    // An hour of Wix's schedule in 10 ms: the resends after 1 min and 10 min come at once.
    let fake = FakeInbox::builder()
        .delivery_policy(DeliveryPolicy::wix(360_000.0))
        .start()
        .await
        .unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let seen = calls.clone();
    let router = axum::Router::new().route(
        "/webhooks",
        axum::routing::post(move || {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            async move {
                // Two failures, then 200.
                if n < 2 {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    fake.add_webhook_router("/webhooks", router).unwrap();
    fake.visitor_writes("v-1", "Hi");
    fake.settle().await;
    let delivery = &fake.deliveries()[0];
    assert_eq!(delivery.attempts.len(), 3);
    assert!(delivery.delivered && !delivery.repeat);
    // 1 min + 10 min of Wix's schedule, compressed: 11 × 60 s / 360,000 ≈ 1.8 ms.
    let took = delivery.time_to_200.unwrap();
    assert!(took >= Duration::from_micros(1800), "{took:?}");
}

#[tokio::test]
async fn the_api_limit_answers_429_with_retry_after_per_instance() {
    let limit = ApiLimit {
        calls: 3,
        per: Duration::from_secs(60),
    };
    let fake = FakeInbox::builder().api_limit(limit).start().await.unwrap();
    let other = fake.add_instance();
    let client = fake
        .client_builder()
        .retry(wix_inbox::RetryPolicy::disabled())
        .build()
        .unwrap();
    let conversation = fake.visitor_writes("v-1", "Hi").conversation_id.unwrap();
    for _ in 0..3 {
        client
            .get_conversation()
            .conversation_id(&conversation)
            .send()
            .await
            .unwrap();
    }
    let error = client
        .get_conversation()
        .conversation_id(&conversation)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.status_code(), Some(429));
    let wait = error.retry_after().unwrap();
    assert!(wait > Duration::from_secs(55) && wait <= Duration::from_secs(60));
    // The other site has its own allowance.
    let written = fake.instance(&other).unwrap().visitor_writes("v-2", "Hi");
    let site = fake.instance(&other).unwrap().client();
    site.get_conversation()
        .conversation_id(written.conversation_id.unwrap())
        .send()
        .await
        .unwrap();
    let calls = fake.api_calls();
    assert_eq!((calls[0].calls, calls[0].limited), (4, 1));
    assert_eq!((calls[1].calls, calls[1].limited), (1, 0));
}

#[tokio::test]
async fn without_a_limit_nothing_is_refused() {
    let fake = FakeInbox::start().await.unwrap();
    let conversation = fake.visitor_writes("v-1", "Hi").conversation_id.unwrap();
    for _ in 0..250 {
        fake.client()
            .get_conversation()
            .conversation_id(&conversation)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(fake.api_calls()[0].limited, 0);
}
