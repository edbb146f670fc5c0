//! Events per second through one queue `Worker` (one process) on Redis with a no-op handler,
//! without lanes and with lanes (1,000 conversations), against a floor: a bare Redis Streams
//! consumer on the same server (`XREADGROUP` 256 entries at a time, one `XACK` for them), the
//! least an at-least-once consumer of a stream does. Goal: ≥ 10,000 events/s.
//!
//! `cargo bench --bench worker --features redis` (needs `redis-server`:
//! `apt-get install redis-server`).
//!
//! Each turn appends [`EVENTS`] small events (a Message Sent To Business, as the receiver
//! stores it) to a queue of its own, then times from the worker's start until it has handled
//! every one and stopped (its last acknowledgements included). The turns run in rounds
//! (floor, no lanes, lanes); each figure is the median over the rounds. The worker runs with
//! its default options (16 handlers at once, 256 entries held) but a 1 ms poll; with
//! `BENCH_CONCURRENCY=N`, N handlers at once (a worker starts and acknowledges at most that
//! many entries per round trip). Worker, Redis
//! client and `redis-server` share the machine's 2 cores.

// Shared with the other benches, which use all of it.
#[allow(dead_code)]
mod common;
#[path = "../tests/common/redis_server.rs"]
mod redis_server;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis_server::RedisServer;
use wix_inbox::queue::{append_event, default_lane, LaneKey, QueueStore, Worker, WorkerOptions};
use wix_inbox::redis::RedisQueue;
use wix_inbox::webhooks::WebhookEvent;

const EVENTS: usize = 20_000;
const ROUNDS: usize = 3;
const CONVERSATIONS: usize = 1_000;
/// Appends in flight while filling a queue.
const FILLERS: usize = 64;

#[derive(Clone, Copy, Debug)]
enum Turn {
    Floor,
    NoLanes,
    Lanes,
}

impl Turn {
    fn name(self) -> &'static str {
        match self {
            Turn::Floor => "bare XREADGROUP + XACK consumer (floor)",
            Turn::NoLanes => "Worker, no lanes",
            Turn::Lanes => "Worker, lanes (1,000 conversations)",
        }
    }
}

fn main() {
    common::on_two_threads(run());
}

async fn run() {
    let redis = RedisServer::start();
    println!(
        "{EVENTS} events per turn, {ROUNDS} rounds, {} handlers at once",
        concurrency()
    );
    let turns = [Turn::Floor, Turn::NoLanes, Turn::Lanes];
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); turns.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); turns.len()];
    for round in 0..ROUNDS {
        for (i, &turn) in turns.iter().enumerate() {
            let name = format!("bench-worker-{round}-{i}");
            let (per_second, cpu_us) = match turn {
                Turn::Floor => floor(&redis, &name).await,
                Turn::NoLanes => worker(&redis, &name, Arc::new(|_| None)).await,
                Turn::Lanes => worker(&redis, &name, Arc::new(default_lane)).await,
            };
            println!(
                "round {}: {:<40} {per_second:>8.0} events/s, {cpu_us:>5.1} µs CPU per event \
                 (this process)",
                round + 1,
                turn.name()
            );
            results[i].push(per_second);
            cpu[i].push(cpu_us);
        }
    }
    println!();
    println!("| consumer (no-op handler, one process) | events/s | × floor | µs CPU per event |");
    println!("|---|---|---|---|");
    let median = |mut r: Vec<f64>| {
        r.sort_by(f64::total_cmp);
        r[r.len() / 2]
    };
    let medians: Vec<f64> = results.into_iter().map(median).collect();
    let cpu: Vec<f64> = cpu.into_iter().map(median).collect();
    for ((turn, median), cpu) in turns.iter().zip(&medians).zip(&cpu) {
        println!(
            "| {} | {median:.0} | {:.2} | {cpu:.1} |",
            turn.name(),
            median / medians[0]
        );
    }
    for (turn, median) in turns.iter().zip(&medians).skip(1) {
        println!(
            "{}: {median:.0} events/s (goal ≥ 10,000): {}",
            turn.name(),
            if *median >= 10_000.0 {
                "met"
            } else {
                "NOT met"
            }
        );
    }
}

/// Event `i`: a Message Sent To Business in one of [`CONVERSATIONS`] conversations.
fn event(i: usize) -> WebhookEvent {
    serde_json::from_value(serde_json::json!({
        "id": format!("bench-worker-event-{i}"),
        "instanceId": "bench-instance",
        "eventType": "wix.crm.inbox.v2.message_message_sent_to_business",
        "event": {"kind": "MessageSentToBusiness", "body": {
            "conversationId": format!("conversation-{}", i % CONVERSATIONS),
            "message": {"id": format!("message-{i}"), "direction": "PARTICIPANT_TO_BUSINESS",
                "content": {"previewText": "Hello, is the spa open on Sunday?"}},
        }},
    }))
    .expect("an event")
}

