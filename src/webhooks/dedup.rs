//! De-duplicating deliveries with claims and leases (see [`Deduplicator`] for the protocol and
//! the guarantee).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use moka::ops::compute::Op;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use tokio::time::Instant;

/// A claim held on an event ID: who holds it (a token unique to this claim) and for how long.
///
/// Given by [`Deduplicator::claim`] as [`Claim::First`]; hand it back to
/// [`complete`](Deduplicator::complete) or [`release`](Deduplicator::release). A store
/// completes or releases a claim only while the token it holds for the ID is this lease's.
#[derive(Clone, PartialEq, Eq)]
pub struct Lease {
    event_id: String,
    token: String,
    duration: Duration,
}

impl Lease {
    /// A lease on `event_id` held with `token` for `duration`: for stores implementing
    /// [`Deduplicator`]. The token must be unique to the claim among every process sharing the
    /// store.
    pub fn new(event_id: impl Into<String>, token: impl Into<String>, duration: Duration) -> Self {
        Lease {
            event_id: event_id.into(),
            token: token.into(),
            duration,
        }
    }

    /// The event ID claimed.
    pub fn event_id(&self) -> &str {
        &self.event_id
    }

    /// The token that identifies this claim in the store.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// How long the claim holds, from when it was taken.
    pub fn duration(&self) -> Duration {
        self.duration
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the token: whoever has it can complete or release the claim.
        f.debug_struct("Lease")
            .field("event_id", &self.event_id)
            .field("duration", &self.duration)
            .finish_non_exhaustive()
    }
}

/// What claiming an event ID found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Nobody holds the ID and it is not done: it is now claimed for the lease's duration.
    /// Hand the event on, then [`complete`](Deduplicator::complete) or
    /// [`release`](Deduplicator::release) the lease.
    First(Lease),
    /// Another claim on the ID holds (another request or process is handing it on now).
    InProgressElsewhere,
    /// The event was handed on and its claim completed.
    Done,
}

/// Why a [`Deduplicator`] could not answer.
///
/// A store error says nothing about the event ID: a receiver must not treat it as first (it
/// may be a duplicate) nor as a duplicate (it may never have been handled); it asks Wix to
/// retry. Messages never hold connection URLs or passwords.
#[derive(Debug)]
#[non_exhaustive]
pub enum DedupError {
    /// The store could not be reached or did not answer in time (connection lost, refused,
    /// timed out). The client reconnects; a later call may succeed.
    Unavailable(Box<dyn std::error::Error + Send + Sync>),
    /// The store answered with an error, or with an answer that makes no sense.
    Store(Box<dyn std::error::Error + Send + Sync>),
    /// The claim is not held any more: its lease ended (and another claim may have been taken
    /// since). Nothing was changed.
    LeaseLost {
        /// The event ID of the lease.
        event_id: String,
    },
}

impl DedupError {
    /// A [`DedupError::Unavailable`] from a store client's error.
    pub fn unavailable(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        DedupError::Unavailable(error.into())
    }

    /// A [`DedupError::Store`] from a store client's error.
    pub fn store(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        DedupError::Store(error.into())
    }

    /// Whether the error is [`DedupError::LeaseLost`].
    pub fn is_lease_lost(&self) -> bool {
        matches!(self, DedupError::LeaseLost { .. })
    }
}

impl std::fmt::Display for DedupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DedupError::Unavailable(e) => write!(f, "de-duplication store unavailable: {e}"),
            DedupError::Store(e) => write!(f, "de-duplication store error: {e}"),
            DedupError::LeaseLost { event_id } => write!(
                f,
                "the claim on event {event_id:?} is not held any more (its lease ended)"
            ),
        }
    }
}

impl std::error::Error for DedupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DedupError::Unavailable(e) | DedupError::Store(e) => Some(&**e),
            DedupError::LeaseLost { .. } => None,
        }
    }
}

