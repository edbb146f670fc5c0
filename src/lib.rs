//! # wix-inbox
//!
//! A Rust client for the [Wix Inbox API v2](https://dev.wix.com/docs/rest/crm/inbox): get or
//! create the conversation with a site visitor, contact or member, list its messages and answer.
//!
//! The types ([`types`]) and the operations of [`Client`] are generated at build time from the
//! crate's OpenAPI document, `openapi/inbox-v2.yaml`, by progenitor. Enums are open: a value Wix
//! adds later deserializes to an `Other` variant and serializes back unchanged.
//!
//! - [`Client`]: one site, with an API key ([`Client::builder`]) or one app instance's token.
//! - [`App`]: an app installed on many sites — one connection pool, a token per instance
//!   ([`App::instance`]), webhook verification ([`App::verify`]) and the client of the event's
//!   instance ([`App::client_for`]), the sites it is on ([`App::installations`]).
//! - [`webhooks`]: verifying and decoding Wix's webhooks, and dropping redeliveries;
//!   [`lifecycle`] and [`send`]: following conversation merges; [`state`]: per-conversation
//!   state and replies sent once; [`lookup`] and [`contacts`]: a participant's contact and
//!   member IDs; [`queue`]: handling events durably.
//!
//! # Features
//!
//! None is on by default. On docs.rs each item that needs one is marked with it.
//!
//! | feature | what it adds |
//! |---|---|
//! | `axum` | a ready webhook endpoint (`webhooks::axum::WebhookReceiver`, `App::webhook_router`) and a server with production bounds (`webhooks::axum::ServeOptions`) |
//! | `redis` | state shared by several processes in Redis (`redis`: webhook claims, merges, installations, conversation state, the event queue, token and pacing) |
//! | `prometheus` | a Prometheus recorder and text format for the crate's metrics (`metrics::Prometheus`; its `/metrics` route with `axum`) |
//! | `test-util` | `webhooks::test_signer`: signs events as Wix does, for tests |
//!
//! An offline fake Inbox for tests and examples is the separate crate `wix-inbox-fake`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = wix_inbox::Client::builder()
//!     .api_key("IST.eyJraWQiOi...")
//!     .site_id("0d3c7c5a-2d3b-4a8e-9d9a-7d1d2b6f2a41")
//!     .build()?;
//! let page = client
//!     .list_messages()
//!     .conversation_id("6202c3bb-f263-3c16-8c90-d6387d9ed420")
//!     .visibility(wix_inbox::types::MessageVisibility::BusinessAndParticipant)
//!     .send()
//!     .await?;
//! for message in &page.messages {
//!     println!("{:?}", message.content);
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
// docs.rs (nightly, `--cfg docsrs`): each feature-gated item marked with its feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's examples, compiled as doc tests so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;

#[cfg(feature = "redis")]
pub mod redis;
pub mod webhooks;
pub mod wire;

/// The code progenitor generates from the spec (`$OUT_DIR/codegen.rs`), re-exported below; its
/// operations' `send()` fail with the crate's own [`Error`] (build.rs wraps them).
// Its `prelude` (the `Client` alone) is not re-exported: `Client` is, at the root.
// Generated code documents what the spec documents; it is not held to `missing_docs`.
#[allow(unused_imports, missing_docs)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/codegen.rs"));
}
use generated::Error as GeneratedError;

/// The spec this crate is generated from (`openapi/inbox-v2.yaml`), validation rules and all,
/// as JSON text: for fakes of Wix and contract tests that must hold requests to the same
/// document (the fake crate routes its paths and methods, and reads request rules, from it).
#[cfg(feature = "test-util")]
pub const SPEC_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/spec.json"));
pub use generated::{builder, types, Client, ClientInfo, ResponseValue};

// The hand-written layer: the client (builder, credentials, retries, errors), the app (a
// client per instance), paging, messages, participant IDs, accessors, lifecycle, sending that
// survives a merge, lookups of contacts and members; and the sanitiser of what others send,
// shared with the webhooks.
pub mod accessors;
pub mod app;
pub mod client;
pub mod contacts;
pub mod installations;
pub mod lifecycle;
pub mod lookup;
pub mod metrics;
pub mod paging;
pub mod participant;
pub mod queue;
mod random;
pub mod send;
pub mod state;
mod text;
pub mod trace;
pub use app::{App, AppBuilder};
pub use client::error::{Error, ErrorCode, ErrorKind};
pub use client::{AppCredentials, ClientBuilder, RetryPolicy};
pub use participant::NotAParticipant;
