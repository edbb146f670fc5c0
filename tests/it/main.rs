//! The crate's integration tests, in one binary so that the crate is linked once.

mod build_script;
mod fixtures;
mod operations;
mod snapshot;
mod spec;
mod wire;
