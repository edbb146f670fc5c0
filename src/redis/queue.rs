//! [`RedisQueue`]: the event queue in a Redis Stream read by a consumer group.

use std::sync::Arc;
use std::time::Duration;

use ::redis::FromRedisValue;

use super::queue_answers::{entries, field, letter, now_ms, started};
use super::queue_scripts::{
    ACK, APPEND, FAIL, READ, RENEW, REQUEUE, START, STATS, TAKE_OVER, TOUCH,
};
use super::{connectors, millis, within, Failure, RedisConnection, DEFAULT_TIMEOUT};
use crate::queue::{
    entry_ms, Appended, ConsumerStats, DeadLetter, Failed, QueueError, QueueStore, Retention,
    Start, Stats, StoredEntry, DEFAULT_SEEN_TTL, MAX_DEAD_LETTERS,
};

/// The default name of a queue: `wix-inbox:queue` (its keys are `{wix-inbox:queue}:…`).
pub const DEFAULT_QUEUE_NAME: &str = "wix-inbox:queue";

/// The default consumer group: `workers`.
pub const DEFAULT_GROUP: &str = "workers";

/// The event queue in Redis (Redis ≥ 6.2): a [`QueueStore`] shared by every receiver,
/// worker and CLI that uses the same Redis and queue name.
///
/// Keys (all with the hash tag `{<name>}`, so that the queue lives in one hash slot of a
/// Redis Cluster):
///
/// | key | type | what |
/// |---|---|---|
/// | `{name}:stream` | stream | the events (fields `id`, `lane`, `event`, `trace`), consumer group `workers` |
/// | `{name}:seen:<event ID>` | string | an event ID appended, for the seen-TTL (72 h) |
/// | `{name}:lane:<lane>` | list | the lane's entries not yet settled, in append order |
/// | `{name}:lock:lane:<lane>`, `{name}:lock:entry:<ID>` | string | the worker running the lane (or lane-less entry), for one visibility timeout |
/// | `{name}:deliveries` | hash | deliveries per pending entry |
/// | `{name}:dead` | stream | dead letters, with their last error (at most about 100,000) |
///
/// Each operation is one Lua script, bounded by a timeout (1 s by default): a Redis that is
/// down or slow is [`QueueError::Unavailable`] within it. A consumer group lost with its
/// stream (a Redis restarted without persistence) is created again by the next read.
#[derive(Clone, Debug)]
pub struct RedisQueue {
    redis: RedisConnection,
    base: Arc<str>,
    group: Arc<str>,
    retention: Retention,
    seen_ttl: Duration,
    timeout: Duration,
    /// `WAIT` after each append: for this many replicas, at most this long.
    replicas: Option<(u32, Duration)>,
}

impl From<Failure> for QueueError {
    fn from(f: Failure) -> Self {
        if f.transient {
            QueueError::Unavailable(f.error)
        } else {
            QueueError::Store(f.error)
        }
    }
}

impl RedisQueue {
    connectors!(QueueError);

    /// A queue on a connection of your own, with the defaults: queue `wix-inbox:queue`, group
    /// `workers`, 7 days' retention, 1 s per operation.
    pub fn new(redis: impl Into<RedisConnection>) -> Self {
        RedisQueue {
            redis: redis.into(),
            base: Arc::from(format!("{{{DEFAULT_QUEUE_NAME}}}")),
            group: Arc::from(DEFAULT_GROUP),
            retention: Retention::default(),
            seen_ttl: DEFAULT_SEEN_TTL,
            timeout: DEFAULT_TIMEOUT,
            replicas: None,
        }
    }

    /// Sets the queue's name (default `wix-inbox:queue`); its keys are `{<name>}:…`. A `{` or
    /// `}` in `name` is replaced by `_`, so that the hash tag is the whole name.
    pub fn name(mut self, name: &str) -> Self {
        let name = name.replace(['{', '}'], "_");
        self.base = Arc::from(format!("{{{name}}}"));
        self
    }

