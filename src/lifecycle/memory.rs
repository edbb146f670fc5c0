//! The in-process merge store.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::{ready, Future};
use std::sync::{Arc, PoisonError, RwLock};

use super::error::DirectoryError;
use super::plan::{resolve, MergePlan, Move};
use super::store::MergeStore;

/// How many times a merge is planned under the read lock before it is planned under the write
/// lock (when other merges kept changing its chains).
const PLAN_ATTEMPTS: usize = 3;

/// A [`MergeStore`] in this process: a map from each merged-away conversation ID to the
/// conversation it was merged into, behind a read-write lock. Clones share the map.
///
/// **Memory.** One entry per conversation that was merged away (not per conversation, nor per
/// message): its ID, the ID it was merged into, and the map's slot. With Wix's 36-character
/// IDs that is 115–126 bytes of heap per entry (measured with a counting allocator: 1.26 MB for
/// 10,000 merges, 11.5 MB for 100,000; the allocator's own overhead comes on top).
///
/// It is not bounded and forgets nothing, on purpose: a link dropped to save memory would
/// silently cut the chains through it, and [`current`](MergeStore::current) would answer an ID
/// that no longer exists. A participant's conversation is merged a few times in its life, so
/// the map grows with the site's participants, not with traffic. An app that must bound it, or
/// share it between processes, implements [`MergeStore`] on a shared store.
///
/// A merge plans under the read lock and takes the write lock only to check that the IDs it
/// found unmerged still are and to insert its links (one look-up per chain end, one insert
/// per source); `current` takes the read lock for the walk along the chain. A plan follows at
/// most [`MAX_STEPS`](super::MAX_STEPS) links. No lock is held across an `.await`.
#[derive(Clone, Debug, Default)]
pub struct InMemoryMergeStore {
    links: Arc<RwLock<HashMap<Box<str>, Box<str>>>>,
}

impl InMemoryMergeStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many conversation IDs were recorded as merged away.
    pub fn len(&self) -> usize {
        self.links
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no merge was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`MergeStore::apply`], synchronous.
    pub fn apply_now(&self, sources: &[String], target: &str) -> Result<Vec<Move>, DirectoryError> {
        // Planned under the read lock, so that look-ups (`current`) and other plans go on
        // meanwhile. Links are only ever added, never changed: the plan stays true unless an
        // ID it found unmerged was merged since, which the write lock checks before inserting.
        for _ in 0..PLAN_ATTEMPTS {
            let unmerged = RefCell::new(Vec::new());
            let plan = {
                let links = self.links.read().unwrap_or_else(PoisonError::into_inner);
                MergePlan::new(sources, target, |id| {
                    let link = links.get(id).map(|to| &**to);
                    if link.is_none() {
                        unmerged.borrow_mut().push(id.to_owned());
                    }
                    link
                })?
            };
            // The map is only changed after a plan succeeded, so a poisoned lock (a panic
            // elsewhere while it was held) still guards a whole map.
            let mut links = self.links.write().unwrap_or_else(PoisonError::into_inner);
            if unmerged
                .into_inner()
                .iter()
                .all(|id| !links.contains_key(id.as_str()))
            {
                return Ok(Self::insert(&mut links, plan));
            }
        }
        // Merges kept landing on these chains: plan under the write lock.
        let mut links = self.links.write().unwrap_or_else(PoisonError::into_inner);
        let plan = MergePlan::new(sources, target, |id| links.get(id).map(|to| &**to))?;
        Ok(Self::insert(&mut links, plan))
    }

    fn insert(links: &mut HashMap<Box<str>, Box<str>>, plan: MergePlan) -> Vec<Move> {
        links.reserve(plan.links.len());
        for link in plan.links {
            links.insert(link.from.into_boxed_str(), link.into.into_boxed_str());
        }
        plan.moves
    }

    /// [`MergeStore::current`], synchronous.
    pub fn current_now(&self, id: &str) -> Result<String, DirectoryError> {
        if id.is_empty() {
            return Err(DirectoryError::Invalid("the conversation ID is empty"));
        }
        let links = self.links.read().unwrap_or_else(PoisonError::into_inner);
        resolve(id, |id| links.get(id).map(|to| &**to)).map(str::to_owned)
    }
}

impl MergeStore for InMemoryMergeStore {
    fn apply(
        &self,
        sources: &[String],
        target: &str,
    ) -> impl Future<Output = Result<Vec<Move>, DirectoryError>> + Send {
        ready(self.apply_now(sources, target))
    }

    fn current(&self, id: &str) -> impl Future<Output = Result<String, DirectoryError>> + Send {
        ready(self.current_now(id))
    }
}
