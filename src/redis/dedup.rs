//! [`RedisDeduplicator`]: claims on webhook event IDs shared by every process.

use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ::redis::Script;

use super::{connectors, within, RedisConnection, DEFAULT_PREFIX, DEFAULT_TIMEOUT};
use crate::webhooks::{Claim, DedupError, Deduplicator, Lease, DEFAULT_LEASE};

/// How long a done event ID is remembered by default: 72 hours. Wix retries a delivery for
/// about 47 hours; the margin covers clocks, queues and a redelivery started at the very end.
pub const DEFAULT_DONE_TTL: Duration = Duration::from_secs(72 * 60 * 60);

/// The value of a done event's key. Claim tokens are 32 hex digits, so never this.
const DONE: &str = "done";

/// Claims the key for the token (`SET NX PX`), or tells who has it: 1 first, 2 held by another
/// claim, 3 done.
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
            return 1
        end
        if redis.call('GET', KEYS[1]) == ARGV[3] then
            return 3
        end
        return 2
        ",
    )
});

/// Marks the key done for a time to live, only if this claim's token holds it: 1 done, 0 not
/// held.
static COMPLETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if redis.call('GET', KEYS[1]) == ARGV[1] then
            redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
            return 1
        end
        return 0
        ",
    )
});

/// Deletes the key, only if this claim's token holds it: 1 released, 0 not held.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if redis.call('GET', KEYS[1]) == ARGV[1] then
            return redis.call('DEL', KEYS[1])
        end
        return 0
        ",
    )
});

/// A [`Deduplicator`] in Redis, shared by every process that uses the same Redis and prefix.
///
/// - **Claim**: one atomic script around `SET key token NX PX lease` (the key is
///   `<prefix>event:<event ID>`, the token 128 random bits unique to the claim): exactly one of
///   any number of concurrent claims, from any process, is [`Claim::First`]; the others read the
///   key and answer [`Claim::InProgressElsewhere`] or [`Claim::Done`]. A holder that dies holds
///   the key only until Redis expires it with the lease (60 s by default).
/// - **Complete / release**: a script that checks the key still holds this claim's token and
///   then sets it to `done` for the done-TTL ([`DEFAULT_DONE_TTL`], 72 hours: Wix resends for
///   about 47) or deletes it, atomically. A stale holder (its lease ended, another claimed
///   since) changes nothing and gets [`DedupError::LeaseLost`].
/// - **Failures**: a lost, refused or slow connection is [`DedupError::Unavailable`] after at
///   most the operation timeout (1 s by default); the connection manager reconnects in the
///   background and a later operation works again. Nothing is guessed. A claim that timed out
///   on this side may still run in Redis (a stall): it is released right behind it, so it does
///   not hold the event for the whole lease.
/// - **Persistence**: run Redis with `appendonly yes`. A Redis restarted without persistence
///   forgets every done event ID, and Wix's resends of those are handed on again.
///
/// - **Redis Cluster**: each script touches one key, so each runs on the key's master.
///
/// Clones share one connection. Memory in Redis: one key per event ID for the done-TTL (see
/// `docs/redis.md` for the measured figures).
#[derive(Clone, Debug)]
pub struct RedisDeduplicator {
    redis: RedisConnection,
    prefix: Arc<str>,
    lease: Duration,
    done_ttl: Duration,
    timeout: Duration,
}

impl RedisDeduplicator {
    connectors!(DedupError);

    /// A store on a connection of your own, or one another store uses, with the defaults:
    /// prefix `wix-inbox:`, 60 s leases, done IDs kept 72 hours, 1 s per operation.
    pub fn new(redis: impl Into<RedisConnection>) -> Self {
        RedisDeduplicator {
            redis: redis.into(),
            prefix: Arc::from(DEFAULT_PREFIX),
            lease: DEFAULT_LEASE,
            done_ttl: DEFAULT_DONE_TTL,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets the prefix of the keys (default `wix-inbox:`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Arc::from(prefix.into());
        self
    }

    /// Sets how long a claim holds (default 60 s; at least 1 ms).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(1));
        self
    }

    /// Sets how long a done event ID is remembered (default 72 hours; at least 1 ms). Keep it
    /// over Wix's resend window of about 47 hours.
    pub fn done_ttl(mut self, ttl: Duration) -> Self {
        self.done_ttl = ttl.max(Duration::from_millis(1));
        self
    }

    /// Sets how long one operation may take, reconnecting included (default 1 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The key of an event ID.
    fn key(&self, event_id: &str) -> String {
        let mut key = String::with_capacity(self.prefix.len() + 6 + event_id.len());
        key.push_str(&self.prefix);
        key.push_str("event:");
        key.push_str(event_id);
        key
    }
}

/// The longest `PX` sent: 100 years (Redis refuses times that overflow its clock).
const MAX_MILLIS: u64 = 100 * 365 * 24 * 60 * 60 * 1000;

/// Milliseconds for `PX`, from 1 (0 is refused by Redis) to 100 years.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_MILLIS)
}

