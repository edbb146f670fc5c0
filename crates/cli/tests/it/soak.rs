//! The soak test (issue 29, item 3): examples/bot.rs behind three ingest-only relays
//! (`webhook relay --queue --no-worker`) and two worker processes (`events work`) on one Redis
//! (`appendonly yes`, `appendfsync always`), a load balancer in front of the relays, the fake
//! playing many sites with Wix's rules. One relay and one worker are SIGKILLed mid-run and Redis
//! is killed and restarted: every visitor message is answered exactly once, in its current
//! conversation, in order, never an answer to the app's own message, nothing given up (by Wix
//! or by the queue).
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
use wix_inbox::queue::QueueStore;
use wix_inbox::redis::RedisQueue;
use wix_inbox::webhooks::WebhookEvent;
use wix_inbox_fake::load::{LoadConfig, LoadTest};

use crate::redis_server::RedisServer;
use crate::relay::{key_file, start_relay};
use crate::relay_queue::{scrape, value};
use crate::work::{start_worker, stats};

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

/// How long a worker's entries stay leased: a killed worker's are taken over after this (and
/// at most half of it more), well within the test's grace.
const VISIBILITY: &str = "6";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_behind_ingest_relays_and_workers_survives_crashes_and_a_redis_restart() {
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
    // Three relays that only store (and answer Wix), two workers that forward to the bot.
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let secrets = dir.path().join("secrets");
    std::fs::write(&secrets, SECRET).unwrap();
    let secrets = secrets.display().to_string();
    let ingest = vec![
        "--queue".to_owned(),
        "--no-worker".to_owned(),
        "--redis".to_owned(),
        redis.url(),
    ];
    let mut relays = Vec::new();
    for _ in 0..3 {
        relays.push(start_relay(&key, String::new(), ingest.clone()).await);
    }
    let mut workers = Vec::new();
    for _ in 0..2 {
        let more = ["--visibility", VISIBILITY, "--metrics-listen", "0"];
        workers.push(start_worker(&redis.url(), &app_url, &secrets, &more).await);
    }
    let backends = relays.iter().map(|r| r.addr()).collect();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lb = format!("http://{}/webhooks/wix", listener.local_addr().unwrap());
    tokio::spawn(balance(listener, backends));

    let store = RedisQueue::connect(&redis.url()).await.unwrap();
    let run = test.run(&lb, |_| {});
    let chaos = async {
        let step = config.duration / 4;
        tokio::time::sleep(step).await;
        relays[0].crash();
        tokio::time::sleep(step).await;
        // While it holds entries (bounded: 4 s): they wait for the visibility timeout, then
        // the other worker takes them over.
        let name = workers[0]
            .line
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_owned();
        let held = || async {
            let stats = store.stats().await.ok()?;
            let mine = stats.consumers.iter().find(|c| c.name == name)?;
            Some(mine.pending)
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(4);
        while held().await.unwrap_or(0) == 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        workers[0].crash();
        let orphaned = held().await.unwrap_or(0);
        tokio::time::sleep(step).await;
        tokio::task::block_in_place(|| redis.restart());
        orphaned
    };
    let (report, orphaned) = tokio::join!(run, chaos);
    let table = report.table();
    // An acknowledgement lost to the Redis restart leaves its entry pending until it is taken
    // over and settled again (answered once all the same: the bot replies once per event).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        match store.stats().await {
            Ok(stats) if stats.pending == 0 => break,
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let queue = tokio::task::block_in_place(|| stats(&redis.url()));
    let metrics = scrape(&workers[1].metrics_addr()).await;
    let taken_over = value(&metrics, "wix_inbox_queue_takeovers_total");
    let worker_log = workers[1].stderr.lock().unwrap().clone();
    // What was seen, whatever fails: the report (with the first offending messages), the
    // queue, what the killed worker held, the living worker's warnings.
    let seen = format!(
        "{table}queue: {queue}\nheld by the killed worker: {orphaned}; taken over: \
         {taken_over}\nthe living worker's stderr (its end): {}",
        tail(&worker_log)
    );
    println!("{seen}");
    let r = &report.replies;
    let d = &report.deliveries;
    assert_eq!(report.visitor_messages, 360, "{seen}");
    assert_eq!(
        (r.zero, r.one, r.more),
        (0, 360, 0),
        "exactly once; never answered: {:?}, answered more than once: {:?}\n{seen}",
        r.unanswered_examples,
        r.repeated_examples
    );
    assert_eq!(
        r.misplaced, 0,
        "in the current conversation: {:?}\n{seen}",
        r.misplaced_examples
    );
    assert_eq!(r.to_own_messages, 0, "never to its own\n{seen}");
    assert_eq!(
        (d.given_up, d.unfinished),
        (0, 0),
        "nothing given up by Wix: {:?}\n{seen}",
        d.lost_examples
    );
    assert_eq!(queue["dead_letters"], 0, "nothing dead-lettered\n{seen}");
    assert_eq!(
        queue["pending"], 0,
        "nothing left pending (after 20 s)\n{seen}"
    );
    assert!(report.conversions > 50, "merges happened\n{seen}");
    assert_eq!(
        r.out_of_order_conversations, 0,
        "in order: {:?}\n{seen}",
        r.out_of_order_examples
    );
    assert_eq!(report.api_calls.len(), sites, "an entry per site\n{seen}");
    // What the killed worker held was taken over by the other.
    assert!(taken_over >= orphaned as f64, "{seen}");
    assert!(report.passed(), "{seen}");
}

/// The end of `text`, at most 2,000 bytes (on a character boundary).
fn tail(text: &str) -> &str {
    let mut start = text.len().saturating_sub(2000);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}
