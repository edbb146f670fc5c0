//! The crate's metrics, read back from a Prometheus recorder installed for this test binary
//! alone (a process has one global recorder): each test counts metrics no other test here
//! touches.

use std::sync::OnceLock;

use axum::body::Body;
use axum::extract::Request;
use serde_json::json;
use wix_inbox::lifecycle::ConversationDirectory;
use wix_inbox::metrics::Prometheus;
use wix_inbox::types::ConversationsMerged;
use wix_inbox::webhooks::axum::WebhookReceiver;
use wix_inbox::webhooks::test_signer::{TestEvent, TestSigner};
use wix_inbox_fake::{FakeInbox, Fault};

fn prometheus() -> &'static Prometheus {
    static INSTALLED: OnceLock<Prometheus> = OnceLock::new();
    INSTALLED.get_or_init(|| Prometheus::install().expect("the only recorder of this binary"))
}

/// The value of the sample of `name` whose labels include every one of `labels` (summed over
/// the samples that match), or 0 when there is none.
fn value(name: &str, labels: &[(&str, &str)]) -> f64 {
    let text = prometheus().render();
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().unwrap())
        })
        .sum()
}

fn event(id: &str) -> TestEvent {
    TestEvent::new(
        "wix.crm.inbox.v2.message_message_sent_to_business",
        json!({"id": id, "eventTime": chrono::Utc::now().to_rfc3339(), "actionEvent": {"body": {"conversationId": "c1"}}}),
    )
}

fn post(body: impl Into<Body>) -> Request {
    Request::post("/").body(body.into()).unwrap()
}

#[tokio::test]
async fn deliveries_are_counted_by_status_and_reason_and_claims_by_result() {
    prometheus();
    let signer = TestSigner::shared();
    let receiver = WebhookReceiver::with_handler(
        signer.verifier().with_max_body_size(4096),
        |event: wix_inbox::webhooks::WebhookEvent| async move {
            if event.id.starts_with("refuse") {
                Err("the app is down")
            } else {
                Ok(())
            }
        },
    );
    let status = |response: axum::response::Response| response.status().as_u16();
    for id in ["e1", "e2"] {
        assert_eq!(
            status(receiver.handle(post(signer.sign_event(&event(id)))).await),
            200
        );
    }
    assert_eq!(
        status(receiver.handle(post(signer.sign_event(&event("e1")))).await),
        200
    );
    let forged = TestSigner::generate().sign_event(&event("e3"));
    assert_eq!(status(receiver.handle(post(forged)).await), 401);
    let mut expired = event("e4");
    expired.exp = Some(expired.iat - 3600);
    let expired = signer.sign_event(&expired);
    assert_eq!(status(receiver.handle(post(expired)).await), 401);
    assert_eq!(status(receiver.handle(post("not a token")).await), 400);
    assert_eq!(status(receiver.handle(post(vec![b'a'; 5000])).await), 413);
    for _ in 0..2 {
        let refused = signer.sign_event(&event("refuse-1"));
        assert_eq!(status(receiver.handle(post(refused)).await), 503);
    }

    let deliveries = |status, reason| {
        value(
            "wix_inbox_webhook_deliveries_total",
            &[("status", status), ("reason", reason)],
        )
    };
    assert_eq!(deliveries("200", "handed_on"), 2.0);
    assert_eq!(deliveries("200", "duplicate"), 1.0);
    assert_eq!(deliveries("401", "bad_signature"), 1.0);
    assert_eq!(deliveries("401", "expired"), 1.0);
    assert_eq!(deliveries("400", "not_a_jwt"), 1.0);
    assert_eq!(deliveries("413", "too_large"), 1.0);
    assert_eq!(deliveries("503", "not_handed_on"), 2.0);
    let claims = |result| value("wix_inbox_webhook_claims_total", &[("result", result)]);
    // e1, e2, refuse-1 twice (released each time) claimed first; e1 again found done.
    assert_eq!(claims("first"), 4.0);
    assert_eq!(claims("done"), 1.0);
    assert_eq!(value("wix_inbox_webhook_event_age_seconds_count", &[]), 2.0);
    // Every answer has a reason: nothing counted under another.
    assert_eq!(value("wix_inbox_webhook_deliveries_total", &[]), 9.0);
}

#[tokio::test]
async fn client_calls_are_counted_by_operation_status_class_retries_and_429s() {
    prometheus();
    let fake = FakeInbox::start().await.unwrap();
    let client = fake
        .client_builder()
        .retry(wix_inbox::RetryPolicy::default().max_attempts(3))
        .build()
        .unwrap();
    let conversation = fake
        .visitor_writes("visitor-1", "Hi")
        .conversation_id
        .unwrap();
    fake.fail_next(1, Fault::Status(429));
    client
        .get_conversation()
        .conversation_id(&conversation)
        .send()
        .await
        .unwrap();
    fake.fail_next(1, Fault::StatusRetryAfter(503, 1));
    client
        .get_conversation()
        .conversation_id(&conversation)
        .send()
        .await
        .unwrap();
    let op = ("operation", "get_conversation");
    let requests = |class| {
        value(
            "wix_inbox_client_requests_total",
            &[op, ("status_class", class)],
        )
    };
    assert_eq!(requests("2xx"), 2.0);
    assert_eq!(requests("4xx"), 1.0);
    assert_eq!(requests("5xx"), 1.0);
    assert_eq!(value("wix_inbox_client_retries_total", &[op]), 2.0);
    assert_eq!(value("wix_inbox_client_rate_limited_total", &[op]), 1.0);
    assert_eq!(
        value("wix_inbox_client_retry_after_wait_seconds_count", &[op]),
        1.0
    );
    assert_eq!(
        value("wix_inbox_client_retry_after_wait_seconds_sum", &[op]),
        1.0
    );
    assert_eq!(
        value("wix_inbox_client_response_size_bytes_count", &[op]),
        4.0
    );
    assert!(value("wix_inbox_client_response_size_bytes_sum", &[op]) > 0.0);

    let app = fake.app_client_builder().build().unwrap();
    app.get_conversation()
        .conversation_id(&conversation)
        .send()
        .await
        .unwrap();
    assert_eq!(
        value(
            "wix_inbox_client_token_requests_total",
            &[("outcome", "ok")]
        ),
        1.0
    );
}

