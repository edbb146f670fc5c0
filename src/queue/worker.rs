//! [`Worker`]: takes events from a queue and runs a handler on each.

use std::collections::HashSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument as _;

use super::{Failed, QueueError, QueueStore, Start, StoredEntry, DEFAULT_MAX_DELIVERIES};
use crate::text::Printable;
use crate::trace::TraceContext;
use crate::webhooks::WebhookEvent;

/// Why a handler failed: the event is retried, then dead-lettered with this text.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// The delay before retry `n` (after the `n`th failed delivery): `base × 2^(n-1)`, at most
/// `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay (default 1 s).
    pub base: Duration,
    /// The longest delay (default 60 s).
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The delay after the `failed`th failed delivery.
    pub fn delay(&self, failed: u32) -> Duration {
        let factor = 1u32 << failed.saturating_sub(1).min(20);
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// How a [`Worker`] works.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WorkerOptions {
    /// Handlers run at once (default 16).
    pub concurrency: usize,
    /// How long a started entry is leased to this worker (renewed every third of it while the
    /// handler runs), and how long an entry of a dead worker stays pending before another
    /// worker takes it over (default 30 s).
    pub visibility: Duration,
    /// Deliveries before an event is dead-lettered (default [`DEFAULT_MAX_DELIVERIES`]).
    pub max_deliveries: u32,
    /// Delays between retries.
    pub backoff: Backoff,
    /// How often an idle worker asks the queue for new entries (default 50 ms).
    pub poll: Duration,
    /// The most entries a worker holds unstarted (waiting for their lane, in backoff;
    /// default 256).
    pub max_held: usize,
    /// How often the worker reads the queue's state ([`QueueStore::stats`]) into the
    /// [metrics](crate::metrics)' gauges (pending, undelivered, oldest pending age, dead
    /// letters; default 5 s). It reads it once more when it stops.
    pub stats_every: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            concurrency: 16,
            visibility: Duration::from_secs(30),
            max_deliveries: DEFAULT_MAX_DELIVERIES,
            backoff: Backoff::default(),
            poll: Duration::from_millis(50),
            max_held: 256,
            stats_every: Duration::from_secs(5),
        }
    }
}

impl WorkerOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how many handlers run at once (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Sets the visibility timeout (at least 30 ms).
    pub fn visibility(mut self, visibility: Duration) -> Self {
        self.visibility = visibility.max(Duration::from_millis(30));
        self
    }

    /// Sets the deliveries before an event is dead-lettered (at least 1).
    pub fn max_deliveries(mut self, n: u32) -> Self {
        self.max_deliveries = n.max(1);
        self
    }

    /// Sets the delays between retries.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets how often an idle worker polls (at least 1 ms).
    pub fn poll(mut self, poll: Duration) -> Self {
        self.poll = poll.max(Duration::from_millis(1));
        self
    }

    /// Sets how often the queue's state is read into the gauges (at least 100 ms).
    pub fn stats_every(mut self, every: Duration) -> Self {
        self.stats_every = every.max(Duration::from_millis(100));
        self
    }
}

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

