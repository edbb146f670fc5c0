//! [`Worker`]: takes events from a queue and runs a handler on each.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::handle::handle;
use super::{Failed, HandlerError, QueueError, QueueStore, Start, StoredEntry, WorkerOptions};
use crate::webhooks::WebhookEvent;

/// Runs a handler on the events of a queue; see [the module docs](super) for the guarantee.
///
/// ```
/// use wix_inbox::queue::{InMemoryQueue, Worker, WorkerOptions};
/// # async fn run(queue: InMemoryQueue) -> Result<(), wix_inbox::queue::QueueError> {
/// let stop = tokio::signal::ctrl_c();
/// Worker::new(queue, WorkerOptions::new())
///     .run(|event| async move {
///         println!("{}", event.id);
///         Ok::<(), std::io::Error>(())
///     }, async { let _ = stop.await; })
///     .await
/// # }
/// ```
pub struct Worker<S> {
    store: Arc<S>,
    consumer: String,
    options: WorkerOptions,
}

impl<S> std::fmt::Debug for Worker<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("consumer", &self.consumer)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// An entry this worker holds and has not started, when it became due (read, taken over, or
/// its backoff ended), and when to try it next.
struct Held {
    entry: StoredEntry,
    due: Instant,
    next: Instant,
}

impl Held {
    fn due(entry: StoredEntry, at: Instant) -> Held {
        Held {
            entry,
            due: at,
            next: at,
        }
    }
}

/// A handled entry not yet acknowledged: how many tries failed, when to try next.
struct Unacked {
    entry: StoredEntry,
    tries: usize,
    next: Instant,
}

/// The pauses before the second and third tries of an acknowledgement; after the third the
/// entry is left pending (another worker takes it over after the visibility timeout).
const ACK_PAUSES: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(400)];

/// A handler run that ended: the entry and the outcome.
type Done = (StoredEntry, u32, Result<(), String>);

/// What a running worker keeps track of.
#[derive(Default)]
struct Book {
    /// The entries held and not started, in append order (by entry ID).
    held: BTreeMap<(u64, u64), Held>,
    /// The lanes of the entries started here and not yet settled: their later entries are not
    /// asked about.
    busy: HashSet<String>,
    /// Handler runs that ended and are not yet settled.
    finished: Vec<Done>,
    /// Handled entries whose acknowledgement is to be tried (again).
    unacked: Vec<Unacked>,
}

impl Book {
    fn hold(&mut self, entry: StoredEntry, due: Instant) {
        self.held.insert(id_order(&entry.id), Held::due(entry, due));
    }

    /// Up to `free` held entries to start now, in append order: one per lane, none of a lane
    /// busy here (the store would say wait, so they are not asked about).
    fn ready(&self, free: usize, now: Instant) -> Vec<(u64, u64)> {
        let mut blocked: HashSet<&str> = HashSet::new();
        let mut chosen = Vec::new();
        for (key, h) in &self.held {
            if chosen.len() >= free {
                break;
            }
            if let Some(lane) = &h.entry.lane {
                if self.busy.contains(lane) || !blocked.insert(lane) {
                    continue;
                }
            }
            if h.next <= now {
                chosen.push(*key);
            }
        }
        chosen
    }

    /// An entry is settled here: the next of its lane may be asked about.
    fn free(&mut self, entry: &StoredEntry) {
        if let Some(lane) = &entry.lane {
            self.busy.remove(lane);
        }
    }
}

/// The answers of a batch, one per entry even from a store that gave fewer.
fn per_entry<T>(
    answers: Vec<Result<T, QueueError>>,
) -> impl Iterator<Item = Result<T, QueueError>> {
    answers.into_iter().chain(std::iter::repeat_with(|| {
        Err(QueueError::store("the store gave no answer for this entry"))
    }))
}

impl<S: QueueStore> Worker<S> {
    /// A worker on `store`, named `worker-<random>`.
    pub fn new(store: S, options: WorkerOptions) -> Self {
        Self::shared(Arc::new(store), options)
    }

    /// A worker on a store shared with others in this process.
    pub fn shared(store: Arc<S>, options: WorkerOptions) -> Self {
        Worker {
            store,
            consumer: format!("worker-{}", random_suffix()),
            options,
        }
    }

