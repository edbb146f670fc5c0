//! [`Replies`]: messages sent once per key, and the app's own messages recognised without
//! `appId`.

use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::conversation::conversation_of;
use super::memory::InMemoryStateStore;
use super::store::{check_key, scope_of, StateError, StateStore, MAX_KEY};
use crate::send::SentMessage;
use crate::types::{
    Message, MessageDirection, MessageVisibility, OverrideSenderOptions, ParticipantId,
};
use crate::webhooks::{InboxEvent, WebhookEvent};
use crate::{Client, Error};

/// How many messages a recovery reads back (newest first) looking for a reply sent before a
/// crash, by default: 200.
pub const DEFAULT_SCAN: usize = 200;

/// What is recorded under a reply's key.
#[derive(Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
enum Record {
    /// About to call Send Message (or called it, with no answer): the text and direction sent,
    /// and the message it answers.
    #[serde(rename_all = "camelCase")]
    Sending {
        text: Option<String>,
        direction: Option<MessageDirection>,
        after: Option<String>,
    },
    /// Sent: Wix stored it as this message.
    #[serde(rename_all = "camelCase")]
    Sent { message_id: Option<String> },
}

/// What [`Replies::send_once`] did.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ReplyOutcome {
    /// Sent now.
    Sent(Box<SentMessage>),
    /// Sent before (recorded, or found in the conversation after a crash): not sent again.
    AlreadySent {
        /// Wix's ID of the message sent, when known.
        message_id: Option<String>,
    },
    /// [`Replies::reply`] to a message whose sender is not a participant (the business, an
    /// app): there is no one to answer, and nothing was sent.
    NoParticipant,
}

/// Why [`Replies`] sent nothing, or does not know whether it did.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReplyError {
    /// The record could not be read or written (nothing was sent).
    State(StateError),
    /// A call to Wix failed. After a Send Message that failed (say, timed out) the intent stays
    /// recorded: the next attempt with the same key checks the conversation before sending.
    Wix(Error),
    /// The event is not a Message Sent To Business.
    NotAMessage,
}

impl std::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplyError::State(_) => f.write_str("the reply record could not be read or written"),
            ReplyError::Wix(_) => f.write_str("sending the reply failed"),
            ReplyError::NotAMessage => f.write_str("the event is not a Message Sent To Business"),
        }
    }
}

impl std::error::Error for ReplyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReplyError::State(e) => Some(e),
            ReplyError::Wix(e) => Some(e),
            ReplyError::NotAMessage => None,
        }
    }
}

impl From<StateError> for ReplyError {
    fn from(e: StateError) -> Self {
        ReplyError::State(e)
    }
}

impl From<Error> for ReplyError {
    fn from(e: Error) -> Self {
        ReplyError::Wix(e)
    }
}

/// An outbox that sends each reply once: Wix has no idempotency key on Send Message, and
/// delivers webhooks more than once (after a timeout, a crash, a 503).
///
/// [`reply`](Self::reply) sends "the reply to event E" ([`send_once`](Self::send_once) takes
/// any key the app chooses). It records the intent in the [`StateStore`] before Send Message
/// and the result after it; a key whose reply is recorded is skipped
/// ([`ReplyOutcome::AlreadySent`]). When only the intent is recorded (Send Message failed,
/// timed out, or the process died in between), the next attempt first reads the conversation
/// back (List Messages, newest first, down to the message it answers, at most
/// [`DEFAULT_SCAN`] messages): a message after it with the same text and direction is the
/// reply, recorded and not sent again. (One exception no client can close: an identical message
/// sent by someone else in that window counts as the reply.)
///
/// It also remembers the IDs of the messages it sent, per conversation, in the same store
/// (shared by every process that shares the store): [`is_own_message`](Self::is_own_message)
/// recognises them by `appId` *or* by ID, so an app that calls with an API key (no `appId` on
/// its messages) does not answer its own synced messages.
///
/// Each key's record is kept in the store (one small value per reply). Two attempts with the
/// same key must not run at once: a [`WebhookReceiver`](crate::webhooks::axum::WebhookReceiver)
/// hands an event to one handler at a time (its claim), which is what this relies on.
#[derive(Clone, Debug)]
pub struct Replies<S = InMemoryStateStore> {
    store: S,
    app_id: Option<String>,
    scan: usize,
}

impl Default for Replies {
    fn default() -> Self {
        Replies::with_store(InMemoryStateStore::new())
    }
}

impl Replies {
    /// An outbox in this process' memory.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S: StateStore> Replies<S> {
    /// An outbox recording in `store` (share it to share the records between processes).
    pub fn with_store(store: S) -> Self {
        Replies {
            store,
            app_id: None,
            scan: DEFAULT_SCAN,
        }
    }

    /// The app's ID, for [`is_own_message`](Self::is_own_message) (`appId`).
    pub fn app_id(mut self, app_id: impl Into<String>) -> Self {
        self.app_id = Some(app_id.into()).filter(|id: &String| !id.is_empty());
        self
    }

