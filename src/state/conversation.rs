//! [`ConversationStates`]: typed state per conversation that follows merges.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::{de::DeserializeOwned, Serialize};

use super::memory::InMemoryStateStore;
use super::store::{check_key, scope_of, Entry, StateError, StateStore, MAX_VALUE};
use crate::lifecycle::{ConversationDirectory, InMemoryMergeStore, MergeStore, Move};
use crate::webhooks::{InboxEvent, WebhookEvent};

/// How many times a write is tried again when another writer changed what it read.
const MAX_ATTEMPTS: u32 = 64;

/// The wait before attempt `attempt` (from 1) of a compare-and-set that lost to another writer:
/// up to 1, 2, 4 ... 32 ms, jittered (full jitter), so that writers racing on one key spread
/// out instead of colliding again.
async fn backoff(attempt: u32) {
    use std::hash::{BuildHasher, Hasher};
    if attempt == 0 {
        return;
    }
    let ceiling = 1u64 << attempt.min(5);
    let mut random = std::collections::hash_map::RandomState::new().build_hasher();
    random.write_u32(attempt);
    let micros = random.finish() % (ceiling * 1000);
    tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
}

type MergeFn<T> = Arc<dyn Fn(T, T) -> T + Send + Sync>;

/// A state of type `T` per conversation (a counter, a dialogue step, a ticket), that moves with
/// Conversations Merged: the app reads and writes "the state of this conversation" and never
/// re-keys by hand. The model is teloxide's dialogue storage, with Wix's merges added.
///
/// - [`apply_event`](Self::apply_event) takes every verified event: a Conversations Merged is
///   recorded in the [`ConversationDirectory`] and the states of the merged-away conversations
///   are merged into the target's with the merge function ([`merge_with`](Self::merge_with);
///   by default the target's state is kept, or the first source's when the target has none).
///   Redeliveries and any order of events give the same result; a merge the directory refuses
///   is [`StateError::Directory`] with [`is_refused`](StateError::is_refused) `true` (log it
///   and answer 200).
/// - [`update`](Self::update) and [`get`](Self::get) act on the conversation an ID leads to
///   now. An update is a compare-and-set ([`StateStore::commit`]), tried again when another
///   writer came first, so concurrent updates from any number of tasks or processes are not
///   lost; one that lands while a merge moves its conversation is moved after it.
///
/// States are kept per scope: the app instance (an event's `instanceId`), so that each site's
/// states live apart (and, on Redis, in one hash slot per instance). The `*_for(event)`
/// methods take the scope and conversation from the event.
///
/// ```
/// use wix_inbox::state::ConversationStates;
///
/// # async fn run() -> Result<(), wix_inbox::state::StateError> {
/// let counts: ConversationStates<u64> = ConversationStates::new().merge_with(|a, b| a + b);
/// counts.update("instance-1", "A", |n| *n += 1).await?;
/// counts.update("instance-1", "B", |n| *n += 2).await?;
/// counts.merge("instance-1", &["A".into()], "B").await?; // Conversations Merged A → B
/// assert_eq!(counts.get("instance-1", "A").await?, Some(3)); // A leads to B now
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run()).unwrap();
/// ```
pub struct ConversationStates<T, S = InMemoryStateStore, D = InMemoryMergeStore> {
    store: S,
    directory: ConversationDirectory<D>,
    merge: MergeFn<T>,
    _state: PhantomData<fn() -> T>,
}

impl<T, S: Clone, D: Clone> Clone for ConversationStates<T, S, D> {
    fn clone(&self) -> Self {
        ConversationStates {
            store: self.store.clone(),
            directory: self.directory.clone(),
            merge: self.merge.clone(),
            _state: PhantomData,
        }
    }
}

impl<T, S, D> std::fmt::Debug for ConversationStates<T, S, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConversationStates").finish_non_exhaustive()
    }
}

impl<T> Default for ConversationStates<T> {
    fn default() -> Self {
        Self::with_stores(InMemoryStateStore::new(), ConversationDirectory::new())
    }
}

