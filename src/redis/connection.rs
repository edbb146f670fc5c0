//! [`RedisConnection`]: what every store talks through, a single Redis or a Redis Cluster, and
//! [`RedisConfig`], the one way to open it.

use std::time::Duration;

use ::redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::ClusterClientBuilder;
use ::redis::cluster_async::ClusterConnection;
use ::redis::{Cmd, Pipeline, RedisFuture, Value};

use super::DEFAULT_TIMEOUT;

/// Where the stores' Redis is, and how to reach it: one server (a URL) or a Redis Cluster (the
/// URLs of some of its nodes; the others are found from them).
///
/// URLs are `redis://[user:password@]host[:port][/db]`, or `rediss://…` for TLS (certificates
/// checked against the system's roots, or against [`root_certificate`](Self::root_certificate)).
/// The user name and password are those of a Redis ACL user (`AUTH user password`); a password
/// alone is the `default` user's. A cluster node may be written `host:port` (plain TCP); all
/// nodes share one user, password and TLS mode.
///
/// Its `Debug` never shows the URLs (they may hold a password).
#[derive(Clone)]
pub struct RedisConfig {
    target: Target,
    timeout: Duration,
    root_certificate: Option<Vec<u8>>,
}

#[derive(Clone)]
enum Target {
    Single(String),
    Cluster(Vec<String>),
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = match &self.target {
            Target::Single(_) => "one server".to_owned(),
            Target::Cluster(nodes) => format!("a cluster ({} nodes given)", nodes.len()),
        };
        f.debug_struct("RedisConfig")
            .field("target", &target)
            .field("timeout", &self.timeout)
            .field("root_certificate", &self.root_certificate.is_some())
            .finish()
    }
}

impl RedisConfig {
    /// One Redis server at `url`.
    pub fn single(url: impl Into<String>) -> Self {
        RedisConfig {
            target: Target::Single(url.into()),
            timeout: DEFAULT_TIMEOUT,
            root_certificate: None,
        }
    }

    /// A Redis Cluster, from the URLs (or `host:port`) of some of its nodes.
    pub fn cluster<I, S>(nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let nodes = nodes
            .into_iter()
            .map(Into::into)
            .map(|node: String| node.trim().to_owned())
            .filter(|node| !node.is_empty())
            .map(|node| {
                if node.contains("://") {
                    node
                } else {
                    format!("redis://{node}")
                }
            })
            .collect();
        RedisConfig {
            target: Target::Cluster(nodes),
            timeout: DEFAULT_TIMEOUT,
            root_certificate: None,
        }
    }

    /// A Redis Cluster from a comma-separated list of nodes (`NODE,NODE,…`), as the command
    /// line's `--redis-cluster` and `WIX_INBOX_REDIS_CLUSTER` take it.
    pub fn cluster_list(nodes: &str) -> Self {
        Self::cluster(nodes.split(','))
    }

    /// Sets how long connecting, and then each operation of a store, may take (default 1 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Trusts this certificate authority (PEM) for `rediss://`, instead of the system's roots:
    /// for a Redis whose certificate your own authority issued.
    pub fn root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificate = Some(pem.into());
        self
    }

    /// How long each operation of a store may take.
    pub fn operation_timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether this is a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.target, Target::Cluster(_))
    }

    /// Connects: fails when Redis cannot be reached, or refuses the credentials, within the
    /// timeout. The error never quotes a URL.
    pub async fn connect(&self) -> Result<RedisConnection, ConnectError> {
        let timeout = self.timeout;
        let connecting = async {
            match &self.target {
                Target::Single(url) => self.connect_single(url).await,
                Target::Cluster(nodes) => self.connect_cluster(nodes).await,
            }
        };
        match tokio::time::timeout(timeout, connecting).await {
            Ok(connected) => connected,
            Err(_) => Err(ConnectError::Unavailable(
                format!("Redis did not answer within {timeout:?}").into(),
            )),
        }
    }

    async fn connect_single(&self, url: &str) -> Result<RedisConnection, ConnectError> {
        let info = ::redis::IntoConnectionInfo::into_connection_info(url)
            .map_err(|e| invalid(&e))?
            .set_tcp_settings(tcp_settings());
        let client = match &self.root_certificate {
            None => ::redis::Client::open(info),
            Some(pem) => ::redis::Client::build_with_tls(info, certificates(pem)),
        }
        .map_err(|e| invalid(&e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            // Reconnect quickly and briefly: a request waits at most the timeout anyway, and
            // the next request starts another reconnection.
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(self.timeout);
        let manager = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(refused)?;
        Ok(RedisConnection(Inner::Single(manager)))
    }

    async fn connect_cluster(&self, nodes: &[String]) -> Result<RedisConnection, ConnectError> {
        if nodes.is_empty() {
            return Err(ConnectError::Invalid(
                "no Redis Cluster node given; expected NODE,NODE,… (host:port or redis:// URLs)"
                    .to_owned(),
            ));
        }
        let mut builder = ClusterClientBuilder::new(nodes.iter().map(String::as_str))
            .connection_timeout(self.timeout)
            .response_timeout(self.timeout)
            // A failover takes the cluster's node timeout and an election: requests are
            // retried (MOVED, a node that went away) a few times, a short wait apart, and the
            // store's timeout bounds the whole.
            .retries(4)
            .min_retry_wait(20)
            .max_retry_wait(self.timeout.as_millis().try_into().unwrap_or(u64::MAX) / 2)
            .tcp_settings(tcp_settings());
        if let Some(pem) = &self.root_certificate {
            builder = builder.certs(certificates(pem));
        }
        let client = builder.build().map_err(|e| invalid(&e))?;
        let connection = client.get_async_connection().await.map_err(refused)?;
        Ok(RedisConnection(Inner::Cluster(connection)))
    }
}

/// `TCP_NODELAY` on: each request is written at once, as Redis's own clients do. redis-rs leaves
/// Nagle's algorithm on by default, and then a request written while another is unanswered on
/// the shared connection may wait for that answer's acknowledgement: up to a network round trip
/// (on loopback, where the round trip is a few µs, `benches/fleet.rs` sees no difference).
fn tcp_settings() -> ::redis::io::tcp::TcpSettings {
    ::redis::io::tcp::TcpSettings::default().set_nodelay(true)
}

fn certificates(pem: &[u8]) -> ::redis::TlsCertificates {
    ::redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(pem.to_vec()),
    }
}

