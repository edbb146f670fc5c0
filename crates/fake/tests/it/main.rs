//! The fake Inbox's integration tests, in one binary so that the crate is linked once.

// The simulator's control API.
mod control;
mod fake;
mod fake_contacts;
mod fake_installs;
mod fake_instances;
mod fake_refusals;
#[path = "../../../../tests/common/harness.rs"]
mod harness;
// The simulator page, in headless Chromium.
mod simulator;
