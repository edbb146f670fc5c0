//! The event queue (`wix_inbox::queue`): in memory and in a real redis-server started by the
//! tests; workers in this process and in child processes (this binary run again with
//! `QUEUE_CHILD` set, see [`child_worker`]).
#![cfg(feature = "redis")]

#[path = "../common/redis_server.rs"]
mod redis_server;

mod batches;
mod cluster;
mod lanes;
mod receiver;
mod redis_faults;

use std::future::Future;
use std::time::{Duration, Instant};

use redis_server::{RedisServer, TestRedis};
use wix_inbox::queue::{
    append_event, default_lane_key, Appended, Backoff, QueueStore, Worker, WorkerOptions,
};
use wix_inbox::redis::RedisQueue;
use wix_inbox::webhooks::WebhookEvent;

/// A Message Sent To Business event `id` in `conversation` of instance `i1`.
pub fn event(id: &str, conversation: &str) -> WebhookEvent {
    serde_json::from_value(serde_json::json!({
        "id": id,
        "instanceId": "i1",
        "event": {"kind": "MessageSentToBusiness", "body": {"conversationId": conversation}},
    }))
    .expect("an event")
}

/// Worker options for tests: short visibility, quick polls and retries.
pub fn quick() -> WorkerOptions {
    WorkerOptions::new()
        .visibility(Duration::from_millis(600))
        .poll(Duration::from_millis(5))
        .backoff(Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
        })
}

/// Appends `event`, expecting it new.
pub async fn append<S: QueueStore>(queue: &S, event: &WebhookEvent) {
    let appended = append_event(queue, &default_lane_key(), event).await;
    assert!(matches!(appended, Ok(Appended::New(_))), "{appended:?}");
}

/// Waits (at most `limit`) until `done` is true.
pub async fn until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs `worker` with `handler` in a task until the returned sender is dropped or sent to.
pub fn spawn_worker<S, H, Fut>(
    worker: Worker<S>,
    handler: H,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), wix_inbox::queue::QueueError>>,
)
where
    S: QueueStore,
    H: Fn(WebhookEvent) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(worker.run(handler, async {
        let _ = stopped.await;
    }));
    (stop, task)
}

/// A Redis connection for the test's own bookkeeping.
pub async fn redis(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// A queue in `server`.
pub async fn queue(server: &impl TestRedis) -> RedisQueue {
    RedisQueue::connect_with(&server.config())
        .await
        .expect("Redis")
}

#[tokio::test]
async fn an_event_id_is_appended_once() {
    let server = RedisServer::start();
    let redis_queue = queue(&server).await;
    let memory = wix_inbox::queue::InMemoryQueue::new();
    for store in [&redis_queue as &dyn AppendOnce, &memory] {
        store.check().await;
    }
}

/// The append-once check, for both stores.
trait AppendOnce {
    fn check(&self) -> std::pin::Pin<Box<dyn Future<Output = ()> + '_>>;
}

impl<S: QueueStore> AppendOnce for S {
    fn check(&self) -> std::pin::Pin<Box<dyn Future<Output = ()> + '_>> {
        Box::pin(async move {
            let e = event("once", "c1");
            append(self, &e).await;
            let again = append_event(self, &default_lane_key(), &e).await.unwrap();
            assert_eq!(again, Appended::Duplicate);
            let stats = self.stats().await.unwrap();
            assert_eq!(stats.length, 1);
            // What a worker reads back is the event as appended.
            let read = self.read_new("reader", 10).await.unwrap();
            assert_eq!(read.len(), 1);
            assert_eq!(read[0].lane.as_deref(), Some("i1/c1"));
            let back: WebhookEvent = serde_json::from_str(&read[0].json).unwrap();
            assert_eq!(back, e);
        })
    }
}

