//! `webhook relay --metrics-listen`, scraped by a real Prometheus (Debian package
//! `prometheus`) every second: after deliveries of known outcomes, Prometheus's HTTP API gives
//! each counter exactly what was sent; the relay's `/metrics` passes `promtool check metrics`;
//! each POST to the app carries the delivery's `traceparent`. Bounded: about 10 s.

use std::io::Write as _;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use wix_inbox::trace::TraceContext;
use wix_inbox::webhooks::test_signer::TestSigner;

use crate::relay::{deliver, key_file, signed, start_relay, App};

/// How long Prometheus has to start, and then to scrape what was sent.
const PROMETHEUS_TIMEOUT: Duration = Duration::from_secs(20);

/// A `prometheus` server on a free port of 127.0.0.1, killed when dropped.
struct PrometheusServer {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

/// Where a Debian package's binary is, or a panic with one line saying how to install it.
fn installed(binary: &str) -> &str {
    let found = Command::new(binary)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{binary} is not installed: apt-get install prometheus"
    );
    binary
}

impl PrometheusServer {
    /// Starts Prometheus scraping `target` (host:port, path `/metrics`) every second, and
    /// waits (bounded) until it is ready.
    fn start(target: &str) -> PrometheusServer {
        let binary = installed("prometheus");
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: relay\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus runs");
        let server = PrometheusServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        server
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + PROMETHEUS_TIMEOUT;
        loop {
            let ready = http()
                .get(format!("{}/-/ready", self.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "prometheus did not get ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The samples of an instant query: each series' labels and value.
    async fn query(&self, query: &str) -> Vec<(Value, f64)> {
        let answer: Value = http()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", query)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["status"], "success", "{answer}");
        answer["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let value = s["value"][1].as_str().unwrap().parse().unwrap();
                (s["metric"].clone(), value)
            })
            .collect()
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_relay_and_counts_what_was_sent() {
    installed("promtool");
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let (app, app_url) = App::start(vec![Duration::ZERO]).await;
    let args = vec!["--metrics-listen".to_owned(), "0".to_owned()];
    let relay = start_relay(&key, format!("{app_url}/relay/0"), args).await;
    let metrics = relay.metrics_addr();
    assert!(metrics.starts_with("127.0.0.1:"), "loopback by default");
    let prometheus = PrometheusServer::start(&metrics);
    prometheus.wait_ready().await;

    // Known outcomes: 2 refused by the app (503), 3 handed on, 1 duplicate, 2 forged (401),
    // 1 not a JWT (400).
    app.failures.lock().unwrap().extend([500, 500]);
    for id in ["refused-1", "refused-2"] {
        assert_eq!(deliver(&relay.url(), &signed(id)).await.0, 503);
    }
    for id in ["m-1", "m-2", "m-3", "m-1"] {
        assert_eq!(deliver(&relay.url(), &signed(id)).await.0, 200);
    }
    let forger = TestSigner::generate();
    for id in ["f-1", "f-2"] {
        let forged = forger.sign_event(&wix_inbox::webhooks::test_signer::TestEvent::new(
            "wix.crm.inbox.v2.message_message_sent_to_business",
            serde_json::json!({"id": id, "actionEvent": {"body": {"conversationId": "c1"}}}),
        ));
        assert_eq!(deliver(&relay.url(), &forged).await.0, 401);
    }
    assert_eq!(deliver(&relay.url(), "not a token").await.0, 400);

    let expected: &[(&str, &str, f64)] = &[
        ("503", "not_handed_on", 2.0),
        ("200", "handed_on", 3.0),
        ("200", "duplicate", 1.0),
        ("401", "bad_signature", 2.0),
        ("400", "not_a_jwt", 1.0),
    ];
    let deadline = Instant::now() + PROMETHEUS_TIMEOUT;
    let samples = loop {
        let samples = prometheus.query("wix_inbox_webhook_deliveries_total").await;
        let value = |status: &str, reason: &str| {
            samples
                .iter()
                .find(|(labels, _)| labels["status"] == status && labels["reason"] == reason)
                .map(|(_, v)| *v)
        };
        let all_seen = expected
            .iter()
            .all(|&(status, reason, n)| value(status, reason) == Some(n));
        if all_seen {
            break samples;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus did not scrape the counts sent: {samples:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        samples.len(),
        expected.len(),
        "no other series: {samples:?}"
    );
    for (labels, _) in &samples {
        assert_eq!(labels["job"], "relay");
    }
    // Claims: 5 first (m-1..3 and the two refused), 1 done (the duplicate).
    let claims = prometheus.query("wix_inbox_webhook_claims_total").await;
    let claim = |result: &str| {
        claims
            .iter()
            .find(|(labels, _)| labels["result"] == result)
            .map(|(_, v)| *v)
    };
    assert_eq!(claim("first"), Some(5.0));
    assert_eq!(claim("done"), Some(1.0));

    // The exposition passes promtool's checks (format and naming).
    let text = http()
        .get(format!("http://{metrics}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    // Each POST to the app carried a traceparent; each delivery a trace of its own.
    let traceparents = app.traceparents.lock().unwrap().clone();
    assert_eq!(traceparents.len(), 5, "2 refused, 3 handed on");
    let traces: std::collections::HashSet<_> = traceparents
        .iter()
        .map(|t| {
            let t = t.as_deref().expect("a traceparent on every POST");
            TraceContext::parse(t)
                .unwrap_or_else(|| panic!("not a W3C traceparent: {t}"))
                .trace_id()
        })
        .collect();
    assert_eq!(traces.len(), 5);
}

/// `--metrics-listen` on an address other than loopback is refused without `--metrics-public`.
#[test]
fn metrics_on_a_public_address_must_be_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let output = Command::new(env!("CARGO_BIN_EXE_wix-inbox"))
        .args(["webhook", "relay", "--listen", "127.0.0.1:0"])
        .args([
            "--to",
            "http://127.0.0.1:9/",
            "--metrics-listen",
            "0.0.0.0:0",
        ])
        .arg("--public-key")
        .arg(&key)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "a usage error");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--metrics-public"), "{stderr}");
}
