//! Why a merge was not recorded, or a look-up failed.

use std::fmt;

/// Why the [directory](super::ConversationDirectory) did not record a merge, or could not
/// answer.
///
/// Two families, told apart by [`is_refused`](Self::is_refused):
///
/// - **refused** ([`Invalid`](Self::Invalid), [`Cycle`](Self::Cycle),
///   [`Conflict`](Self::Conflict), [`TooLarge`](Self::TooLarge)): the event contradicts what the directory knows or is not a
///   merge at all. Nothing was recorded, and the same event will be refused again: a webhook
///   handler should log it and answer 200 (a retry by Wix cannot help);
/// - **failed** ([`Store`](Self::Store), [`Corrupt`](Self::Corrupt)): the store could not be
///   read or written (a Redis server gone, say). Nothing was recorded; the handler should answer
///   503 so that Wix delivers the event again later.
#[derive(Debug)]
#[non_exhaustive]
pub enum DirectoryError {
    /// The event is not a merge that can be recorded: it names no target, or an ID is empty.
    Invalid(&'static str),
    /// Recording the merge would close a loop: conversation `id` would be merged into `target`
    /// although `target` is `id` or was already merged into `id` (directly or through a chain).
    Cycle {
        /// The source conversation of the refused merge.
        id: String,
        /// The target conversation of the refused merge.
        target: String,
    },
    /// Conversation `id` was already merged into a chain that ends at `current`, and the event
    /// says it was merged into a conversation that ends at `target`: a conversation is merged
    /// once, so one of the two is wrong, and the directory keeps what it had.
    Conflict {
        /// The source conversation of the refused merge.
        id: String,
        /// Where `id` leads according to the directory.
        current: String,
        /// Where the refused merge would have led `id`.
        target: String,
    },
    /// The event is more than the directory takes on in one step: it lists more than
    /// [`MAX_SOURCES`](super::MAX_SOURCES) old IDs, or planning it follows more than
    /// [`MAX_STEPS`](super::MAX_STEPS) links. Nothing was recorded.
    TooLarge(&'static str),
    /// The store holds a loop through `id`, so chains cannot be followed. The directory never
    /// writes one; the store was changed by something else.
    Corrupt {
        /// A conversation ID on the loop.
        id: String,
    },
    /// The store could not be read or written; nothing was recorded.
    Store(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl DirectoryError {
    /// A store failure, wrapping the store's own error.
    pub fn store(error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self::Store(error.into())
    }

    /// Whether the event itself was refused ([`Invalid`](Self::Invalid),
    /// [`Cycle`](Self::Cycle), [`Conflict`](Self::Conflict)): delivering it again gives the same
    /// answer. `false` for a store failure, which may pass.
    pub fn is_refused(&self) -> bool {
        matches!(
            self,
            Self::Invalid(_) | Self::Cycle { .. } | Self::Conflict { .. } | Self::TooLarge(_)
        )
    }
}

impl fmt::Display for DirectoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // IDs come from webhooks: `{:?}` quotes them and escapes control characters.
        match self {
            Self::Invalid(why) => write!(f, "not a merge that can be recorded: {why}"),
            Self::TooLarge(why) => write!(f, "the merge is too large to record: {why}"),
            Self::Cycle { id, target } if id == target => {
                write!(f, "conversation {id:?} cannot be merged into itself")
            }
            Self::Cycle { id, target } => write!(
                f,
                "merging conversation {id:?} into {target:?} would make a loop: \
                 {target:?} was already merged into {id:?}"
            ),
            Self::Conflict {
                id,
                current,
                target,
            } => write!(
                f,
                "conversation {id:?} was already merged into a chain that leads to \
                 {current:?}; the event would lead it to {target:?}"
            ),
            Self::Corrupt { id } => write!(
                f,
                "the merge store holds a loop through conversation {id:?}; it was changed \
                 outside this crate"
            ),
            Self::Store(e) => write!(f, "the merge store failed: {e}"),
        }
    }
}

impl std::error::Error for DirectoryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Store(e) => Some(&**e),
            _ => None,
        }
    }
}
