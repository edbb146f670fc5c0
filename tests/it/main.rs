//! The library's integration tests, in one binary so that the crate is linked once. (The fake's
//! and the CLI's are in their crates: `crates/fake/tests`, `crates/cli/tests`.)

mod accessors;
mod app;
mod auto_reply;
mod bot;
mod bot_removal;
mod build_script;
mod fixtures;
#[cfg(feature = "redis")]
mod fleet;
#[cfg(feature = "redis")]
mod fleet_sealed;
mod installations;
mod lifecycle;
mod lookup;
mod operations;
mod quickstart;
#[cfg(feature = "redis")]
mod redis_access;
#[cfg(feature = "redis")]
mod redis_directory;
#[cfg(feature = "redis")]
mod redis_memory;
#[cfg(feature = "redis")]
#[path = "../common/redis_server.rs"]
mod redis_server;
#[cfg(feature = "redis")]
mod redis_state;
#[path = "../common/redis_tls.rs"]
mod redis_tls;
mod replies;
mod send;
mod slow_handler;
mod snapshot;
mod spec;
mod sync;
// `badge` is the CLI tests'.
#[allow(dead_code)]
#[path = "../common/sync_flow.rs"]
mod sync_flow;
mod wire;

// The production client (issue 3).
mod client_auth;
mod client_errors;
mod client_retry;
mod client_secrets;
mod hardening;
#[path = "../common/harness.rs"]
mod harness;
mod paging;
mod participant;
