//! State shared by several processes, in Redis (feature `redis`).
//!
//! Production receivers run as several processes behind a load balancer, and one webhook can
//! reach two of them at once. [`RedisDeduplicator`] keeps the claims on event IDs (see
//! [`Deduplicator`](crate::webhooks::Deduplicator)) in one Redis for all of them.
//!
//! The client is [redis-rs](https://docs.rs/redis) (the `redis` crate): maintained, pure Rust,
//! async on tokio. Each store holds one [`ConnectionManager`]: a single multiplexed connection
//! that every request shares (clones are cheap) and that reconnects by itself when the
//! connection is lost. Every operation is one atomic Lua script (`redis::Script`: `EVALSHA`,
//! loading the script again after a Redis restart), bounded by a timeout; a connection that is
//! lost, refused or too slow is a typed error ([`DedupError::Unavailable`]), and the next
//! operation reconnects.
//!
//! Keys start with a prefix, [`DEFAULT_PREFIX`] (`wix-inbox:`) unless set, so that one Redis
//! can serve several apps or environments: `wix-inbox:event:<event ID>`.
//!
//! ```no_run
//! use wix_inbox::redis::RedisDeduplicator;
//! use wix_inbox::webhooks::{axum::WebhookReceiver, WebhookVerifier};
//!
//! # async fn run(verifier: WebhookVerifier) -> Result<(), Box<dyn std::error::Error>> {
//! let claims = RedisDeduplicator::connect("redis://127.0.0.1:6379/").await?;
//! let receiver = WebhookReceiver::new(verifier, |event| println!("{}", event.id))
//!     .deduplicator(claims);
//! # Ok(()) }
//! ```

mod dedup;
mod directory;
mod fleet;
mod queue;
mod queue_scripts;

use std::time::Duration;

pub use ::redis::aio::ConnectionManager;
use ::redis::aio::ConnectionManagerConfig;

pub use dedup::{RedisDeduplicator, DEFAULT_DONE_TTL};
pub use directory::RedisMergeStore;
pub use fleet::RedisFleet;
pub use queue::{RedisQueue, DEFAULT_GROUP, DEFAULT_QUEUE_NAME};

use crate::lifecycle::DirectoryError;
use crate::webhooks::DedupError;

/// The prefix of every key: `wix-inbox:`.
pub const DEFAULT_PREFIX: &str = "wix-inbox:";

/// How long one operation may take, waiting for a reconnection included: 1 second. Wix gives
/// up waiting for an answer after 1,250 ms.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// A Redis operation that failed: whether a later attempt may cure it, and why. Each store turns
/// it into its own error type.
#[derive(Debug)]
pub(crate) struct Failure {
    /// A lost, refused or slow connection, a server loading or busy: may pass.
    transient: bool,
    error: Box<dyn std::error::Error + Send + Sync>,
}

impl Failure {
    fn timeout(timeout: Duration) -> Self {
        Failure {
            transient: true,
            error: format!("Redis did not answer within {timeout:?}").into(),
        }
    }
}

impl From<::redis::RedisError> for Failure {
    /// What a later attempt may cure (I/O, timeouts, a server loading or busy) is transient.
    fn from(e: ::redis::RedisError) -> Self {
        use ::redis::RetryMethod;
        let transient = e.is_io_error()
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
            || matches!(e.kind(), ::redis::ErrorKind::Server(_))
                && matches!(
                    e.retry_method(),
                    RetryMethod::WaitAndRetry | RetryMethod::RetryImmediately
                );
        Failure {
            transient,
            error: Box::new(e),
        }
    }
}

impl From<Failure> for DedupError {
    fn from(f: Failure) -> Self {
        if f.transient {
            DedupError::Unavailable(f.error)
        } else {
            DedupError::Store(f.error)
        }
    }
}

impl From<Failure> for DirectoryError {
    fn from(f: Failure) -> Self {
        DirectoryError::Store(f.error)
    }
}

/// Connects to the Redis at `url` (`redis://[user:password@]host[:port][/db]`): one connection
/// manager that reconnects, with `timeout` for connecting and for each answer. Fails when Redis
/// cannot be reached within `timeout`. Errors never quote the URL (it may hold a password).
pub(crate) async fn connect(url: &str, timeout: Duration) -> Result<ConnectionManager, Failure> {
    let client = ::redis::Client::open(url).map_err(|e| Failure {
        transient: false,
        error: format!(
            "invalid Redis URL ({e}); expected redis://[user:password@]host[:port][/db]"
        )
        .into(),
    })?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        // Reconnect quickly and briefly: a request waits at most `timeout` anyway, and the
        // next request starts another reconnection.
        .set_number_of_retries(2)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(timeout);
    within(timeout, ConnectionManager::new_with_config(client, config)).await
}

/// Runs `operation` within `timeout`; a timeout is a transient [`Failure`].
pub(crate) async fn within<T>(
    timeout: Duration,
    operation: impl std::future::Future<Output = Result<T, ::redis::RedisError>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(timeout, operation).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(Failure::timeout(timeout)),
    }
}
