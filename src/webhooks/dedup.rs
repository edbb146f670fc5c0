//! Dropping redelivered events: Wix retries a delivery for up to 48 hours, so one event (one
//! event [`id`](super::WebhookEvent::id)) can arrive more than once.
//!
//! [`Deduplicator`] is the trait a store implements; [`InMemoryDeduplicator`] is the default,
//! for a single receiver process.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use moka::policy::EvictionPolicy;
use moka::sync::Cache;

/// Whether an event ID was seen before.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sighting {
    /// The first time: process the event.
    First,
    /// Seen before (within the store's memory): drop it, but still answer 200.
    Duplicate,
}

/// A store of event IDs that answers "seen before?" and records the ID in one atomic step.
///
/// Implementations must be atomic: when many requests check the same ID at once, exactly one
/// gets [`Sighting::First`]. The methods return futures so that a shared store (Redis, a
/// database) can be used; the in-memory one answers at once.
///
/// ```
/// use wix_inbox::webhooks::{Deduplicator, InMemoryDeduplicator, Sighting};
/// # async fn demo() {
/// let seen = InMemoryDeduplicator::new();
/// assert_eq!(seen.check_and_insert("event-1").await, Sighting::First);
/// assert_eq!(seen.check_and_insert("event-1").await, Sighting::Duplicate);
/// # }
/// ```
pub trait Deduplicator: Send + Sync + 'static {
    /// Records `event_id` and tells whether it had been recorded before.
    fn check_and_insert(&self, event_id: &str) -> impl Future<Output = Sighting> + Send;

    /// Forgets `event_id`, so that a redelivery is processed again. A receiver calls it when
    /// it could not hand an accepted event on (and so asked Wix to retry).
    fn forget(&self, event_id: &str) -> impl Future<Output = ()> + Send;
}

impl<D: Deduplicator> Deduplicator for Arc<D> {
    fn check_and_insert(&self, event_id: &str) -> impl Future<Output = Sighting> + Send {
        (**self).check_and_insert(event_id)
    }

    fn forget(&self, event_id: &str) -> impl Future<Output = ()> + Send {
        (**self).forget(event_id)
    }
}

/// The default window: Wix retries for up to 48 hours.
pub const DEFAULT_TTL: Duration = Duration::from_secs(48 * 60 * 60);

/// The default number of IDs kept: 100,000.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// The longest time to live the store accepts (moka's limit is 1,000 years); longer ones are
/// shortened to it.
const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// An in-process [`Deduplicator`]: remembers each event ID for a time to live (48 hours by
/// default) in bounded memory. When full it forgets the least recently seen ID first.
///
/// The IDs are kept in a [moka](https://docs.rs/moka) cache, a concurrent map bounded by
/// count and expiring by age: check-and-insert is atomic per ID (when many requests check one
/// ID at once, exactly one records it), forgetting removes the ID and its capacity with it, and
/// requests for different IDs do not wait for one another. Clones share the cache. The `_now`
/// methods are the same operations, synchronous.
#[derive(Clone)]
pub struct InMemoryDeduplicator {
    seen: Cache<String, ()>,
}

impl std::fmt::Debug for InMemoryDeduplicator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the IDs: there may be 100,000 of them.
        let policy = self.seen.policy();
        f.debug_struct("InMemoryDeduplicator")
            .field("ttl", &policy.time_to_live())
            .field("capacity", &policy.max_capacity())
            .finish_non_exhaustive()
    }
}

impl Default for InMemoryDeduplicator {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryDeduplicator {
    /// A store with [`DEFAULT_TTL`] and [`DEFAULT_CAPACITY`].
    pub fn new() -> Self {
        Self::with_limits(DEFAULT_TTL, DEFAULT_CAPACITY)
    }

