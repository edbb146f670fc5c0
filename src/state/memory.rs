//! The in-process state store.

use std::collections::HashMap;
use std::future::{ready, Future};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::store::{check_key, Entry, StateError, StateStore};

/// How many sent message IDs an [`InMemoryStateStore`] remembers, all scopes together, by
/// default: 100,000 (the least recently remembered go first).
pub const DEFAULT_REMEMBERED: u64 = 100_000;

/// How long a sent message ID is remembered: 7 days (Wix redelivers for about 47 hours).
pub const REMEMBER_FOR: Duration = Duration::from_secs(7 * 24 * 3600);

type Values = HashMap<(Box<str>, Box<str>), String>;

/// A [`StateStore`] in this process: a map behind a mutex (no lock is held across an
/// `.await`), and the sent message IDs in a bounded, expiring cache (moka). Clones share both.
///
/// The values are not bounded in number: one per conversation with state and one per reply
/// record, each at most [`MAX_VALUE`](super::MAX_VALUE) bytes; an app that must bound them or
/// share them between processes uses a shared store (`wix_inbox::redis::RedisStateStore`).
#[derive(Clone)]
pub struct InMemoryStateStore {
    values: Arc<Mutex<Values>>,
    remembered: moka::sync::Cache<(Box<str>, Box<str>), ()>,
}

impl std::fmt::Debug for InMemoryStateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryStateStore")
            .field("values", &self.len())
            .finish_non_exhaustive()
    }
}

impl Default for InMemoryStateStore {
    fn default() -> Self {
        Self::with_remembered(DEFAULT_REMEMBERED)
    }
}

impl InMemoryStateStore {
    /// An empty store remembering up to [`DEFAULT_REMEMBERED`] sent message IDs.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store remembering up to `capacity` sent message IDs (for
    /// [`REMEMBER_FOR`] each).
    pub fn with_remembered(capacity: u64) -> Self {
        InMemoryStateStore {
            values: Arc::default(),
            remembered: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(REMEMBER_FOR)
                .build(),
        }
    }

    /// How many values the store holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Values> {
        // Values are only changed after every check passed, so a poisoned lock still guards a
        // whole map.
        self.values.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn commit_now(&self, scope: &str, read: &[Entry], writes: &[Entry]) -> bool {
        let mut values = self.lock();
        let key = |k: &str| (Box::from(scope), Box::from(k));
        if read
            .iter()
            .any(|(k, v)| values.get(&key(k)).map(String::as_str) != v.as_deref())
        {
            return false;
        }
        for (k, v) in writes {
            match v {
                Some(v) => values.insert(key(k), v.clone()),
                None => values.remove(&key(k)),
            };
        }
        true
    }
}

impl StateStore for InMemoryStateStore {
    fn load(
        &self,
        scope: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<Option<String>>, StateError>> + Send {
        let values = self.lock();
        ready(Ok(keys
            .iter()
            .map(|k| {
                values
                    .get(&(Box::from(scope), Box::from(k.as_str())))
                    .cloned()
            })
            .collect()))
    }

    fn commit(
        &self,
        scope: &str,
        read: &[Entry],
        writes: &[Entry],
    ) -> impl Future<Output = Result<bool, StateError>> + Send {
        ready(Ok(self.commit_now(scope, read, writes)))
    }

    fn remember(
        &self,
        scope: &str,
        message_id: &str,
    ) -> impl Future<Output = Result<(), StateError>> + Send {
        ready(
            check_key(message_id, "empty or over-long message ID").map(|()| {
                self.remembered
                    .insert((Box::from(scope), Box::from(message_id)), ());
            }),
        )
    }

    fn forget(
        &self,
        scope: &str,
        message_id: &str,
    ) -> impl Future<Output = Result<(), StateError>> + Send {
        self.remembered
            .invalidate(&(Box::from(scope), Box::from(message_id)));
        ready(Ok(()))
    }

    fn is_remembered(
        &self,
        scope: &str,
        message_id: &str,
    ) -> impl Future<Output = Result<bool, StateError>> + Send {
        ready(Ok(self
            .remembered
            .contains_key(&(Box::from(scope), Box::from(message_id)))))
    }
}
