//! Exactly-once under concurrency.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use wix_inbox::webhooks::{Deduplicator, InMemoryDeduplicator, Sighting};

/// A thousand concurrent checks of each ID, from 8 OS threads (not 1,000: a container's
/// thread limit must not break the test), over 50 IDs: exactly one first sighting each.
#[test]
fn concurrent_threads_one_first_sighting_per_id() {
    const THREADS: usize = 8;
    const IDS: usize = 50;
    const CHECKS_PER_THREAD: usize = 125;
    let dedup = InMemoryDeduplicator::new();
    let firsts: Vec<AtomicUsize> = (0..IDS).map(|_| AtomicUsize::new(0)).collect();
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for (id, first) in firsts.iter().enumerate() {
                    barrier.wait();
                    for _ in 0..CHECKS_PER_THREAD {
                        if dedup.check_and_insert_now(&format!("event-{id}")) == Sighting::First {
                            first.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            });
        }
    });
    for (id, count) in firsts.iter().enumerate() {
        assert_eq!(count.load(Ordering::SeqCst), 1, "event-{id}");
    }
    assert_eq!(dedup.len(), IDS);
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

/// Issue 16, bug 3: forgetting an ID and recording it again must not use up capacity, or
/// forget-and-reinsert cycles evict live IDs early.
#[test]
fn forget_and_reinsert_cycles_do_not_evict_live_ids() {
    let dedup = InMemoryDeduplicator::with_limits(std::time::Duration::from_secs(3600), 3);
    assert_eq!(dedup.check_and_insert_now("a"), Sighting::First);
    assert_eq!(dedup.check_and_insert_now("b"), Sighting::First);
    for _ in 0..2 {
        dedup.forget_now("b");
        assert_eq!(dedup.check_and_insert_now("b"), Sighting::First);
    }
    assert_eq!(dedup.len(), 2);
    assert_eq!(dedup.check_and_insert_now("a"), Sighting::Duplicate);
    assert_eq!(dedup.check_and_insert_now("b"), Sighting::Duplicate);
    // Room for one more ID without losing either.
    assert_eq!(dedup.check_and_insert_now("c"), Sighting::First);
    assert_eq!(dedup.check_and_insert_now("a"), Sighting::Duplicate);
    assert_eq!(dedup.check_and_insert_now("b"), Sighting::Duplicate);
    assert_eq!(dedup.check_and_insert_now("c"), Sighting::Duplicate);
    assert_eq!(dedup.len(), 3);
}

/// The defaults the README promises: 48 hours, 100,000 IDs; a time to live past 100 years is
/// shortened to 100 years instead of panicking.
#[test]
fn defaults_and_limits() {
    use std::time::Duration;
    use wix_inbox::webhooks::{DEFAULT_CAPACITY, DEFAULT_TTL};
    assert_eq!(DEFAULT_TTL, Duration::from_secs(48 * 3600));
    assert_eq!(DEFAULT_CAPACITY, 100_000);
    let text = format!("{:?}", InMemoryDeduplicator::new());
    assert_eq!(
        text,
        "InMemoryDeduplicator { ttl: Some(172800s), capacity: Some(100000), .. }"
    );
    let century = Duration::from_secs(100 * 365 * 24 * 3600);
    let text = format!(
        "{:?}",
        InMemoryDeduplicator::with_limits(Duration::MAX, usize::MAX)
    );
    assert!(text.contains(&format!("ttl: Some({century:?})")), "{text}");
    let text = format!(
        "{:?}",
        InMemoryDeduplicator::with_limits(century + Duration::from_secs(1), 0)
    );
    assert!(text.contains(&format!("ttl: Some({century:?})")), "{text}");
    assert!(text.contains("capacity: Some(1)"), "{text}");
}

#[test]
fn empty_until_an_id_is_recorded() {
    let dedup = InMemoryDeduplicator::new();
    assert!(dedup.is_empty());
    assert_eq!(dedup.len(), 0);
    dedup.check_and_insert_now("a");
    assert!(!dedup.is_empty());
    assert_eq!(dedup.len(), 1);
    dedup.forget_now("a");
    assert!(dedup.is_empty());
}

/// An ID is remembered for its time to live, then seen as new. (moka keeps its own clock, so
/// this sleeps; the time to live is long enough for a loaded machine to check twice within it.)
#[test]
fn ids_expire_after_their_time_to_live() {
    let dedup = InMemoryDeduplicator::with_limits(std::time::Duration::from_millis(500), 10);
    assert_eq!(dedup.check_and_insert_now("a"), Sighting::First);
    assert_eq!(dedup.check_and_insert_now("a"), Sighting::Duplicate);
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert_eq!(dedup.check_and_insert_now("a"), Sighting::First);
    assert_eq!(dedup.check_and_insert_now("a"), Sighting::Duplicate);
}

/// The async trait methods are the synchronous ones.
#[tokio::test]
async fn the_trait_forgets_too() {
    let dedup = Arc::new(InMemoryDeduplicator::new());
    assert_eq!(dedup.check_and_insert("a").await, Sighting::First);
    assert_eq!(dedup.check_and_insert("a").await, Sighting::Duplicate);
    dedup.forget("a").await;
    assert_eq!(dedup.check_and_insert("a").await, Sighting::First);
    assert_eq!(dedup.check_and_insert_now("a"), Sighting::Duplicate);
}
