//! Time to 200 with a handler that takes 3 s, at 500 deliveries/s for 20 s over loopback HTTP
//! (open loop: each delivery is sent at its time, whatever the answers before it): the
//! receiver in queue mode (`WebhookReceiver::queue` on a `RedisQueue`, the 3 s handler in a
//! `Worker` beside it) against `WebhookReceiver` with `RedisDeduplicator`, whose answer waits
//! for the handler. Goal: queue mode p99 ≤ 20 ms (Wix gives up at 1,250 ms).
//!
//! `cargo bench --bench time_to_200 --features redis` (needs `redis-server`:
//! `apt-get install redis-server`). Prints p50, p99, max and how many answers took longer than
//! Wix's 1,250 ms, for each mode.
//!
//! Every delivery is a distinct event (Wix's Message Sent To Business example with its own ID,
//! in one of 500 conversations); both modes get the same deliveries (a queue and a
//! deduplicator of their own). A delivery's time runs from the moment it was due, so a sender
//! held up is counted against the receiver. Client and server share the process and the
//! machine's 2 cores (one tokio runtime, 2 worker threads). Both servers allow 4,096
//! connections, so that the deduplicator mode's 1,500 requests in flight are not refused at
//! the door (its figure is then the handler's 3 s, not a connection limit). Bounded: 20 s of
//! sending per mode, 30 s at most per request.

// Shared with the other benches, which use all of it.
#[allow(dead_code)]
mod common;
#[path = "../tests/common/redis_server.rs"]
mod redis_server;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use redis_server::RedisServer;
use tokio::time::Instant;
use wix_inbox::queue::{Worker, WorkerOptions};
use wix_inbox::redis::{RedisDeduplicator, RedisQueue};
use wix_inbox::webhooks::axum::{ServeOptions, WebhookReceiver};
use wix_inbox::webhooks::test_signer::TestSigner;
use wix_inbox::webhooks::{WebhookEvent, WebhookVerifier};

const RATE: u32 = 500;
const SECONDS: u32 = 20;
const DELIVERIES: usize = (RATE * SECONDS) as usize;
const HANDLER: Duration = Duration::from_secs(3);
const CONVERSATIONS: usize = 500;
/// What Wix waits for an answer.
const WIX_DEADLINE: Duration = Duration::from_millis(1_250);

#[derive(Clone, Copy, Debug)]
enum Mode {
    Queue,
    Deduplicator,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Queue => "queue mode (append, 200; a Worker runs the handler)",
            Mode::Deduplicator => "RedisDeduplicator (200 after the handler)",
        }
    }
}

fn main() {
    common::on_two_threads(run());
}

async fn run() {
    let redis = RedisServer::start();
    let signer = TestSigner::shared();
    let started = std::time::Instant::now();
    let tokens = sign(signer).await;
    println!(
        "{DELIVERIES} distinct signed deliveries in {:.1} s; {RATE}/s for {SECONDS} s, a {} s \
         handler",
        started.elapsed().as_secs_f64(),
        HANDLER.as_secs()
    );
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(4096)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client");
    println!();
    println!(
        "| mode ({RATE} deliveries/s, {} s handler) | answered | p50 | p99 | max | over 1,250 ms |",
        HANDLER.as_secs()
    );
    println!("|---|---|---|---|---|---|");
    for mode in [Mode::Queue, Mode::Deduplicator] {
        let (addr, server, worker) = serve(mode, signer.verifier(), &redis).await;
        let url = format!("http://{addr}/webhooks/wix");
        let mut latencies = send(&client, &url, &tokens).await;
        server.abort();
        if let Some((stop, worker)) = worker {
            let _ = stop.send(true);
            worker.abort();
        }
        latencies.sort();
        let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
        let late = latencies.iter().filter(|&&l| l > WIX_DEADLINE).count();
        println!(
            "| {} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {} |",
            mode.name(),
            latencies.len(),
            ms(at(0.5)),
            ms(at(0.99)),
            ms(at(1.0)),
            late
        );
        if let Mode::Queue = mode {
            let p99 = at(0.99);
            eprintln!(
                "queue mode p99 {:.1} ms (goal ≤ 20 ms): {}",
                ms(p99),
                if p99 <= Duration::from_millis(20) {
                    "met"
                } else {
                    "NOT met"
                }
            );
        }
    }
}

