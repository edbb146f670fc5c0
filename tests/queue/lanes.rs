//! Lanes: within each conversation never two at once and always in append order, checked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::AsyncCommands as _;
use wix_inbox::queue::{InMemoryQueue, QueueStore, Worker};

use crate::redis_server::RedisServer;
use crate::{append, event, queue, quick, redis, spawn_child, spawn_worker, until};

const EVENTS: usize = 1_000;
const CONVERSATIONS: usize = 50;

/// A delay of 0 to 3 ms, pseudo-random by `seed`.
fn delay(seed: &str) -> Duration {
    let mut x = seed.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    x ^= x >> 29;
    Duration::from_micros(x % 3_000)
}

/// Appends the events, conversations in a scrambled order; the append order per conversation.
async fn append_all<S: QueueStore>(queue: &S) -> HashMap<String, Vec<String>> {
    let mut order: HashMap<String, Vec<String>> = HashMap::new();
    for i in 0..EVENTS {
        let conversation = format!("c{}", (i * 7 + i / 13) % CONVERSATIONS);
        let id = format!("e{i}");
        append(queue, &event(&id, &conversation)).await;
        order.entry(conversation).or_default().push(id);
    }
    order
}

/// Checks what was handled per conversation against the append order.
fn check(appended: &HashMap<String, Vec<String>>, handled: &HashMap<String, Vec<String>>) {
    assert_eq!(handled.len(), CONVERSATIONS);
    for (conversation, ids) in appended {
        assert_eq!(
            handled.get(conversation),
            Some(ids),
            "conversation {conversation} handled out of append order"
        );
    }
}

/// The conversation of an event (its lane is `i1/<conversation>`).
fn conversation(e: &wix_inbox::webhooks::WebhookEvent) -> String {
    let lane = wix_inbox::queue::default_lane(e).unwrap();
    lane.trim_start_matches("i1/").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lanes_in_memory_four_workers() {
    let queue = InMemoryQueue::new();
    let appended = append_all(&queue).await;
    let handled: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
    let active: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (handled, active) = (handled.clone(), active.clone());
        workers.push(spawn_worker(
            Worker::new(
                queue.clone(),
                quick().concurrency(8).visibility(Duration::from_secs(3)),
            ),
            move |e| {
                let (handled, active) = (handled.clone(), active.clone());
                async move {
                    let c = conversation(&e);
                    {
                        let mut active = active.lock().unwrap();
                        let n = active.entry(c.clone()).or_default();
                        *n += 1;
                        assert_eq!(*n, 1, "two at once in {c}");
                    }
                    tokio::time::sleep(delay(&e.id)).await;
                    handled
                        .lock()
                        .unwrap()
                        .entry(c.clone())
                        .or_default()
                        .push(e.id);
                    *active.lock().unwrap().get_mut(&c).unwrap() -= 1;
                    Ok(())
                }
            },
        ));
    }
    until(Duration::from_secs(30), "all handled", || {
        handled
            .lock()
            .unwrap()
            .values()
            .map(Vec::len)
            .sum::<usize>()
            >= EVENTS
    })
    .await;
    for (stop, task) in workers {
        let _ = stop.send(());
        task.await.unwrap().unwrap();
    }
    check(&appended, &handled.lock().unwrap());
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.pending, stats.dead_letters), (0, 0));
}

/// The child: two workers on one Redis queue; each handler marks its conversation active
/// (`INCR`: 1 expected, else a violation is recorded), records the event, waits 0–3 ms.
/// Stops gracefully when the key `stop` is set.
pub async fn child(url: &str) {
    let queue = wix_inbox::redis::RedisQueue::connect(url).await.unwrap();
    let client = ::redis::Client::open(url).unwrap();
    let log = client.get_multiplexed_async_connection().await.unwrap();
    let mut runs = Vec::new();
    for _ in 0..2 {
        let log = log.clone();
        let stop_log = log.clone();
        let worker = Worker::new(
            queue.clone(),
            quick().concurrency(8).visibility(Duration::from_secs(3)),
        );
        runs.push(tokio::spawn(worker.run(
            move |e| {
                let mut log = log.clone();
                async move {
                    let c = conversation(&e);
                    let n: i64 = log
                        .incr(format!("active:{c}"), 1)
                        .await
                        .map_err(|e| e.to_string())?;
                    if n != 1 {
                        let _: () = log
                            .rpush("violations", format!("{c}: {n} at once"))
                            .await
                            .unwrap();
                    }
                    tokio::time::sleep(delay(&e.id)).await;
                    let _: () = log.rpush(format!("order:{c}"), &e.id).await.unwrap();
                    let _: i64 = log.decr(format!("active:{c}"), 1).await.unwrap();
                    Ok::<(), String>(())
                }
            },
            async move {
                let mut log = stop_log;
                loop {
                    let stop: Option<String> = log.get("stop").await.unwrap_or(None);
                    if stop.is_some() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
        )));
    }
    for run in runs {
        run.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lanes_in_redis_four_workers_in_two_processes() {
    let server = RedisServer::start();
    let queue = queue(&server).await;
    let appended = append_all(&queue).await;
    let mut children = [spawn_child("lanes", &server), spawn_child("lanes", &server)];
    let mut log = redis(&server).await;
    let start = std::time::Instant::now();
    loop {
        let mut total = 0;
        for c in appended.keys() {
            let n: usize = log.llen(format!("order:{c}")).await.unwrap();
            total += n;
        }
        if total >= EVENTS && queue.stats().await.unwrap().pending == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{total} of {EVENTS} handled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _: () = log.set("stop", "1").await.unwrap();
    for child in &mut children {
        let exited = (0..500).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            matches!(child.try_wait(), Ok(Some(_)))
        });
        if !exited {
            let _ = child.kill();
        }
        assert!(exited, "a child worker did not stop gracefully");
        assert!(child.wait().unwrap().success(), "a child worker failed");
    }
    let violations: Vec<String> = log.lrange("violations", 0, -1).await.unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    let mut handled = HashMap::new();
    for c in appended.keys() {
        let ids: Vec<String> = log.lrange(format!("order:{c}"), 0, -1).await.unwrap();
        handled.insert(c.clone(), ids);
    }
    check(&appended, &handled);
    let stats = queue.stats().await.unwrap();
    assert_eq!(
        (stats.length, stats.pending, stats.dead_letters),
        (EVENTS as u64, 0, 0)
    );
}
