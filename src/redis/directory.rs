//! [`RedisMergeStore`]: the conversation-ID directory's links, shared by every process.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ::redis::Script;

use super::{connectors, within, RedisConnection, DEFAULT_PREFIX, DEFAULT_TIMEOUT};
use crate::lifecycle::{
    resolve, DirectoryError, MergePlan, MergeStore, Move, MAX_CHAIN, MAX_SOURCES, MAX_STEPS,
};

/// How many times a merge is planned again when another process changed a link it read.
const MAX_ATTEMPTS: usize = 32;

/// Writes the links of a plan if every key the plan read still holds what it held: 1 written, 0
/// something changed (plan again).
///
/// ARGV[1] is how many keys were read (n); KEYS[1..n] are those keys and ARGV[2..n+1] their
/// values as read ('' when absent: a link is never empty). KEYS[n+1..] are the links to write
/// and ARGV[n+2..] where they lead.
static COMMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local n = tonumber(ARGV[1])
        for i = 1, n do
            if (redis.call('GET', KEYS[i]) or '') ~= ARGV[i + 1] then
                return 0
            end
        end
        for i = n + 1, #KEYS do
            redis.call('SET', KEYS[i], ARGV[i + 1])
        end
        return 1
        ",
    )
});

/// A [`MergeStore`] in Redis: the links of the [conversation
/// directory](crate::lifecycle::ConversationDirectory) shared by every process that uses the
/// same Redis and prefix.
///
/// Each merged-away conversation ID is one key, `<prefix>merged:<ID>`, holding the ID it was
/// merged into, with no expiry (a forgotten link would silently cut the chains through it,
/// as [`InMemoryMergeStore`](crate::lifecycle::InMemoryMergeStore) explains).
///
/// **Atomic.** A merge reads the chains it touches (one `MGET` per link of the longest chain),
/// plans with [`MergePlan`], the rules every store shares, and writes its links with a Lua script
/// that first checks that every key it read still holds what it held: if another process
/// recorded a merge in between, nothing is written and the merge is planned again (up to 32
/// times). So concurrent merges from any number of processes end in the state one order of them
/// gives, and each ID is reported as moved exactly once. Links are written once and never
/// changed, so a redelivery or a refusal decided on what was read stays true.
///
/// **Failures** (a lost, refused or slow connection: 1 s per round trip by default) are
/// [`DirectoryError::Store`]; nothing is written then.
///
/// **Redis Cluster.** A merge checks and writes the links of several conversations at once, and
/// Redis runs a script only on keys of one hash slot. Spreading the links over slots would need
/// a protocol across them (two concurrent merges `A → B` and `B → A`, each writing its own link
/// after seeing the other absent, would make a loop), which is a lock: one key in one slot
/// anyway. So on a cluster every link carries one hash tag, `{<prefix>merged}:<ID>`: the whole
/// directory sits in one slot, on one master (and its replica), and every merge stays one
/// atomic script. Merges are rare (one per `conversations-merged` webhook) and a link is a few
/// dozen bytes (measured in `docs/redis.md`), so one slot holds the directory of a large app.
/// On one server the keys keep their names, `<prefix>merged:<ID>`.
#[derive(Clone, Debug)]
pub struct RedisMergeStore {
    redis: RedisConnection,
    prefix: Arc<str>,
    timeout: Duration,
}

impl RedisMergeStore {
    connectors!(DirectoryError);