    /// Sets the consumer group's name (default `workers`).
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = Arc::from(group.into());
        self
    }

    /// Sets how long entries are retained (default 7 days).
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Sets how long an appended event ID is remembered (default 72 hours; at least 1 ms).
    pub fn seen_ttl(mut self, ttl: Duration) -> Self {
        self.seen_ttl = ttl.max(Duration::from_millis(1));
        self
    }

    /// Acknowledges an append only once `replicas` replicas of the queue's master hold it
    /// (`WAIT replicas timeout` after the append, on the same connection): an acknowledged event
    /// then survives the master's loss and a failover. Fewer within `timeout` is
    /// [`QueueError::Unavailable`]; the event is stored all the same (a retry finds it and waits
    /// again). Off by default (see `docs/redis.md` for the window it closes and its cost).
    pub fn wait_for_replicas(mut self, replicas: u32, timeout: Duration) -> Self {
        self.replicas = (replicas > 0).then_some((replicas, timeout));
        self
    }

    /// Sets how long one operation may take, reconnecting included (default 1 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut key = String::from(&*self.base);
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }

    fn stream(&self) -> String {
        self.key(&["stream"])
    }

    fn dead(&self) -> String {
        self.key(&["dead"])
    }

    fn lane_key(&self, lane: Option<&str>) -> String {
        self.key(&["lane", lane.unwrap_or_default()])
    }

    fn lock_key(&self, entry: &StoredEntry) -> String {
        match &entry.lane {
            Some(lane) => self.key(&["lock", "lane", lane]),
            None => self.key(&["lock", "entry", &entry.id]),
        }
    }

    /// The five keys of an entry's scripts: stream, lane, lock, deliveries, dead.
    fn entry_keys(&self, entry: &StoredEntry) -> [String; 5] {
        [
            self.stream(),
            self.lane_key(entry.lane.as_deref()),
            self.lock_key(entry),
            self.key(&["deliveries"]),
            self.dead(),
        ]
    }

    fn trim(&self) -> (&'static str, u64) {
        match self.retention {
            Retention::MaxAge(age) => ("MINID", millis(age)),
            Retention::MaxLen(len) => ("MAXLEN", len),
        }
    }

    /// Runs `invocation` within the timeout.
    async fn run<T: FromRedisValue>(
        &self,
        invocation: ::redis::ScriptInvocation<'_>,
    ) -> Result<T, QueueError> {
        let mut redis = self.redis.clone();
        Ok(within(self.timeout, invocation.invoke_async(&mut redis)).await?)
    }

    async fn requeue(
        &self,
        event_id: &str,
        lane: Option<&str>,
        json: &str,
        dead_id: &str,
    ) -> Result<bool, QueueError> {
        let (kind, value) = self.trim();
        let mut invocation = REQUEUE.prepare_invoke();
        invocation
            .key(self.stream())
            .key(self.lane_key(lane))
            .key(self.dead())
            .arg(event_id)
            .arg(lane.unwrap_or_default())
            .arg(json)
            .arg(kind)
            .arg(value)
            .arg(dead_id);
        Ok(self.run::<Option<String>>(invocation).await?.is_some())
    }

    /// `XRANGE key start end COUNT max`, as (ID, fields).
    async fn range(
        &self,
        key: String,
        start: &str,
        end: &str,
        max: usize,
    ) -> Result<Vec<(String, Vec<String>)>, QueueError> {
        let mut redis = self.redis.clone();
        let command = ::redis::cmd("XRANGE")
            .arg(key)
            .arg(start)
            .arg(end)
            .arg("COUNT")
            .arg(max.max(1))
            .to_owned();
        Ok(within(self.timeout, command.query_async(&mut redis)).await?)
    }

    /// Runs the start script on `entries` (at most [`BATCH`]), with their JSON when
    /// `with_json`; an answer per entry (see [`START`]).
    async fn start_chunk(
        &self,
        consumer: &str,
        entries: &[&StoredEntry],
        visibility: Duration,
        max_deliveries: u32,
        with_json: bool,
    ) -> Result<Vec<i64>, QueueError> {
        let mut invocation = START.prepare_invoke();
        invocation
            .key(self.stream())
            .key(self.key(&["deliveries"]))
            .key(self.dead());
        for entry in entries {
            invocation
                .key(self.lane_key(entry.lane.as_deref()))
                .key(self.lock_key(entry));
        }
        invocation
            .arg(&*self.group)
            .arg(consumer)
            .arg(millis(visibility))
            .arg(max_deliveries)
            .arg(MAX_DEAD_LETTERS);
        for entry in entries {
            invocation
                .arg(&entry.id)
                .arg(&entry.event_id)
                .arg(entry.lane.as_deref().unwrap_or_default())
                .arg(if with_json { entry.json.as_str() } else { "" });
        }
        self.answers(invocation, entries.len()).await
    }

    /// Runs the acknowledgement script on `entries` (at most [`BATCH`]): for each, whether it
    /// was acknowledged.
    async fn ack_chunk(
        &self,
        consumer: &str,
        entries: &[&StoredEntry],
    ) -> Result<Vec<bool>, QueueError> {
        let mut invocation = ACK.prepare_invoke();
        invocation.key(self.stream()).key(self.key(&["deliveries"]));
        for entry in entries {
            invocation
                .key(self.lane_key(entry.lane.as_deref()))
                .key(self.lock_key(entry));
        }
        invocation.arg(&*self.group).arg(consumer);
        for entry in entries {
            invocation
                .arg(&entry.id)
                .arg(entry.lane.as_deref().unwrap_or_default());
        }
        let answers = self.answers(invocation, entries.len()).await?;
        Ok(answers.into_iter().map(|answer| answer == 1).collect())
    }

    /// Runs a script that answers a number per entry: `n` of them, or an error.
    async fn answers(
        &self,
        invocation: ::redis::ScriptInvocation<'_>,
        n: usize,
    ) -> Result<Vec<i64>, QueueError> {
        let answers: Vec<i64> = self.run(invocation).await?;
        if answers.len() == n {
            Ok(answers)
        } else {
            Err(QueueError::store(format!(
                "the script answered for {} entries, not {n}",
                answers.len()
            )))
        }
    }
}