/// A handler run that ended: the entry and the outcome.
type Done = (StoredEntry, u32, Result<(), String>);

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
        let mut held: Vec<Held> = Vec::new();
        let mut running: JoinSet<Done> = JoinSet::new();
        // The lanes of the handlers running here: their later entries are not asked about.
        let mut busy: HashSet<String> = HashSet::new();
        let takeover_every = options.visibility / 2;
        let touch_every = options.visibility / 3;
        let mut next_takeover = Instant::now();
        let mut next_touch = Instant::now() + touch_every;
        let mut next_stats = Instant::now();
        let mut stopping = false;
        tokio::pin!(shutdown);
        loop {
            while let Some(done) = running.try_join_next() {
                if let Ok((entry, delivery, outcome)) = done {
                    self.settle(entry, delivery, outcome, &mut held, &mut busy)
                        .await;
                }
            }
            if stopping && running.is_empty() {
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
                            held.extend(taken.into_iter().map(|entry| Held::due(entry, now)));
                        }
                        Err(error) => tracing::warn!(%error, "cannot take over stale entries"),
                    }
                }
                if now >= next_stats {
                    next_stats = now + options.stats_every;
                    self.record_stats().await;
                }
                if now >= next_touch && !held.is_empty() {
                    next_touch = now + touch_every;
                    let ids: Vec<String> = held.iter().map(|h| h.entry.id.clone()).collect();
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
                let room = options.max_held - held.len().min(options.max_held);
                if (held.is_empty() || room >= options.max_held / 2)
                    && room > 0
                    && running.len() < options.concurrency
                {
                    match self.store.read_new(&self.consumer, room).await {
                        Ok(new) => {
                            if !new.is_empty() {
                                wake = Instant::now();
                            }
                            held.extend(new.into_iter().map(|entry| Held::due(entry, now)));
                        }
                        Err(error) => {
                            tracing::warn!(%error, "cannot read the queue; retrying");
                            wake = Instant::now() + Duration::from_millis(250);
                        }
                    }
                }
                self.start_ready(&mut held, &mut running, &mut busy, &handler)
                    .await;
                if let Some(soonest) = held.iter().map(|h| h.next).min() {
                    wake = wake.min(soonest.max(Instant::now() + Duration::from_millis(2)));
                }
            }
            tokio::select! {
                Some(done) = running.join_next(), if !running.is_empty() => {
                    if let Ok((entry, delivery, outcome)) = done {
                        self.settle(entry, delivery, outcome, &mut held, &mut busy).await;
                    }
                }
                () = tokio::time::sleep_until(wake), if !stopping => {}
                () = &mut shutdown, if !stopping => stopping = true,
            }
        }
        let ids: Vec<String> = held.into_iter().map(|h| h.entry.id).collect();
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

    /// Starts the held entries that are due, as far as the concurrency allows.
    async fn start_ready<H, Fut, E>(
        &self,
        held: &mut Vec<Held>,
        running: &mut JoinSet<Done>,
        busy: &mut HashSet<String>,
        handler: &Arc<H>,
    ) where
        H: Fn(WebhookEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<HandlerError> + Send + 'static,
    {
        let options = &self.options;
        // In append order: an entry whose lane has an earlier one here, or one running here,
        // cannot start (the store would say wait), so it is not asked about. The others (one
        // per lane) are asked at once: the store's answers come back pipelined.
        held.sort_by_key(|h| id_order(&h.entry.id));
        let now = Instant::now();
        let free = options.concurrency.saturating_sub(running.len());
        let mut blocked: HashSet<&str> = HashSet::new();
        let mut chosen: Vec<usize> = Vec::new();
        for (i, h) in held.iter().enumerate() {
            if chosen.len() >= free {
                break;
            }
            if let Some(lane) = &h.entry.lane {
                if busy.contains(lane) || !blocked.insert(lane) {
                    continue;
                }
            }
            if h.next <= now {
                chosen.push(i);
            }
        }
        let answers = futures_util::future::join_all(chosen.iter().map(|&i| {
            self.store.start(
                &self.consumer,
                &held[i].entry,
                options.visibility,
                options.max_deliveries,
            )
        }))
        .await;
        let now = Instant::now();
        // From the last, so that removing one leaves the indices before it as they were.
        for (&i, started) in chosen.iter().zip(answers).rev() {
            match started {
                Ok(Start::Go(delivery)) => {
                    let Held { entry, due, .. } = held.remove(i);
                    crate::metrics::queue_started();
                    if let Some(lane) = &entry.lane {
                        crate::metrics::queue_lane_wait(now.saturating_duration_since(due));
                        busy.insert(lane.clone());
                    }
                    let store = Arc::clone(&self.store);
                    let handler = Arc::clone(handler);
                    let consumer = self.consumer.clone();
                    let visibility = options.visibility;
                    // The handler and, after `Ok`, the acknowledgement run in the task: the
                    // acknowledgements of handlers that end together are pipelined too.
                    running.spawn(async move {
                        let outcome =
                            handle(&*store, &consumer, &entry, delivery, visibility, &*handler)
                                .await;
                        if outcome.is_ok() {
                            acknowledge(&*store, &consumer, &entry).await;
                        }
                        (entry, delivery, outcome)
                    });
                }
                Ok(Start::Wait) => {
                    held[i].next = now + Duration::from_millis(10).max(options.poll / 5);
                }
                Ok(Start::Gone) => {
                    held.remove(i);
                }
                Ok(Start::Dead) => {
                    let entry = held.remove(i).entry;
                    crate::metrics::queue_dead_lettered();
                    tracing::error!(entry = %entry.id, event_id = %entry.event_id, "event dead-lettered: its workers stopped while handling it");
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot start an entry; retrying");
                    held[i].next = now + Duration::from_millis(250);
                }
            }
        }
    }

    /// Settles a handled entry: frees its lane here; fails it when its handler failed.
    async fn settle(
        &self,
        entry: StoredEntry,
        delivery: u32,
        outcome: Result<(), String>,
        held: &mut Vec<Held>,
        busy: &mut HashSet<String>,
    ) {
        if let Some(lane) = &entry.lane {
            busy.remove(lane);
        }
        match outcome {
            // Acknowledged by its task.
            Ok(()) => {}
            Err(error) => {
                let failed = self
                    .store
                    .fail(&self.consumer, &entry, &error, self.options.max_deliveries)
                    .await;
                match failed {
                    Ok(Failed::Retry) | Err(_) => {
                        crate::metrics::queue_failed("retried");
                        tracing::warn!(entry = %entry.id, %error, "handler failed; retrying");
                        let due = Instant::now() + self.options.backoff.delay(delivery);
                        held.push(Held::due(entry, due));
                    }
                    Ok(Failed::Dead) => {
                        crate::metrics::queue_failed("dead_lettered");
                        crate::metrics::queue_dead_lettered();
                        tracing::error!(entry = %entry.id, event_id = %entry.event_id, %error, "event dead-lettered");
                    }
                    Ok(Failed::Gone) => crate::metrics::queue_failed("lost"),
                }
            }
        }
    }
}