/// Dead letters after N deliveries with the last error; redrive hands the event on once the
/// handler is fixed.
async fn dead_letters_then_redrive<S: QueueStore + Clone>(queue: S) {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::sync::Arc;
    let broken = Arc::new(AtomicBool::new(true));
    let calls = Arc::new(AtomicU32::new(0));
    let handled = Arc::new(AtomicU32::new(0));
    append(&queue, &event("poison", "c1")).await;
    let worker = Worker::new(queue.clone(), quick().max_deliveries(3));
    let (b, c, h) = (broken.clone(), calls.clone(), handled.clone());
    let (stop, task) = spawn_worker(worker, move |_| {
        let (b, c, h) = (b.clone(), c.clone(), h.clone());
        async move {
            c.fetch_add(1, Ordering::SeqCst);
            if b.load(Ordering::SeqCst) {
                return Err("the app is down".to_owned());
            }
            h.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    });
    let start = Instant::now();
    loop {
        let dead = queue.dead_letters(10).await.unwrap();
        if let Some(letter) = dead.first() {
            assert_eq!(letter.event_id, "poison");
            assert_eq!(letter.error, "the app is down");
            assert_eq!(letter.deliveries, 3);
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no dead letter");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.pending, stats.dead_letters), (0, 1));
    broken.store(false, Ordering::SeqCst);
    assert_eq!(queue.redrive(&[], 10).await.unwrap(), 1);
    until(Duration::from_secs(10), "redriven event handled", || {
        handled.load(Ordering::SeqCst) == 1
    })
    .await;
    assert!(queue.dead_letters(10).await.unwrap().is_empty());
    let _ = stop.send(());
    task.await.unwrap().unwrap();
    assert_eq!(handled.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn dead_letters_then_redrive_in_memory() {
    dead_letters_then_redrive(wix_inbox::queue::InMemoryQueue::new()).await;
}

#[tokio::test]
async fn dead_letters_then_redrive_in_redis() {
    let server = RedisServer::start();
    dead_letters_then_redrive(queue(&server).await).await;
}

#[tokio::test]
async fn replay_appends_handled_events_again() {
    let server = RedisServer::start();
    let queue = queue(&server).await;
    for i in 0..3 {
        append(&queue, &event(&format!("r{i}"), "c1")).await;
    }
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    let (stop, task) = spawn_worker(Worker::new(queue.clone(), quick()), move |e| {
        s.lock().unwrap().push(e.id);
        async { Ok(()) }
    });
    until(Duration::from_secs(10), "3 handled", || {
        seen.lock().unwrap().len() == 3
    })
    .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let (copied, _) = queue.replay(now - 60_000, now, 100).await.unwrap();
    assert_eq!(copied, 3);
    until(Duration::from_secs(10), "replayed", || {
        seen.lock().unwrap().len() == 6
    })
    .await;
    let _ = stop.send(());
    task.await.unwrap().unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        ["r0", "r1", "r2", "r0", "r1", "r2"],
        "one lane: in append order, replayed after"
    );
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.length, stats.pending), (6, 0));
}

/// Not a test of its own: a worker process for the tests that need several (run with
/// `QUEUE_CHILD=<mode>` and `QUEUE_REDIS=<url>`).
#[test]
#[ignore = "a child process of other tests"]
fn child_worker() {
    let Ok(mode) = std::env::var("QUEUE_CHILD") else {
        return;
    };
    let url = std::env::var("QUEUE_REDIS").expect("QUEUE_REDIS");
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async move {
            match mode.as_str() {
                "lanes" => lanes::child(&url).await,
                "hang" => redis_faults::hanging_child(&url).await,
                other => panic!("unknown child mode {other}"),
            }
        });
}

/// Starts this test binary as a child worker in `mode`.
pub fn spawn_child(mode: &str, server: &RedisServer) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_worker", "--ignored", "--nocapture"])
        .env("QUEUE_CHILD", mode)
        .env("QUEUE_REDIS", server.url())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the child worker")
}