    /// A store that remembers an ID for `ttl` (at most 100 years) and keeps at most
    /// `capacity` IDs (at least 1).
    pub fn with_limits(ttl: Duration, capacity: usize) -> Self {
        let capacity = u64::try_from(capacity.max(1)).unwrap_or(u64::MAX);
        InMemoryDeduplicator {
            seen: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl.min(MAX_TTL))
                // Least recently seen first. The default, TinyLFU, may refuse to admit a new
                // key into a full cache, and a new event ID must always be remembered.
                .eviction_policy(EvictionPolicy::lru())
                .build(),
        }
    }

    /// How many IDs are remembered now. It first applies pending evictions and expiries, so
    /// it costs more than a lookup.
    pub fn len(&self) -> usize {
        self.seen.run_pending_tasks();
        usize::try_from(self.seen.entry_count()).unwrap_or(usize::MAX)
    }

    /// Whether no ID is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`Deduplicator::check_and_insert`], synchronously.
    pub fn check_and_insert_now(&self, event_id: &str) -> Sighting {
        // `or_insert_with` (unlike `or_insert`) makes concurrent callers for one key wait for
        // the one that inserts, so exactly one of them sees a fresh entry.
        if self
            .seen
            .entry_by_ref(event_id)
            .or_insert_with(|| ())
            .is_fresh()
        {
            Sighting::First
        } else {
            Sighting::Duplicate
        }
    }

    /// [`Deduplicator::forget`], synchronously.
    pub fn forget_now(&self, event_id: &str) {
        self.seen.invalidate(event_id);
    }
}

impl Deduplicator for InMemoryDeduplicator {
    fn check_and_insert(&self, event_id: &str) -> impl Future<Output = Sighting> + Send {
        std::future::ready(self.check_and_insert_now(event_id))
    }

    fn forget(&self, event_id: &str) -> impl Future<Output = ()> + Send {
        self.forget_now(event_id);
        std::future::ready(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_when_full() {
        let d = InMemoryDeduplicator::with_limits(DEFAULT_TTL, 2);
        assert_eq!(d.check_and_insert_now("a"), Sighting::First);
        assert_eq!(d.check_and_insert_now("b"), Sighting::First);
        assert_eq!(d.check_and_insert_now("c"), Sighting::First);
        assert_eq!(d.len(), 2);
        assert_eq!(d.check_and_insert_now("c"), Sighting::Duplicate);
        assert_eq!(d.check_and_insert_now("a"), Sighting::First);
    }

    #[test]
    fn expires_after_ttl() {
        let d = InMemoryDeduplicator::with_limits(Duration::from_millis(20), 10);
        assert_eq!(d.check_and_insert_now("a"), Sighting::First);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(d.check_and_insert_now("a"), Sighting::First);
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn limits_out_of_range_do_not_panic() {
        let d = InMemoryDeduplicator::with_limits(Duration::MAX, usize::MAX);
        assert_eq!(d.check_and_insert_now("a"), Sighting::First);
        assert_eq!(d.check_and_insert_now("a"), Sighting::Duplicate);
        let d = InMemoryDeduplicator::with_limits(Duration::ZERO, 0);
        assert_eq!(d.check_and_insert_now("a"), Sighting::First);
        assert_eq!(d.check_and_insert_now("a"), Sighting::First);
    }

    #[test]
    fn debug_shows_limits_not_ids() {
        let d = InMemoryDeduplicator::with_limits(Duration::from_secs(5), 7);
        d.check_and_insert_now("secret-event-id");
        let text = format!("{d:?}");
        assert!(text.contains("capacity: Some(7)"), "{text}");
        assert!(text.contains("5s"), "{text}");
        assert!(!text.contains("secret-event-id"), "{text}");
    }

    #[test]
    fn forget_then_seen_again() {
        let d = InMemoryDeduplicator::new();
        assert_eq!(d.check_and_insert_now("a"), Sighting::First);
        d.forget_now("a");
        assert_eq!(d.check_and_insert_now("a"), Sighting::First);
        assert_eq!(d.check_and_insert_now("a"), Sighting::Duplicate);
    }
}
