//! `wix-inbox events work`, the worker process, behind `webhook relay --queue --no-worker`, the
//! ingest-only relay: the relay forwards nothing itself, the worker POSTs each stored event
//! signed (checked with PyPI's `standardwebhooks`) and serves the queue's metrics; SIGTERM lets
//! the POST in flight finish and acknowledges it; bad invocations are one line and an exit code.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use crate::process::{CliProcess, BIN};
use crate::redis_server::RedisServer;
use crate::relay::{deliver, key_file, signed, start_relay, RelayProcess};
use crate::relay_queue::{scrape, value, verified, SECRETS};

/// The app behind the workers: records each POST; while its gate is closed, holds the
/// requests (after recording them) until it opens.
struct App {
    posts: Mutex<Vec<(HeaderMap, String)>>,
    gate: tokio::sync::watch::Sender<bool>,
}

async fn receive(State(app): State<Arc<App>>, headers: HeaderMap, body: String) -> StatusCode {
    app.posts.lock().unwrap().push((headers, body));
    let mut gate = app.gate.subscribe();
    let _ = gate.wait_for(|&open| open).await;
    StatusCode::OK
}

impl App {
    /// Starts the app on 127.0.0.1; its URL.
    async fn start() -> (Arc<App>, String) {
        let app = Arc::new(App {
            posts: Mutex::default(),
            gate: tokio::sync::watch::Sender::new(true),
        });
        let router = axum::Router::new()
            .route("/app", axum::routing::post(receive))
            .with_state(app.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/app", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        (app, url)
    }

    /// The `webhook-id` of each POST, in the order they came.
    fn ids(&self) -> Vec<String> {
        let posts = self.posts.lock().unwrap();
        let id = |h: &HeaderMap| h["webhook-id"].to_str().unwrap().to_owned();
        posts.iter().map(|(headers, _)| id(headers)).collect()
    }

    /// Waits (bounded) until the app got `n` POSTs.
    async fn wait_for_posts(&self, n: usize, within: Duration) {
        let start = Instant::now();
        while self.posts.lock().unwrap().len() < n {
            assert!(
                start.elapsed() < within,
                "{n} POSTs expected within {within:?}; got {:?}",
                self.ids()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A file holding the signing secrets, in `dir`.
fn secrets_file(dir: &std::path::Path) -> String {
    let path = dir.join("secrets");
    std::fs::write(&path, SECRETS.join("\n")).unwrap();
    path.display().to_string()
}

/// What the worker tests run: a Redis, the secrets, the app and an ingest-only relay.
struct Setup {
    redis: RedisServer,
    _dir: tempfile::TempDir,
    secrets: String,
    app: Arc<App>,
    app_url: String,
    relay: RelayProcess,
}

impl Setup {
    async fn start() -> Setup {
        let redis = RedisServer::start();
        let dir = tempfile::tempdir().unwrap();
        let key = key_file(dir.path());
        let secrets = secrets_file(dir.path());
        let (app, app_url) = App::start().await;
        let args = vec![
            "--queue".to_owned(),
            "--no-worker".to_owned(),
            "--redis".to_owned(),
            redis.url(),
        ];
        let relay = start_relay(&key, String::new(), args).await;
        Setup {
            redis,
            _dir: dir,
            secrets,
            app,
            app_url,
            relay,
        }
    }
}

/// Starts `wix-inbox events work` (in a blocking task: it waits for the first line).
pub(crate) async fn start_worker(
    redis: &str,
    to: &str,
    secrets: &str,
    more: &[&str],
) -> CliProcess {
    let args: Vec<String> = ["events", "work", "--redis", redis, "--to", to]
        .into_iter()
        .chain(["--signing-secret-file", secrets])
        .chain(more.iter().copied())
        .map(str::to_owned)
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let worker = CliProcess::start(&args);
        assert!(
            worker.line.starts_with("worker worker-"),
            "unexpected first line: {}",
            worker.line
        );
        worker
    })
    .await
    .unwrap()
}

/// `wix-inbox events stats` on `redis`.
pub(crate) fn stats(redis: &str) -> serde_json::Value {
    let out = Command::new(BIN)
        .args(["events", "stats", "--redis", redis])
        .env_remove("WIX_INBOX_REDIS_URL")
        .env_remove("WIX_INBOX_REDIS_CLUSTER")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "events stats failed: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The ingest-only relay stores and answers, and forwards nothing; `events work` forwards
/// every stored event once, in order, signed; its `--metrics-listen` serves the queue's
/// metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_work_forwards_what_an_ingest_only_relay_stored() {
    let s = Setup::start().await;
    assert!(s.relay.line.contains("no worker"), "{}", s.relay.line);
    let ids = ["evt-work-1", "evt-work-2", "evt-work-3"];
    for id in ids {
        assert_eq!(
            deliver(&s.relay.url(), &signed(id)).await,
            (200, "queued".into())
        );
    }
    // The relay runs no worker: nothing reaches the app, no consumer reads the queue.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        s.app.ids(),
        Vec::<String>::new(),
        "the relay forwarded events"
    );
    let before = tokio::task::block_in_place(|| stats(&s.redis.url()));
    assert_eq!(before["length"], 3, "{before}");
    assert_eq!(before["consumers"], serde_json::json!([]), "{before}");

    let worker = start_worker(
        &s.redis.url(),
        &s.app_url,
        &s.secrets,
        &["--metrics-listen", "0"],
    )
    .await;
    s.app.wait_for_posts(3, Duration::from_secs(15)).await;
    // One conversation (one lane): in the order they were stored.
    assert_eq!(s.app.ids(), ids, "in order, once each");
    let (headers, body) = s.app.posts.lock().unwrap()[0].clone();
    let event: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["id"], "evt-work-1", "{body}");
    assert!(
        verified(SECRETS[1], &headers, &body),
        "the signature is refused"
    );
    assert!(
        !verified(
            SECRETS[0],
            &headers,
            &body.replace("evt-work-1", "evt-forged")
        ),
        "a tampered body is accepted"
    );

    // The queue's metrics, from the worker process.
    let metrics = worker.metrics_addr();
    assert!(metrics.starts_with("127.0.0.1:"), "loopback by default");
    let start = Instant::now();
    let mut text = scrape(&metrics).await;
    while value(&text, "wix_inbox_queue_handled_total") < 3.0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "not acknowledged: {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        text = scrape(&metrics).await;
    }
    assert_eq!(value(&text, "wix_inbox_queue_handled_total"), 3.0, "{text}");
    assert_eq!(value(&text, "wix_inbox_queue_started_total"), 3.0, "{text}");
    assert!(text.contains("wix_inbox_queue_dead_letters 0"), "{text}");
    // Stored by the relay, not by the worker.
    assert_eq!(
        value(&text, "wix_inbox_queue_appended_total"),
        0.0,
        "{text}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.app.ids().len(), 3, "forwarded once: {:?}", s.app.ids());
}

/// SIGTERM while the app holds a POST: the worker waits for it, acknowledges it and exits 0;
/// another worker (taking over after 1 s what is left unacknowledged) never gets it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_post_in_flight_finish_and_acknowledges_it() {
    let s = Setup::start().await;
    let quick = ["--visibility", "1", "--app-timeout", "30"];
    let mut worker = start_worker(&s.redis.url(), &s.app_url, &s.secrets, &quick).await;
    s.app.gate.send_replace(false);
    assert_eq!(
        deliver(&s.relay.url(), &signed("evt-term")).await,
        (200, "queued".into())
    );
    s.app.wait_for_posts(1, Duration::from_secs(15)).await;
    worker.terminate();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        worker.is_running(),
        "the worker exited with a POST in flight; stderr: {}",
        worker.stderr.lock().unwrap()
    );
    s.app.gate.send_replace(true);
    let status = tokio::task::block_in_place(|| worker.wait_exit(Duration::from_secs(15)));
    let stderr = worker.stderr.lock().unwrap().clone();
    assert!(status.success(), "exit {status}; stderr: {stderr}");
    assert!(stderr.contains("worker stopped"), "{stderr}");
    let after = tokio::task::block_in_place(|| stats(&s.redis.url()));
    assert_eq!(after["pending"], 0, "acknowledged: {after}");
    assert_eq!(after["dead_letters"], 0, "{after}");

    // Another worker: nothing is left to take over.
    let _second = start_worker(&s.redis.url(), &s.app_url, &s.secrets, &quick).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(s.app.ids(), ["evt-term"], "handled once");
}

