//! [`RedisFleet`]: one token and one pacing per app instance for all of an app's processes.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ::redis::Script;
use futures_util::future::BoxFuture;

use super::sealed::{is_sealed, TokenKey};
use super::{connectors, millis, within, RedisConnection, DEFAULT_PREFIX, DEFAULT_TIMEOUT};
use crate::client::fleet::{FetchLease, FleetError, FleetStore, SharedToken};

/// Ends a fetch: keeps the token when one is given (ARGV[2] how many ms before its expiry it is
/// due for renewal, ARGV[3] ms until expiry, ARGV[4] the token), and deletes the fetch lease if
/// ARGV[1] still holds it. The value is `<renewal margin in ms> <token>`, and the key expires
/// with the token: a reader needs no clock but the key's time to live (`GET` and `PTTL`, no
/// script).
static FINISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if ARGV[2] ~= '' then
            redis.call('SET', KEYS[1], ARGV[2] .. ' ' .. ARGV[4], 'PX', ARGV[3])
        end
        if redis.call('GET', KEYS[2]) == ARGV[1] then
            redis.call('DEL', KEYS[2])
        end
        return 1
        ",
    )
});

/// Reserves the next slot (GCRA): the key holds when the bucket is full again, in Redis's ms;
/// ARGV[1] the interval, ARGV[2] the period (ms). Answers how many ms the caller waits.
static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
        local interval = tonumber(ARGV[1])
        local period = tonumber(ARGV[2])
        local full_at = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
        if full_at < now then full_at = now end
        local next = full_at + interval
        redis.call('SET', KEYS[1], string.format('%.3f', next), 'PX',
            math.ceil(next - now) + 1000)
        local go_at = next - period
        if go_at > now then return math.ceil(go_at - now) end
        return 0
        ",
    )
});

/// A [`FleetStore`] in Redis, shared by every process of an app that uses the same Redis and
/// prefix. Each operation is one round trip (a command, a Lua script, or `GET` and `PTTL` of the
/// token) on one instance's keys, which share a hash tag (the instance ID in braces), so it runs
/// on Redis Cluster too:
///
/// | key | holds | expires |
/// |---|---|---|
/// | `<prefix>token:{<instance>}` | the instance's access token and when to renew it | with the token |
/// | `<prefix>token:{<instance>}:fetching` | which process is requesting it now | after 15 s (the fetch lease) |
/// | `<prefix>pace:{<instance>}` | when the instance's request bucket is full again | one period after the last reservation |
///
/// **Tokens are secrets.** They sit under `<prefix>token:` only, so that a Redis ACL can keep
/// them from every user but the app's (`~wix-inbox:token:*`); use `rediss://` and a password
/// when Redis is not on the app's own host, and a Redis that only the app's processes reach.
/// With [`RedisFleet::seal_tokens`], the tokens are sealed (AES-256-GCM) with a key Redis never
/// sees, so a dump, a replica or a reader of the keys holds no usable token.
///
/// The store's clock is Redis's (`TIME`), so the processes' clocks need not agree.
#[derive(Clone, Debug)]
pub struct RedisFleet {
    redis: RedisConnection,
    prefix: Arc<str>,
    timeout: Duration,
    sealing: Option<TokenKey>,
}

impl RedisFleet {
    connectors!(FleetError);

    /// A store on a connection of your own, with prefix `wix-inbox:` and 1 s per operation.
    pub fn new(redis: impl Into<RedisConnection>) -> Self {
        RedisFleet {
            redis: redis.into(),
            prefix: Arc::from(DEFAULT_PREFIX),
            timeout: DEFAULT_TIMEOUT,
            sealing: None,
        }
    }

    /// Seals every token this store writes with `key` (AES-256-GCM, bound to its Redis key),
    /// and opens what it reads with it. Every process of the app must use the same key
    /// ([`TokenKey::from_env`]: `WIX_INBOX_TOKEN_KEY`): a token that does not open (another
    /// key, or written unsealed) is not used, and the process requests its own. A process
    /// without a key never sends a sealed token to Wix.
    pub fn seal_tokens(mut self, key: TokenKey) -> Self {
        self.sealing = Some(key);
        self
    }

    /// Sets the prefix of the keys (default `wix-inbox:`); one per app.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Arc::from(prefix.into());
        self
    }

    /// Sets how long one operation may take (default 1 s); past it, the process goes on alone.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn key(&self, kind: &str, instance_id: &str, suffix: &str) -> String {
        format!("{}{kind}:{{{instance_id}}}{suffix}", self.prefix)
    }

    /// The token `stored` under `key` holds, as this store reads it: opened with its key, or
    /// as it is without one; `None` (and a warning, without the value) when it cannot be used.
    fn unseal(&self, key: &str, stored: String) -> Option<String> {
        let token = match &self.sealing {
            Some(sealing) => sealing.open(key, &stored),
            None => (!is_sealed(&stored)).then_some(stored),
        };
        if token.is_none() {
            tracing::warn!(
                sealed_here = self.sealing.is_some(),
                "a token in Redis does not open with this process's token key (or it has none): \
                 requesting one; every process of the app needs the same WIX_INBOX_TOKEN_KEY"
            );
        }
        token
    }
}

