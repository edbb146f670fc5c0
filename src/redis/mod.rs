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

mod connection;
mod dedup;
mod directory;
mod fleet;
mod installations;
mod queue;
mod queue_answers;
mod queue_scripts;
mod sealed;
mod state;

use std::time::Duration;

pub use ::redis::aio::ConnectionManager;
pub use ::redis::cluster_async::ClusterConnection;

pub use connection::{ConnectError, RedisConfig, RedisConnection};
pub use dedup::{RedisDeduplicator, DEFAULT_DONE_TTL};
pub use directory::RedisMergeStore;
pub use fleet::RedisFleet;
pub use installations::RedisInstallations;
pub use queue::{RedisQueue, DEFAULT_GROUP, DEFAULT_QUEUE_NAME};
pub use sealed::{TokenKey, TokenKeyError, TOKEN_KEY_VAR};
pub use state::RedisStateStore;

use crate::installations::InstallationError;
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

impl From<Failure> for crate::state::StateError {
    fn from(f: Failure) -> Self {
        crate::state::StateError::Store(f.error)
    }
}

impl From<Failure> for InstallationError {
    fn from(f: Failure) -> Self {
        InstallationError(f.error)
    }
}

impl From<Failure> for crate::client::fleet::FleetError {
    fn from(f: Failure) -> Self {
        crate::client::fleet::FleetError(f.error)
    }
}

impl From<Failure> for DirectoryError {
    fn from(f: Failure) -> Self {
        DirectoryError::Store(f.error)
    }
}

impl From<ConnectError> for Failure {
    fn from(e: ConnectError) -> Self {
        Failure {
            transient: e.is_transient(),
            error: Box::new(e),
        }
    }
}

/// The constructors every store shares: `connect(url)`, `connect_cluster(nodes)`,
/// `connect_with(&RedisConfig)` and `connection()`, on the store's `new(impl
/// Into<RedisConnection>)`, `timeout(Duration)` and field `redis`.
macro_rules! connectors {
    ($error:ty) => {
        /// Connects to the Redis at `url` (`redis://[user:password@]host[:port][/db]`, or
        /// `rediss://` for TLS) with this store's defaults (see [`new`](Self::new)). Fails
        /// when Redis cannot be reached now or refuses the credentials (a
        /// [`ConnectError`](crate::redis::ConnectError) inside the error); the error never
        /// quotes the URL (it may hold a password).
        pub async fn connect(url: &str) -> Result<Self, $error> {
            Self::connect_with(&$crate::redis::RedisConfig::single(url)).await
        }

        /// Connects to the Redis Cluster with these nodes (URLs or `host:port`; the others are
        /// found from them), as [`connect`](Self::connect) does to one server.
        pub async fn connect_cluster<I, S>(nodes: I) -> Result<Self, $error>
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            Self::connect_with(&$crate::redis::RedisConfig::cluster(nodes)).await
        }

        /// Connects as `config` says (one server or a cluster, TLS roots, the timeout of each
        /// operation).
        pub async fn connect_with(config: &$crate::redis::RedisConfig) -> Result<Self, $error> {
            let redis = config
                .connect()
                .await
                .map_err($crate::redis::Failure::from)?;
            Ok(Self::new(redis).timeout(config.operation_timeout()))
        }

        /// The connection: for commands of your own, or another store on it.
        pub fn connection(&self) -> &$crate::redis::RedisConnection {
            &self.redis
        }
    };
}
pub(crate) use connectors;

/// Milliseconds, at least 1 (what Redis's `PX` and the scripts' durations take).
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
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
