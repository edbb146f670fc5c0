//! Dropping redelivered events: Wix retries a delivery for up to 48 hours, so one event (one
//! event [`id`](super::WebhookEvent::id)) can arrive more than once.
//!
//! [`Deduplicator`] is the trait a store implements; [`InMemoryDeduplicator`] is the default,
//! for a single receiver process.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

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

/// The default number of IDs kept: 100,000 (about 15 MB with 36-character IDs).
pub const DEFAULT_CAPACITY: usize = 100_000;

/// An in-process [`Deduplicator`]: remembers each event ID for a time to live (48 hours by
/// default) in bounded memory. When full it forgets the oldest ID first.
///
/// One mutex guards the table, so check-and-insert is atomic; it is held for a hash lookup and
/// an insert. Clones share the table. The `_now` methods are the same operations, synchronous.
#[derive(Clone, Debug)]
pub struct InMemoryDeduplicator {
    inner: Arc<Mutex<Table>>,
    ttl: Duration,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Table {
    /// ID → when it was recorded.
    seen: HashMap<Arc<str>, Instant>,
    /// IDs in the order they were recorded, oldest first.
    order: VecDeque<(Instant, Arc<str>)>,
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

    /// A store that remembers an ID for `ttl` and keeps at most `capacity` IDs (at least 1).
    pub fn with_limits(ttl: Duration, capacity: usize) -> Self {
        InMemoryDeduplicator {
            inner: Arc::default(),
            ttl,
            capacity: capacity.max(1),
        }
    }

    /// How many IDs are remembered now (expired ones may still count until the next insert).
    pub fn len(&self) -> usize {
        self.lock().seen.len()
    }

    /// Whether no ID is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`Deduplicator::check_and_insert`], synchronously.
    pub fn check_and_insert_now(&self, event_id: &str) -> Sighting {
        let now = Instant::now();
        let mut table = self.lock();
        table.evict(now, self.ttl, self.capacity);
        if let Some(&at) = table.seen.get(event_id) {
            if now.duration_since(at) < self.ttl {
                return Sighting::Duplicate;
            }
        }
        let id: Arc<str> = Arc::from(event_id);
        table.seen.insert(Arc::clone(&id), now);
        table.order.push_back((now, id));
        Sighting::First
    }

    /// [`Deduplicator::forget`], synchronously.
    pub fn forget_now(&self, event_id: &str) {
        // The entry in `order` stays until it ages out; `evict` skips it then.
        self.lock().seen.remove(event_id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // The table is consistent after every statement that can panic, so a poisoned lock
        // (a panic elsewhere while holding it) is safe to keep using.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Table {
    /// Drops expired IDs, then the oldest ones until there is room for one more.
    fn evict(&mut self, now: Instant, ttl: Duration, capacity: usize) {
        while let Some((at, _)) = self.order.front() {
            let expired = now.duration_since(*at) >= ttl;
            if !expired && self.order.len() < capacity {
                break;
            }
            if let Some((at, id)) = self.order.pop_front() {
                // Remove the ID only if this is its latest record (it may have been forgotten
                // and recorded again since).
                if self.seen.get(&id) == Some(&at) {
                    self.seen.remove(&id);
                }
            }
        }
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
    fn forget_then_seen_again() {
        let d = InMemoryDeduplicator::new();
        assert_eq!(d.check_and_insert_now("a"), Sighting::First);
        d.forget_now("a");
        assert_eq!(d.check_and_insert_now("a"), Sighting::First);
        assert_eq!(d.check_and_insert_now("a"), Sighting::Duplicate);
    }
}
