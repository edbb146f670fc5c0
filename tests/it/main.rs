//! The crate's integration tests, in one binary so that the crate is linked once.

mod accessors;
mod app;
mod auto_reply;
mod bot;
mod build_script;
#[cfg(feature = "cli")]
mod cli;
// `contacts find`, `members find` and `sync`, run as processes.
#[cfg(feature = "cli")]
mod cli_sync;
// The simulator's control API.
mod control;
mod fake;
mod fake_contacts;
mod fake_instances;
mod fixtures;
mod installations;
mod lifecycle;
mod lookup;
mod operations;
mod quickstart;
#[cfg(feature = "redis")]
mod redis_directory;
#[cfg(feature = "redis")]
#[path = "../common/redis_server.rs"]
mod redis_server;
#[cfg(feature = "cli")]
mod relay;
mod send;
// The simulator page, in headless Chromium.
mod simulator;
mod snapshot;
mod spec;
mod sync;
mod wire;

// The production client (issue 3).
mod client_auth;
mod client_errors;
mod client_retry;
mod client_secrets;
mod hardening;
mod harness;
mod paging;
mod participant;
