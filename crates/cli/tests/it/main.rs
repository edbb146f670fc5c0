//! The `wix-inbox` command's integration tests, run as processes; one binary.

mod cli;
// `contacts find`, `members find` and `sync`.
mod cli_sync;
// Proxies, `fake sign`'s expiry, `fake serve`'s key.
mod hardening;
#[path = "../../../../tests/common/harness.rs"]
mod harness;
#[path = "../../../../tests/common/redis_server.rs"]
mod redis_server;
// The webhook relay.
mod relay;
#[path = "../../../../tests/common/sync_flow.rs"]
mod sync;