/// A store of claims on event IDs: Wix retries a delivery that did not get a 200 within
/// 1,250 ms, up to 12 more times over about 47 hours, so one event (one event
/// [`id`](super::WebhookEvent::id)) can arrive more than once, even at two processes at once.
/// [`InMemoryDeduplicator`] serves a single process; `wix_inbox::redis::RedisDeduplicator`
/// (feature `redis`) several.
///
/// # Claims, not marks
///
/// An event ID is not marked as seen when it arrives: it is *claimed*, with a lease. The holder
/// hands the event on (to a queue, a handler, an app), then *completes* the claim, which marks
/// the ID as done for the store's time to live; or, when handing it on failed, *releases* it, so
/// that Wix's next retry is handled. A holder that dies holds its claim only until the lease
/// ends; then a redelivery is handled again. A store error is an error ([`DedupError`]), never
/// guessed as "first" or "duplicate".
///
/// # The guarantee
///
/// With a receiver that answers 200 only after the event was handed on (as
/// [`WebhookReceiver`](super::axum::WebhookReceiver) does):
///
/// - **at least once**: every event Wix delivers is handed on at least once, as long as Wix
///   keeps retrying (about 47 hours) and the store works at some point in that time;
/// - **never twice while the lease holds**: two holders never hand one event on at once, and an
///   event whose claim was completed is not handed on again while the store remembers it.
///
/// An event *can* be handed on twice when a holder hands it on and then cannot complete the
/// claim (it died, the store failed, or handing on took longer than the lease): after the lease
/// a redelivery is handed on again. Make the consumer idempotent by event ID if that matters;
/// keep the handling well within the lease.
///
/// # Implementing it
///
/// Implementations must be atomic: when many requests claim one ID at once, exactly one gets
/// [`Claim::First`]; completing and releasing change the store only while the ID's claim is
/// still the lease's (same token, lease not ended), and answer [`DedupError::LeaseLost`]
/// otherwise.
///
/// ```
/// use wix_inbox::webhooks::{Claim, Deduplicator, InMemoryDeduplicator};
/// # async fn demo() -> Result<(), wix_inbox::webhooks::DedupError> {
/// let store = InMemoryDeduplicator::new();
/// let Claim::First(lease) = store.claim("event-1").await? else { unreachable!() };
/// assert_eq!(store.claim("event-1").await?, Claim::InProgressElsewhere);
/// // ... hand the event on, then:
/// store.complete(&lease).await?;
/// assert_eq!(store.claim("event-1").await?, Claim::Done);
/// # Ok(()) }
/// ```
pub trait Deduplicator: Send + Sync + 'static {
    /// Claims `event_id` for this store's lease, or tells why not.
    fn claim(&self, event_id: &str) -> impl Future<Output = Result<Claim, DedupError>> + Send;

    /// Marks the lease's event as done (handed on): claims of it answer [`Claim::Done`] for
    /// the store's time to live.
    fn complete(&self, lease: &Lease) -> impl Future<Output = Result<(), DedupError>> + Send;

    /// Gives the claim up (handing the event on failed), so that a redelivery is handled.
    fn release(&self, lease: &Lease) -> impl Future<Output = Result<(), DedupError>> + Send;
}

impl<D: Deduplicator> Deduplicator for Arc<D> {
    fn claim(&self, event_id: &str) -> impl Future<Output = Result<Claim, DedupError>> + Send {
        (**self).claim(event_id)
    }

    fn complete(&self, lease: &Lease) -> impl Future<Output = Result<(), DedupError>> + Send {
        (**self).complete(lease)
    }

    fn release(&self, lease: &Lease) -> impl Future<Output = Result<(), DedupError>> + Send {
        (**self).release(lease)
    }
}

/// How long [`InMemoryDeduplicator`] remembers a done event ID by default: 48 hours (Wix
/// retries for about 47).
pub const DEFAULT_TTL: Duration = Duration::from_secs(48 * 60 * 60);

/// The default number of IDs kept: 100,000.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// How long a claim holds by default: 60 seconds. Handing an event on must take less; Wix
/// gives up waiting for an answer after 1,250 ms anyway.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// The longest time to live the store accepts (moka's limit is 1,000 years); longer ones are
/// shortened to it.
const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// The longest lease the store accepts: longer ones are shortened to it (an `Instant` plus a
/// lease must not overflow).
const MAX_LEASE: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// What the store holds for an event ID.
#[derive(Clone, Debug)]
enum Entry {
    /// Claimed with `token` until `until`.
    Held { token: u64, until: Instant },
    /// Handed on.
    Done,
}

