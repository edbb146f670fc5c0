//! A durable queue of verified webhook events: store first, answer Wix at once, handle later.
//!
//! Wix waits 1,250 ms for a webhook's 200 and otherwise resends it for about 47 hours, out of
//! order. A receiver in queue mode ([`WebhookReceiver::queue`](crate::webhooks::axum::WebhookReceiver::queue),
//! feature `axum`) verifies a delivery, **appends** the decoded event to a queue in one atomic
//! step (an event ID is appended at most once, whatever the number of receivers and
//! redeliveries) and answers 200 without waiting for any handler. [`Worker`]s then take the
//! events from the queue and hand them to your handler.
//!
//! - [`QueueStore`]: where the queue lives. [`InMemoryQueue`] (always available: tests, a
//!   single process, the fake) and `RedisQueue` (feature `redis`, in
//!   [`crate::redis`]): a Redis Stream read by a consumer group.
//! - Events are stored as the JSON the CLI prints for a [`WebhookEvent`], so that a replay
//!   never needs the token (nor its expiry) again.
//! - [`Worker`]: runs a handler on each event; acknowledges only after `Ok`; retries with
//!   backoff; after [`DEFAULT_MAX_DELIVERIES`] deliveries moves the event to the dead letters
//!   with its last error; takes over the events of a worker that died after the
//!   [visibility timeout](WorkerOptions::visibility); stops gracefully.
//!
//! # The guarantee
//!
//! Every event the queue stored is handled **at least once** (a handler that returned `Ok` is
//! not run again for that event, except when its worker could not acknowledge it, or after a
//! replay); an event is **never handled twice at the same time**; and within a **lane**
//! (by default one conversation of one app instance, see [`default_lane`]) events are handled
//! one at a time, in the order they were appended. Different lanes run in parallel. An event
//! whose handler keeps failing ends in the dead letters, from where it can be redriven.
//!
//! # How lanes survive workers that die
//!
//! The lane of an event is computed once, when it is appended, and stored with it; the store
//! keeps, per lane, the list of its entries not yet settled, in append order. A worker may
//! start an entry only when (1) the entry is pending for this worker, (2) it is the head of
//! its lane's list, and (3) it takes the lane's lock, a lease of one
//! [visibility timeout](WorkerOptions::visibility) that the worker renews while its handler
//! runs. Acknowledging (or dead-lettering) an entry removes it from its lane and frees the
//! lock in one atomic step, and only then can the next entry of the lane start. A worker that
//! dies stops renewing: its lock ends and its pending entries are taken over by other workers
//! (`XAUTOCLAIM`) after the visibility timeout; the lane resumes at the same entry. A worker
//! that is merely slow keeps renewing its lock, so the entry that was taken over waits and is
//! never run twice at once. A retried entry stays at the head of its lane during its backoff,
//! so later events of its conversation wait for it.
//!
//! # Metrics and trace
//!
//! [`append_event`] and the [`Worker`] record the `wix_inbox_queue_*` [metrics](crate::metrics)
//! (appended, duplicates, handler runs started, handled, failed by outcome, dead-lettered,
//! handler time, takeovers, lane waits; and, read from the store every
//! [`stats_every`](WorkerOptions::stats_every), the pending, undelivered, oldest-pending and
//! dead-letter gauges). The delivery's `traceparent` is stored with its event
//! ([`StoredEntry::trace`]); the worker runs the handler in a span `wix_inbox.queue.handle` of
//! that trace, with [`TraceContext::current`] set, so that the handling continues the
//! delivery's trace.
//!
//! # Redis
//!
//! Configure Redis with `appendonly yes` (and `appendfsync everysec` or `always`): an event
//! answered 200 is in Redis's memory, and only the append-only file keeps it through a
//! restart. All keys of one queue share the hash tag `{<name>}`, so each script touches one
//! hash slot and the queue works on Redis Cluster (one queue lives on one shard).
//!
//! **When to stay with the plain receiver:** when your handler is quick and in-process (well
//! under a second), the plain [`WebhookReceiver`](crate::webhooks::axum::WebhookReceiver)
//! is simpler: nothing else to run, and Wix's resends serve as its retries.

mod memory;
mod options;
mod worker;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use memory::InMemoryQueue;
pub use options::{Backoff, HandlerError, WorkerOptions};
pub use worker::Worker;