/// The most entries one start or acknowledgement script handles: it bounds how long Redis runs
/// it (every other client of the Redis waits meanwhile).
const BATCH: usize = 64;

impl QueueStore for RedisQueue {
    async fn append(
        &self,
        event_id: &str,
        lane: Option<&str>,
        json: &str,
        traceparent: Option<&str>,
    ) -> Result<Appended, QueueError> {
        let (kind, value) = self.trim();
        let mut invocation = APPEND.prepare_invoke();
        invocation
            .key(self.stream())
            .key(self.key(&["seen", event_id]))
            .key(self.lane_key(lane))
            .arg(event_id)
            .arg(lane.unwrap_or_default())
            .arg(json)
            .arg(millis(self.seen_ttl))
            .arg(kind)
            .arg(value)
            .arg(traceparent.unwrap_or_default());
        let appended = match self.run::<Option<String>>(invocation).await? {
            Some(id) => Appended::New(id),
            None => Appended::Duplicate,
        };
        if let Some((replicas, timeout)) = self.replicas {
            let mut redis = self.redis.clone();
            let stream = self.stream();
            let waited = redis.wait_for_replicas(&stream, replicas, timeout);
            let acknowledged = within(self.timeout + timeout, waited).await?;
            if acknowledged < i64::from(replicas) {
                return Err(QueueError::Unavailable(
                    format!(
                        "the event reached {acknowledged} of {replicas} replicas within \
                         {timeout:?}: a failover could lose it"
                    )
                    .into(),
                ));
            }
        }
        Ok(appended)
    }

    async fn read_new(&self, consumer: &str, max: usize) -> Result<Vec<StoredEntry>, QueueError> {
        let mut invocation = READ.prepare_invoke();
        invocation
            .key(self.stream())
            .arg(&*self.group)
            .arg(consumer)
            .arg(max.max(1));
        Ok(entries(self.run(invocation).await?))
    }

    async fn take_over(
        &self,
        consumer: &str,
        min_idle: Duration,
        max: usize,
    ) -> Result<Vec<StoredEntry>, QueueError> {
        let mut invocation = TAKE_OVER.prepare_invoke();
        invocation
            .key(self.stream())
            .arg(&*self.group)
            .arg(consumer)
            .arg(millis(min_idle))
            .arg(max.max(1));
        Ok(entries(self.run(invocation).await?))
    }

    async fn start(
        &self,
        consumer: &str,
        entry: &StoredEntry,
        visibility: Duration,
        max_deliveries: u32,
    ) -> Result<Start, QueueError> {
        let answers = self
            .start_chunk(consumer, &[entry], visibility, max_deliveries, true)
            .await?;
        Ok(started(answers[0]))
    }

    async fn start_batch(
        &self,
        consumer: &str,
        entries: &[&StoredEntry],
        visibility: Duration,
        max_deliveries: u32,
    ) -> Vec<Result<Start, QueueError>> {
        let chunks = entries.chunks(BATCH);
        let answers = futures_util::future::join_all(
            chunks
                .clone()
                .map(|chunk| self.start_chunk(consumer, chunk, visibility, max_deliveries, false)),
        )
        .await;
        let mut out = Vec::with_capacity(entries.len());
        for (chunk, answers) in chunks.zip(answers) {
            match answers {
                Ok(answers) => {
                    for (entry, answer) in chunk.iter().zip(answers) {
                        // To be dead-lettered but trimmed from the stream: again, with its JSON.
                        out.push(match answer {
                            -3 => {
                                self.start(consumer, entry, visibility, max_deliveries)
                                    .await
                            }
                            n => Ok(started(n)),
                        });
                    }
                }
                Err(error) => out.extend(chunk.iter().map(|_| Err(error.duplicate()))),
            }
        }
        out
    }

    async fn renew(
        &self,
        consumer: &str,
        entry: &StoredEntry,
        visibility: Duration,
    ) -> Result<bool, QueueError> {
        let mut invocation = RENEW.prepare_invoke();
        invocation
            .key(self.stream())
            .key(self.lock_key(entry))
            .arg(&*self.group)
            .arg(consumer)
            .arg(&entry.id)
            .arg(millis(visibility));
        Ok(self.run::<i64>(invocation).await? == 1)
    }

