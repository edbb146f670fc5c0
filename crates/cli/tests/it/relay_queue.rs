//! `webhook relay --queue`: Wix answered once the event is stored; the app gets each event
//! POSTed by a worker, signed the Standard Webhooks way, verified here by the `standardwebhooks`
//! package from PyPI (`pip install standardwebhooks`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use crate::redis_server::RedisServer;
use crate::relay::{deliver, key_file, signed, start_relay};

/// Two secrets: the app may know either (rotation).
const SECRETS: [&str; 2] = [
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "whsec_c2Vjb25kIHNlY3JldCBmb3Igcm90YXRpb24=",
];

type Posts = Arc<Mutex<Vec<(HeaderMap, String)>>>;

async fn receive(State(posts): State<Posts>, headers: HeaderMap, body: String) -> StatusCode {
    posts.lock().unwrap().push((headers, body));
    StatusCode::OK
}

/// Whether the `standardwebhooks` package accepts `body` with `headers` for `secret`.
fn verified(secret: &str, headers: &HeaderMap, body: &str) -> bool {
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
        ],
    )
    .await;
    let token = signed("evt-queued");
    assert_eq!(deliver(&relay.url(), &token).await, (200, "queued".into()));
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
}