/// A token unique to one claim among all processes: 128 random bits, in hex.
fn new_token() -> Result<String, DedupError> {
    crate::random::hex::<16>().ok_or_else(|| DedupError::store("no random bytes for a claim token"))
}

impl Deduplicator for RedisDeduplicator {
    fn claim(&self, event_id: &str) -> impl Future<Output = Result<Claim, DedupError>> + Send {
        let key = self.key(event_id);
        let event_id = event_id.to_owned();
        let mut redis = self.redis.clone();
        async move {
            let token = new_token()?;
            let claimed = within(
                self.timeout,
                CLAIM
                    .key(&key)
                    .arg(&token)
                    .arg(millis(self.lease))
                    .arg(DONE)
                    .invoke_async(&mut redis),
            )
            .await;
            let answer: i64 = match claimed {
                Ok(answer) => answer,
                Err(failure) => {
                    // Redis may still run the script once it answers again (a stall, a slow
                    // network): the key would then hold for the whole lease a claim nobody
                    // holds, and every resend be answered 503. Release it behind the script.
                    self.release_unheld(key, token);
                    return Err(failure.into());
                }
            };
            match answer {
                1 => Ok(Claim::First(Lease::new(event_id, token, self.lease))),
                2 => Ok(Claim::InProgressElsewhere),
                3 => Ok(Claim::Done),
                other => Err(DedupError::store(format!(
                    "the claim script answered {other}"
                ))),
            }
        }
    }

    fn complete(&self, lease: &Lease) -> impl Future<Output = Result<(), DedupError>> + Send {
        self.settle(&COMPLETE, lease, Some(self.done_ttl))
    }

    fn release(&self, lease: &Lease) -> impl Future<Output = Result<(), DedupError>> + Send {
        self.settle(&RELEASE, lease, None)
    }
}

/// How many times a claim whose answer was lost is released before it is left to its lease.
const RELEASE_ATTEMPTS: usize = 5;

impl RedisDeduplicator {
    /// Releases, in the background, a claim whose script did not answer in time: the release
    /// goes on the same connection right behind the script, so Redis runs it next if it ever
    /// runs the script; it is tried again (a few times, a timeout apart) until Redis answers.
    /// It deletes the key only if this claim's token holds it.
    fn release_unheld(&self, key: String, token: String) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut redis = self.redis.clone();
        let timeout = self.timeout;
        runtime.spawn(async move {
            for _ in 0..RELEASE_ATTEMPTS {
                let released: Result<i64, _> = within(
                    timeout.max(DEFAULT_TIMEOUT),
                    RELEASE.key(&key).arg(&token).invoke_async(&mut redis),
                )
                .await;
                if released.is_ok() {
                    return;
                }
                tokio::time::sleep(timeout).await;
            }
            tracing::warn!(
                "a claim whose answer was lost could not be released; it ends with its lease"
            );
        });
    }

    /// Runs COMPLETE or RELEASE for `lease`.
    fn settle(
        &self,
        script: &'static Script,
        lease: &Lease,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<(), DedupError>> + Send + 'static {
        let key = self.key(lease.event_id());
        let token = lease.token().to_owned();
        let event_id = lease.event_id().to_owned();
        let mut redis = self.redis.clone();
        let timeout = self.timeout;
        async move {
            let mut invocation = script.key(&key);
            invocation.arg(&token);
            if let Some(ttl) = ttl {
                invocation.arg(millis(ttl)).arg(DONE);
            }
            let held: i64 = within(timeout, invocation.invoke_async(&mut redis)).await?;
            if held == 1 {
                Ok(())
            } else {
                Err(DedupError::LeaseLost { event_id })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_hex_and_never_done() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_ne!(a, DONE);
    }

    #[test]
    fn px_is_never_zero() {
        assert_eq!(millis(Duration::ZERO), 1);
        assert_eq!(millis(Duration::from_secs(60)), 60_000);
        assert_eq!(millis(Duration::MAX), MAX_MILLIS);
    }
}