/// Acknowledges a handled entry, trying three times.
async fn acknowledge<S: QueueStore>(store: &S, consumer: &str, entry: &StoredEntry) {
    for pause in [0, 100, 400] {
        if pause > 0 {
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        match store.ack(consumer, entry).await {
            Ok(true) => {
                crate::metrics::queue_handled();
                return;
            }
            Ok(false) => {
                tracing::warn!(entry = %entry.id, "handled after its lease ended; another worker may handle it again");
                return;
            }
            Err(error) => tracing::warn!(entry = %entry.id, %error, "cannot acknowledge"),
        }
    }
}

/// Runs the handler on one started entry, renewing its lock meanwhile, in a span
/// `wix_inbox.queue.handle` of the delivery's trace (a new trace for an entry without one):
/// [`TraceContext::current`] in the handler is that span's. Panics and entries that are not
/// events are failures. The run is timed for the metrics.
async fn handle<S, H, Fut, E>(
    store: &S,
    consumer: &str,
    entry: &StoredEntry,
    delivery: u32,
    visibility: Duration,
    handler: &H,
) -> Result<(), String>
where
    S: QueueStore,
    H: Fn(WebhookEvent) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Into<HandlerError>,
{
    let trace = entry
        .trace
        .as_deref()
        .and_then(TraceContext::parse)
        .map_or_else(TraceContext::new_root, |parent| parent.child());
    let span = tracing::info_span!(
        "wix_inbox.queue.handle",
        trace_id = %trace.trace_id(),
        span_id = %trace.span_id(),
        event_id = %entry.event_id,
        entry = %entry.id,
        delivery,
    );
    let started = Instant::now();
    let outcome = trace
        .scope(run_handler(store, consumer, entry, visibility, handler))
        .instrument(span)
        .await;
    crate::metrics::queue_handler_ran(outcome.is_ok(), started.elapsed());
    outcome
}

/// [`handle`]'s work.
async fn run_handler<S, H, Fut, E>(
    store: &S,
    consumer: &str,
    entry: &StoredEntry,
    visibility: Duration,
    handler: &H,
) -> Result<(), String>
where
    S: QueueStore,
    H: Fn(WebhookEvent) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Into<HandlerError>,
{
    let event: WebhookEvent = serde_json::from_str(&entry.json)
        .map_err(|e| format!("the stored entry is not an event: {e}"))?;
    let Ok(handled) = std::panic::catch_unwind(AssertUnwindSafe(|| handler(event))) else {
        return Err("the handler panicked".to_owned());
    };
    let handled = AssertUnwindSafe(handled).catch_unwind();
    tokio::pin!(handled);
    let mut renew = tokio::time::interval(visibility / 3);
    renew.tick().await;
    loop {
        tokio::select! {
            outcome = &mut handled => {
                return match outcome {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(error)) => Err(Printable(&error.into().to_string(), 1000).to_string()),
                    Err(_) => Err("the handler panicked".to_owned()),
                };
            }
            _ = renew.tick() => {
                if let Err(error) = store.renew(consumer, entry, visibility).await {
                    tracing::warn!(entry = %entry.id, %error, "cannot renew the lease");
                }
            }
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
    use aws_lc_rs::rand::SecureRandom as _;
    let mut bytes = [0u8; 8];
    let _ = aws_lc_rs::rand::SystemRandom::new().fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
