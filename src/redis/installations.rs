//! [`RedisInstallations`]: the app's installations, shared by every process.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ::redis::Script;

use super::{connectors, within, RedisConnection, DEFAULT_PREFIX, DEFAULT_TIMEOUT};
use crate::installations::{
    with_instance, Applied, Installation, InstallationError, InstallationEvent, InstallationStore,
};
use crate::types;

/// How many times an update is made again when another process changed the record it read.
const MAX_ATTEMPTS: usize = 32;

/// Writes a record if the field still holds what was read: 1 written, 0 changed meanwhile.
/// KEYS[1] is the hash; ARGV[1] the instance ID, ARGV[2] its record as read ('' when absent: a
/// record is never empty), ARGV[3] the new record.
static COMMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if (redis.call('HGET', KEYS[1], ARGV[1]) or '') ~= ARGV[2] then
            return 0
        end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
        return 1
        ",
    )
});

/// An [`InstallationStore`] in Redis: the records of every instance, shared by every process
/// that uses the same Redis and prefix.
///
/// The records are one hash, `<prefix>{installations}` (the hash tag keeps the key in one
/// Redis Cluster slot), each field an instance ID holding its [`Installation`] as JSON, with no
/// expiry. An update reads the record, decides with [`Installation::apply`] (the rule every
/// store shares) and writes it with a Lua script that first checks the record still holds what
/// was read; if another process changed it in between, the update is made again (up to 32
/// times). So a removal is reported as [`Change::Removed`](crate::installations::Change) to
/// exactly one process, however many apply it at once.
///
/// **Failures** (a lost, refused or slow connection: 1 s per round trip by default) are
/// [`InstallationError`]s; nothing is written then.
#[derive(Clone, Debug)]
pub struct RedisInstallations {
    redis: RedisConnection,
    key: Arc<str>,
    timeout: Duration,
}

fn failed(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> InstallationError {
    InstallationError(e.into())
}

impl RedisInstallations {
    connectors!(InstallationError);

    /// A store on a connection of your own, or one shared with another store, with the
    /// defaults: prefix `wix-inbox:`, 1 s per round trip.
    pub fn new(redis: impl Into<RedisConnection>) -> Self {
        RedisInstallations {
            redis: redis.into(),
            key: Arc::from(format!("{DEFAULT_PREFIX}{{installations}}")),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets the prefix of the key (default `wix-inbox:`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key = Arc::from(format!("{}{{installations}}", prefix.into()));
        self
    }

    /// Sets how long one round trip may take, reconnecting included (default 1 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Replaces `instance_id`'s record with what `update` makes of it, atomically.
    async fn update<T>(
        &self,
        instance_id: &str,
        update: impl Fn(Option<&Installation>) -> (Installation, T),
    ) -> Result<T, InstallationError> {
        let mut redis = self.redis.clone();
        for _ in 0..MAX_ATTEMPTS {
            let read: Option<String> = within(
                self.timeout,
                ::redis::cmd("HGET")
                    .arg(&*self.key)
                    .arg(instance_id)
                    .query_async(&mut redis),
            )
            .await?;
            let previous = read.as_deref().map(parse).transpose()?;
            let (next, out) = update(previous.as_ref());
            let text = serde_json::to_string(&next).map_err(failed)?;
            let mut commit = COMMIT.prepare_invoke();
            commit
                .key(&*self.key)
                .arg(instance_id)
                .arg(read.as_deref().unwrap_or(""))
                .arg(text);
            let written: i64 = within(self.timeout, commit.invoke_async(&mut redis)).await?;
            if written == 1 {
                return Ok(out);
            }
        }
        Err(failed(format!(
            "the record kept changing while it was updated ({MAX_ATTEMPTS} attempts)"
        )))
    }
}

fn parse(text: &str) -> Result<Installation, InstallationError> {
    serde_json::from_str(text).map_err(|e| failed(format!("a record is not readable: {e}")))
}

impl InstallationStore for RedisInstallations {
    async fn apply(&self, event: &InstallationEvent) -> Result<Applied, InstallationError> {
        self.update(&event.instance_id, |previous| {
            let applied = Installation::apply(previous, event);
            (applied.installation.clone(), applied)
        })
        .await
    }

    async fn remember(
        &self,
        instance_id: &str,
        data: &types::GetAppInstanceResponse,
    ) -> Result<Installation, InstallationError> {
        self.update(instance_id, |previous| {
            let next = with_instance(previous, instance_id, data);
            (next.clone(), next)
        })
        .await
    }

    async fn get(&self, instance_id: &str) -> Result<Option<Installation>, InstallationError> {
        let mut redis = self.redis.clone();
        let read: Option<String> = within(
            self.timeout,
            ::redis::cmd("HGET")
                .arg(&*self.key)
                .arg(instance_id)
                .query_async(&mut redis),
        )
        .await?;
        read.as_deref().map(parse).transpose()
    }

    async fn list(&self) -> Result<Vec<Installation>, InstallationError> {
        let mut redis = self.redis.clone();
        let values: Vec<String> = within(
            self.timeout,
            ::redis::cmd("HVALS")
                .arg(&*self.key)
                .query_async(&mut redis),
        )
        .await?;
        values.iter().map(|text| parse(text)).collect()
    }
}
