//! Deliveries per second and p99 latency of a webhook endpoint over loopback HTTP, 64 senders at
//! once: a bare axum handler answering 200 (the floor), `WebhookReceiver` with the in-memory
//! store, with the Redis store (a `redis-server` the bench starts), and in queue mode
//! (`WebhookReceiver::queue` on a `RedisQueue`: verify, one append script, 200). Goals: Redis ≥
//! 0.5× the in-memory receiver; the queue's ingest ≥ 0.9× the Redis store.
//!
//! `cargo bench --bench receiver` (needs `redis-server`: `apt-get install redis-server`).
//!
//! Every delivery is a distinct event (Wix's Message Sent To Business example with its own ID),
//! so each one is verified, claimed, handed on and completed. The three endpoints run in turns
//! (floor, memory, Redis) for several rounds on one shared machine; each figure is the median
//! over the rounds. Client and server share the process (one tokio runtime, 2 worker threads),
//! as they share the machine's 2 cores; the client is reqwest with a kept-alive connection per
//! sender. Bounded: a fixed number of deliveries per turn.

// Shared with the other benches, which use all of it.
#[allow(dead_code)]
mod common;
#[path = "../tests/common/redis_server.rs"]
mod redis_server;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis_server::RedisServer;
use wix_inbox::redis::RedisDeduplicator;
use wix_inbox::webhooks::axum::{ServeOptions, WebhookReceiver};
use wix_inbox::webhooks::test_signer::TestSigner;
use wix_inbox::webhooks::{InMemoryDeduplicator, WebhookVerifier};

const SENDERS: usize = 64;
const WARM_UP: usize = 500;
const DELIVERIES: usize = 4_000;
const ROUNDS: usize = 3;
/// No single request may take longer: the bench fails rather than hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    Floor,
    Memory,
    Redis,
    Queue,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Endpoint::Floor => "bare axum handler answering 200 (floor)",
            Endpoint::Memory => "WebhookReceiver, in-memory store",
            Endpoint::Redis => "WebhookReceiver, Redis store",
            Endpoint::Queue => "WebhookReceiver::queue, RedisQueue (append)",
        }
    }
}

