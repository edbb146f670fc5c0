//! [`InMemoryQueue`]: the queue in this process's memory, with the semantics of the Redis one.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{
    entry_ms, Appended, ConsumerStats, DeadLetter, Failed, QueueError, QueueStore, Retention,
    Start, Stats, StoredEntry, DEFAULT_SEEN_TTL, MAX_DEAD_LETTERS,
};

/// A queue in memory, for tests, a single process and the fake: what is stored is lost with
/// the process. Clones share one queue.
#[derive(Clone, Default)]
pub struct InMemoryQueue {
    state: Arc<Mutex<State>>,
    retention: Option<Retention>,
}

impl std::fmt::Debug for InMemoryQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryQueue").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    /// Entries by (milliseconds, sequence).
    stream: BTreeMap<(u64, u64), StoredEntry>,
    /// The last entry ID given out (IDs only grow).
    last: (u64, u64),
    /// The last entry delivered by `read_new`.
    delivered: (u64, u64),
    /// Pending entries, by entry ID.
    pending: HashMap<String, Pending>,
    /// Per lane, the entries not yet settled, in append order.
    lanes: HashMap<String, VecDeque<String>>,
    /// Locks, by lane (or by entry, outside lanes).
    locks: HashMap<String, Lock>,
    /// Deliveries per entry.
    deliveries: HashMap<String, u32>,
    /// Event IDs appended, until when they are remembered.
    seen: HashMap<String, Instant>,
    dead: VecDeque<DeadLetter>,
    dead_seq: u64,
}

/// A pending entry: the consumer it was delivered to, and when it was last delivered or
/// touched (its idle time counts from then).
struct Pending {
    consumer: String,
    since: Instant,
}

impl Pending {
    fn new(consumer: &str, since: Instant) -> Self {
        Pending {
            consumer: consumer.to_owned(),
            since,
        }
    }
}

/// A lock on a lane (or an entry): the consumer handling it, until when.
struct Lock {
    holder: String,
    until: Instant,
}

impl InMemoryQueue {
    /// An empty queue, retaining entries for [`DEFAULT_RETENTION`](super::DEFAULT_RETENTION).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how long entries are retained.
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = Some(retention);
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// The key of an entry's lock: its lane's, or its own when it has no lane.
fn lock_key(entry: &StoredEntry) -> String {
    match &entry.lane {
        Some(lane) => format!("lane:{lane}"),
        None => format!("entry:{}", entry.id),
    }
}

impl State {
    fn add(
        &mut self,
        event_id: &str,
        lane: Option<&str>,
        json: &str,
        trace: Option<&str>,
        retention: Retention,
    ) -> String {
        let ms = now_ms();
        let key = if ms > self.last.0 {
            (ms, 0)
        } else {
            (self.last.0, self.last.1 + 1)
        };
        self.last = key;
        let id = format!("{}-{}", key.0, key.1);
        self.stream.insert(
            key,
            StoredEntry {
                id: id.clone(),
                event_id: event_id.to_owned(),
                lane: lane.map(str::to_owned),
                json: json.to_owned(),
                trace: trace.map(str::to_owned),
            },
        );
        if let Some(lane) = lane {
            self.lanes
                .entry(lane.to_owned())
                .or_default()
                .push_back(id.clone());
        }
        match retention {
            Retention::MaxAge(age) => {
                let min = ms.saturating_sub(age.as_millis() as u64);
                self.stream.retain(|k, _| k.0 >= min);
            }
            Retention::MaxLen(len) => {
                while self.stream.len() as u64 > len {
                    self.stream.pop_first();
                }
            }
        }
        id
    }

    fn owns(&self, consumer: &str, entry_id: &str) -> bool {
        self.pending
            .get(entry_id)
            .is_some_and(|p| p.consumer == consumer)
    }

    /// Removes a settled entry from the pending list, its lane and its lock.
    fn settle(&mut self, entry: &StoredEntry) {
        self.pending.remove(&entry.id);
        self.deliveries.remove(&entry.id);
        self.locks.remove(&lock_key(entry));
        if let Some(lane) = &entry.lane {
            if let Some(list) = self.lanes.get_mut(lane) {
                list.retain(|id| *id != entry.id);
                if list.is_empty() {
                    self.lanes.remove(lane);
                }
            }
        }
    }

    fn kill(&mut self, entry: &StoredEntry, error: &str) {
        self.dead_seq += 1;
        self.dead.push_back(DeadLetter {
            id: format!("{}-{}", now_ms(), self.dead_seq),
            entry_id: entry.id.clone(),
            event_id: entry.event_id.clone(),
            lane: entry.lane.clone(),
            deliveries: self.deliveries.get(&entry.id).copied().unwrap_or(0),
            error: error.to_owned(),
            json: entry.json.clone(),
        });
        while self.dead.len() > MAX_DEAD_LETTERS {
            self.dead.pop_front();
        }
        self.settle(entry);
    }

