//! [`RedisStateStore`]: per-conversation state and reply records shared by every process.

use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ::redis::Script;

use super::{connectors, within, RedisConnection, DEFAULT_PREFIX, DEFAULT_TIMEOUT};
use crate::state::{Entry, StateError, StateStore, REMEMBER_FOR};

/// Writes if every key read still holds what it held: 1 written, 0 something changed.
///
/// ARGV[1] is how many keys were read (n); KEYS[1..n] are those keys, ARGV[2..n+1] '0' (was
/// absent) or '1' and ARGV[n+2..2n+1] their values as read. KEYS[n+1..] are the keys to write,
/// each with a flag ('0' delete, '1' set) and a value in the ARGVs after.
static COMMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local n = tonumber(ARGV[1])
        for i = 1, n do
            local now = redis.call('GET', KEYS[i])
            if ARGV[1 + i] == '0' then
                if now then return 0 end
            elseif now ~= ARGV[1 + n + i] then
                return 0
            end
        end
        local a = 2 + 2 * n
        for i = n + 1, #KEYS do
            if ARGV[a] == '1' then
                redis.call('SET', KEYS[i], ARGV[a + 1])
            else
                redis.call('DEL', KEYS[i])
            end
            a = a + 2
        end
        return 1
        ",
    )
});

/// A [`StateStore`] in Redis: the states of
/// [`ConversationStates`](crate::state::ConversationStates) and the records of
/// [`Replies`](crate::state::Replies), shared by every process with the same Redis and prefix.
///
/// Keys are `<prefix>{<scope>}:<key>` (the scope is the app instance): the scope is the hash
/// tag, so every key of one call lives in one hash slot, and each compare-and-set is one Lua
/// script on one slot (Redis Cluster ready). Sent message IDs are
/// `<prefix>{<conversation ID>}:sent:<ID>`, expiring after [`REMEMBER_FOR`]. States and reply records
/// do not expire. Failures (a lost, refused or slow connection: 1 s per round trip by default)
/// are [`StateError::Store`]; a script that failed wrote nothing.
#[derive(Clone, Debug)]
pub struct RedisStateStore {
    redis: RedisConnection,
    prefix: Arc<str>,
    timeout: Duration,
}

impl RedisStateStore {
    connectors!(StateError);

    /// A store on a connection of your own (or one another store uses), with the defaults:
    /// prefix `wix-inbox:`, 1 s per round trip.
    pub fn new(redis: impl Into<RedisConnection>) -> Self {
        RedisStateStore {
            redis: redis.into(),
            prefix: Arc::from(DEFAULT_PREFIX),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets the prefix of the keys (default `wix-inbox:`; it must not hold `{`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Arc::from(prefix.into());
        self
    }

    /// Sets how long one round trip may take, reconnecting included (default 1 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The key of `key` in `scope`: `<prefix>{<scope>}:<key>`. A `}` in the scope would end the
    /// hash tag early (still one tag per scope), so it is refused, as is `{` in the prefix.
    pub fn key(&self, scope: &str, key: &str) -> Result<String, StateError> {
        if scope.is_empty() || scope.contains('}') || self.prefix.contains('{') {
            return Err(StateError::InvalidKey(
                "a scope must be non-empty without '}', the prefix without '{'",
            ));
        }
        Ok(format!("{}{{{scope}}}:{key}", self.prefix))
    }
}

impl StateStore for RedisStateStore {
    fn load(
        &self,
        scope: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<Option<String>>, StateError>> + Send {
        let keys: Result<Vec<String>, _> = keys.iter().map(|k| self.key(scope, k)).collect();
        async move {
            let keys = keys?;
            if keys.is_empty() {
                return Ok(Vec::new());
            }
            let mut redis = self.redis.clone();
            let values: Vec<Option<String>> = within(
                self.timeout,
                ::redis::cmd("MGET").arg(&keys).query_async(&mut redis),
            )
            .await?;
            if values.len() != keys.len() {
                return Err(StateError::Store(
                    format!(
                        "MGET of {} keys answered {} values",
                        keys.len(),
                        values.len()
                    )
                    .into(),
                ));
            }
            Ok(values)
        }
    }

    fn commit(
        &self,
        scope: &str,
        read: &[Entry],
        writes: &[Entry],
    ) -> impl Future<Output = Result<bool, StateError>> + Send {
        let mut invocation = COMMIT.prepare_invoke();
        let prepared = (|| {
            invocation.arg(read.len());
            for (key, _) in read {
                invocation.key(self.key(scope, key)?);
            }
            for (_, value) in read {
                invocation.arg(if value.is_some() { "1" } else { "0" });
            }
            for (_, value) in read {
                invocation.arg(value.as_deref().unwrap_or(""));
            }
            for (key, value) in writes {
                invocation.key(self.key(scope, key)?);
                invocation.arg(if value.is_some() { "1" } else { "0" });
                invocation.arg(value.as_deref().unwrap_or(""));
            }
            Ok::<(), StateError>(())
        })();
        async move {
            prepared?;
            let mut redis = self.redis.clone();
            let written: i64 = within(self.timeout, invocation.invoke_async(&mut redis)).await?;
            Ok(written == 1)
        }
    }

    fn remember(
        &self,
        scope: &str,
        message_id: &str,
    ) -> impl Future<Output = Result<(), StateError>> + Send {
        let key = self.key(scope, &format!("sent:{message_id}"));
        async move {
            let key = key?;
            let mut redis = self.redis.clone();
            let command = ::redis::cmd("SET")
                .arg(&key)
                .arg("1")
                .arg("EX")
                .arg(REMEMBER_FOR.as_secs())
                .to_owned();
            within(self.timeout, command.query_async::<()>(&mut redis)).await?;
            Ok(())
        }
    }

    fn forget(
        &self,
        scope: &str,
        message_id: &str,
    ) -> impl Future<Output = Result<(), StateError>> + Send {
        let key = self.key(scope, &format!("sent:{message_id}"));
        async move {
            let key = key?;
            let mut redis = self.redis.clone();
            let command = ::redis::cmd("DEL").arg(&key).to_owned();
            within(self.timeout, command.query_async::<()>(&mut redis)).await?;
            Ok(())
        }
    }

    fn is_remembered(
        &self,
        scope: &str,
        message_id: &str,
    ) -> impl Future<Output = Result<bool, StateError>> + Send {
        let key = self.key(scope, &format!("sent:{message_id}"));
        async move {
            let key = key?;
            let mut redis = self.redis.clone();
            let n: i64 = within(
                self.timeout,
                ::redis::cmd("EXISTS").arg(&key).query_async(&mut redis),
            )
            .await?;
            Ok(n == 1)
        }
    }
}
