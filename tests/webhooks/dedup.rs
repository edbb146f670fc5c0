//! Claims with leases: exactly one first claim under concurrency, leases that end on tokio's
//! (paused) clock, completion and release only by the holder, bounded memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use wix_inbox::webhooks::{Claim, Deduplicator, InMemoryDeduplicator, Lease};

fn first(claim: Claim) -> Lease {
    match claim {
        Claim::First(lease) => lease,
        other => panic!("expected a first claim, got {other:?}"),
    }
}

/// Claims and completes `id`: the way a receiver records an event handed on.
fn done(dedup: &InMemoryDeduplicator, id: &str) {
    dedup.complete_now(&first(dedup.claim_now(id))).unwrap();
}

/// A thousand concurrent claims of each ID, from 8 OS threads (not 1,000: a container's
/// thread limit must not break the test), over 50 IDs: exactly one first claim each.
#[test]
fn concurrent_threads_one_first_claim_per_id() {
    const THREADS: usize = 8;
    const IDS: usize = 50;
    const CLAIMS_PER_THREAD: usize = 125;
    let dedup = InMemoryDeduplicator::new();
    let firsts: Vec<AtomicUsize> = (0..IDS).map(|_| AtomicUsize::new(0)).collect();
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for (id, first) in firsts.iter().enumerate() {
                    barrier.wait();
                    for _ in 0..CLAIMS_PER_THREAD {
                        match dedup.claim_now(&format!("event-{id}")) {
                            Claim::First(_) => {
                                first.fetch_add(1, Ordering::SeqCst);
                            }
                            Claim::InProgressElsewhere => {}
                            Claim::Done => panic!("nobody completed event-{id}"),
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
async fn a_thousand_tasks_one_first_claim() {
    let dedup = Arc::new(InMemoryDeduplicator::new());
    let barrier = Arc::new(tokio::sync::Barrier::new(1000));
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let (dedup, barrier) = (Arc::clone(&dedup), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                dedup.claim("the-event").await.unwrap()
            })
        })
        .collect();
    let mut firsts = 0;
    for task in tasks {
        match task.await.unwrap() {
            Claim::First(_) => firsts += 1,
            Claim::InProgressElsewhere => {}
            Claim::Done => panic!("nobody completed the event"),
        }
    }
    assert_eq!(firsts, 1);
}

/// The protocol through the trait: first, in progress, done; a released claim lets the next
/// claim through.
#[tokio::test]
async fn claim_complete_release_through_the_trait() {
    let dedup = Arc::new(InMemoryDeduplicator::new());
    let lease = first(dedup.claim("a").await.unwrap());
    assert_eq!(lease.event_id(), "a");
    assert_eq!(lease.duration(), Duration::from_secs(60));
    assert_eq!(dedup.claim("a").await.unwrap(), Claim::InProgressElsewhere);
    dedup.complete(&lease).await.unwrap();
    assert_eq!(dedup.claim("a").await.unwrap(), Claim::Done);
    // A completed claim cannot be released or completed again.
    assert!(dedup.release(&lease).await.unwrap_err().is_lease_lost());
    assert!(dedup.complete(&lease).await.unwrap_err().is_lease_lost());
    assert_eq!(dedup.claim("a").await.unwrap(), Claim::Done);

    let lease = first(dedup.claim("b").await.unwrap());
    dedup.release(&lease).await.unwrap();
    let again = first(dedup.claim("b").await.unwrap());
    assert_ne!(again.token(), lease.token());
    assert!(dedup.complete(&lease).await.unwrap_err().is_lease_lost());
    dedup.complete(&again).await.unwrap();
    assert_eq!(dedup.claim("b").await.unwrap(), Claim::Done);
}

/// A lease that ends (the holder died) lets exactly one redelivery through; the paused clock
/// ends it.
#[tokio::test(start_paused = true)]
async fn an_ended_lease_lets_exactly_one_redelivery_through() {
    let dedup = Arc::new(InMemoryDeduplicator::new().lease(Duration::from_secs(30)));
    let dead = first(dedup.claim("evt").await.unwrap());
    tokio::time::advance(Duration::from_secs(29)).await;
    assert_eq!(
        dedup.claim("evt").await.unwrap(),
        Claim::InProgressElsewhere
    );
    tokio::time::advance(Duration::from_secs(2)).await;

    let claims: Vec<Claim> = futures_util::future::join_all((0..100).map(|_| {
        let dedup = Arc::clone(&dedup);
        async move { dedup.claim("evt").await.unwrap() }
    }))
    .await;
    let mut leases: Vec<Lease> = claims
        .into_iter()
        .filter_map(|c| match c {
            Claim::First(lease) => Some(lease),
            Claim::InProgressElsewhere => None,
            Claim::Done => panic!("not done"),
        })
        .collect();
    assert_eq!(leases.len(), 1);
    let new = leases.pop().unwrap();

    // The stale holder comes back: it can neither complete nor release the new claim.
    assert!(dedup.complete(&dead).await.unwrap_err().is_lease_lost());
    assert!(dedup.release(&dead).await.unwrap_err().is_lease_lost());
    assert_eq!(
        dedup.claim("evt").await.unwrap(),
        Claim::InProgressElsewhere
    );
    dedup.complete(&new).await.unwrap();
    assert_eq!(dedup.claim("evt").await.unwrap(), Claim::Done);
}

/// A holder whose lease ended cannot complete even when nobody claimed since: the claim is no
/// longer its (as with a shared store, where the key is gone).
#[tokio::test(start_paused = true)]
async fn an_ended_lease_cannot_complete() {
    let dedup = InMemoryDeduplicator::new().lease(Duration::from_secs(5));
    let lease = first(dedup.claim_now("evt"));
    tokio::time::advance(Duration::from_secs(6)).await;
    let err = dedup.complete_now(&lease).unwrap_err();
    assert!(err.is_lease_lost());
    assert_eq!(
        err.to_string(),
        "the claim on event \"evt\" is not held any more (its lease ended)"
    );
    assert!(matches!(dedup.claim_now("evt"), Claim::First(_)));
}

#[test]
fn memory_stays_bounded() {
    let dedup = InMemoryDeduplicator::with_limits(Duration::from_secs(3600), 1000);
    for i in 0..10_000 {
        done(&dedup, &i.to_string());
    }
    assert_eq!(dedup.len(), 1000);
    assert_eq!(dedup.claim_now("9999"), Claim::Done);
    assert!(matches!(dedup.claim_now("0"), Claim::First(_)));
}

/// Issue 16, bug 3: releasing a claim and claiming again must not use up capacity, or
/// release-and-claim cycles evict live IDs early.
#[test]
fn release_and_claim_cycles_do_not_evict_live_ids() {
    let dedup = InMemoryDeduplicator::with_limits(Duration::from_secs(3600), 3);
    done(&dedup, "a");
    let mut b = first(dedup.claim_now("b"));
    for _ in 0..2 {
        dedup.release_now(&b).unwrap();
        b = first(dedup.claim_now("b"));
    }
    dedup.complete_now(&b).unwrap();
    assert_eq!(dedup.len(), 2);
    assert_eq!(dedup.claim_now("a"), Claim::Done);
    assert_eq!(dedup.claim_now("b"), Claim::Done);
    // Room for one more ID without losing either.
    done(&dedup, "c");
    for id in ["a", "b", "c"] {
        assert_eq!(dedup.claim_now(id), Claim::Done, "{id}");
    }
    assert_eq!(dedup.len(), 3);
}

/// The defaults the README promises: 48 hours, 100,000 IDs, 60 s leases; a time to live past
/// 100 years is shortened to 100 years instead of panicking.
#[test]
fn defaults_and_limits() {
    use wix_inbox::webhooks::{DEFAULT_CAPACITY, DEFAULT_LEASE, DEFAULT_TTL};
    assert_eq!(DEFAULT_TTL, Duration::from_secs(48 * 3600));
    assert_eq!(DEFAULT_CAPACITY, 100_000);
    assert_eq!(DEFAULT_LEASE, Duration::from_secs(60));
    let text = format!("{:?}", InMemoryDeduplicator::new());
    assert_eq!(
        text,
        "InMemoryDeduplicator { ttl: Some(172800s), capacity: Some(100000), lease: 60s, .. }"
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

    // Leases: 60 s by default, as set, and at most a year.
    assert_eq!(InMemoryDeduplicator::new().get_lease(), DEFAULT_LEASE);
    let five = Duration::from_secs(5);
    assert_eq!(InMemoryDeduplicator::new().lease(five).get_lease(), five);
    let year = Duration::from_secs(365 * 24 * 3600);
    assert_eq!(
        InMemoryDeduplicator::new().lease(Duration::MAX).get_lease(),
        year
    );
}

#[test]
fn empty_until_an_id_is_claimed() {
    let dedup = InMemoryDeduplicator::new();
    assert!(dedup.is_empty());
    assert_eq!(dedup.len(), 0);
    let lease = first(dedup.claim_now("a"));
    assert!(!dedup.is_empty());
    assert_eq!(dedup.len(), 1);
    dedup.release_now(&lease).unwrap();
    assert!(dedup.is_empty());
}

/// A done ID is remembered for its time to live, then claimed as new. (moka keeps its own
/// clock, so this sleeps; the time to live is long enough for a loaded machine to check twice
/// within it.)
#[test]
fn done_ids_expire_after_their_time_to_live() {
    let dedup = InMemoryDeduplicator::with_limits(Duration::from_millis(500), 10);
    done(&dedup, "a");
    assert_eq!(dedup.claim_now("a"), Claim::Done);
    std::thread::sleep(Duration::from_millis(600));
    done(&dedup, "a");
    assert_eq!(dedup.claim_now("a"), Claim::Done);
}

/// A lease's `Debug` names the event and the duration, never the token (whoever has it can
/// complete or release the claim).
#[test]
fn lease_debug_hides_the_token() {
    let lease = Lease::new("event-7", "secret-token-123", Duration::from_secs(60));
    let text = format!("{lease:?}");
    assert!(text.contains("event-7"), "{text}");
    assert!(text.contains("60s"), "{text}");
    assert!(!text.contains("secret-token-123"), "{text}");
}

/// Only a lost lease is a lost lease; each error says what it is and keeps its cause.
#[test]
fn dedup_errors_say_what_they_are() {
    use std::error::Error as _;
    use wix_inbox::webhooks::DedupError;
    let lost = DedupError::LeaseLost {
        event_id: "e1".into(),
    };
    assert!(lost.is_lease_lost());
    assert!(lost.source().is_none());
    assert!(lost.to_string().contains("\"e1\""), "{lost}");
    for (error, prefix) in [
        (
            DedupError::unavailable("connection refused"),
            "de-duplication store unavailable: ",
        ),
        (
            DedupError::store("WRONGTYPE"),
            "de-duplication store error: ",
        ),
    ] {
        assert!(!error.is_lease_lost(), "{error}");
        assert!(error.to_string().starts_with(prefix), "{error}");
        assert!(error.source().is_some(), "{error}");
    }
}
