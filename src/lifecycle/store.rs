//! Where the directory keeps its links.

use std::future::Future;
use std::sync::Arc;

use super::error::DirectoryError;
use super::plan::Move;

/// A store of merge links (`from → into`) that records a merge and follows chains.
///
/// [`apply`](Self::apply) must be **atomic**: the chains it reads and the links it writes form
/// one step, so that many processes or tasks recording merges at once end in the state one
/// order of the same merges would give, and each ID is reported as moved exactly once. The
/// rules are [`MergePlan::new`](super::MergePlan::new)'s; a store keeping its links elsewhere
/// (a Redis store: a `WATCH`/`MULTI` transaction, or a script) reads the chains, builds the
/// plan and writes its links in one transaction. Store failures are
/// [`DirectoryError::Store`], never a guess.
///
/// The methods return futures so that a shared store can do I/O; [`InMemoryMergeStore`]
/// answers at once.
///
/// [`InMemoryMergeStore`]: super::InMemoryMergeStore
pub trait MergeStore: Send + Sync + 'static {
    /// Records that each of `sources` was merged into `target` and returns the IDs that stopped
    /// being current, with where they lead now (empty for a redelivery). On any error nothing
    /// was recorded.
    fn apply(
        &self,
        sources: &[String],
        target: &str,
    ) -> impl Future<Output = Result<Vec<Move>, DirectoryError>> + Send;

    /// The conversation `id` leads to now: the end of its chain, `id` itself when it was never
    /// merged.
    fn current(&self, id: &str) -> impl Future<Output = Result<String, DirectoryError>> + Send;
}

impl<S: MergeStore> MergeStore for Arc<S> {
    fn apply(
        &self,
        sources: &[String],
        target: &str,
    ) -> impl Future<Output = Result<Vec<Move>, DirectoryError>> + Send {
        (**self).apply(sources, target)
    }

    fn current(&self, id: &str) -> impl Future<Output = Result<String, DirectoryError>> + Send {
        (**self).current(id)
    }
}
