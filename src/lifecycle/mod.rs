//! Following merges: which conversation an old conversation ID leads to now.
//!
//! A participant's conversation ID changes as they go from anonymous visitor to contact to
//! member (see [`participant`](crate::participant)): Wix creates a new conversation and merges
//! the old one into it, and says so with a Conversations Merged webhook
//! ([`types::ConversationsMerged`](crate::types::ConversationsMerged): old conversation IDs and
//! a target). An app that keeps anything by conversation ID (a counter, a ticket, a thread in
//! another system) must follow these merges; a message sent to a merged-away conversation
//! fails with 404 `CONVERSATION_NOT_FOUND`.
//!
//! [`ConversationDirectory`] records the merges and answers where an ID leads:
//!
//! - **chains**: `A → B` then `B → C` gives `C` for `A` and for `B`;
//! - **redelivery**: Wix delivers an event more than once; the second time changes nothing and
//!   reports no move;
//! - **any order**: Wix does not keep the order of deliveries: `B → C` learned before `A → B`
//!   gives the same answers, and an event that lists every old ID of a history
//!   (`[A, B] → C`) agrees with the merges it repeats;
//! - **moves**: each merge returns the IDs that stopped being current and where they lead now
//!   ([`Move`]); an app moves what it keeps under `from` to `to`, and every ID is reported
//!   once, whatever the order and the redeliveries;
//! - **refusals**: a merge that would make a loop ([`DirectoryError::Cycle`]) or contradicts
//!   a recorded one ([`DirectoryError::Conflict`]) is refused and records nothing.
//!
//! The links live in a [`MergeStore`]: [`InMemoryMergeStore`] in this process (the default), or
//! a store shared by several processes. Its rules are [`MergePlan`]'s, whatever the store.
//! Links are never shortened (no path compression): telling a redelivery from a loop needs the
//! links as Wix sent them, and chains are a few links long.
//!
//! ```
//! use wix_inbox::lifecycle::{ConversationDirectory, Move};
//! use wix_inbox::types::ConversationsMerged;
//!
//! # async fn run() -> Result<(), wix_inbox::lifecycle::DirectoryError> {
//! let merge = |from: &str, into: &str| ConversationsMerged {
//!     old_conversation_ids: vec![from.into()],
//!     target_conversation_id: Some(into.into()),
//!     ..Default::default()
//! };
//! let directory = ConversationDirectory::new();
//!
//! // The contact became a member (B → C), and that event came first ...
//! let moved = directory.apply(&merge("B", "C")).await?;
//! assert_eq!(moved, [Move { from: "B".into(), to: "C".into() }]);
//! // ... before the visitor had become a contact (A → B): A leads to C.
//! let moved = directory.apply(&merge("A", "B")).await?;
//! assert_eq!(moved, [Move { from: "A".into(), to: "C".into() }]);
//! assert_eq!(directory.current("A").await?, "C");
//!
//! // Wix delivers it again: nothing moves.
//! assert!(directory.apply(&merge("A", "B")).await?.is_empty());
//! // C into A would make a loop: refused, and nothing changed.
//! let refused = directory.apply(&merge("C", "A")).await.unwrap_err();
//! assert!(refused.is_refused());
//! assert_eq!(directory.current("A").await?, "C");
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run()).unwrap();
//! ```
//!
//! In a webhook handler, feed it every verified event and re-key on what moved:
//!
//! ```
//! use wix_inbox::lifecycle::{ConversationDirectory, DirectoryError};
//! use wix_inbox::webhooks::WebhookEvent;
//! use std::collections::HashMap;
//!
//! async fn on_event(
//!     event: &WebhookEvent,
//!     directory: &ConversationDirectory,
//!     counters: &mut HashMap<String, u64>,
//! ) -> Result<(), DirectoryError> {
//!     for moved in directory.apply_event(event).await? {
//!         if let Some(n) = counters.remove(&moved.from) {
//!             *counters.entry(moved.to).or_default() += n;
//!         }
//!     }
//!     Ok(())
//! }
//! ```

mod directory;
mod error;
mod memory;
mod plan;
mod store;

pub use directory::ConversationDirectory;
pub use error::DirectoryError;
pub use memory::InMemoryMergeStore;
pub use plan::{resolve, Link, MergePlan, Move, MAX_CHAIN, MAX_SOURCES, MAX_STEPS};
pub use store::MergeStore;
