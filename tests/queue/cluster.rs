//! The queue on a Redis Cluster of three masters and three replicas: the same scenarios as on
//! one server, and the master of the queue's slot SIGKILLed while events are appended and
//! handled: its replica takes over, no event is lost, and the events handed on twice are at
//! most those in flight when it died (what `docs/redis.md` states).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wix_inbox::queue::{append_event, default_lane_key, QueueStore, Worker};
use wix_inbox::redis::RedisQueue;

use crate::redis_server::{RedisCluster, TestRedis};
use crate::{dead_letters_then_redrive, event, quick, spawn_worker, AppendOnce};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_on_a_cluster_behaves_as_on_one_server() {
    let cluster = RedisCluster::start();
    let queue = RedisQueue::connect_with(&cluster.config()).await.unwrap();
    queue.check().await;
    let queue = queue.name("dead-letters");
    dead_letters_then_redrive(queue).await;
}

/// Workers on two connections, handlers of 10 ms, 400 events appended (each retried until
/// stored, as Wix resends a delivery answered 503); halfway the master of the queue's slot is
/// SIGKILLed. Every event is handed on; at most the 8 in flight (2 workers × 4 handlers) are
/// handed on twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_master_killed_mid_run_is_replaced_and_no_event_is_lost() {
    const EVENTS: usize = 400;
    const WORKERS: usize = 2;
    const CONCURRENCY: usize = 4;
    let mut cluster = RedisCluster::start();
    let config = cluster.config().timeout(Duration::from_secs(2));
    let queue = RedisQueue::connect_with(&config).await.unwrap();
    let handled: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let store = RedisQueue::connect_with(&config).await.unwrap();
        // Leases longer than the failover: a lease does not end while Redis is away.
        let options = quick()
            .concurrency(CONCURRENCY)
            .visibility(Duration::from_secs(8));
        let seen = handled.clone();
        workers.push(spawn_worker(Worker::new(store, options), move |e| {
            let seen = seen.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                *seen.lock().unwrap().entry(e.id.clone()).or_default() += 1;
                Ok(())
            }
        }));
    }
    let master = cluster.master_of("{wix-inbox:queue}:stream");
    let started = Instant::now();
    let mut failed_appends = 0;
    for i in 0..EVENTS {
        if i == EVENTS / 2 {
            cluster.kill(master);
        }
        let e = event(&format!("e{i}"), &format!("c{}", i % 20));
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Err(error) = append_event(&queue, &default_lane_key(), &e).await {
            assert!(Instant::now() < deadline, "e{i} never stored: {error}");
            failed_appends += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(
        failed_appends > 0,
        "the failover was not seen by the appends"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while handled.lock().unwrap().len() < EVENTS {
        if Instant::now() > deadline {
            let seen = handled.lock().unwrap().clone();
            let missing: Vec<usize> = (0..EVENTS)
                .filter(|i| !seen.contains_key(&format!("e{i}")))
                .collect();
            panic!(
                "not handed on: {missing:?}; queue: {:?}",
                queue.stats().await
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A moment for late deliveries (an entry whose ack was lost, taken over again) to show.
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.wait_ok(Duration::from_secs(30));
    assert_ne!(
        cluster.master_of("{wix-inbox:queue}:stream"),
        master,
        "the replica took over"
    );
    let handled = handled.lock().unwrap().clone();
    let twice: usize = handled.values().map(|n| n - 1).sum();
    eprintln!(
        "failover: {failed_appends} appends retried, {twice} events handed on twice, all in {:?}",
        started.elapsed()
    );
    assert!(
        twice <= WORKERS * CONCURRENCY,
        "{twice} events handed on again: more than were in flight"
    );
    let stats = queue.stats().await.unwrap();
    assert_eq!(stats.length as usize, EVENTS, "{stats:?}");
    for (stop, task) in workers {
        let _ = stop.send(());
        let _ = task.await;
    }
}

/// `RedisQueue::wait_for_replicas(1, …)`: an append is acknowledged only once the replica of
/// the queue's master holds it. With the replica frozen (SIGSTOP) the append is refused
/// (`Unavailable`) where a queue without the option acknowledges it from the master alone; the
/// appends acknowledged with the option survive the master's SIGKILL and the failover. Prints
/// what the option costs per append.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_wait_for_replicas_an_acknowledged_append_survives_the_master_s_death() {
    const ACKNOWLEDGED: usize = 200;
    let mut cluster = RedisCluster::start();
    let config = cluster.config().timeout(Duration::from_secs(2));
    let plain = RedisQueue::connect_with(&config).await.unwrap();
    let waiting = RedisQueue::connect_with(&config)
        .await
        .unwrap()
        .wait_for_replicas(1, Duration::from_millis(300));

    // The cost: appends one after the other, alternating blocks with and without the option.
    let (mut with, mut without) = (Duration::ZERO, Duration::ZERO);
    let mut appended = 0;
    for block in 0..4 {
        for (queue, total) in [(&plain, &mut without), (&waiting, &mut with)] {
            let started = Instant::now();
            for i in 0..ACKNOWLEDGED / 8 {
                let e = event(&format!("b{block}-{appended}-{i}"), "c");
                append_event(queue, &default_lane_key(), &e).await.unwrap();
            }
            *total += started.elapsed();
            appended += 1;
        }
    }
    let per_block = u32::try_from(ACKNOWLEDGED / 2).unwrap();
    eprintln!(
        "append on a cluster, one after the other: {:.1?} without WAIT, {:.1?} with WAIT 1",
        without / per_block,
        with / per_block
    );

    let master = cluster.master_of("{wix-inbox:queue}:stream");
    let replica = cluster.replica_of(master);
    cluster.node(replica).signal("STOP");
    let refused = append_event(&waiting, &default_lane_key(), &event("unreplicated", "c")).await;
    let acknowledged_alone =
        append_event(&plain, &default_lane_key(), &event("master-only", "c")).await;
    cluster.node(replica).signal("CONT");
    assert!(
        matches!(refused, Err(wix_inbox::queue::QueueError::Unavailable(_))),
        "{refused:?}"
    );
    assert!(refused.unwrap_err().to_string().contains("0 of 1 replicas"));
    assert!(acknowledged_alone.is_ok(), "{acknowledged_alone:?}");

    // The replica catches up; then what the option acknowledged is on it when the master dies.
    for i in 0..10 {
        let e = event(&format!("last-{i}"), "c");
        append_event(&waiting, &default_lane_key(), &e)
            .await
            .unwrap();
    }
    let before = plain.stats().await.unwrap().length;
    cluster.kill(master);
    cluster.wait_for_new_master("{wix-inbox:queue}:stream", master, Duration::from_secs(30));
    cluster.wait_ok(Duration::from_secs(30));
    let after = RedisQueue::connect_with(&config)
        .await
        .unwrap()
        .stats()
        .await
        .unwrap()
        .length;
    assert_eq!(after, before, "events acknowledged with WAIT were lost");
}