    async fn touch(
        &self,
        consumer: &str,
        entry_ids: &[String],
        visibility: Duration,
        release: bool,
    ) -> Result<(), QueueError> {
        for ids in entry_ids.chunks(100) {
            let mut invocation = TOUCH.prepare_invoke();
            invocation
                .key(self.stream())
                .arg(&*self.group)
                .arg(consumer)
                .arg(if release { millis(visibility) } else { 0 });
            for id in ids {
                invocation.arg(id);
            }
            self.run::<i64>(invocation).await?;
        }
        Ok(())
    }

    async fn ack(&self, consumer: &str, entry: &StoredEntry) -> Result<bool, QueueError> {
        Ok(self.ack_chunk(consumer, &[entry]).await?[0])
    }

    async fn ack_batch(
        &self,
        consumer: &str,
        entries: &[&StoredEntry],
    ) -> Vec<Result<bool, QueueError>> {
        let chunks = entries.chunks(BATCH);
        let answers = futures_util::future::join_all(
            chunks.clone().map(|chunk| self.ack_chunk(consumer, chunk)),
        )
        .await;
        let mut out = Vec::with_capacity(entries.len());
        for (chunk, answers) in chunks.zip(answers) {
            match answers {
                Ok(answers) => out.extend(answers.into_iter().map(Ok)),
                Err(error) => out.extend(chunk.iter().map(|_| Err(error.duplicate()))),
            }
        }
        out
    }

    async fn fail(
        &self,
        consumer: &str,
        entry: &StoredEntry,
        error: &str,
        max_deliveries: u32,
    ) -> Result<Failed, QueueError> {
        let mut invocation = FAIL.prepare_invoke();
        for key in self.entry_keys(entry) {
            invocation.key(key);
        }
        invocation
            .arg(&*self.group)
            .arg(consumer)
            .arg(&entry.id)
            .arg(max_deliveries)
            .arg(&entry.event_id)
            .arg(entry.lane.as_deref().unwrap_or_default())
            .arg(&entry.json)
            .arg(error)
            .arg(MAX_DEAD_LETTERS);
        Ok(match self.run::<i64>(invocation).await? {
            1 => Failed::Retry,
            2 => Failed::Dead,
            _ => Failed::Gone,
        })
    }

    async fn stats(&self) -> Result<Stats, QueueError> {
        let mut invocation = STATS.prepare_invoke();
        invocation
            .key(self.stream())
            .key(self.dead())
            .arg(&*self.group);
        let flat: Vec<String> = self.run(invocation).await?;
        let number = |i: usize| flat.get(i).and_then(|v| v.parse().ok()).unwrap_or(0);
        let oldest = flat.get(3).and_then(|id| entry_ms(id));
        Ok(Stats {
            length: number(0),
            dead_letters: number(1),
            pending: number(2),
            oldest_pending_age_ms: oldest.map(|ms| now_ms().saturating_sub(ms)),
            undelivered: None,
            consumers: flat
                .get(4..)
                .unwrap_or_default()
                .chunks_exact(2)
                .map(|c| ConsumerStats {
                    name: c[0].clone(),
                    pending: c[1].parse().unwrap_or(0),
                })
                .collect(),
        })
    }

    async fn dead_letters(&self, max: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let raw = self.range(self.dead(), "-", "+", max).await?;
        Ok(raw.into_iter().map(letter).collect())
    }

    async fn redrive(&self, ids: &[String], max: usize) -> Result<u64, QueueError> {
        let letters = if ids.is_empty() {
            self.dead_letters(max).await?
        } else {
            let mut letters = Vec::new();
            for id in ids {
                let found = self.range(self.dead(), id, id, 1).await?;
                letters.extend(found.into_iter().map(letter));
            }
            letters
        };
        let mut moved = 0;
        for letter in letters {
            if self
                .requeue(
                    &letter.event_id,
                    letter.lane.as_deref(),
                    &letter.json,
                    &letter.id,
                )
                .await?
            {
                moved += 1;
            }
        }
        Ok(moved)
    }

    async fn replay(
        &self,
        since_ms: u64,
        until_ms: u64,
        max: usize,
    ) -> Result<(u64, Option<String>), QueueError> {
        let raw = self
            .range(
                self.stream(),
                &format!("{since_ms}-0"),
                &format!("{until_ms}-{}", u64::MAX),
                max,
            )
            .await?;
        let last = (raw.len() >= max)
            .then(|| raw.last().map(|(id, _)| id.clone()))
            .flatten();
        let mut copied = 0;
        for (_, fields) in &raw {
            let lane = Some(field(fields, "lane")).filter(|l| !l.is_empty());
            self.requeue(field(fields, "id"), lane, field(fields, "event"), "")
                .await?;
            copied += 1;
        }
        Ok((copied, last))
    }
}