use crate::trace::TraceContext;
use crate::webhooks::{InboxEvent, WebhookEvent};

/// How many times an event is handed to a handler before it is dead-lettered: 5.
pub const DEFAULT_MAX_DELIVERIES: u32 = 5;

/// How long an event ID is remembered after it was appended, so that Wix's resends are not
/// appended again: 72 hours (Wix resends for about 47).
pub const DEFAULT_SEEN_TTL: Duration = Duration::from_secs(72 * 60 * 60);

/// How long appended events are retained for replay: 7 days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The most dead letters kept (the oldest are trimmed beyond): 100,000.
pub const MAX_DEAD_LETTERS: usize = 100_000;

/// How long appended entries are kept (handled or not), for replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retention {
    /// Entries older than this are trimmed (`XADD … MINID ~`).
    MaxAge(Duration),
    /// Only about this many of the newest entries are kept (`XADD … MAXLEN ~`).
    MaxLen(u64),
}

impl Default for Retention {
    fn default() -> Self {
        Retention::MaxAge(DEFAULT_RETENTION)
    }
}

/// The lane of an event: events of one lane are handled one at a time, in append order.
pub type LaneKey = Arc<dyn Fn(&WebhookEvent) -> Option<String> + Send + Sync>;

/// The default lane: the app instance and the event's conversation (for Conversations Merged,
/// the target), as `<instance ID>/<conversation ID>`; `None` (no lane: handled in parallel
/// with everything) for an event without a conversation.
pub fn default_lane(event: &WebhookEvent) -> Option<String> {
    let conversation = match &event.event {
        InboxEvent::MessageSentToBusiness(e) => e.conversation_id(),
        InboxEvent::MessageSentToParticipant(e) => e.conversation_id(),
        InboxEvent::ButtonInteracted(e) => e.conversation_id(),
        InboxEvent::ConversationsMerged(e) => e.target(),
        _ => None,
    }?;
    Some(format!(
        "{}/{conversation}",
        event.instance_id().unwrap_or_default()
    ))
}

/// An event appended to the queue, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    /// The entry's ID in the queue (a Redis Stream ID, `<milliseconds>-<sequence>`).
    pub id: String,
    /// The Wix event ID.
    pub event_id: String,
    /// Its lane, if any.
    pub lane: Option<String>,
    /// The event as JSON ([`WebhookEvent`]'s serialization).
    pub json: String,
    /// The W3C `traceparent` of the delivery that appended it, if any: a worker handles the
    /// event in that trace (see [`crate::trace`]). Redriven and replayed entries have none.
    pub trace: Option<String>,
}

impl StoredEntry {
    /// The milliseconds part of the entry ID: when it was appended.
    pub fn appended_ms(&self) -> Option<u64> {
        entry_ms(&self.id)
    }
}

/// The milliseconds part of an entry ID.
pub(crate) fn entry_ms(id: &str) -> Option<u64> {
    id.split('-').next()?.parse().ok()
}

/// What [`QueueStore::append`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Appended {
    /// Appended, with its entry ID.
    New(String),
    /// The event ID was appended before (within [`DEFAULT_SEEN_TTL`]): nothing appended.
    Duplicate,
}

/// Whether a worker may run its handler on an entry now ([`QueueStore::start`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Yes: this is its `n`th delivery (1 for the first).
    Go(u32),
    /// Not yet: an earlier entry of its lane is not settled.
    Wait,
    /// No longer this worker's (taken over, settled, trimmed): forget it.
    Gone,
    /// It had already been delivered the maximum number of times (its workers died while
    /// handling it): it was moved to the dead letters.
    Dead,
}

/// What [`QueueStore::fail`] did with an entry whose handler failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failed {
    /// It stays pending for this worker, to be retried after a backoff.
    Retry,
    /// It was moved to the dead letters.
    Dead,
    /// This worker no longer held it.
    Gone,
}

/// An event moved to the dead letters.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DeadLetter {
    /// Its ID in the dead-letter stream (what `redrive` takes).
    pub id: String,
    /// Its entry ID in the queue when it died.
    pub entry_id: String,
    /// The Wix event ID.
    pub event_id: String,
    /// Its lane, if any.
    pub lane: Option<String>,
    /// How many times it was delivered.
    pub deliveries: u32,
    /// The last error.
    pub error: String,
    /// The event as JSON.
    #[serde(skip)]
    pub json: String,
}