    /// Whether `entry_id` heads its lane, dropping heads that are no longer retained.
    fn heads(&mut self, lane: &str, entry_id: &str) -> bool {
        let Some(list) = self.lanes.get_mut(lane) else {
            return true;
        };
        if !list.contains(&entry_id.to_owned()) {
            return true;
        }
        while let Some(head) = list.front() {
            if head == entry_id {
                return true;
            }
            let retained = parse_id(head).is_some_and(|k| self.stream.contains_key(&k));
            if retained {
                return false;
            }
            list.pop_front();
        }
        false
    }
}

impl QueueStore for InMemoryQueue {
    async fn append(
        &self,
        event_id: &str,
        lane: Option<&str>,
        json: &str,
        traceparent: Option<&str>,
    ) -> Result<Appended, QueueError> {
        let mut state = self.lock();
        let now = Instant::now();
        state.seen.retain(|_, until| *until > now);
        if state.seen.contains_key(event_id) {
            return Ok(Appended::Duplicate);
        }
        let retention = self.retention.unwrap_or_default();
        let id = state.add(event_id, lane, json, traceparent, retention);
        state
            .seen
            .insert(event_id.to_owned(), now + DEFAULT_SEEN_TTL);
        Ok(Appended::New(id))
    }

    async fn read_new(&self, consumer: &str, max: usize) -> Result<Vec<StoredEntry>, QueueError> {
        let mut state = self.lock();
        let from = state.delivered;
        let taken: Vec<StoredEntry> = state
            .stream
            .range((std::ops::Bound::Excluded(from), std::ops::Bound::Unbounded))
            .take(max)
            .map(|(_, e)| e.clone())
            .collect();
        let now = Instant::now();
        for entry in &taken {
            state.delivered = parse_id(&entry.id).unwrap_or(state.delivered);
            state
                .pending
                .insert(entry.id.clone(), Pending::new(consumer, now));
        }
        Ok(taken)
    }

    async fn take_over(
        &self,
        consumer: &str,
        min_idle: Duration,
        max: usize,
    ) -> Result<Vec<StoredEntry>, QueueError> {
        let mut state = self.lock();
        let now = Instant::now();
        let mut idle: Vec<String> = state
            .pending
            .iter()
            .filter(|(_, p)| p.consumer != consumer && now.duration_since(p.since) >= min_idle)
            .map(|(id, _)| id.clone())
            .collect();
        idle.sort_by_key(|id| parse_id(id));
        let mut taken = Vec::new();
        for id in idle {
            if taken.len() >= max {
                break;
            }
            match parse_id(&id).and_then(|k| state.stream.get(&k)).cloned() {
                Some(entry) => {
                    state.pending.insert(id, Pending::new(consumer, now));
                    taken.push(entry);
                }
                // Trimmed while pending: forgotten, as XAUTOCLAIM does.
                None => {
                    state.pending.remove(&id);
                }
            }
        }
        Ok(taken)
    }

    async fn start(
        &self,
        consumer: &str,
        entry: &StoredEntry,
        visibility: Duration,
        max_deliveries: u32,
    ) -> Result<Start, QueueError> {
        let mut state = self.lock();
        let now = Instant::now();
        if !state.owns(consumer, &entry.id) {
            return Ok(Start::Gone);
        }
        let key = lock_key(entry);
        let head = entry
            .lane
            .as_deref()
            .is_none_or(|lane| state.heads(lane, &entry.id));
        let locked = state
            .locks
            .get(&key)
            .is_some_and(|lock| lock.holder != consumer && lock.until > now);
        if !head || locked {
            state
                .pending
                .insert(entry.id.clone(), Pending::new(consumer, now));
            return Ok(Start::Wait);
        }
        let delivered = state.deliveries.get(&entry.id).copied().unwrap_or(0);
        if delivered >= max_deliveries {
            state.kill(
                entry,
                "delivered the maximum number of times; its workers stopped while handling it",
            );
            return Ok(Start::Dead);
        }
        state.locks.insert(
            key,
            Lock {
                holder: consumer.to_owned(),
                until: now + visibility,
            },
        );
        state.deliveries.insert(entry.id.clone(), delivered + 1);
        state
            .pending
            .insert(entry.id.clone(), Pending::new(consumer, now));
        Ok(Start::Go(delivered + 1))
    }

