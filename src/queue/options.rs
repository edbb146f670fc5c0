//! [`WorkerOptions`] and [`Backoff`]: how a [`Worker`](super::Worker) works.

use std::time::Duration;

use super::DEFAULT_MAX_DELIVERIES;

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

/// How a [`Worker`](super::Worker) works.
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
    /// How often the worker reads the queue's state ([`QueueStore::stats`](super::QueueStore::stats)) into the
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
