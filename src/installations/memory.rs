//! [`InMemoryInstallations`]: the installations of one process.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};

use super::{
    with_instance, Applied, Installation, InstallationError, InstallationEvent, InstallationStore,
};
use crate::types;

/// How many instances an [`InMemoryInstallations`] keeps at most by default: 1,000,000.
pub const DEFAULT_MAX_INSTALLATIONS: usize = 1_000_000;

/// An [`InstallationStore`] in this process's memory: for one process, and tests. Records come
/// only from signed events and the app's own calls; past its limit
/// ([`DEFAULT_MAX_INSTALLATIONS`] unless [`with_limit`](Self::with_limit)), a new instance is an
/// error (nothing is forgotten silently).
#[derive(Debug)]
pub struct InMemoryInstallations {
    records: Mutex<HashMap<String, Installation>>,
    limit: usize,
}

impl Default for InMemoryInstallations {
    fn default() -> Self {
        Self::with_limit(DEFAULT_MAX_INSTALLATIONS)
    }
}

impl InMemoryInstallations {
    /// An empty store, keeping up to [`DEFAULT_MAX_INSTALLATIONS`] instances.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store keeping up to `limit` instances.
    pub fn with_limit(limit: usize) -> Self {
        InMemoryInstallations {
            records: Mutex::new(HashMap::new()),
            limit,
        }
    }

    /// Replaces `instance_id`'s record with what `update` makes of it, in one step.
    fn update<T>(
        &self,
        instance_id: &str,
        update: impl FnOnce(Option<&Installation>) -> (Installation, T),
    ) -> Result<T, InstallationError> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if !records.contains_key(instance_id) && records.len() >= self.limit {
            return Err(InstallationError(
                format!("it keeps at most {} instances", self.limit).into(),
            ));
        }
        let (next, out) = update(records.get(instance_id));
        records.insert(instance_id.to_owned(), next);
        Ok(out)
    }
}

impl InstallationStore for InMemoryInstallations {
    fn apply(
        &self,
        event: &InstallationEvent,
    ) -> impl Future<Output = Result<Applied, InstallationError>> + Send {
        let applied = self.update(&event.instance_id, |previous| {
            let applied = Installation::apply(previous, event);
            (applied.installation.clone(), applied)
        });
        std::future::ready(applied)
    }

    fn remember(
        &self,
        instance_id: &str,
        data: &types::GetAppInstanceResponse,
    ) -> impl Future<Output = Result<Installation, InstallationError>> + Send {
        let kept = self.update(instance_id, |previous| {
            let next = with_instance(previous, instance_id, data);
            (next.clone(), next)
        });
        std::future::ready(kept)
    }

    fn get(
        &self,
        instance_id: &str,
    ) -> impl Future<Output = Result<Option<Installation>, InstallationError>> + Send {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        std::future::ready(Ok(records.get(instance_id).cloned()))
    }

    fn list(&self) -> impl Future<Output = Result<Vec<Installation>, InstallationError>> + Send {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        std::future::ready(Ok(records.values().cloned().collect()))
    }
}
