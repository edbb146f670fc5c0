//! The directory: merges in, current conversation IDs out.

use super::error::DirectoryError;
use super::memory::InMemoryMergeStore;
use super::plan::Move;
use super::store::MergeStore;
use crate::types::ConversationsMerged;
use crate::webhooks::{InboxEvent, WebhookEvent};

/// Where each conversation ID leads now, learned from Conversations Merged events.
///
/// Feed it every Conversations Merged event ([`apply_event`](Self::apply_event) takes any
/// verified [`WebhookEvent`] and ignores the others); ask [`current`](Self::current) for the
/// conversation an ID leads to. Events may come more than once and in any order; the answer is
/// the same. Each merge reports the IDs that stopped being current ([`Move`]), so that an app
/// keeping its own state by conversation ID moves it, once.
///
/// Clones share the store when the store's clones do (the in-memory one's do).
#[derive(Clone, Debug, Default)]
pub struct ConversationDirectory<S = InMemoryMergeStore> {
    store: S,
}

impl ConversationDirectory {
    /// A directory in this process' memory ([`InMemoryMergeStore`]).
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S: MergeStore> ConversationDirectory<S> {
    /// A directory on `store`.
    pub fn with_store(store: S) -> Self {
        ConversationDirectory { store }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Records a Conversations Merged event: each of its old conversations was merged into its
    /// target. Returns the IDs that stopped being current and where they lead now; empty when
    /// the event was known already (a redelivery) or is older news than what the directory
    /// knows.
    ///
    /// A merge with no target or an empty ID is [`DirectoryError::Invalid`]; one that would
    /// close a loop is [`DirectoryError::Cycle`]; one that contradicts a recorded merge is
    /// [`DirectoryError::Conflict`]. A refused event records nothing.
    pub async fn apply(&self, merged: &ConversationsMerged) -> Result<Vec<Move>, DirectoryError> {
        let applied = match merged.target_conversation_id.as_deref() {
            Some(target) => self.store.apply(&merged.old_conversation_ids, target).await,
            None => Err(DirectoryError::Invalid(
                "the event names no target conversation",
            )),
        };
        match &applied {
            Ok(moves) if moves.is_empty() => crate::metrics::directory_merge("known", 0),
            Ok(moves) => crate::metrics::directory_merge("applied", moves.len()),
            Err(e) if e.is_refused() => crate::metrics::directory_merge("refused", 0),
            Err(_) => crate::metrics::directory_merge("error", 0),
        }
        applied
    }

    /// [`apply`](Self::apply) for a Conversations Merged event; nothing (and no move) for any
    /// other event.
    pub async fn apply_event(&self, event: &WebhookEvent) -> Result<Vec<Move>, DirectoryError> {
        match &event.event {
            InboxEvent::ConversationsMerged(merged) => self.apply(merged).await,
            _ => Ok(Vec::new()),
        }
    }

    /// The conversation `id` leads to now: the end of its chain of merges (A → B and B → C
    /// give C for A), or `id` itself when it was never merged (or the merge is not known yet).
    pub async fn current(&self, id: &str) -> Result<String, DirectoryError> {
        self.store.current(id).await
    }
}
