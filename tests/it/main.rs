//! The crate's integration tests, in one binary so that the crate is linked once.

mod build_script;
mod fake;
mod fixtures;
mod operations;
mod quickstart;
mod snapshot;
mod spec;
mod wire;