/// Tokens of the in-memory store: unique within the process, which is all it serves.
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

/// An in-process [`Deduplicator`]: holds claims for a lease (60 s by default) and remembers
/// done event IDs for a time to live (48 hours by default) in bounded memory. When full it
/// forgets the least recently used ID first.
///
/// The IDs are kept in a [moka](https://docs.rs/moka) cache, a concurrent map bounded by count
/// and expiring by age: each operation on an ID is atomic (moka serialises computations on one
/// key), releasing removes the ID and frees its place, and requests for different IDs do not
/// wait for one another. Leases are timed with tokio's clock (`tokio::time::Instant`), so tests
/// can end them with a paused clock; the time to live is moka's own. Clones share the store.
/// The `_now` methods are the trait's operations, synchronous.
///
/// It serves one process: with several, use a shared store (`RedisDeduplicator`, feature
/// `redis`).
#[derive(Clone)]
pub struct InMemoryDeduplicator {
    ids: Cache<String, Entry>,
    lease: Duration,
}

impl std::fmt::Debug for InMemoryDeduplicator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the IDs: there may be 100,000 of them.
        let policy = self.ids.policy();
        f.debug_struct("InMemoryDeduplicator")
            .field("ttl", &policy.time_to_live())
            .field("capacity", &policy.max_capacity())
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl Default for InMemoryDeduplicator {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryDeduplicator {
    /// A store with [`DEFAULT_TTL`], [`DEFAULT_CAPACITY`] and [`DEFAULT_LEASE`].
    pub fn new() -> Self {
        Self::with_limits(DEFAULT_TTL, DEFAULT_CAPACITY)
    }

    /// A store that remembers an ID for `ttl` (at most 100 years) after it was last claimed or
    /// completed, and keeps at most `capacity` IDs (at least 1); leases of [`DEFAULT_LEASE`].
    pub fn with_limits(ttl: Duration, capacity: usize) -> Self {
        let capacity = u64::try_from(capacity.max(1)).unwrap_or(u64::MAX);
        InMemoryDeduplicator {
            ids: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl.min(MAX_TTL))
                // Least recently used first. The default, TinyLFU, may refuse to admit a new
                // key into a full cache, and a new claim must always be recorded.
                .eviction_policy(EvictionPolicy::lru())
                .build(),
            lease: DEFAULT_LEASE,
        }
    }

    /// Sets how long a claim holds (default [`DEFAULT_LEASE`], at most a year).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.min(MAX_LEASE);
        self
    }

    /// How long a claim holds (set with [`lease`](Self::lease)).
    pub fn get_lease(&self) -> Duration {
        self.lease
    }

    /// How many IDs are remembered now, claimed or done. It first applies pending evictions
    /// and expiries, so it costs more than a lookup.
    pub fn len(&self) -> usize {
        self.ids.run_pending_tasks();
        usize::try_from(self.ids.entry_count()).unwrap_or(usize::MAX)
    }

    /// Whether no ID is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`Deduplicator::claim`], synchronously; the in-memory store cannot fail.
    pub fn claim_now(&self, event_id: &str) -> Claim {
        let now = Instant::now();
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        let mut claim = Claim::Done;
        // Computations on one key run one at a time: exactly one concurrent claim finds the ID
        // free.
        self.ids.entry_by_ref(event_id).and_compute_with(|entry| {
            match entry.map(|e| e.into_value()) {
                Some(Entry::Done) => Op::Nop,
                Some(Entry::Held { until, .. }) if until > now => {
                    claim = Claim::InProgressElsewhere;
                    Op::Nop
                }
                // Free, or its lease ended.
                _ => {
                    claim = Claim::First(Lease::new(event_id, token.to_string(), self.lease));
                    Op::Put(Entry::Held {
                        token,
                        until: now + self.lease,
                    })
                }
            }
        });
        claim
    }

    /// [`Deduplicator::complete`], synchronously.
    pub fn complete_now(&self, lease: &Lease) -> Result<(), DedupError> {
        self.settle(lease, Op::Put(Entry::Done))
    }

    /// [`Deduplicator::release`], synchronously.
    pub fn release_now(&self, lease: &Lease) -> Result<(), DedupError> {
        self.settle(lease, Op::Remove)
    }

    /// Applies `op` to the lease's ID if the lease still holds it.
    fn settle(&self, lease: &Lease, op: Op<Entry>) -> Result<(), DedupError> {
        let now = Instant::now();
        let mine = lease.token.parse::<u64>().ok();
        let mut held = false;
        self.ids
            .entry_by_ref(lease.event_id.as_str())
            .and_compute_with(|entry| match entry.map(|e| e.into_value()) {
                Some(Entry::Held { token, until }) if Some(token) == mine => {
                    if until > now {
                        held = true;
                        op
                    } else {
                        // Ours, but ended: free its place; a claim would take it anyway.
                        Op::Remove
                    }
                }
                _ => Op::Nop,
            });
        if held {
            Ok(())
        } else {
            Err(DedupError::LeaseLost {
                event_id: lease.event_id.clone(),
            })
        }
    }
}