/// The state of a queue ([`QueueStore::stats`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Entries retained (handled or not).
    pub length: u64,
    /// Entries delivered to a worker and not yet settled.
    pub pending: u64,
    /// How long ago the oldest pending entry was appended, in milliseconds.
    pub oldest_pending_age_ms: Option<u64>,
    /// Entries appended and not yet delivered to any worker, when the store knows.
    pub undelivered: Option<u64>,
    /// Dead letters.
    pub dead_letters: u64,
    /// Pending entries per consumer (worker).
    pub consumers: Vec<ConsumerStats>,
}

/// The pending entries of one consumer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ConsumerStats {
    /// The consumer's name.
    pub name: String,
    /// Its pending entries.
    pub pending: u64,
}

/// A queue operation that failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum QueueError {
    /// The store could not be reached or did not answer in time: a later attempt may pass.
    Unavailable(Box<dyn std::error::Error + Send + Sync>),
    /// The store answered with an error, or something unexpected.
    Store(Box<dyn std::error::Error + Send + Sync>),
}

impl QueueError {
    pub(crate) fn store(message: impl Into<String>) -> Self {
        QueueError::Store(message.into().into())
    }

    /// The same error again (its text and kind), for each entry of a batch that failed whole.
    pub(crate) fn duplicate(&self) -> Self {
        match self {
            QueueError::Unavailable(e) => QueueError::Unavailable(e.to_string().into()),
            QueueError::Store(e) => QueueError::Store(e.to_string().into()),
        }
    }
}

impl std::fmt::Display for QueueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueueError::Unavailable(e) => write!(f, "the event queue is unavailable: {e}"),
            QueueError::Store(e) => write!(f, "the event queue failed: {e}"),
        }
    }
}

impl std::error::Error for QueueError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            QueueError::Unavailable(e) | QueueError::Store(e) => Some(&**e),
        }
    }
}

