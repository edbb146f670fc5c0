//! The fake Inbox's integration tests, in one binary so that the crate is linked once.

// The simulator's control API.
mod control;
mod fake;
mod fake_contacts;
mod fake_installs;
mod fake_instances;
mod fake_refusals;
// The load test, with examples/bot.rs as the app.
#[path = "../../../../tests/common/harness.rs"]
mod harness;
mod load;
// The simulator page, in headless Chromium.
mod simulator;