impl Deduplicator for InMemoryDeduplicator {
    fn claim(&self, event_id: &str) -> impl Future<Output = Result<Claim, DedupError>> + Send {
        std::future::ready(Ok(self.claim_now(event_id)))
    }

    fn complete(&self, lease: &Lease) -> impl Future<Output = Result<(), DedupError>> + Send {
        std::future::ready(self.complete_now(lease))
    }

    fn release(&self, lease: &Lease) -> impl Future<Output = Result<(), DedupError>> + Send {
        std::future::ready(self.release_now(lease))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(claim: Claim) -> Lease {
        match claim {
            Claim::First(lease) => lease,
            other => panic!("expected First, got {other:?}"),
        }
    }

    #[test]
    fn evicts_least_recently_used_when_full() {
        let d = InMemoryDeduplicator::with_limits(DEFAULT_TTL, 2);
        for id in ["a", "b", "c"] {
            d.complete_now(&first(d.claim_now(id))).unwrap();
        }
        assert_eq!(d.len(), 2);
        assert_eq!(d.claim_now("c"), Claim::Done);
        assert!(matches!(d.claim_now("a"), Claim::First(_)));
    }

    #[test]
    fn limits_out_of_range_do_not_panic() {
        let d = InMemoryDeduplicator::with_limits(Duration::MAX, usize::MAX).lease(Duration::MAX);
        let lease = first(d.claim_now("a"));
        assert_eq!(d.claim_now("a"), Claim::InProgressElsewhere);
        d.complete_now(&lease).unwrap();
        assert_eq!(d.claim_now("a"), Claim::Done);
        // Nothing is remembered: every claim is a first one.
        let d = InMemoryDeduplicator::with_limits(Duration::ZERO, 0);
        assert!(matches!(d.claim_now("a"), Claim::First(_)));
        assert!(matches!(d.claim_now("a"), Claim::First(_)));
    }

    #[test]
    fn debug_shows_limits_not_ids_or_tokens() {
        let d = InMemoryDeduplicator::with_limits(Duration::from_secs(5), 7);
        let lease = first(d.claim_now("secret-event-id"));
        let text = format!("{d:?}");
        assert!(text.contains("capacity: Some(7)"), "{text}");
        assert!(text.contains("5s"), "{text}");
        assert!(!text.contains("secret-event-id"), "{text}");
        let text = format!("{lease:?}");
        assert!(!text.contains(lease.token()), "{text}");
    }

    #[test]
    fn a_foreign_token_settles_nothing() {
        let d = InMemoryDeduplicator::new();
        let lease = first(d.claim_now("a"));
        let forged = Lease::new("a", "not-a-number", lease.duration());
        assert!(d.complete_now(&forged).unwrap_err().is_lease_lost());
        assert!(d.release_now(&forged).unwrap_err().is_lease_lost());
        assert_eq!(d.claim_now("a"), Claim::InProgressElsewhere);
        d.release_now(&lease).unwrap();
        assert!(matches!(d.claim_now("a"), Claim::First(_)));
    }
}
