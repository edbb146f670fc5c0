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

use std::time::Duration;

pub use ::redis::aio::ConnectionManager;
use ::redis::aio::ConnectionManagerConfig;

pub use dedup::{RedisDeduplicator, DEFAULT_DONE_TTL};

use crate::webhooks::DedupError;

/// The prefix of every key: `wix-inbox:`.
pub const DEFAULT_PREFIX: &str = "wix-inbox:";

/// How long one operation may take, waiting for a reconnection included: 1 second. Wix gives
/// up waiting for an answer after 1,250 ms.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// Connects to the Redis at `url` (`redis://[user:password@]host[:port][/db]`, or `rediss://`
/// when the client was built with TLS): one connection manager that reconnects, with timeouts
/// fit for a webhook receiver. Fails when Redis cannot be reached within `timeout`. Errors never
/// quote the URL (it may hold a password).
pub async fn connect(url: &str, timeout: Duration) -> Result<ConnectionManager, DedupError> {
    let client = ::redis::Client::open(url).map_err(|e| {
        DedupError::store(format!(
            "invalid Redis URL ({e}); expected redis://[user:password@]host[:port][/db]"
        ))
    })?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        // Reconnect quickly and briefly: a request waits at most `timeout` anyway, and the
        // next request starts another reconnection.
        .set_number_of_retries(2)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(timeout);
    match tokio::time::timeout(timeout, ConnectionManager::new_with_config(client, config)).await {
        Ok(Ok(manager)) => Ok(manager),
        Ok(Err(e)) => Err(error(e)),
        Err(_) => Err(DedupError::unavailable(format!(
            "Redis did not answer within {timeout:?}"
        ))),
    }
}

/// A redis-rs error as a [`DedupError`]: what a later attempt may cure (I/O, timeouts, a server
/// loading or busy) is `Unavailable`, the rest `Store`.
pub(crate) fn error(e: ::redis::RedisError) -> DedupError {
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
    if transient {
        DedupError::unavailable(e)
    } else {
        DedupError::store(e)
    }
}

/// Runs `operation` within `timeout`; a timeout is [`DedupError::Unavailable`].
pub(crate) async fn within<T>(
    timeout: Duration,
    operation: impl std::future::Future<Output = Result<T, ::redis::RedisError>>,
) -> Result<T, DedupError> {
    match tokio::time::timeout(timeout, operation).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(error(e)),
        Err(_) => Err(DedupError::unavailable(format!(
            "Redis did not answer within {timeout:?}"
        ))),
    }
}