/// One turn's figures.
#[derive(Clone, Copy, Debug)]
struct Figures {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

fn main() {
    common::on_two_threads(run());
}

async fn run() {
    let redis = RedisServer::start();
    let signer = TestSigner::shared();
    let started = Instant::now();
    let tokens: Arc<Vec<String>> = Arc::new(
        tokio::task::spawn_blocking(move || {
            (0..WARM_UP + DELIVERIES)
                .map(|i| {
                    let (_, event_type, fixture) = common::EVENTS[1];
                    let mut event = common::event(event_type, fixture);
                    event.domain_event["id"] = format!("bench-event-{i}").into();
                    signer.sign_event(&event)
                })
                .collect()
        })
        .await
        .expect("signing"),
    );
    println!(
        "{} distinct signed deliveries ({} bytes each) in {:.1} s; {SENDERS} senders, \
         {DELIVERIES} deliveries per turn after {WARM_UP} to warm up, {ROUNDS} rounds",
        tokens.len(),
        tokens[0].len(),
        started.elapsed().as_secs_f64()
    );

    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(SENDERS)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("a client");
    let endpoints = [
        Endpoint::Floor,
        Endpoint::Memory,
        Endpoint::Redis,
        Endpoint::Queue,
    ];
    let mut results: Vec<Vec<Figures>> = vec![Vec::new(); endpoints.len()];
    for round in 0..ROUNDS {
        for (i, &endpoint) in endpoints.iter().enumerate() {
            let (addr, server) = serve(endpoint, signer.verifier(), &redis, round).await;
            let url = format!("http://{addr}/webhooks/wix");
            let figures = load(&client, &url, &tokens, endpoint).await;
            server.abort();
            println!(
                "round {}: {:<42} {:>8.0} deliveries/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
                round + 1,
                endpoint.name(),
                figures.per_second,
                ms(figures.p50),
                ms(figures.p99)
            );
            results[i].push(figures);
        }
    }

    println!();
    println!("| endpoint (64 senders, loopback HTTP) | deliveries/s | p50 | p99 | × in-memory |");
    println!("|---|---|---|---|---|");
    let medians: Vec<Figures> = results.iter().map(|r| median(r)).collect();
    let memory = medians[1].per_second;
    for (endpoint, figures) in endpoints.iter().zip(&medians) {
        println!(
            "| {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} |",
            endpoint.name(),
            figures.per_second,
            ms(figures.p50),
            ms(figures.p99),
            figures.per_second / memory
        );
    }
    let ratio = medians[2].per_second / memory;
    println!();
    println!(
        "Redis / in-memory: {ratio:.2} (goal ≥ 0.5): {}",
        if ratio >= 0.5 { "met" } else { "NOT met" }
    );
    let queue = medians[3].per_second / medians[2].per_second;
    println!(
        "queue ingest / Redis store: {queue:.2} (goal ≥ 0.9): {}",
        if queue >= 0.9 { "met" } else { "NOT met" }
    );
}

/// Serves `endpoint` on a free port of 127.0.0.1 with the production settings.
async fn serve(
    endpoint: Endpoint,
    verifier: WebhookVerifier,
    redis: &RedisServer,
    round: usize,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let handed_on = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&handed_on);
    let on_event = move |_event| {
        counter.fetch_add(1, Ordering::Relaxed);
    };
    let router = match endpoint {
        Endpoint::Floor => axum::Router::new().route(
            "/webhooks/wix",
            axum::routing::post(|_body: axum::body::Bytes| async { "ok" }),
        ),
        Endpoint::Memory => WebhookReceiver::new(verifier, on_event)
            .deduplicator(InMemoryDeduplicator::new())
            .into_router("/webhooks/wix"),
        Endpoint::Redis => {
            let store = RedisDeduplicator::connect(&redis.url())
                .await
                .expect("Redis")
                .prefix(format!("bench-{round}:"));
            WebhookReceiver::new(verifier, on_event)
                .deduplicator(store)
                .into_router("/webhooks/wix")
        }
        Endpoint::Queue => {
            let queue = wix_inbox::redis::RedisQueue::connect(&redis.url())
                .await
                .expect("Redis")
                .name(&format!("bench-{round}"));
            WebhookReceiver::queue(verifier, queue).into_router("/webhooks/wix")
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("an address");
    let server = tokio::spawn(async move { ServeOptions::new().serve(listener, router).await });
    (addr, server)
}

/// Warms up, then sends [`DELIVERIES`] deliveries from [`SENDERS`] tasks; every answer must be
/// 200 "ok" (a duplicate would mean a wrong bench).
async fn load(
    client: &reqwest::Client,
    url: &str,
    tokens: &Arc<Vec<String>>,
    endpoint: Endpoint,
) -> Figures {
    let send = |range: std::ops::Range<usize>| {
        let next = Arc::new(AtomicUsize::new(range.start));
        let tasks: Vec<_> = (0..SENDERS)
            .map(|_| {
                let (client, url, tokens, next) = (
                    client.clone(),
                    url.to_owned(),
                    Arc::clone(tokens),
                    Arc::clone(&next),
                );
                let end = range.end;
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= end {
                            break;
                        }
                        let started = Instant::now();
                        let response = client
                            .post(&url)
                            .header("content-type", "text/plain")
                            .body(tokens[i].clone())
                            .send()
                            .await
                            .expect("an answer");
                        let status = response.status();
                        let body = response.bytes().await.expect("a body");
                        latencies.push(started.elapsed());
                        assert!(
                            status == 200 && (&body[..] == b"ok" || &body[..] == b"queued"),
                            "{endpoint:?}: delivery {i} answered {status} {body:?}"
                        );
                    }
                    latencies
                })
            })
            .collect();
        async move {
            let mut all = Vec::new();
            for task in tasks {
                all.extend(task.await.expect("a sender"));
            }
            all
        }
    };
    send(0..WARM_UP).await;
    let started = Instant::now();
    let mut latencies = send(WARM_UP..WARM_UP + DELIVERIES).await;
    let elapsed = started.elapsed();
    latencies.sort();
    Figures {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: latencies[latencies.len() / 2],
        p99: latencies[latencies.len() * 99 / 100],
    }
}

fn median(figures: &[Figures]) -> Figures {
    let pick = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    Figures {
        per_second: pick(figures.iter().map(|f| f.per_second).collect()),
        p50: Duration::from_secs_f64(pick(figures.iter().map(|f| f.p50.as_secs_f64()).collect())),
        p99: Duration::from_secs_f64(pick(figures.iter().map(|f| f.p99.as_secs_f64()).collect())),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
