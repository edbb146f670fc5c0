//! `wix-inbox webhook relay`, run as processes: it answers Wix 200 only once the app answered
//! 2xx, drains on SIGTERM, and three relays sharing one Redis lose nothing when one is killed
//! while handing events on.

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use wix_inbox::webhooks::test_signer::{TestEvent, TestSigner};
use wix_inbox_fake::FakeInbox;

use crate::process::{CliProcess, BIN};
use crate::redis_server::RedisServer;

mod under_strain;

/// A relay process, killed when dropped.
pub(crate) struct RelayProcess {
    process: CliProcess,
    addr: SocketAddr,
}

impl RelayProcess {
    /// Starts `wix-inbox webhook relay` on a free port of 127.0.0.1 (with `--to to`, unless
    /// `to` is empty) and waits (bounded) for the line that gives its address.
    pub(crate) fn start(key: &Path, to: &str, args: &[&str]) -> RelayProcess {
        let key = key.to_str().expect("a UTF-8 path");
        let mut all = vec!["webhook", "relay", "--listen", "127.0.0.1:0"];
        if !to.is_empty() {
            all.extend(["--to", to]);
        }
        all.extend(["--public-key", key]);
        all.extend(args);
        let process = CliProcess::start(&all);
        let addr = process
            .line
            .strip_prefix("relay listening on http://")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {}", process.line));
        RelayProcess { process, addr }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}/webhooks/wix", self.addr)
    }

    /// The address it listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl std::ops::Deref for RelayProcess {
    type Target = CliProcess;

    fn deref(&self) -> &CliProcess {
        &self.process
    }
}

impl std::ops::DerefMut for RelayProcess {
    fn deref_mut(&mut self) -> &mut CliProcess {
        &mut self.process
    }
}

/// The test signer's public key, written to a file.
pub(crate) fn key_file(dir: &Path) -> PathBuf {
    let path = dir.join("public.pem");
    std::fs::write(&path, TestSigner::shared().public_key_pem()).unwrap();
    path
}

/// One POST the app received.
#[derive(Clone, Debug)]
struct Received {
    /// Which relay sent it (the path `/relay/<n>`).
    relay: usize,
    event_id: String,
    event_type: String,
}

/// The app behind the relays: records each POST, answers after a delay per relay, with a
/// status the test sets.
#[derive(Default)]
pub(crate) struct App {
    received: Mutex<Vec<Received>>,
    /// The `traceparent` of each POST (`None`: none sent).
    pub(crate) traceparents: Mutex<Vec<Option<String>>>,
    in_flight: Vec<AtomicUsize>,
    delays: Vec<Duration>,
    /// Statuses to answer before 200, first first.
    pub(crate) failures: Mutex<Vec<u16>>,
    /// While false, requests wait before they are answered (after being recorded).
    gate: tokio::sync::watch::Sender<bool>,
}

impl App {
    pub(crate) async fn start(delays: Vec<Duration>) -> (Arc<App>, String) {
        let app = Arc::new(App {
            in_flight: delays.iter().map(|_| AtomicUsize::new(0)).collect(),
            delays,
            gate: tokio::sync::watch::Sender::new(true),
            ..Default::default()
        });
        let router = axum::Router::new()
            .route("/relay/{n}", axum::routing::post(receive))
            .with_state(app.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        (app, url)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn receive(
    State(app): State<Arc<App>>,
    UrlPath(relay): UrlPath<usize>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let event: Value = serde_json::from_str(&body).expect("the relay posts JSON");
    let event_id = event["id"]
        .as_str()
        .expect("the event has its id")
        .to_owned();
    // The header carries the ID percent-encoded (RFC 3986's unreserved characters as they are).
    let header = headers["wix-inbox-event-id"].to_str().unwrap();
    assert!(
        header
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
        "{header:?}"
    );
    assert_eq!(
        percent_encoding::percent_decode_str(header)
            .decode_utf8()
            .unwrap(),
        event_id,
        "the header carries the event ID"
    );
    assert_eq!(headers["content-type"], "application/json");
    app.traceparents.lock().unwrap().push(
        headers
            .get("traceparent")
            .map(|v| v.to_str().unwrap().to_owned()),
    );
    app.received.lock().unwrap().push(Received {
        relay,
        event_id,
        event_type: event["eventType"].as_str().unwrap_or_default().to_owned(),
    });
    app.in_flight[relay].fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(app.delays[relay]).await;
    let _ = app.gate.subscribe().wait_for(|&open| open).await;
    app.in_flight[relay].fetch_sub(1, Ordering::SeqCst);
    let failure = {
        let mut failures = app.failures.lock().unwrap();
        (!failures.is_empty()).then(|| failures.remove(0))
    };
    StatusCode::from_u16(failure.unwrap_or(200)).unwrap()
}

/// A reqwest client that ignores any proxy: everything is on 127.0.0.1.
fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

pub(crate) async fn deliver(url: &str, token: &str) -> (u16, String) {
    let response = http()
        .post(url)
        .header("content-type", "text/plain")
        .body(token.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

pub(crate) fn signed(event_id: &str) -> String {
    let body = serde_json::json!({"conversationId": "c1"});
    let event = TestEvent::new(
        "wix.crm.inbox.v2.message_message_sent_to_business",
        serde_json::json!({"id": event_id, "actionEvent": {"body": body}}),
    );
    TestSigner::shared().sign_event(&event)
}

/// Starts a relay in a blocking task (it waits for the child's first line).
pub(crate) async fn start_relay(key: &Path, to: String, args: Vec<String>) -> RelayProcess {
    let key = key.to_owned();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        RelayProcess::start(&key, &to, &args)
    })
    .await
    .unwrap()
}

/// One relay, claims in memory: the app gets the decoded event as JSON; Wix gets 200 only once
/// the app answered 2xx, 503 when it answered otherwise (and the retry is handed on); a
/// duplicate is not handed on again; a forged body is 401 and never reaches the app.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_answers_200_only_once_the_app_answered_2xx() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let (app, app_url) = App::start(vec![Duration::ZERO]).await;
    let relay = start_relay(&key, format!("{app_url}/relay/0"), vec![]).await;

    let token = signed("evt-relay-1");
    assert_eq!(deliver(&relay.url(), &token).await, (200, "ok".into()));
    assert_eq!(
        deliver(&relay.url(), &token).await,
        (200, "duplicate".into())
    );
    let received = app.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].event_id, "evt-relay-1");
    assert_eq!(
        received[0].event_type,
        "wix.crm.inbox.v2.message_message_sent_to_business"
    );