    async fn renew(
        &self,
        consumer: &str,
        entry: &StoredEntry,
        visibility: Duration,
    ) -> Result<bool, QueueError> {
        let mut state = self.lock();
        let now = Instant::now();
        let key = lock_key(entry);
        match state.locks.get_mut(&key) {
            Some(lock) if lock.holder == consumer => {
                lock.until = now + visibility;
            }
            _ => return Ok(false),
        }
        if state.owns(consumer, &entry.id) {
            state
                .pending
                .insert(entry.id.clone(), Pending::new(consumer, now));
        }
        Ok(true)
    }

    async fn touch(
        &self,
        consumer: &str,
        entry_ids: &[String],
        visibility: Duration,
        release: bool,
    ) -> Result<(), QueueError> {
        let mut state = self.lock();
        let now = Instant::now();
        let at = if release {
            now.checked_sub(visibility).unwrap_or(now)
        } else {
            now
        };
        for id in entry_ids {
            if state.owns(consumer, id) {
                state.pending.insert(id.clone(), Pending::new(consumer, at));
            }
        }
        Ok(())
    }

    async fn ack(&self, consumer: &str, entry: &StoredEntry) -> Result<bool, QueueError> {
        let mut state = self.lock();
        let held = state
            .locks
            .get(&lock_key(entry))
            .is_some_and(|lock| lock.holder == consumer);
        if !held || !state.owns(consumer, &entry.id) {
            return Ok(false);
        }
        state.settle(entry);
        Ok(true)
    }

    async fn fail(
        &self,
        consumer: &str,
        entry: &StoredEntry,
        error: &str,
        max_deliveries: u32,
    ) -> Result<Failed, QueueError> {
        let mut state = self.lock();
        let key = lock_key(entry);
        let held = state
            .locks
            .get(&key)
            .is_some_and(|lock| lock.holder == consumer);
        if !held || !state.owns(consumer, &entry.id) {
            return Ok(Failed::Gone);
        }
        if state.deliveries.get(&entry.id).copied().unwrap_or(0) >= max_deliveries {
            state.kill(entry, error);
            return Ok(Failed::Dead);
        }
        state.locks.remove(&key);
        Ok(Failed::Retry)
    }

    async fn stats(&self) -> Result<Stats, QueueError> {
        let state = self.lock();
        let mut consumers: BTreeMap<&str, u64> = BTreeMap::new();
        for pending in state.pending.values() {
            *consumers.entry(&pending.consumer).or_default() += 1;
        }
        let oldest = state.pending.keys().filter_map(|id| entry_ms(id)).min();
        let delivered = state.delivered;
        Ok(Stats {
            length: state.stream.len() as u64,
            pending: state.pending.len() as u64,
            oldest_pending_age_ms: oldest.map(|ms| now_ms().saturating_sub(ms)),
            undelivered: Some(
                state
                    .stream
                    .range((
                        std::ops::Bound::Excluded(delivered),
                        std::ops::Bound::Unbounded,
                    ))
                    .count() as u64,
            ),
            dead_letters: state.dead.len() as u64,
            consumers: consumers
                .into_iter()
                .map(|(name, pending)| ConsumerStats {
                    name: name.to_owned(),
                    pending,
                })
                .collect(),
        })
    }

    async fn dead_letters(&self, max: usize) -> Result<Vec<DeadLetter>, QueueError> {
        Ok(self.lock().dead.iter().take(max).cloned().collect())
    }

    async fn redrive(&self, ids: &[String], max: usize) -> Result<u64, QueueError> {
        let mut state = self.lock();
        let retention = self.retention.unwrap_or_default();
        let chosen: Vec<DeadLetter> = if ids.is_empty() {
            let n = max.min(state.dead.len());
            state.dead.drain(..n).collect()
        } else {
            let (chosen, kept) = std::mem::take(&mut state.dead)
                .into_iter()
                .partition::<Vec<_>, _>(|d| ids.contains(&d.id));
            let kept: VecDeque<DeadLetter> = kept.into();
            state.dead = kept;
            chosen
        };
        for dead in &chosen {
            state.add(
                &dead.event_id,
                dead.lane.as_deref(),
                &dead.json,
                None,
                retention,
            );
        }
        Ok(chosen.len() as u64)
    }

    async fn replay(
        &self,
        since_ms: u64,
        until_ms: u64,
        max: usize,
    ) -> Result<(u64, Option<String>), QueueError> {
        let mut state = self.lock();
        let retention = self.retention.unwrap_or_default();
        let chosen: Vec<StoredEntry> = state
            .stream
            .range((since_ms, 0)..=(until_ms, u64::MAX))
            .take(max)
            .map(|(_, e)| e.clone())
            .collect();
        let last = (chosen.len() == max)
            .then(|| chosen.last().map(|e| e.id.clone()))
            .flatten();
        for entry in &chosen {
            state.add(
                &entry.event_id,
                entry.lane.as_deref(),
                &entry.json,
                None,
                retention,
            );
        }
        Ok((chosen.len() as u64, last))
    }
}
