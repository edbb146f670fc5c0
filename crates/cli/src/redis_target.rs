//! `--redis URL` or `--redis-cluster NODE,NODE,…`: where the shared stores are, for every
//! command that takes a Redis.

use clap::Args;
use wix_inbox::redis::RedisConfig;

use crate::Failure;

/// One Redis or a Redis Cluster. Prefer the environment variables to keep a password out of
/// the process list.
#[derive(Args, Debug, Clone)]
#[group(id = "redis_store", multiple = false)]
pub struct RedisTarget {
    /// A Redis (redis://[user:password@]host[:port][/db], or rediss:// for TLS).
    #[arg(
        long,
        value_name = "URL",
        env = "WIX_INBOX_REDIS_URL",
        hide_env_values = true
    )]
    pub redis: Option<String>,
    /// A Redis Cluster, by some of its nodes: NODE,NODE,… (host:port, or
    /// redis[s]://[user:password@]host:port; one user, password and TLS mode for all).
    #[arg(
        long,
        value_name = "NODE,NODE,…",
        env = "WIX_INBOX_REDIS_CLUSTER",
        hide_env_values = true
    )]
    pub redis_cluster: Option<String>,
}

impl RedisTarget {
    /// The configuration given, if any.
    pub fn config(&self) -> Option<RedisConfig> {
        match (&self.redis, &self.redis_cluster) {
            (_, Some(nodes)) => Some(RedisConfig::cluster_list(nodes)),
            (Some(url), None) => Some(RedisConfig::single(url)),
            (None, None) => None,
        }
    }

    /// The configuration, which the command needs.
    pub fn required(&self) -> Result<RedisConfig, Failure> {
        self.config().ok_or_else(|| {
            Failure::Usage(
                "a Redis is needed: --redis URL or --redis-cluster NODE,NODE,… (or \
                 WIX_INBOX_REDIS_URL / WIX_INBOX_REDIS_CLUSTER)"
                    .to_owned(),
            )
        })
    }
}