    /// A store on a connection of your own, or one shared with a
    /// [`RedisDeduplicator`](super::RedisDeduplicator) (its
    /// [`connection`](super::RedisDeduplicator::connection)), with the defaults: prefix
    /// `wix-inbox:`, 1 s per round trip.
    pub fn new(redis: impl Into<RedisConnection>) -> Self {
        RedisMergeStore {
            redis: redis.into(),
            prefix: Arc::from(DEFAULT_PREFIX),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets the prefix of the keys (default `wix-inbox:`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Arc::from(prefix.into());
        self
    }

    /// Sets how long one round trip may take, reconnecting included (default 1 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `<prefix>merged:<ID>` on one server; `{<prefix>merged}:<ID>` on a Redis Cluster, where
    /// every link shares the hash tag so that a merge's check-and-write is one script on one
    /// slot (see the type's docs).
    fn key(&self, id: &str) -> String {
        let mut key = String::with_capacity(self.prefix.len() + 10 + id.len());
        let cluster = self.redis.is_cluster();
        if cluster {
            key.push('{');
        }
        key.push_str(&self.prefix);
        key.push_str(if cluster { "merged}:" } else { "merged:" });
        key.push_str(id);
        key
    }

    /// Reads the links of `ids` and of every ID their chains pass through, into `known`
    /// (`None`: not merged). One `MGET` per step along the longest chain.
    async fn read_chains(
        &self,
        redis: &mut RedisConnection,
        ids: impl IntoIterator<Item = String>,
        known: &mut HashMap<String, Option<String>>,
    ) -> Result<(), DirectoryError> {
        let mut frontier: Vec<String> = ids
            .into_iter()
            .filter(|id| !known.contains_key(id))
            .collect();
        frontier.sort();
        frontier.dedup();
        for _ in 0..=MAX_CHAIN {
            if frontier.is_empty() {
                return Ok(());
            }
            let keys: Vec<String> = frontier.iter().map(|id| self.key(id)).collect();
            let values: Vec<Option<String>> = within(
                self.timeout,
                ::redis::cmd("MGET").arg(&keys).query_async(redis),
            )
            .await?;
            if values.len() != frontier.len() {
                return Err(DirectoryError::store(format!(
                    "MGET of {} keys answered {} values",
                    frontier.len(),
                    values.len()
                )));
            }
            if known.len() + values.len() > MAX_STEPS {
                return Err(DirectoryError::TooLarge(
                    "following its chains takes more than 80,000 steps",
                ));
            }
            let mut next = Vec::new();
            for (id, value) in frontier.drain(..).zip(values) {
                if let Some(into) = &value {
                    if !known.contains_key(into) && !next.contains(into) {
                        next.push(into.clone());
                    }
                }
                known.insert(id, value);
            }
            frontier = next;
        }
        // A chain of exactly MAX_CHAIN links ends on the last round: that is no loop.
        match frontier.pop() {
            None => Ok(()),
            Some(id) => Err(DirectoryError::Corrupt { id }),
        }
    }

    /// Plans the merge on the links read so far, reading more until the plan looked up nothing
    /// it had not read.
    async fn plan(
        &self,
        redis: &mut RedisConnection,
        sources: &[String],
        target: &str,
        known: &mut HashMap<String, Option<String>>,
    ) -> Result<MergePlan, DirectoryError> {
        self.read_chains(
            redis,
            sources.iter().cloned().chain([target.to_owned()]),
            known,
        )
        .await?;
        for _ in 0..=MAX_CHAIN {
            let missing = RefCell::new(Vec::new());
            let planned = MergePlan::new(sources, target, |id| match known.get(id) {
                Some(link) => link.as_deref(),
                None => {
                    missing.borrow_mut().push(id.to_owned());
                    None
                }
            });
            let missing = missing.into_inner();
            if missing.is_empty() {
                return planned;
            }
            self.read_chains(redis, missing, known).await?;
        }
        Err(DirectoryError::Corrupt {
            id: target.to_owned(),
        })
    }
}

impl MergeStore for RedisMergeStore {
    fn apply(
        &self,
        sources: &[String],
        target: &str,
    ) -> impl Future<Output = Result<Vec<Move>, DirectoryError>> + Send {
        let sources = sources.to_vec();
        let target = target.to_owned();
        async move {
            if target.is_empty()
                || sources.iter().any(String::is_empty)
                || sources.len() > MAX_SOURCES
            {
                // Refused before any round trip, with the rules' own error.
                return MergePlan::new(&sources, &target, |_| None).map(|plan| plan.moves);
            }
            let mut redis = self.redis.clone();
            for _ in 0..MAX_ATTEMPTS {
                let mut known = HashMap::new();
                let plan = self.plan(&mut redis, &sources, &target, &mut known).await?;
                if plan.links.is_empty() {
                    // Known already, or older news: links never change, so this stays true.
                    return Ok(plan.moves);
                }
                let mut commit = COMMIT.prepare_invoke();
                commit.arg(known.len());
                for (id, link) in &known {
                    commit.key(self.key(id)).arg(link.as_deref().unwrap_or(""));
                }
                for link in &plan.links {
                    commit.key(self.key(&link.from)).arg(&link.into);
                }
                let written: i64 = within(self.timeout, commit.invoke_async(&mut redis)).await?;
                if written == 1 {
                    return Ok(plan.moves);
                }
                // Another process recorded a merge on these chains meanwhile: plan again.
            }
            Err(DirectoryError::store(format!(
                "the links kept changing while this merge was planned ({MAX_ATTEMPTS} attempts)"
            )))
        }
    }

    fn current(&self, id: &str) -> impl Future<Output = Result<String, DirectoryError>> + Send {
        let id = id.to_owned();
        async move {
            if id.is_empty() {
                return Err(DirectoryError::Invalid("the conversation ID is empty"));
            }
            let mut redis = self.redis.clone();
            let mut known = HashMap::new();
            self.read_chains(&mut redis, [id.clone()], &mut known)
                .await?;
            resolve(&id, |id| known.get(id).and_then(|link| link.as_deref())).map(str::to_owned)
        }
    }
}