    /// Sets the consumer name (unique among the queue's workers, and new for each run: a
    /// restarted worker must not reuse a name its previous run held entries under).
    pub fn consumer(mut self, name: impl Into<String>) -> Self {
        self.consumer = name.into();
        self
    }

    /// The consumer name.
    pub fn consumer_name(&self) -> &str {
        &self.consumer
    }

    /// Runs `handler` on each event until `shutdown` completes; then starts nothing more, lets
    /// the handlers in flight finish and settles them, makes the entries it held unstarted
    /// free for other workers at once, and returns.
    ///
    /// Entries are read, started and acknowledged in batches (with `RedisQueue`, one script
    /// for each batch): the acknowledgements of the handlers that ended together go in one.
    /// A handler's future is first polled in the worker's loop: one that is done at once is
    /// settled there, without a task; any other goes on in a task of its own. So do heavy
    /// synchronous work in `tokio::task::spawn_blocking`, not before the handler's first
    /// `.await`: it would hold up the loop.
    /// A store error is logged and retried after a pause: the worker runs through a Redis
    /// restart. An entry whose JSON is not an event is dead-lettered.
    pub async fn run<H, Fut, E>(
        self,
        handler: H,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), QueueError>
    where
        H: Fn(WebhookEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<HandlerError> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let options = &self.options;
        let mut book = Book::default();
        let mut running: JoinSet<Done> = JoinSet::new();
        let takeover_every = options.visibility / 2;
        let touch_every = options.visibility / 3;
        let mut next_takeover = Instant::now();
        let mut next_touch = Instant::now() + touch_every;
        let mut next_stats = Instant::now();
        let mut stopping = false;
        tokio::pin!(shutdown);
        loop {
            while let Some(done) = running.try_join_next() {
                book.finished.extend(done.ok());
            }
            if !book.finished.is_empty() {
                self.settle(&mut book).await;
            }
            if stopping && running.is_empty() && book.unacked.is_empty() {
                break;
            }
            let mut wake = Instant::now() + options.poll;
            if !stopping {
                let now = Instant::now();
                if now >= next_takeover {
                    next_takeover = now + takeover_every;
                    match self
                        .store
                        .take_over(&self.consumer, options.visibility, options.max_held)
                        .await
                    {
                        Ok(taken) => {
                            crate::metrics::queue_takeovers(taken.len());
                            for entry in taken {
                                book.hold(entry, now);
                            }
                        }
                        Err(error) => tracing::warn!(%error, "cannot take over stale entries"),
                    }
                }
                if now >= next_stats {
                    next_stats = now + options.stats_every;
                    self.record_stats().await;
                }
                if now >= next_touch && !book.held.is_empty() {
                    next_touch = now + touch_every;
                    let ids: Vec<String> = book.held.values().map(|h| h.entry.id.clone()).collect();
                    if let Err(error) = self
                        .store
                        .touch(&self.consumer, &ids, options.visibility, false)
                        .await
                    {
                        tracing::warn!(%error, "cannot keep held entries");
                    }
                }
                // Read when half the room is free (or nothing is held): in batches, not one
                // round trip per handled event.
                let room = options.max_held - book.held.len().min(options.max_held);
                if (book.held.is_empty() || room >= options.max_held / 2)
                    && room > 0
                    && running.len() < options.concurrency
                {
                    match self.store.read_new(&self.consumer, room).await {
                        Ok(new) => {
                            if !new.is_empty() {
                                wake = Instant::now();
                            }
                            for entry in new {
                                book.hold(entry, now);
                            }
                        }
                        Err(error) => {
                            tracing::warn!(%error, "cannot read the queue; retrying");
                            wake = Instant::now() + Duration::from_millis(250);
                        }
                    }
                }
            }
            // The acknowledgements due and the starts, pipelined: one round trip.
            self.pass(&mut book, &mut running, &handler, !stopping)
                .await;
            if !stopping {
                if let Some(soonest) = book.held.values().map(|h| h.next).min() {
                    wake = wake.min(soonest.max(Instant::now() + Duration::from_millis(2)));
                }
            }
            if let Some(soonest) = book.unacked.iter().map(|u| u.next).min() {
                wake = wake.min(soonest);
            }
            if !book.finished.is_empty() {
                // Handlers that ended at once: settled and acknowledged in the next pass, after
                // letting the runtime's other tasks run (and looking at the shutdown).
                tokio::select! {
                    biased;
                    () = &mut shutdown, if !stopping => stopping = true,
                    () = tokio::task::yield_now() => {}
                }
                continue;
            }
            tokio::select! {
                Some(done) = running.join_next(), if !running.is_empty() => {
                    book.finished.extend(done.ok());
                }
                () = tokio::time::sleep_until(wake) => {}
                () = &mut shutdown, if !stopping => stopping = true,
            }
        }
        let ids: Vec<String> = book.held.into_values().map(|h| h.entry.id).collect();
        if !ids.is_empty() {
            self.store
                .touch(&self.consumer, &ids, options.visibility, true)
                .await?;
        }
        self.record_stats().await;
        Ok(())
    }

