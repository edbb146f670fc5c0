//! Faults: a worker SIGKILLed while handling, redis-server killed and restarted.

use std::time::{Duration, Instant};

use redis::AsyncCommands as _;
use wix_inbox::queue::{QueueStore, Worker};

use crate::redis_server::RedisServer;
use crate::{append, event, queue, quick, redis, spawn_child, spawn_worker};

/// The child: handles events, records each start in `started` and each end in `handled`;
/// the event `hang` never ends.
pub async fn hanging_child(url: &str) {
    let queue = wix_inbox::redis::RedisQueue::connect(url).await.unwrap();
    let log = ::redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    Worker::new(queue, quick())
        .run(
            move |e| {
                let mut log = log.clone();
                async move {
                    let _: () = log.rpush("started", &e.id).await.unwrap();
                    if e.id == "hang" {
                        std::future::pending::<()>().await;
                    }
                    let _: () = log.rpush("handled", &e.id).await.unwrap();
                    Ok::<(), String>(())
                }
            },
            std::future::pending(),
        )
        .await
        .unwrap();
}

/// Waits until the list `key` holds `n` items or more; its items.
async fn wait_list(
    log: &mut redis::aio::MultiplexedConnection,
    key: &str,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let start = Instant::now();
    loop {
        let items: Vec<String> = log.lrange(key, 0, -1).await.unwrap_or_default();
        if done(&items) {
            return items;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{key}: {items:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_workers_event_is_taken_over() {
    let server = RedisServer::start();
    let queue = queue(&server).await;
    append(&queue, &event("hang", "c0")).await;
    for i in 1..10 {
        append(&queue, &event(&format!("e{i}"), &format!("c{i}"))).await;
    }
    let mut child = spawn_child("hang", &server);
    let mut log = redis(&server).await;
    wait_list(&mut log, "started", |s| s.iter().any(|id| id == "hang")).await;
    // The others handled and acknowledged: only `hang` left pending.
    wait_list(&mut log, "handled", |h| h.len() == 9).await;
    let start = Instant::now();
    while queue.stats().await.unwrap().pending > 1 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "not acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let killed_at = Instant::now();

    let log2 = log.clone();
    let (stop, task) = spawn_worker(Worker::new(queue.clone(), quick()), move |e| {
        let mut log = log2.clone();
        async move {
            let _: () = log.rpush("handled", &e.id).await.unwrap();
            Ok(())
        }
    });
    let handled = wait_list(&mut log, "handled", |h| h.iter().any(|id| id == "hang")).await;
    assert!(
        killed_at.elapsed() >= Duration::from_millis(300),
        "taken over before the visibility timeout"
    );
    let start = Instant::now();
    while queue.stats().await.unwrap().pending > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "entries left pending"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    task.await.unwrap().unwrap();
    let handled: Vec<String> = log.lrange("handled", 0, -1).await.unwrap_or(handled);
    let mut sorted = handled.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 10, "every event handled: {handled:?}");
    assert_eq!(
        handled.len(),
        10,
        "each handled and acknowledged once: {handled:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_when_redis_restarts_with_appendonly() {
    let mut server = RedisServer::start_persistent();
    let queue = queue(&server).await;
    for i in 0..20 {
        append(&queue, &event(&format!("a{i}"), &format!("c{}", i % 3))).await;
    }
    // Killed between append and handling (no worker ran: no group yet).
    server.restart();
    let handled = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let h = handled.clone();
    let (stop, task) = spawn_worker(Worker::new(queue.clone(), quick()), move |e| {
        h.lock().unwrap().push(e.id);
        async { Ok(()) }
    });
    crate::until(
        Duration::from_secs(20),
        "20 handled after the restart",
        || handled.lock().unwrap().len() >= 20,
    )
    .await;
    // The group lost while the worker runs: recreated on the fly.
    let mut log = redis(&server).await;
    let destroyed: i64 = redis::cmd("XGROUP")
        .arg("DESTROY")
        .arg("{wix-inbox:queue}:stream")
        .arg("workers")
        .query_async(&mut log)
        .await
        .unwrap();
    assert_eq!(destroyed, 1);
    for i in 0..5 {
        append(&queue, &event(&format!("b{i}"), "c9")).await;
    }
    crate::until(Duration::from_secs(20), "5 more handled", || {
        let handled = handled.lock().unwrap();
        (0..5).all(|i| handled.contains(&format!("b{i}")))
    })
    .await;
    // The new group starts from the beginning: at least once, the earlier ones again too.
    let start = Instant::now();
    while queue.stats().await.map_or(true, |s| s.pending > 0) || handled.lock().unwrap().len() < 45
    {
        let stats = queue.stats().await;
        let so_far = handled.lock().unwrap().clone();
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "not all handled again: {so_far:?} {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    task.await.unwrap().unwrap();
    let handled = handled.lock().unwrap();
    for i in 0..20 {
        assert!(handled.contains(&format!("a{i}")), "a{i} lost");
    }
}
