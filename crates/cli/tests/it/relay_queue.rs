//! `webhook relay --queue`: Wix answered once the event is stored; the app gets each event
//! POSTed by a worker, signed the Standard Webhooks way, verified here by the `standardwebhooks`
//! package from PyPI (`pip install standardwebhooks`), in the delivery's trace; the queue's
//! metrics served with `--metrics-listen`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use wix_inbox::trace::TraceContext;

use crate::redis_server::RedisServer;
use crate::relay::{deliver, key_file, signed, start_relay};

/// Two secrets: the app may know either (rotation).
pub(crate) const SECRETS: [&str; 2] = [
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "whsec_c2Vjb25kIHNlY3JldCBmb3Igcm90YXRpb24=",
];

/// The trace the delivery comes in.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

pub(crate) type Posts = Arc<Mutex<Vec<(HeaderMap, String)>>>;

async fn receive(State(posts): State<Posts>, headers: HeaderMap, body: String) -> StatusCode {
    posts.lock().unwrap().push((headers, body));
    StatusCode::OK
}

/// Whether the `standardwebhooks` package accepts `body` with `headers` for `secret`.
pub(crate) fn verified(secret: &str, headers: &HeaderMap, body: &str) -> bool {
    let header = |name: &str| headers[name].to_str().unwrap().to_owned();
    let script = "import sys\n\
        try:\n    from standardwebhooks.webhooks import Webhook\n\
        except ImportError:\n    print('standardwebhooks is not installed; install it with: pip install standardwebhooks'); sys.exit(3)\n\
        h = {'webhook-id': sys.argv[2], 'webhook-timestamp': sys.argv[3], 'webhook-signature': sys.argv[4]}\n\
        try:\n    Webhook(sys.argv[1]).verify(sys.stdin.read(), h)\n\
        except Exception as e:\n    print(e); sys.exit(1)\n";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script, secret])
        .arg(header("webhook-id"))
        .arg(header("webhook-timestamp"))
        .arg(header("webhook-signature"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let code = out.status.code();
    assert_ne!(code, Some(3), "{}", String::from_utf8_lossy(&out.stdout));
    code == Some(0)
}

/// The text `/metrics` at `addr` serves.
pub(crate) async fn scrape(addr: &str) -> String {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of `series` (a name with its labels) in a scrape; 0 when it is not there.
pub(crate) fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse::<f64>().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_events_are_posted_signed_the_standard_webhooks_way() {
    let server = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let secrets = dir.path().join("secrets");
    std::fs::write(&secrets, SECRETS.join("\n")).unwrap();
    let posts: Posts = Arc::default();
    let router = axum::Router::new()
        .route("/app", axum::routing::post(receive))
        .with_state(posts.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_url = format!("http://{}/app", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let relay = start_relay(
        &key,
        app_url,
        vec![
            "--queue".into(),
            "--redis".into(),
            server.url(),
            "--signing-secret-file".into(),
            secrets.display().to_string(),
            "--metrics-listen".into(),
            "0".into(),
        ],
    )
    .await;
    let token = signed("evt-queued");
    // The delivery comes in a trace: the worker's POST continues it.
    let delivered = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(relay.url())
        .header("content-type", "text/plain")
        .header("traceparent", TRACEPARENT)
        .body(token.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), 200);
    assert_eq!(delivered.text().await.unwrap(), "queued");
    assert_eq!(
        deliver(&relay.url(), &token).await,
        (200, "duplicate".into())
    );
    let start = Instant::now();
    while posts.lock().unwrap().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(10), "nothing posted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (headers, body) = posts.lock().unwrap()[0].clone();
    assert_eq!(headers["webhook-id"], "evt-queued");
    let sent = TraceContext::parse(headers["traceparent"].to_str().unwrap())
        .expect("a W3C traceparent on the POST");
    let delivery = TraceContext::parse(TRACEPARENT).unwrap();
    assert_eq!(sent.trace_id(), delivery.trace_id(), "the delivery's trace");
    assert_ne!(sent.span_id(), delivery.span_id(), "a span of its own");
    let event: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["id"], "evt-queued");
    for secret in SECRETS {
        assert!(verified(secret, &headers, &body), "refused with {secret}");
    }
    let tampered = body.replace("evt-queued", "evt-forged");
    assert!(
        !verified(SECRETS[0], &headers, &tampered),
        "a tampered body accepted"
    );
    assert!(
        !verified("whsec_b3RoZXIgc2VjcmV0", &headers, &body),
        "another secret accepted"
    );
    assert_eq!(posts.lock().unwrap().len(), 1, "posted once");

    // The queue's metrics, served with the receiver's.
    let metrics = relay.metrics_addr();
    let scrape = || scrape(&metrics);
    let start = Instant::now();
    let mut text = scrape().await;
    // The acknowledgement follows the app's answer.
    while value(&text, "wix_inbox_queue_handled_total") < 1.0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "not acknowledged: {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        text = scrape().await;
    }
    assert_eq!(
        value(&text, "wix_inbox_queue_appended_total"),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(&text, "wix_inbox_queue_duplicates_total"),
        1.0,
        "{text}"
    );
    assert_eq!(value(&text, "wix_inbox_queue_started_total"), 1.0, "{text}");
    assert_eq!(value(&text, "wix_inbox_queue_handled_total"), 1.0, "{text}");
    assert_eq!(
        value(
            &text,
            "wix_inbox_queue_handler_duration_seconds_count{outcome=\"ok\"}"
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "wix_inbox_webhook_deliveries_total{status=\"200\",reason=\"queued\"}"
        ),
        1.0,
        "{text}"
    );
}