    /// How many messages a recovery reads back at most ([`DEFAULT_SCAN`]).
    pub fn scan(mut self, messages: usize) -> Self {
        self.scan = messages;
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Whether the event is about a message this app sent: its `appId` is the app's, or its ID
    /// is one this outbox (in any process sharing the store) sent in the event's instance.
    ///
    /// # Errors
    ///
    /// A store failure (answer 503: Wix delivers the event again).
    pub async fn is_own_message(&self, event: &WebhookEvent) -> Result<bool, StateError> {
        if self
            .app_id
            .as_deref()
            .is_some_and(|id| event.is_from_app(id))
        {
            return Ok(true);
        }
        let message = match &event.event {
            InboxEvent::MessageSentToBusiness(sent) => sent.message.as_ref(),
            InboxEvent::MessageSentToParticipant(sent) => sent.message.as_ref(),
            _ => None,
        };
        let Some(message) = message else {
            return Ok(false);
        };
        let id = message.id.as_deref().filter(|id| !id.is_empty());
        if let (Some(id), Ok(conversation)) = (id, conversation_of(event)) {
            if self.store.is_remembered(conversation, id).await? {
                return Ok(true);
            }
        }
        // Sent with `send_own` and not answered yet when the webhook came: its fingerprint.
        let sender = message.sender.clone().unwrap_or_default();
        let fingerprint = fingerprint(message);
        for id in [
            sender.contact_id,
            sender.member_id,
            sender.anonymous_visitor_id,
        ]
        .into_iter()
        .flatten()
        {
            if self
                .store
                .is_remembered(&participant_scope(&id), &fingerprint)
                .await?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Sends a message of the app's own to `participant`'s current conversation
    /// ([`Client::send_to_participant`]) and remembers it, so that
    /// [`is_own_message`](Self::is_own_message) recognises it when it comes back as a webhook,
    /// even before Send Message answered: its fingerprint (the participant, the text, the
    /// direction) is remembered before the send, its ID after. Use it for messages synced from
    /// elsewhere ([`Message::synced`]), which come back as Message Sent To Business. `send_as`
    /// is Send Message's `sendAs`: leave it `None` (the caller) for a synced message (see
    /// [`Message::synced`]); with `PARTICIPANT` and an API key the message would carry no
    /// `appId` and show the participant as its sender, and only this memory tells it apart.
    ///
    /// # Errors
    ///
    /// [`ReplyError::State`] before the send (nothing sent) or after it (sent, not
    /// remembered); [`ReplyError::Wix`] when a call fails.
    pub async fn send_own(
        &self,
        client: &Client,
        participant: &ParticipantId,
        message: Message,
        send_as: Option<OverrideSenderOptions>,
    ) -> Result<SentMessage, ReplyError> {
        let scope = participant_scope(participant_id_str(participant));
        let fingerprint = fingerprint(&message);
        self.store.remember(&scope, &fingerprint).await?;
        let mut sending = client.send_to_participant(participant, message);
        if let Some(send_as) = send_as {
            sending = sending.send_as(send_as);
        }
        let sent = sending.await?;
        self.remember(&sent).await?;
        // Its ID is remembered: the fingerprint (which a participant's own identical text would
        // match) is dropped.
        self.store.forget(&scope, &fingerprint).await?;
        Ok(sent)
    }

    /// Remembers a message the app sent some other way (say, a synced message sent with
    /// [`Client::send_to_participant`]), so that [`is_own_message`](Self::is_own_message)
    /// recognises it when it comes back as a webhook, `appId` or not.
    ///
    /// # Errors
    ///
    /// A store failure.
    pub async fn remember(&self, sent: &SentMessage) -> Result<(), StateError> {
        match sent.message.id.as_deref().filter(|id| !id.is_empty()) {
            // By conversation: message IDs are unique within one, and every event names it.
            Some(id) => self.store.remember(&sent.conversation_id, id).await,
            None => Ok(()),
        }
    }

    /// Sends `message` as the reply to a Message Sent To Business, once: keyed by the event's
    /// ID, to the sender's current conversation, through `client` (the event's instance's).
    ///
    /// # Errors
    ///
    /// [`ReplyError::NotAMessage`] for another event; else as [`send_once`](Self::send_once).
    pub async fn reply(
        &self,
        client: &Client,
        event: &WebhookEvent,
        message: Message,
    ) -> Result<ReplyOutcome, ReplyError> {
        let InboxEvent::MessageSentToBusiness(sent) = &event.event else {
            return Err(ReplyError::NotAMessage);
        };
        let Some(participant) = sent.sender_participant_id() else {
            return Ok(ReplyOutcome::NoParticipant);
        };
        let after = sent.message.as_ref().and_then(|m| m.id.as_deref());
        let key = format!("reply:{}", event.id);
        self.send_once(client, scope_of(event), &key, &participant, after, message)
            .await
    }

    /// Sends `message` to `participant`'s current conversation
    /// ([`Client::send_to_participant`]) unless a message was sent with `key` in `scope`
    /// before. `after` is the ID of the message it answers, where a recovery stops reading
    /// back.
    ///
    /// # Errors
    ///
    /// [`ReplyError::State`] when the record cannot be read or written (before the send:
    /// nothing sent); [`ReplyError::Wix`] when a call fails.
    pub async fn send_once(
        &self,
        client: &Client,
        scope: &str,
        key: &str,
        participant: &ParticipantId,
        after: Option<&str>,
        message: Message,
    ) -> Result<ReplyOutcome, ReplyError> {
        check_key(scope, "empty or over-long scope")?;
        if key.is_empty() || key.len() > MAX_KEY {
            return Err(StateError::InvalidKey("empty or over-long reply key").into());
        }
        let key = key.to_owned();
        let recorded = self.store.load(scope, std::slice::from_ref(&key)).await?;
        let recorded = recorded.into_iter().next().flatten();
        let record = recorded.as_deref().map(serde_json::from_str::<Record>);
        match record.transpose().map_err(StateError::Corrupt)? {
            Some(Record::Sent { message_id }) => {
                return Ok(ReplyOutcome::AlreadySent { message_id })
            }
            Some(Record::Sending {
                text,
                direction,
                after,
            }) => {
                if let Some(found) = self
                    .find_sent(client, participant, text, direction, after)
                    .await?
                {
                    self.record_sent(scope, &key, recorded, found.id.clone())
                        .await?;
                    return Ok(ReplyOutcome::AlreadySent {
                        message_id: found.id,
                    });
                }
            }
            None => {}
        }
        let intent = serde_json::to_string(&Record::Sending {
            text: message.plain_text(),
            direction: message.direction.clone(),
            after: after.map(str::to_owned),
        })
        .map_err(StateError::Corrupt)?;
        let read = [(key.clone(), recorded)];
        if !self
            .store
            .commit(scope, &read, &[(key.clone(), Some(intent.clone()))])
            .await?
        {
            return Err(StateError::Contended.into());
        }
        let sent = client.send_to_participant(participant, message).await?;
        self.remember(&sent).await?;
        self.record_sent(scope, &key, Some(intent), sent.message.id.clone())
            .await?;
        Ok(ReplyOutcome::Sent(Box::new(sent)))
    }

    async fn record_sent(
        &self,
        scope: &str,
        key: &str,
        was: Option<String>,
        message_id: Option<String>,
    ) -> Result<(), StateError> {
        let sent =
            serde_json::to_string(&Record::Sent { message_id }).map_err(StateError::Corrupt)?;
        // Whoever changed the record meanwhile recorded a send too: either way it is sent.
        self.store
            .commit(
                scope,
                &[(key.to_owned(), was)],
                &[(key.to_owned(), Some(sent))],
            )
            .await
            .map(drop)
    }

    /// The message sent before a crash, if the conversation shows one: after `after`, with the
    /// same text and direction, not another app's.
    async fn find_sent(
        &self,
        client: &Client,
        participant: &ParticipantId,
        text: Option<String>,
        direction: Option<MessageDirection>,
        after: Option<String>,
    ) -> Result<Option<Message>, Error> {
        let conversation = client
            .get_or_create_conversation()
            .body(crate::types::GetOrCreateConversationRequest {
                participant_id: participant.clone(),
            })
            .send()
            .await?
            .into_inner();
        let Some(conversation) = conversation.conversation_id() else {
            return Ok(None);
        };
        let mut messages = client.list_all_messages(conversation, MessageVisibility::Business);
        let mut read = 0;
        while let Some(message) = messages.try_next().await? {
            read += 1;
            if read > self.scan {
                break;
            }
            if after.is_some() && message.id == after {
                break;
            }
            let others = message
                .app_id
                .as_deref()
                .is_some_and(|id| !id.is_empty() && Some(id) != self.app_id.as_deref());
            if !others && message.direction == direction && message.plain_text() == text {
                return Ok(Some(message));
            }
        }
        Ok(None)
    }
}

/// The scope of a participant's pending own messages.
fn participant_scope(id: &str) -> String {
    format!("participant:{id}")
}

fn participant_id_str(participant: &ParticipantId) -> &str {
    match participant {
        ParticipantId::ContactId(id)
        | ParticipantId::MemberId(id)
        | ParticipantId::AnonymousVisitorId(id) => id,
    }
}

/// A message's text and direction, hashed (FNV-1a, 64 bits: stable across processes and
/// releases, unlike `std`'s hasher) into a short key.
fn fingerprint(message: &Message) -> String {
    let text = message.plain_text().unwrap_or_default();
    let direction = message.direction.as_ref().map_or("", |d| d.as_str());
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in direction.bytes().chain([0]).chain(text.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("own:{hash:016x}")
}