    // The app fails: 503 to Wix, then the retry goes through.
    app.failures.lock().unwrap().extend([500, 404]);
    let token = signed("evt-relay-2");
    assert_eq!(deliver(&relay.url(), &token).await.0, 503);
    assert_eq!(deliver(&relay.url(), &token).await.0, 503);
    assert_eq!(deliver(&relay.url(), &token).await, (200, "ok".into()));
    let ids: Vec<String> = app.received().into_iter().map(|r| r.event_id).collect();
    assert_eq!(
        ids,
        ["evt-relay-1", "evt-relay-2", "evt-relay-2", "evt-relay-2"]
    );

    // A forged body never reaches the app.
    let forged = TestSigner::generate().sign_event(&TestEvent::new(
        "wix.crm.inbox.v2.message_message_sent_to_business",
        serde_json::json!({"id": "evt-forged", "actionEvent": {"body": {}}}),
    ));
    assert_eq!(deliver(&relay.url(), &forged).await.0, 401);
    assert_eq!(app.received().len(), 4);
    // The relay says why it answered 503, one line each, without the app's URL.
    let stderr = relay.stderr.lock().unwrap().clone();
    assert!(stderr.contains("the app answered 500"), "{stderr}");
    assert!(!stderr.contains(&app_url), "{stderr}");
}

/// Event IDs that are no GUID: one with spaces (and the same with a trailing space), one in
/// another script, each reaches the app as it is in the body, and in the header percent-encoded
/// (on main, non-ASCII went out as raw bytes and the app could not read it: 503 for ever). One
/// with a control or format character (ESC, U+202E) is refused as malformed (400) and never
/// reaches the app nor the relay's log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_ids_reach_the_app_exactly_and_hidden_characters_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let (app, app_url) = App::start(vec![Duration::ZERO]).await;
    let relay = start_relay(&key, format!("{app_url}/relay/0"), vec![]).await;
    let ids = ["evt with space", "evt with space ", "évé-ünï 你好 %41"];
    for id in ids {
        assert_eq!(
            deliver(&relay.url(), &signed(id)).await,
            (200, "ok".into()),
            "{id:?}"
        );
    }
    let received: Vec<String> = app.received().into_iter().map(|r| r.event_id).collect();
    assert_eq!(received, ids);
    for id in ["evt\u{1b}[2J", "evt\n2", "evt\u{202e}", "evt\u{2028}"] {
        let (status, _) = deliver(&relay.url(), &signed(id)).await;
        assert_eq!(status, 400, "{id:?}");
    }
    assert_eq!(app.received().len(), ids.len());
    let stderr = relay.stderr.lock().unwrap().clone();
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains('\u{202e}') && !stderr.contains('\u{2028}'),
        "{stderr:?}"
    );
}

/// An app that does not answer in time: 503 to Wix (within the app timeout), never 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_app_gets_wix_a_503() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let (app, app_url) = App::start(vec![Duration::from_secs(5)]).await;
    let relay = start_relay(
        &key,
        format!("{app_url}/relay/0"),
        vec![
            "--app-timeout".into(),
            "1".into(),
            "--lease".into(),
            "3".into(),
        ],
    )
    .await;
    let started = Instant::now();
    assert_eq!(deliver(&relay.url(), &signed("evt-slow")).await.0, 503);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(app.received().len(), 1);
}

/// Redis stopped: the relay answers 503 and the app gets nothing (never 200 for an event not
/// handed on, no crash); Redis started again: the retry is handed on, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_answers_503_while_redis_is_down() {
    let mut redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let (app, app_url) = App::start(vec![Duration::ZERO]).await;
    let mut relay = start_relay(
        &key,
        format!("{app_url}/relay/0"),
        vec!["--redis".into(), redis.url()],
    )
    .await;
    assert_eq!(
        deliver(&relay.url(), &signed("evt-up")).await,
        (200, "ok".into())
    );

    redis.stop();
    let token = signed("evt-down");
    for _ in 0..3 {
        assert_eq!(
            deliver(&relay.url(), &token).await,
            (503, "de-duplication store unavailable, retry later".into())
        );
    }
    assert_eq!(app.received().len(), 1);
    assert!(relay.child.try_wait().unwrap().is_none(), "the relay lives");

    redis.restart();
    // The connection manager reconnects on the next requests (bounded: 10 s).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = deliver(&relay.url(), &token).await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        assert!(
            Instant::now() < deadline,
            "Redis back, the relay still answers 503"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        deliver(&relay.url(), &token).await,
        (200, "duplicate".into())
    );
    let ids: Vec<String> = app.received().into_iter().map(|r| r.event_id).collect();
    assert_eq!(ids, ["evt-up", "evt-down"]);
    let stderr = relay.stderr.lock().unwrap().clone();
    assert!(
        stderr.contains("de-duplication store unavailable"),
        "{stderr}"
    );
    assert!(relay.is_running());
}