/// 128 random bits in hex: which process holds a fetch lease.
fn lease_token() -> Result<String, FleetError> {
    crate::random::hex::<16>().ok_or_else(|| FleetError("no random bytes for a fetch lease".into()))
}

impl FleetStore for RedisFleet {
    fn token<'a>(
        &'a self,
        instance_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<SharedToken>, FleetError>> {
        let mut redis = self.redis.clone();
        let key = self.key("token", instance_id, "");
        Box::pin(async move {
            // One round trip, two plain commands on one key (one slot): cheaper in Redis than a
            // script (benches/README.md). Not atomic: a token replaced between the two is read
            // with its successor's time to live, at worst used until it expires, when the 401
            // it gets renews it.
            let mut pipeline = ::redis::pipe();
            pipeline.cmd("GET").arg(&key).cmd("PTTL").arg(&key);
            let (stored, expires): (Option<String>, i64) =
                within(self.timeout, pipeline.query_async(&mut redis))
                    .await
                    .map_err(FleetError::from)?;
            Ok(stored.and_then(|stored| {
                let (margin, stored) = stored.split_once(' ')?;
                let margin: i64 = margin.parse().ok()?;
                // Due for renewal (or expiring, or without a time to live): none.
                let renew = expires.checked_sub(margin).filter(|ms| *ms > 0)?;
                let authorization = self.unseal(&key, stored.to_owned())?;
                let renew_in = Duration::from_millis(u64::try_from(renew).ok()?);
                let expires_in = Duration::from_millis(u64::try_from(expires).ok()?);
                Some(SharedToken {
                    authorization,
                    renew_in: renew_in.min(expires_in),
                    expires_in,
                })
            }))
        })
    }

    fn begin_fetch<'a>(
        &'a self,
        instance_id: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<FetchLease>, FleetError>> {
        let mut redis = self.redis.clone();
        let key = self.key("token", instance_id, ":fetching");
        Box::pin(async move {
            let token = lease_token()?;
            let taken: Option<String> = within(
                self.timeout,
                ::redis::cmd("SET")
                    .arg(&key)
                    .arg(&token)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis(lease))
                    .query_async(&mut redis),
            )
            .await
            .map_err(FleetError::from)?;
            Ok(taken.map(|_| FetchLease(token)))
        })
    }

    fn finish_fetch<'a>(
        &'a self,
        instance_id: &'a str,
        lease: FetchLease,
        token: Option<&'a SharedToken>,
    ) -> BoxFuture<'a, Result<(), FleetError>> {
        let mut redis = self.redis.clone();
        let keys = [
            self.key("token", instance_id, ""),
            self.key("token", instance_id, ":fetching"),
        ];
        Box::pin(async move {
            let mut invocation = FINISH.key(&keys[0]);
            invocation.key(&keys[1]).arg(&lease.0);
            let sealed = match (&self.sealing, token) {
                (Some(sealing), Some(token)) => Some(
                    sealing
                        .seal(&keys[0], &token.authorization)
                        .ok_or_else(|| FleetError("the token could not be sealed".into()))?,
                ),
                _ => None,
            };
            match token {
                Some(token) => invocation
                    .arg(millis(token.expires_in.saturating_sub(token.renew_in)))
                    .arg(millis(token.expires_in))
                    .arg(sealed.as_deref().unwrap_or(&token.authorization)),
                None => invocation.arg("").arg("").arg(""),
            };
            let _: i64 = within(self.timeout, invocation.invoke_async(&mut redis))
                .await
                .map_err(FleetError::from)?;
            Ok(())
        })
    }

    fn reserve<'a>(
        &'a self,
        instance_id: &'a str,
        interval: Duration,
        period: Duration,
    ) -> BoxFuture<'a, Result<Duration, FleetError>> {
        let mut redis = self.redis.clone();
        let key = self.key("pace", instance_id, "");
        Box::pin(async move {
            let wait: i64 = within(
                self.timeout,
                RESERVE
                    .key(&key)
                    .arg(interval.as_secs_f64() * 1000.0)
                    .arg(period.as_secs_f64() * 1000.0)
                    .invoke_async(&mut redis),
            )
            .await
            .map_err(FleetError::from)?;
            Ok(Duration::from_millis(u64::try_from(wait).unwrap_or(0)))
        })
    }

    fn forget<'a>(&'a self, instance_id: &'a str) -> BoxFuture<'a, Result<(), FleetError>> {
        let mut redis = self.redis.clone();
        let keys = [
            self.key("token", instance_id, ""),
            self.key("token", instance_id, ":fetching"),
            self.key("pace", instance_id, ""),
        ];
        Box::pin(async move {
            let _: i64 = within(
                self.timeout,
                ::redis::cmd("DEL").arg(&keys).query_async(&mut redis),
            )
            .await
            .map_err(FleetError::from)?;
            Ok(())
        })
    }
}
