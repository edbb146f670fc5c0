//! Exactly-once under concurrency.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use wix_inbox::webhooks::{Deduplicator, InMemoryDeduplicator, Sighting};

#[test]
fn a_thousand_threads_one_first_sighting() {
    let dedup = InMemoryDeduplicator::new();
    let firsts = AtomicUsize::new(0);
    let barrier = Barrier::new(1000);
    std::thread::scope(|s| {
        for _ in 0..1000 {
            s.spawn(|| {
                barrier.wait();
                if dedup.check_and_insert_now("the-event") == Sighting::First {
                    firsts.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    assert_eq!(firsts.into_inner(), 1);
    assert_eq!(dedup.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_tasks_one_first_sighting() {
    let dedup = Arc::new(InMemoryDeduplicator::new());
    let barrier = Arc::new(tokio::sync::Barrier::new(1000));
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let (dedup, barrier) = (Arc::clone(&dedup), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                dedup.check_and_insert("the-event").await
            })
        })
        .collect();
    let mut firsts = 0;
    for task in tasks {
        if task.await.unwrap() == Sighting::First {
            firsts += 1;
        }
    }
    assert_eq!(firsts, 1);
}

#[test]
fn memory_stays_bounded() {
    let dedup = InMemoryDeduplicator::with_limits(std::time::Duration::from_secs(3600), 1000);
    for i in 0..10_000 {
        assert_eq!(dedup.check_and_insert_now(&i.to_string()), Sighting::First);
    }
    assert_eq!(dedup.len(), 1000);
    assert_eq!(dedup.check_and_insert_now("9999"), Sighting::Duplicate);
    assert_eq!(dedup.check_and_insert_now("0"), Sighting::First);
}
