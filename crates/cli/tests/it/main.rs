//! The `wix-inbox` command's integration tests, run as processes; one binary.

// `app instance`; `fake sign` of the app-instance events.
mod app;
// examples/bot.rs, the app of `fake load` and of the soak test.
#[path = "../../../../examples/bot.rs"]
#[allow(dead_code)]
mod bot;
mod cli;
// `events`: the event queue.
mod events;
// `contacts find`, `members find` and `sync`.
mod cli_sync;
// Proxies, `fake sign`'s expiry, `fake serve`'s key.
mod hardening;
#[path = "../../../../tests/common/harness.rs"]
mod harness;
// `fake load`, with examples/bot.rs and bad apps.
mod load;
// The relay's metrics, scraped by a real Prometheus.
mod metrics;
// A long-running `wix-inbox` process.
mod process;
#[path = "../../../../tests/common/redis_server.rs"]
mod redis_server;
// The webhook relay.
mod relay;
// `webhook relay --queue`: signed POSTs.
mod relay_queue;
// The soak test: the bot behind ingest-only relays and worker processes, a relay and a worker
// crashed, a Redis restart.
mod soak;
// `events work` behind `webhook relay --queue --no-worker`.
#[path = "../../../../tests/common/sync_flow.rs"]
mod sync;
mod work;
