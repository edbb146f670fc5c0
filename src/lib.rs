//! # wix-inbox
//!
//! A Rust client for the [Wix Inbox API v2](https://dev.wix.com/docs/rest/crm/inbox): get or
//! create the conversation with a site visitor, contact or member, list its messages and answer.
//!
//! The types ([`types`]) and the operations of [`Client`] are generated at build time from the
//! crate's OpenAPI document, `openapi/inbox-v2.yaml`, by progenitor. Enums are open: a value Wix
//! adds later deserializes to an `Other` variant and serializes back unchanged.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = wix_inbox::Client::new("https://www.wixapis.com");
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

#[cfg(feature = "fake")]
pub mod fake;
pub mod webhooks;
pub mod wire;

include!(concat!(env!("OUT_DIR"), "/codegen.rs"));