#[tokio::test]
async fn the_directory_counts_merges_by_result_and_moves() {
    prometheus();
    let merge = |from: &[&str], into: &str| ConversationsMerged {
        old_conversation_ids: from.iter().map(|s| s.to_string()).collect(),
        target_conversation_id: Some(into.into()),
        ..Default::default()
    };
    let directory = ConversationDirectory::new();
    directory.apply(&merge(&["A", "B"], "C")).await.unwrap();
    directory.apply(&merge(&["A"], "C")).await.unwrap();
    directory.apply(&merge(&["C"], "A")).await.unwrap_err();
    let merges = |result| value("wix_inbox_directory_merges_total", &[("result", result)]);
    assert_eq!(merges("applied"), 1.0);
    assert_eq!(merges("known"), 1.0);
    assert_eq!(merges("refused"), 1.0);
    assert_eq!(value("wix_inbox_directory_moves_total", &[]), 2.0);
}

/// The queue's metrics: events appended (and a resend refused); a worker
/// handles two events, and fails one until it is dead-lettered; when it stops, the gauges
/// hold the queue's state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_counts_appends_runs_failures_and_dead_letters() {
    use std::time::Duration;
    use wix_inbox::queue::{
        append_event, default_lane_key, Backoff, InMemoryQueue, Worker, WorkerOptions,
    };

    prometheus();
    let queue = InMemoryQueue::new();
    // What the receiver's queue mode does (not through a receiver here: the deliveries test
    // counts every delivery of this binary).
    for id in ["q-1", "q-2", "q-fail", "q-1"] {
        let event: wix_inbox::webhooks::WebhookEvent = serde_json::from_value(json!({
            "id": id,
            "event": {"kind": "MessageSentToBusiness", "body": {"conversationId": "c1"}},
        }))
        .unwrap();
        append_event(&queue, &default_lane_key(), &event)
            .await
            .unwrap();
    }
    let options = WorkerOptions::new()
        .poll(Duration::from_millis(5))
        .max_deliveries(3)
        .backoff(Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(10),
        });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(Worker::new(queue.clone(), options).run(
        |event| async move {
            if event.id == "q-fail" {
                Err("the app is down")
            } else {
                Ok(())
            }
        },
        async {
            let _ = stopped.await;
        },
    ));
    let start = std::time::Instant::now();
    while value("wix_inbox_queue_dead_lettered_total", &[]) < 1.0
        || value("wix_inbox_queue_handled_total", &[]) < 2.0
    {
        assert!(start.elapsed() < Duration::from_secs(10), "not settled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop.send(());
    worker.await.unwrap().unwrap();

    assert_eq!(value("wix_inbox_queue_appended_total", &[]), 3.0);
    assert_eq!(value("wix_inbox_queue_duplicates_total", &[]), 1.0);
    // q-1 and q-2 once, q-fail three times.
    assert_eq!(value("wix_inbox_queue_started_total", &[]), 5.0);
    assert_eq!(value("wix_inbox_queue_handled_total", &[]), 2.0);
    let failed = |outcome| value("wix_inbox_queue_failed_total", &[("outcome", outcome)]);
    assert_eq!(failed("retried"), 2.0);
    assert_eq!(failed("dead_lettered"), 1.0);
    assert_eq!(value("wix_inbox_queue_dead_lettered_total", &[]), 1.0);
    let ran = |outcome| {
        value(
            "wix_inbox_queue_handler_duration_seconds_count",
            &[("outcome", outcome)],
        )
    };
    assert_eq!(ran("ok"), 2.0);
    assert_eq!(ran("error"), 3.0);
    // Every event is in the lane of conversation c1: each start waited for it.
    assert_eq!(value("wix_inbox_queue_lane_wait_seconds_count", &[]), 5.0);
    // Read from the queue when the worker stopped.
    assert_eq!(value("wix_inbox_queue_pending", &[]), 0.0);
    assert_eq!(value("wix_inbox_queue_dead_letters", &[]), 1.0);
    assert_eq!(
        value("wix_inbox_queue_oldest_pending_age_seconds", &[]),
        0.0
    );
    assert_eq!(value("wix_inbox_queue_takeovers_total", &[]), 0.0);
}

#[test]
fn every_metric_has_its_help_and_a_second_recorder_is_refused() {
    let text = prometheus().render();
    // Described at install: only what was recorded is rendered, with its HELP line.
    for line in text.lines().filter(|l| l.starts_with("# HELP ")) {
        let name = line.split(' ').nth(2).unwrap();
        assert!(
            wix_inbox::metrics::names().any(|n| n == name),
            "{name} is not in wix_inbox::metrics"
        );
    }
    assert!(Prometheus::install().is_err());
}