    /// Reads the queue's state into the gauges.
    async fn record_stats(&self) {
        match self.store.stats().await {
            Ok(stats) => crate::metrics::queue_gauges(
                stats.pending,
                stats.undelivered,
                stats.oldest_pending_age_ms.map(Duration::from_millis),
                stats.dead_letters,
            ),
            Err(error) => tracing::debug!(%error, "cannot read the queue's state"),
        }
    }

    /// Acknowledges the handled entries that are due and starts the held entries that are
    /// due (when `start`), as far as the concurrency allows: both batches at once.
    async fn pass<H, Fut, E>(
        &self,
        book: &mut Book,
        running: &mut JoinSet<Done>,
        handler: &Arc<H>,
        start: bool,
    ) where
        H: Fn(WebhookEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<HandlerError> + Send + 'static,
    {
        let options = &self.options;
        let now = Instant::now();
        let (due, later): (Vec<Unacked>, Vec<Unacked>) = std::mem::take(&mut book.unacked)
            .into_iter()
            .partition(|u| u.next <= now);
        book.unacked = later;
        let chosen = if start {
            book.ready(options.concurrency.saturating_sub(running.len()), now)
        } else {
            Vec::new()
        };
        if due.is_empty() && chosen.is_empty() {
            return;
        }
        let acks: Vec<&StoredEntry> = due.iter().map(|u| &u.entry).collect();
        let starts: Vec<&StoredEntry> = chosen.iter().map(|k| &book.held[k].entry).collect();
        let (acked, answers) = futures_util::future::join(
            async {
                if acks.is_empty() {
                    Vec::new()
                } else {
                    self.store.ack_batch(&self.consumer, &acks).await
                }
            },
            async {
                if starts.is_empty() {
                    Vec::new()
                } else {
                    self.store
                        .start_batch(
                            &self.consumer,
                            &starts,
                            options.visibility,
                            options.max_deliveries,
                        )
                        .await
                }
            },
        )
        .await;
        self.acknowledged(book, due, acked);
        let now = Instant::now();
        let mut failed = None;
        for (key, started) in chosen.into_iter().zip(per_entry(answers)) {
            match started {
                Ok(Start::Go(delivery)) => {
                    let Some(Held { entry, due, .. }) = book.held.remove(&key) else {
                        continue;
                    };
                    crate::metrics::queue_started();
                    if let Some(lane) = &entry.lane {
                        crate::metrics::queue_lane_wait(now.saturating_duration_since(due));
                        book.busy.insert(lane.clone());
                    }
                    let store = Arc::clone(&self.store);
                    let handler = Arc::clone(handler);
                    let consumer = self.consumer.clone();
                    let visibility = options.visibility;
                    let mut run = Box::pin(async move {
                        let outcome =
                            handle(&*store, &consumer, &entry, delivery, visibility, &*handler)
                                .await;
                        (entry, delivery, outcome)
                    });
                    // A handler that ends at once (a filter, a quick count) ends here: no task,
                    // and its acknowledgement goes in the next batch. Any other goes on in a
                    // task (which polls it again at once, with its own waker).
                    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                    match run.as_mut().poll(&mut cx) {
                        std::task::Poll::Ready(done) => book.finished.push(done),
                        std::task::Poll::Pending => {
                            running.spawn(run);
                        }
                    }
                }
                Ok(Start::Wait) => {
                    if let Some(h) = book.held.get_mut(&key) {
                        h.next = now + Duration::from_millis(10).max(options.poll / 5);
                    }
                }
                Ok(Start::Gone) => {
                    book.held.remove(&key);
                }
                Ok(Start::Dead) => {
                    if let Some(Held { entry, .. }) = book.held.remove(&key) {
                        crate::metrics::queue_dead_lettered();
                        tracing::error!(entry = %entry.id, event_id = %entry.event_id, "event dead-lettered: its workers stopped while handling it");
                    }
                }
                Err(error) => {
                    if let Some(h) = book.held.get_mut(&key) {
                        h.next = now + Duration::from_millis(250);
                    }
                    failed = Some(error);
                }
            }
        }
        if let Some(error) = failed {
            tracing::warn!(%error, "cannot start entries; retrying");
        }
    }

    /// Settles the handler runs that ended: the handled entries are to be acknowledged (by the
    /// next [`pass`](Self::pass), in one batch), the others are failed.
    async fn settle(&self, book: &mut Book) {
        let now = Instant::now();
        for (entry, delivery, outcome) in std::mem::take(&mut book.finished) {
            match outcome {
                Ok(()) => book.unacked.push(Unacked {
                    entry,
                    tries: 0,
                    next: now,
                }),
                Err(error) => {
                    book.free(&entry);
                    self.fail(entry, delivery, &error, book).await;
                }
            }
        }
    }

    /// Fails an entry whose handler failed: held again for a retry after its backoff, or
    /// dead-lettered.
    async fn fail(&self, entry: StoredEntry, delivery: u32, error: &str, book: &mut Book) {
        let failed = self
            .store
            .fail(&self.consumer, &entry, error, self.options.max_deliveries)
            .await;
        match failed {
            Ok(Failed::Retry) | Err(_) => {
                crate::metrics::queue_failed("retried");
                tracing::warn!(entry = %entry.id, %error, "handler failed; retrying");
                let due = Instant::now() + self.options.backoff.delay(delivery);
                book.hold(entry, due);
            }
            Ok(Failed::Dead) => {
                crate::metrics::queue_failed("dead_lettered");
                crate::metrics::queue_dead_lettered();
                tracing::error!(entry = %entry.id, event_id = %entry.event_id, %error, "event dead-lettered");
            }
            Ok(Failed::Gone) => crate::metrics::queue_failed("lost"),
        }
    }

    /// Takes the answers to the acknowledgements of `due`: an entry whose acknowledgement
    /// failed is tried again after a pause, three times in all (its lane stays busy here
    /// meanwhile).
    fn acknowledged(
        &self,
        book: &mut Book,
        due: Vec<Unacked>,
        answers: Vec<Result<bool, QueueError>>,
    ) {
        let now = Instant::now();
        for (mut unacked, answer) in due.into_iter().zip(per_entry(answers)) {
            let entry = &unacked.entry;
            match answer {
                Ok(true) => crate::metrics::queue_handled(),
                Ok(false) => {
                    tracing::warn!(entry = %entry.id, "handled after its lease ended; another worker may handle it again");
                }
                Err(error) => {
                    if let Some(pause) = ACK_PAUSES.get(unacked.tries) {
                        tracing::warn!(entry = %entry.id, %error, "cannot acknowledge; retrying");
                        unacked.tries += 1;
                        unacked.next = now + *pause;
                        book.unacked.push(unacked);
                        continue;
                    }
                    tracing::warn!(entry = %entry.id, %error, "cannot acknowledge; another worker will handle it again after the visibility timeout");
                }
            }
            book.free(&unacked.entry);
        }
    }
}

/// An entry ID's (milliseconds, sequence), for sorting.
fn id_order(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

/// 64 random bits in hex.
fn random_suffix() -> String {
    crate::random::hex::<8>().unwrap_or_else(|| "0".repeat(16))
}