/// A configuration Redis's client refused (the error names no URL).
fn invalid(e: &::redis::RedisError) -> ConnectError {
    ConnectError::Invalid(format!(
        "invalid Redis URL ({e}); expected redis://[user:password@]host[:port][/db] or \
         rediss://…"
    ))
}

/// Why a connection failed: refused credentials or permissions, or Redis out of reach.
fn refused(e: ::redis::RedisError) -> ConnectError {
    // The cluster client wraps the node's answer in an I/O error of its own: its text says.
    let text = e.to_string().to_lowercase();
    if e.kind() == ::redis::ErrorKind::AuthenticationFailed
        || text.contains("authentication failed")
        || text.contains("wrongpass")
        || text.contains("noauth")
    {
        ConnectError::Credentials
    } else if text.contains("noperm") {
        ConnectError::Permission(Box::new(e))
    } else {
        ConnectError::Unavailable(Box::new(e))
    }
}

/// A connection that could not be opened. Never quotes a URL or a password.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL or node list is not one Redis's client accepts.
    Invalid(String),
    /// Redis refused the user name or password (`WRONGPASS`, `NOAUTH`): no retry will cure it.
    Credentials,
    /// The user may not run a command the connection needs (`NOPERM`, a Redis ACL).
    Permission(Box<dyn std::error::Error + Send + Sync>),
    /// Redis could not be reached or did not answer in time; a later attempt may succeed.
    Unavailable(Box<dyn std::error::Error + Send + Sync>),
}

impl ConnectError {
    /// Whether a later attempt may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, ConnectError::Unavailable(_))
    }
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Invalid(why) => f.write_str(why),
            ConnectError::Credentials => f.write_str(
                "Redis refused the user name or password (check the URL's user:password)",
            ),
            ConnectError::Permission(e) => write!(f, "Redis refused a command to this user: {e}"),
            ConnectError::Unavailable(e) => write!(f, "Redis could not be reached: {e}"),
        }
    }
}

impl std::error::Error for ConnectError {}

/// The connection every store uses: one [`ConnectionManager`] (a multiplexed connection to one
/// Redis that reconnects by itself) or one [`ClusterConnection`] (redis-rs's Redis Cluster
/// client: it routes each command to the master of its keys' hash slot, follows `MOVED` and
/// `ASK`, and finds the new master after a failover). Clones share it; cheap.
///
/// It is a [`ConnectionLike`]: run commands of your own on it with `query_async`.
#[derive(Clone)]
pub struct RedisConnection(Inner);

#[derive(Clone)]
enum Inner {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the address: it may hold a password.
        f.write_str(match self.0 {
            Inner::Single(_) => "RedisConnection(one server)",
            Inner::Cluster(_) => "RedisConnection(cluster)",
        })
    }
}

impl RedisConnection {
    /// Connects to the Redis at `url` (see [`RedisConfig`]), 1 s timeout.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        RedisConfig::single(url).connect().await
    }

    /// Connects to the Redis Cluster with these nodes (see [`RedisConfig`]), 1 s timeout.
    pub async fn connect_cluster<I, S>(nodes: I) -> Result<Self, ConnectError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RedisConfig::cluster(nodes).connect().await
    }

    /// Whether this is a Redis Cluster connection.
    pub fn is_cluster(&self) -> bool {
        matches!(self.0, Inner::Cluster(_))
    }

    /// `WAIT replicas timeout` on the connection that wrote `key` (on a cluster, the one to the
    /// master of `key`'s slot): how many replicas have acknowledged every write made on it so
    /// far, once `replicas` have or `timeout` ran out.
    pub(crate) async fn wait_for_replicas(
        &mut self,
        key: &str,
        replicas: u32,
        timeout: Duration,
    ) -> ::redis::RedisResult<i64> {
        use ::redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, Slot, SlotAddr};
        let mut wait = ::redis::cmd("WAIT");
        wait.arg(replicas).arg(
            u64::try_from(timeout.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
        );
        match &mut self.0 {
            Inner::Single(c) => wait.query_async(c).await,
            Inner::Cluster(c) => {
                let route = Route::with_slot(Slot::for_key(key), SlotAddr::Master);
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
                let value = c.route_command(wait, routing).await?;
                Ok(<i64 as ::redis::FromRedisValue>::from_redis_value(value)?)
            }
        }
    }
}

impl From<ConnectionManager> for RedisConnection {
    fn from(manager: ConnectionManager) -> Self {
        RedisConnection(Inner::Single(manager))
    }
}

impl From<ClusterConnection> for RedisConnection {
    fn from(connection: ClusterConnection) -> Self {
        RedisConnection(Inner::Cluster(connection))
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match &mut self.0 {
            Inner::Single(c) => c.req_packed_command(cmd),
            Inner::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match &mut self.0 {
            Inner::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Inner::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match &self.0 {
            Inner::Single(c) => c.get_db(),
            Inner::Cluster(c) => c.get_db(),
        }
    }
}
