//! The soak test (issue 29, item 3): examples/bot.rs behind three relays in queue mode on one
//! Redis (`appendonly yes`, `appendfsync always`), a load balancer in front of them, the fake
//! playing many sites with Wix's rules. One relay is SIGKILLed mid-run and Redis is killed and
//! restarted: every visitor message is answered exactly once, in its current conversation,
//! never an answer to the app's own message, nothing given up.
//!
//! Scaled to this 2-core machine (about a minute): see README, "Load-testing your app".
use crate::bot;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use tokio::net::{TcpListener, TcpStream};
use wix_inbox::webhooks::WebhookEvent;
use wix_inbox_fake::load::{LoadConfig, LoadTest};

use crate::redis_server::RedisServer;
use crate::relay::{key_file, start_relay};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Round-robin over `backends`, per connection, skipping the ones that refuse it: a load
/// balancer in front of the relays.
async fn balance(listener: TcpListener, backends: Vec<SocketAddr>) {
    let next = Arc::new(AtomicUsize::new(0));
    while let Ok((mut inbound, _)) = listener.accept().await {
        let (backends, next) = (backends.clone(), next.clone());
        tokio::spawn(async move {
            let start = next.fetch_add(1, Ordering::Relaxed);
            for i in 0..backends.len() {
                let backend = backends[(start + i) % backends.len()];
                if let Ok(mut outbound) = TcpStream::connect(backend).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    return;
                }
            }
        });
    }
}

/// The bot behind the relays' workers: each POST is a decoded event (JSON).
async fn bot_app(State(bot): State<Arc<bot::Bot>>, body: Bytes) -> StatusCode {
    let Ok(event) = serde_json::from_slice::<WebhookEvent>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    match bot::handle(bot, event).await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_behind_queued_relays_survives_a_relay_crash_and_a_redis_restart() {
    let sites = 1000;
    let config = LoadConfig {
        sites,
        rate: 15.0,
        duration: Duration::from_secs(24),
        time_scale: 3600.0,
        reorder_share: 0.0,
        grace: Duration::from_secs(15),
        seed: 29,
        ..LoadConfig::default()
    };
    let test = LoadTest::start(config.clone()).await.unwrap();
    let mut redis = RedisServer::start_persistent();
    // The bot.
    let router = axum::Router::new()
        .route("/app", axum::routing::post(bot_app))
        .with_state(bot::bot(&test.fake().app()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_url = format!("http://{}/app", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    // Three relays in queue mode, each with its worker.
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let secrets = dir.path().join("secrets");
    std::fs::write(&secrets, SECRET).unwrap();
    let args = vec![
        "--queue".into(),
        "--redis".into(),
        redis.url(),
        "--signing-secret-file".into(),
        secrets.display().to_string(),
    ];
    let mut relays = Vec::new();
    for _ in 0..3 {
        relays.push(start_relay(&key, app_url.clone(), args.clone()).await);
    }
    let backends = relays.iter().map(|r| r.addr()).collect();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lb = format!("http://{}/webhooks/wix", listener.local_addr().unwrap());
    tokio::spawn(balance(listener, backends));

    let run = test.run(&lb, |_| {});
    let chaos = async {
        tokio::time::sleep(config.duration / 3).await;
        relays[0].crash();
        tokio::time::sleep(config.duration / 3).await;
        tokio::task::block_in_place(|| redis.restart());
    };
    let (report, ()) = tokio::join!(run, chaos);
    let table = report.table();
    println!("{table}");
    let r = &report.replies;
    assert_eq!(report.visitor_messages, 360, "{table}");
    assert_eq!(
        (r.zero, r.one, r.more),
        (0, 360, 0),
        "exactly once: {table}"
    );
    assert_eq!(r.misplaced, 0, "in the current conversation: {table}");
    assert_eq!(r.to_own_messages, 0, "never to its own: {table}");
    assert_eq!(report.deliveries.given_up, 0, "nothing given up: {table}");
    assert_eq!(report.deliveries.unfinished, 0, "{table}");
    assert!(report.conversions > 50, "merges happened: {table}");
    assert_eq!(r.out_of_order_conversations, 0, "in order: {table}");
    assert_eq!(report.api_calls.len(), sites);
    assert!(report.passed(), "{table}");
}