/// The deliveries, signed on the blocking threads (RS256 signing is the slow part).
async fn sign(signer: &'static TestSigner) -> Arc<Vec<String>> {
    let halves = [0..DELIVERIES / 2, DELIVERIES / 2..DELIVERIES].map(|range| {
        tokio::task::spawn_blocking(move || {
            range
                .map(|i| {
                    let (_, event_type, fixture) = common::EVENTS[1];
                    let mut event = common::event(event_type, fixture);
                    event.domain_event["id"] = format!("bench-200-{i}").into();
                    event.domain_event["actionEvent"]["body"]["conversationId"] =
                        format!("conversation-{}", i % CONVERSATIONS).into();
                    signer.sign_event(&event)
                })
                .collect::<Vec<_>>()
        })
    });
    let mut tokens = Vec::with_capacity(DELIVERIES);
    for half in halves {
        tokens.extend(half.await.expect("signing"));
    }
    Arc::new(tokens)
}

type Stopper = (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
);

/// Serves `mode` on a free port of 127.0.0.1 with the production settings (but 4,096
/// connections); in queue mode, with a worker running the 3 s handler.
async fn serve(
    mode: Mode,
    verifier: WebhookVerifier,
    redis: &RedisServer,
) -> (SocketAddr, tokio::task::JoinHandle<()>, Option<Stopper>) {
    let handler = |_event: WebhookEvent| async {
        tokio::time::sleep(HANDLER).await;
        Ok::<(), std::io::Error>(())
    };
    let (router, worker) = match mode {
        Mode::Queue => {
            let queue = RedisQueue::connect(&redis.url())
                .await
                .expect("Redis")
                .name("bench-200");
            // Enough handlers at once for 500/s × 3 s.
            let mut options = WorkerOptions::new().concurrency(2_000);
            options.max_held = 4_096;
            let (stop, mut stopped) = tokio::sync::watch::channel(false);
            let worker = Worker::new(queue.clone(), options);
            let task = tokio::spawn(async move {
                let _ = worker
                    .run(handler, async move {
                        let _ = stopped.wait_for(|&s| s).await;
                    })
                    .await;
            });
            let router = WebhookReceiver::queue(verifier, queue).into_router("/webhooks/wix");
            (router, Some((stop, task)))
        }
        Mode::Deduplicator => {
            let store = RedisDeduplicator::connect(&redis.url())
                .await
                .expect("Redis")
                .prefix("bench-200:");
            let router = WebhookReceiver::with_handler(verifier, handler)
                .deduplicator(store)
                .into_router("/webhooks/wix");
            (router, None)
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("an address");
    let options = ServeOptions::new().max_connections(4_096);
    let server = tokio::spawn(async move { options.serve(listener, router).await });
    (addr, server, worker)
}

/// Sends every token at its time (one each 1/[`RATE`] s); each answer must be 200. The time
/// of each, from when it was due.
async fn send(client: &reqwest::Client, url: &str, tokens: &Arc<Vec<String>>) -> Vec<Duration> {
    let interval = Duration::from_secs(1) / RATE;
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(tokens.len());
    for i in 0..tokens.len() {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due).await;
        let (client, url, tokens) = (client.clone(), url.to_owned(), Arc::clone(tokens));
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(&url)
                .header("content-type", "text/plain")
                .body(tokens[i].clone())
                .send()
                .await
                .expect("an answer");
            let status = response.status();
            let _ = response.bytes().await;
            assert_eq!(status, 200, "delivery {i}");
            due.elapsed()
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    for task in tasks {
        latencies.push(task.await.expect("a sender"));
    }
    latencies
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