/// `wix-inbox <args>`: its exit code and stderr.
fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("WIX_INBOX_REDIS_URL")
        .env_remove("WIX_INBOX_REDIS_CLUSTER")
        .env_remove("WIX_INBOX_SIGNING_SECRET")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A dead Redis, a bad --to, no secret, --no-worker without --queue or with --to: an exit code
/// and a line that says what is wrong, never a panic.
#[test]
fn bad_invocations_are_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = secrets_file(dir.path());
    // A port nothing listens on.
    let dead = {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("redis://{}/", socket.local_addr().unwrap())
    };
    let work = |more: &[&str]| {
        let mut args = vec!["events", "work", "--redis", &dead];
        args.extend(more);
        run(&args)
    };
    let (code, stderr) = work(&[
        "--to",
        "http://127.0.0.1:9/",
        "--signing-secret-file",
        &secrets,
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.starts_with("error: cannot use Redis: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let (code, stderr) = work(&["--to", "ftp://example/", "--signing-secret-file", &secrets]);
    assert_eq!(
        (code, stderr.as_str()),
        (Some(2), "error: --to must be an http:// or https:// URL\n")
    );
    let (code, stderr) = work(&["--to", "http://127.0.0.1:9/"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--signing-secret-file or WIX_INBOX_SIGNING_SECRET"),
        "{stderr}"
    );
    let (code, stderr) = work(&[
        "--to",
        "http://127.0.0.1:9/",
        "--signing-secret-file",
        "/nonexistent/secrets",
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: cannot read the signing secret /nonexistent/secrets"),
        "{stderr}"
    );
    let (code, stderr) = work(&[
        "--to",
        "http://127.0.0.1:9/",
        "--signing-secret-file",
        &secrets,
        "--workers",
        "0",
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    let (code, stderr) = work(&["--signing-secret-file", &secrets]);
    assert_eq!(code, Some(2), "--to is required: {stderr}");

    let key = key_file(dir.path());
    let key = key.to_str().unwrap();
    let relay = |more: &[&str]| {
        let mut args = vec![
            "webhook",
            "relay",
            "--listen",
            "127.0.0.1:0",
            "--public-key",
            key,
        ];
        args.extend(more);
        run(&args)
    };
    let (code, stderr) = relay(&["--no-worker"]);
    assert_eq!(code, Some(2), "--no-worker needs --queue: {stderr}");
    let (code, stderr) = relay(&[
        "--queue",
        "--no-worker",
        "--redis",
        &dead,
        "--to",
        "http://127.0.0.1:9/",
    ]);
    assert_eq!(code, Some(2), "--no-worker with --to: {stderr}");
    assert!(
        stderr.contains("'--no-worker' cannot be used with '--to <URL>'"),
        "{stderr}"
    );
    let (code, stderr) = relay(&["--queue", "--no-worker", "--redis", &dead, "--workers", "4"]);
    assert_eq!(code, Some(2), "--no-worker with --workers: {stderr}");
    let (code, stderr) = relay(&["--queue", "--no-worker", "--redis", &dead]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.starts_with("error: cannot use Redis: "), "{stderr}");
    let (code, _) = relay(&[]);
    assert_eq!(code, Some(2), "--to is needed without --no-worker");
}