/// Appends [`EVENTS`] events to a queue named `name`, [`FILLERS`] at once.
async fn fill(queue: &RedisQueue, lane_key: &LaneKey) {
    let next = Arc::new(AtomicUsize::new(0));
    let fillers: Vec<_> = (0..FILLERS)
        .map(|_| {
            let (queue, lane_key, next) = (queue.clone(), lane_key.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= EVENTS {
                        break;
                    }
                    append_event(&queue, &lane_key, &event(i))
                        .await
                        .expect("appended");
                }
            })
        })
        .collect();
    for filler in fillers {
        filler.await.expect("a filler");
    }
}

/// CPU time (user + system) this process used so far, in µs (Linux's `/proc/self/stat`, in
/// clock ticks of 10 ms).
fn cpu_us() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which is in parentheses).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line: 11 and 12 after the name.
    (ticks(11) + ticks(12)) * 10_000.0
}

/// One worker with a no-op handler on a full queue: events/s until it handled all and
/// stopped, and this process's CPU µs per event meanwhile.
async fn worker(redis: &RedisServer, name: &str, lane_key: LaneKey) -> (f64, f64) {
    let queue = RedisQueue::connect(&redis.url())
        .await
        .expect("Redis")
        .name(name);
    fill(&queue, &lane_key).await;
    let handled = Arc::new(AtomicUsize::new(0));
    let all = Arc::new(tokio::sync::Notify::new());
    let (counter, done) = (handled.clone(), all.clone());
    let options = WorkerOptions::new()
        .poll(Duration::from_millis(1))
        .concurrency(concurrency());
    let (started, cpu) = (Instant::now(), cpu_us());
    Worker::new(queue.clone(), options)
        .run(
            move |_event| {
                if counter.fetch_add(1, Ordering::Relaxed) + 1 == EVENTS {
                    done.notify_one();
                }
                async { Ok::<(), std::io::Error>(()) }
            },
            async move { all.notified().await },
        )
        .await
        .expect("the worker ran");
    let (elapsed, cpu) = (started.elapsed(), cpu_us() - cpu);
    let stats = queue.stats().await.expect("stats");
    assert_eq!(handled.load(Ordering::Relaxed), EVENTS, "each handled once");
    assert_eq!(stats.pending, 0, "all acknowledged: {stats:?}");
    (EVENTS as f64 / elapsed.as_secs_f64(), cpu / EVENTS as f64)
}

/// The worker's concurrency: `BENCH_CONCURRENCY`, else the default (16).
fn concurrency() -> usize {
    std::env::var("BENCH_CONCURRENCY")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(16)
}

/// The floor: the same entries in a plain stream, read by a bare consumer.
async fn floor(redis: &RedisServer, name: &str) -> (f64, f64) {
    let mut connection = redis::Client::open(redis.url())
        .expect("a URL")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis");
    let stream = format!("{{{name}}}:stream");
    for batch in (0..EVENTS).collect::<Vec<_>>().chunks(1_000) {
        let mut pipe = redis::pipe();
        for &i in batch {
            let event = event(i);
            let json = serde_json::to_string(&event).expect("JSON");
            let lane = default_lane(&event).unwrap_or_default();
            pipe.cmd("XADD")
                .arg(&stream)
                .arg("*")
                .arg("id")
                .arg(&event.id)
                .arg("lane")
                .arg(lane)
                .arg("event")
                .arg(json)
                .ignore();
        }
        let () = pipe.query_async(&mut connection).await.expect("XADD");
    }
    let () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&stream)
        .arg("workers")
        .arg("0")
        .query_async(&mut connection)
        .await
        .expect("XGROUP CREATE");
    let (started, cpu) = (Instant::now(), cpu_us());
    let mut consumed = 0;
    while consumed < EVENTS {
        type Read = Option<Vec<(String, Vec<(String, Vec<String>)>)>>;
        let read: Read = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg("workers")
            .arg("floor")
            .arg("COUNT")
            .arg(256)
            .arg("STREAMS")
            .arg(&stream)
            .arg(">")
            .query_async(&mut connection)
            .await
            .expect("XREADGROUP");
        let entries = read.into_iter().flatten().flat_map(|(_, e)| e);
        let ids: Vec<String> = entries
            .map(|(id, fields)| {
                // What a handler would be given.
                std::hint::black_box(fields);
                id
            })
            .collect();
        if ids.is_empty() {
            continue;
        }
        consumed += ids.len();
        let () = redis::cmd("XACK")
            .arg(&stream)
            .arg("workers")
            .arg(&ids)
            .query_async(&mut connection)
            .await
            .map(|_: u64| ())
            .expect("XACK");
    }
    (
        EVENTS as f64 / started.elapsed().as_secs_f64(),
        (cpu_us() - cpu) / EVENTS as f64,
    )
}