/// Where a queue lives: the operations the ingest, the [`Worker`]s and the CLI use. Each is
/// atomic in the store (one Lua script in Redis).
///
/// `consumer` names one worker instance, unique among all workers of the queue (a worker makes
/// its own, random). `visibility` is how long a started entry is leased to its worker.
pub trait QueueStore: Send + Sync + 'static {
    /// Appends `json` (the event `event_id`, in `lane`, delivered in the trace `traceparent`)
    /// unless the event ID was appended within the seen-TTL.
    fn append(
        &self,
        event_id: &str,
        lane: Option<&str>,
        json: &str,
        traceparent: Option<&str>,
    ) -> impl Future<Output = Result<Appended, QueueError>> + Send;

    /// Up to `max` entries never delivered before, now pending for `consumer`.
    fn read_new(
        &self,
        consumer: &str,
        max: usize,
    ) -> impl Future<Output = Result<Vec<StoredEntry>, QueueError>> + Send;

    /// Up to `max` entries pending for other consumers and idle for at least `min_idle`, now
    /// pending for `consumer`.
    fn take_over(
        &self,
        consumer: &str,
        min_idle: Duration,
        max: usize,
    ) -> impl Future<Output = Result<Vec<StoredEntry>, QueueError>> + Send;

    /// Whether `consumer` may run its handler on `entry` now (see [`Start`]); on
    /// [`Start::Go`], takes the lane's lock for `visibility` and counts a delivery. On
    /// [`Start::Wait`], keeps the entry from being taken over for another `visibility`.
    /// With `max_deliveries` reached already, dead-letters the entry ([`Start::Dead`]).
    fn start(
        &self,
        consumer: &str,
        entry: &StoredEntry,
        visibility: Duration,
        max_deliveries: u32,
    ) -> impl Future<Output = Result<Start, QueueError>> + Send;

    /// [`start`](Self::start) for several entries, as if asked one after another: an answer
    /// per entry, in order. A store may answer them all in one round trip (`RedisQueue`: one
    /// script per 64 entries); the default asks one at a time.
    fn start_batch(
        &self,
        consumer: &str,
        entries: &[&StoredEntry],
        visibility: Duration,
        max_deliveries: u32,
    ) -> impl Future<Output = Vec<Result<Start, QueueError>>> + Send {
        async move {
            let mut out = Vec::with_capacity(entries.len());
            for entry in entries {
                out.push(
                    self.start(consumer, entry, visibility, max_deliveries)
                        .await,
                );
            }
            out
        }
    }

    /// Extends `consumer`'s lock on a started entry by `visibility`; `false` when it lost it.
    fn renew(
        &self,
        consumer: &str,
        entry: &StoredEntry,
        visibility: Duration,
    ) -> impl Future<Output = Result<bool, QueueError>> + Send;

    /// Keeps entries that `consumer` holds but has not started (waiting, in backoff) from
    /// being taken over for another `visibility` (or, with `release`, makes them free to take
    /// over at once: a worker that stops).
    fn touch(
        &self,
        consumer: &str,
        entry_ids: &[String],
        visibility: Duration,
        release: bool,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Acknowledges a handled entry: removes it from its lane, frees the lock. `false` when
    /// `consumer` no longer held it (another worker will handle it again).
    fn ack(
        &self,
        consumer: &str,
        entry: &StoredEntry,
    ) -> impl Future<Output = Result<bool, QueueError>> + Send;

    /// [`ack`](Self::ack) for several entries, as if asked one after another: an answer per
    /// entry, in order (an entry whose answer is an error is still pending: acknowledge it
    /// again). A store may answer them all in one round trip (`RedisQueue`: one script per 64
    /// entries); the default asks one at a time.
    fn ack_batch(
        &self,
        consumer: &str,
        entries: &[&StoredEntry],
    ) -> impl Future<Output = Vec<Result<bool, QueueError>>> + Send {
        async move {
            let mut out = Vec::with_capacity(entries.len());
            for entry in entries {
                out.push(self.ack(consumer, entry).await);
            }
            out
        }
    }

    /// Records a failed delivery: dead-letters the entry with `error` once it was delivered
    /// `max_deliveries` times, else frees the lock and keeps it pending for a retry.
    fn fail(
        &self,
        consumer: &str,
        entry: &StoredEntry,
        error: &str,
        max_deliveries: u32,
    ) -> impl Future<Output = Result<Failed, QueueError>> + Send;

    /// The state of the queue.
    fn stats(&self) -> impl Future<Output = Result<Stats, QueueError>> + Send;

    /// Up to `max` dead letters, oldest first.
    fn dead_letters(
        &self,
        max: usize,
    ) -> impl Future<Output = Result<Vec<DeadLetter>, QueueError>> + Send;

    /// Appends dead letters to the queue again (at the end of their lanes) and removes them
    /// from the dead letters: those named by `ids`, or up to `max` of the oldest when `ids` is
    /// empty. Returns how many.
    fn redrive(
        &self,
        ids: &[String],
        max: usize,
    ) -> impl Future<Output = Result<u64, QueueError>> + Send;

    /// Appends again up to `max` retained entries appended from `since_ms` to `until_ms`
    /// (Unix milliseconds, inclusive), whether handled or not; returns how many, and the ID of
    /// the last entry copied (to continue from, exclusive) when `max` was reached.
    fn replay(
        &self,
        since_ms: u64,
        until_ms: u64,
        max: usize,
    ) -> impl Future<Output = Result<(u64, Option<String>), QueueError>> + Send;
}

/// The ingest: verifies nothing (the event is verified), computes the lane and appends the
/// event's JSON, with the [trace context](TraceContext::current) in progress (the delivery's,
/// in the receiver), so that a worker handles the event in the same trace. Shared by the
/// receiver's queue mode and by tests. Counted in the [metrics](crate::metrics) (appended, or
/// refused as a duplicate).
pub async fn append_event<S: QueueStore>(
    store: &S,
    lane_key: &LaneKey,
    event: &WebhookEvent,
) -> Result<Appended, QueueError> {
    let json = serde_json::to_string(event)
        .map_err(|e| QueueError::store(format!("cannot serialize the event: {e}")))?;
    let lane = lane_key(event);
    let trace = TraceContext::current().map(|trace| trace.traceparent());
    let appended = store
        .append(&event.id, lane.as_deref(), &json, trace.as_deref())
        .await?;
    crate::metrics::queue_appended(matches!(appended, Appended::New(_)));
    Ok(appended)
}

/// The default [`LaneKey`]: [`default_lane`].
pub fn default_lane_key() -> LaneKey {
    Arc::new(default_lane)
}
