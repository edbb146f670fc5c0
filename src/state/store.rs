//! Where per-conversation state and reply records live: [`StateStore`], and its error.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::lifecycle::DirectoryError;

/// The longest value a store keeps: 64 KiB of JSON. Larger state is refused
/// ([`StateError::TooLarge`]) before anything is written.
pub const MAX_VALUE: usize = 64 * 1024;

/// The longest scope or key: 256 bytes (Wix's IDs are 36).
pub const MAX_KEY: usize = 256;

/// A key and the value read from it (`None`: absent), or the value to write (`None`: delete).
pub type Entry = (String, Option<String>);

/// A store of small JSON values by scope (an app instance or site) and key, with one atomic
/// operation, a compare-and-set over several keys of one scope: what
/// [`ConversationStates`](super::ConversationStates) and [`Replies`](super::Replies) are built
/// on.
///
/// Every key of one call shares its scope, so a Redis store puts a scope's keys in one hash slot
/// (`{scope}` as the hash tag) and each call touches one slot. Implementations:
/// [`InMemoryStateStore`](super::InMemoryStateStore) and, with the `redis` feature,
/// `wix_inbox::redis::RedisStateStore`.
pub trait StateStore: Send + Sync + 'static {
    /// The values of `keys` in `scope`, in order (`None` for an absent key).
    fn load(
        &self,
        scope: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<Option<String>>, StateError>> + Send;

    /// Atomically: if every key of `read` still holds the value given with it (`None`: still
    /// absent), applies `writes` (`Some` sets, `None` deletes) and answers `true`; else writes
    /// nothing and answers `false` (another writer came first: read again).
    fn commit(
        &self,
        scope: &str,
        read: &[Entry],
        writes: &[Entry],
    ) -> impl Future<Output = Result<bool, StateError>> + Send;

    /// Remembers `message_id` as a message this app sent in `scope` (kept for a bounded number
    /// or time; see each store).
    fn remember(
        &self,
        scope: &str,
        message_id: &str,
    ) -> impl Future<Output = Result<(), StateError>> + Send;

    /// Forgets `message_id` in `scope` (nothing when it was not remembered).
    fn forget(
        &self,
        scope: &str,
        message_id: &str,
    ) -> impl Future<Output = Result<(), StateError>> + Send;

    /// Whether `message_id` was remembered in `scope` (and not forgotten since).
    fn is_remembered(
        &self,
        scope: &str,
        message_id: &str,
    ) -> impl Future<Output = Result<bool, StateError>> + Send;
}

impl<S: StateStore> StateStore for Arc<S> {
    fn load(
        &self,
        scope: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<Option<String>>, StateError>> + Send {
        (**self).load(scope, keys)
    }

    fn commit(
        &self,
        scope: &str,
        read: &[Entry],
        writes: &[Entry],
    ) -> impl Future<Output = Result<bool, StateError>> + Send {
        (**self).commit(scope, read, writes)
    }

    fn remember(
        &self,
        scope: &str,
        message_id: &str,
    ) -> impl Future<Output = Result<(), StateError>> + Send {
        (**self).remember(scope, message_id)
    }

    fn forget(
        &self,
        scope: &str,
        message_id: &str,
    ) -> impl Future<Output = Result<(), StateError>> + Send {
        (**self).forget(scope, message_id)
    }

    fn is_remembered(
        &self,
        scope: &str,
        message_id: &str,
    ) -> impl Future<Output = Result<bool, StateError>> + Send {
        (**self).is_remembered(scope, message_id)
    }
}

/// Why state could not be read or written. Nothing was written when it is returned.
#[derive(Debug)]
#[non_exhaustive]
pub enum StateError {
    /// A scope, key or conversation ID that is empty or longer than [`MAX_KEY`].
    InvalidKey(&'static str),
    /// The state serializes to more than [`MAX_VALUE`] bytes.
    TooLarge(usize),
    /// A stored value is not the JSON of the state type (a type changed, or another writer).
    Corrupt(serde_json::Error),
    /// Other writers kept changing the same keys: nothing was written after many attempts.
    Contended,
    /// The conversation directory refused the merge or failed
    /// ([`DirectoryError::is_refused`] tells which).
    Directory(DirectoryError),
    /// The store could not be read or written (a Redis server gone, say).
    Store(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl StateError {
    /// Whether the event itself was refused (a merge the directory refuses): delivering it again
    /// gives the same answer, so a webhook handler logs it and answers 200. `false` for store
    /// failures, which may pass (answer 503).
    pub fn is_refused(&self) -> bool {
        matches!(self, StateError::Directory(e) if e.is_refused())
    }
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::InvalidKey(what) => write!(f, "invalid state key: {what}"),
            StateError::TooLarge(n) => {
                write!(
                    f,
                    "the state is {n} bytes of JSON, over the {MAX_VALUE}-byte limit"
                )
            }
            StateError::Corrupt(_) => f.write_str("a stored state is not of the expected type"),
            StateError::Contended => {
                f.write_str("other writers kept changing the state: nothing written")
            }
            StateError::Directory(_) => f.write_str("the conversation directory failed"),
            StateError::Store(_) => f.write_str("the state store failed"),
        }
    }
}

impl std::error::Error for StateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StateError::Corrupt(e) => Some(e),
            StateError::Directory(e) => Some(e),
            StateError::Store(e) => Some(&**e),
            _ => None,
        }
    }
}

impl From<DirectoryError> for StateError {
    fn from(e: DirectoryError) -> Self {
        StateError::Directory(e)
    }
}

/// Checks a scope or key: not empty (the scope may be: see [`scope_of`]), at most [`MAX_KEY`]
/// bytes.
pub(crate) fn check_key(key: &str, what: &'static str) -> Result<(), StateError> {
    if key.is_empty() || key.len() > MAX_KEY {
        Err(StateError::InvalidKey(what))
    } else {
        Ok(())
    }
}

/// The scope of an event: its app instance, or `site` for an event without one (an API-key
/// app's webhooks name no instance).
pub(crate) fn scope_of(event: &crate::webhooks::WebhookEvent) -> &str {
    event.instance_id().unwrap_or("site")
}