impl<T> ConversationStates<T> {
    /// States and directory in this process' memory.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<T, S: StateStore> ConversationStates<T, S> {
    /// States in `store`, merges recorded in this process' memory.
    pub fn with_store(store: S) -> Self {
        Self::with_stores(store, ConversationDirectory::new())
    }
}

impl<T, S: StateStore, D: MergeStore> ConversationStates<T, S, D> {
    /// States in `store`, merges recorded in `directory` (share both between processes to
    /// share the states: `wix_inbox::redis::{RedisStateStore, RedisMergeStore}`).
    pub fn with_stores(store: S, directory: ConversationDirectory<D>) -> Self {
        ConversationStates {
            store,
            directory,
            merge: Arc::new(|target, _source| target),
            _state: PhantomData,
        }
    }

    /// How two states become one when their conversations merge: `merge(target, source)`,
    /// once per merged-away conversation that had a state.
    pub fn merge_with(mut self, merge: impl Fn(T, T) -> T + Send + Sync + 'static) -> Self {
        self.merge = Arc::new(merge);
        self
    }

    /// The directory the states follow.
    pub fn directory(&self) -> &ConversationDirectory<D> {
        &self.directory
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }
}

impl<T, S, D> ConversationStates<T, S, D>
where
    T: Serialize + DeserializeOwned + Default,
    S: StateStore,
    D: MergeStore,
{
    /// Records a Conversations Merged event (nothing for any other event) and merges the states
    /// of its old conversations into its target's. Returns the directory's moves.
    ///
    /// # Errors
    ///
    /// [`StateError::Directory`] when the directory refuses or fails (nothing moved); a store
    /// error (the merge is recorded: a redelivery moves the states).
    pub async fn apply_event(&self, event: &WebhookEvent) -> Result<Vec<Move>, StateError> {
        let InboxEvent::ConversationsMerged(merged) = &event.event else {
            return Ok(Vec::new());
        };
        let moves = self.directory.apply(merged).await?;
        let mut sources = merged.old_conversation_ids.clone();
        sources.extend(moves.iter().map(|m| m.from.clone()));
        let target = merged.target_conversation_id.as_deref().unwrap_or_default();
        sources.push(target.to_owned());
        self.move_states(scope_of(event), sources).await?;
        Ok(moves)
    }

    /// Records that `sources` were merged into `target` in `scope` (as
    /// [`apply_event`](Self::apply_event) does for an event) and merges their states.
    ///
    /// # Errors
    ///
    /// As [`apply_event`](Self::apply_event).
    pub async fn merge(
        &self,
        scope: &str,
        sources: &[String],
        target: &str,
    ) -> Result<Vec<Move>, StateError> {
        let merged = crate::types::ConversationsMerged {
            old_conversation_ids: sources.to_vec(),
            target_conversation_id: Some(target.to_owned()),
            ..Default::default()
        };
        let moves = self.directory.apply(&merged).await?;
        let mut all = sources.to_vec();
        all.push(target.to_owned());
        self.move_states(scope, all).await?;
        Ok(moves)
    }

    /// The state of the conversation `conversation` leads to now, if it has one.
    ///
    /// # Errors
    ///
    /// A store or directory failure; [`StateError::Corrupt`] for a stored value that is not a
    /// `T`.
    pub async fn get(&self, scope: &str, conversation: &str) -> Result<Option<T>, StateError> {
        let (key, _) = self.locate(scope, conversation).await?;
        let stored = self.store.load(scope, &[key]).await?;
        stored
            .into_iter()
            .flatten()
            .next()
            .as_deref()
            .map(decode)
            .transpose()
    }

    /// Changes the state of the conversation `conversation` leads to now (`T::default()` when
    /// it has none) with `change`, and returns what `change` returned. `change` may run more
    /// than once (when another writer came first); only its last run is stored.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get); [`StateError::TooLarge`] for a state over
    /// [`MAX_VALUE`](super::MAX_VALUE) bytes of JSON, [`StateError::Contended`] after 64
    /// attempts. Nothing is written then.
    pub async fn update<R>(
        &self,
        scope: &str,
        conversation: &str,
        mut change: impl FnMut(&mut T) -> R,
    ) -> Result<R, StateError> {
        for attempt in 0..MAX_ATTEMPTS {
            backoff(attempt).await;
            let (key, current) = self.locate(scope, conversation).await?;
            let read = self.store.load(scope, std::slice::from_ref(&key)).await?;
            let old = read.into_iter().next().flatten();
            let mut state = old.as_deref().map(decode).transpose()?.unwrap_or_default();
            let result = change(&mut state);
            let new = encode(&state)?;
            if self
                .store
                .commit(scope, &[(key.clone(), old)], &[(key, Some(new))])
                .await?
            {
                // A merge may have moved the conversation since it was looked up: follow it.
                if self.directory.current(conversation).await? != current {
                    self.move_states(scope, vec![current]).await?;
                }
                return Ok(result);
            }
        }
        Err(StateError::Contended)
    }

    /// [`update_for`](Self::update_for), once per event, returning the state as this event left
    /// it. The first time, `change` runs and the new state is also recorded for the event, in
    /// the same compare-and-set; for a redelivery of the event nothing changes and the state
    /// recorded for it is returned. So a count kept this way counts each event once, and a
    /// reply built from it is the same on every delivery (which lets
    /// [`Replies`](super::Replies) recognise it after a crash). One small record per event is
    /// kept in the store.
    ///
    /// # Errors
    ///
    /// As [`update`](Self::update).
    pub async fn update_once(
        &self,
        event: &WebhookEvent,
        mut change: impl FnMut(&mut T),
    ) -> Result<T, StateError> {
        let scope = scope_of(event);
        let conversation = conversation_of(event)?;
        check_key(&event.id, "empty or over-long event ID")?;
        let done = format!("once:{}", event.id);
        for attempt in 0..MAX_ATTEMPTS {
            backoff(attempt).await;
            let (key, current) = self.locate(scope, conversation).await?;
            let read = self.store.load(scope, &[key.clone(), done.clone()]).await?;
            let mut read = read.into_iter();
            let (old, recorded) = (read.next().flatten(), read.next().flatten());
            if let Some(recorded) = recorded {
                return decode(&recorded);
            }
            let mut state = old.as_deref().map(decode).transpose()?.unwrap_or_default();
            change(&mut state);
            let new = encode(&state)?;
            let writes = [(key.clone(), Some(new.clone())), (done.clone(), Some(new))];
            let read = [(key, old), (done.clone(), None)];
            if self.store.commit(scope, &read, &writes).await? {
                if self.directory.current(conversation).await? != current {
                    self.move_states(scope, vec![current]).await?;
                }
                return Ok(state);
            }
        }
        Err(StateError::Contended)
    }

    /// [`apply_event`](Self::apply_event) for a webhook handler: a merge the directory refuses
    /// is logged (`tracing`, at warn) and is not an error, since delivering it again would be
    /// refused again (answer 200); a store failure is an error (answer 503).
    ///
    /// # Errors
    ///
    /// As [`apply_event`](Self::apply_event), refusals excepted.
    pub async fn follow(&self, event: &WebhookEvent) -> Result<(), StateError> {
        match self.apply_event(event).await {
            Err(refused) if refused.is_refused() => {
                tracing::warn!(
                    event_id = %crate::text::Printable(&event.id, 100),
                    error = %refused,
                    source = ?std::error::Error::source(&refused).map(ToString::to_string),
                    "Conversations Merged refused by the directory; not retried"
                );
                Ok(())
            }
            other => other.map(drop),
        }
    }

    /// [`get`](Self::get) for the conversation of a message or button event, in its instance.
    pub async fn get_for(&self, event: &WebhookEvent) -> Result<Option<T>, StateError> {
        self.get(scope_of(event), conversation_of(event)?).await
    }

    /// [`update`](Self::update) for the conversation of a message or button event, in its
    /// instance.
    pub async fn update_for<R>(
        &self,
        event: &WebhookEvent,
        change: impl FnMut(&mut T) -> R,
    ) -> Result<R, StateError> {
        self.update(scope_of(event), conversation_of(event)?, change)
            .await
    }

    /// The store key of the conversation `conversation` leads to, and that conversation.
    async fn locate(
        &self,
        scope: &str,
        conversation: &str,
    ) -> Result<(String, String), StateError> {
        check_key(scope, "empty or over-long scope")?;
        check_key(conversation, "empty or over-long conversation ID")?;
        let current = self.directory.current(conversation).await?;
        Ok((key_of(&current), current))
    }

    /// Moves the states of `sources` (those that are no longer current) into the conversation
    /// each leads to now, merging; one compare-and-set per target.
    async fn move_states(&self, scope: &str, sources: Vec<String>) -> Result<(), StateError> {
        check_key(scope, "empty or over-long scope")?;
        let mut by_target: Vec<(String, Vec<String>)> = Vec::new();
        for source in sources {
            if source.is_empty() || source.len() > super::MAX_KEY {
                continue;
            }
            let target = self.directory.current(&source).await?;
            if target == source {
                continue;
            }
            match by_target.iter_mut().find(|(t, _)| *t == target) {
                Some((_, list)) if !list.contains(&source) => list.push(source),
                Some(_) => {}
                None => by_target.push((target, vec![source])),
            }
        }
        for (target, sources) in by_target {
            self.move_into(scope, &target, &sources).await?;
        }
        Ok(())
    }

    async fn move_into(
        &self,
        scope: &str,
        target: &str,
        sources: &[String],
    ) -> Result<(), StateError> {
        let mut keys = vec![key_of(target)];
        keys.extend(sources.iter().map(|s| key_of(s)));
        for attempt in 0..MAX_ATTEMPTS {
            backoff(attempt).await;
            let values = self.store.load(scope, &keys).await?;
            if values[1..].iter().all(Option::is_none) {
                return Ok(());
            }
            let mut merged: Option<T> = values[0].as_deref().map(decode).transpose()?;
            for value in values[1..].iter().flatten() {
                let source = decode(value)?;
                merged = Some(match merged {
                    Some(target) => (self.merge)(target, source),
                    None => source,
                });
            }
            let Some(merged) = merged else { return Ok(()) };
            let read: Vec<Entry> = keys.iter().cloned().zip(values).collect();
            let mut writes: Vec<Entry> = vec![(keys[0].clone(), Some(encode(&merged)?))];
            writes.extend(keys[1..].iter().map(|k| (k.clone(), None)));
            if self.store.commit(scope, &read, &writes).await? {
                return Ok(());
            }
        }
        Err(StateError::Contended)
    }
}

fn key_of(conversation: &str) -> String {
    format!("conversation:{conversation}")
}

/// The conversation a message or button event is about.
pub(crate) fn conversation_of(event: &WebhookEvent) -> Result<&str, StateError> {
    let id = match &event.event {
        InboxEvent::MessageSentToBusiness(sent) => sent.conversation_id(),
        InboxEvent::MessageSentToParticipant(sent) => sent.conversation_id(),
        InboxEvent::ButtonInteracted(pressed) => pressed.conversation_id(),
        _ => None,
    };
    id.ok_or(StateError::InvalidKey("the event names no conversation"))
}

fn decode<T: DeserializeOwned>(value: &str) -> Result<T, StateError> {
    serde_json::from_str(value).map_err(StateError::Corrupt)
}

fn encode<T: Serialize>(state: &T) -> Result<String, StateError> {
    let json = serde_json::to_string(state).map_err(StateError::Corrupt)?;
    if json.len() > MAX_VALUE {
        return Err(StateError::TooLarge(json.len()));
    }
    Ok(json)
}
