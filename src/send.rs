//! Sending to a participant, whatever conversation they are in now: Get Or Create Conversation
//! for the participant, then Send Message, once more if a merge moved the conversation in
//! between.
//!
//! A participant's conversation changes when they go from visitor to contact to member (see
//! [`participant`](crate::participant)): the old one is merged into a new one, and a message
//! sent to the old ID fails with 404 `CONVERSATION_NOT_FOUND`. Wix's advice is to Get Or
//! Create the conversation before sending; that leaves a window, between the two calls, where
//! a merge can still happen. [`Client::send_to_participant`] closes it: when Send Message
//! answers 404 `CONVERSATION_NOT_FOUND`, it gets the conversation again and sends once more.
//! A 404 means Wix stored nothing, so the message is never sent twice; any other error is
//! returned as it is (a Send Message that timed out may have been stored, and is not repeated).
//!
//! ```no_run
//! use wix_inbox::types::{Message, ParticipantId};
//!
//! # async fn run(client: wix_inbox::Client) -> Result<(), wix_inbox::Error> {
//! let contact = ParticipantId::ContactId("890a3816-85b4-44ab-9085-524972a850ef".into());
//! let sent = client
//!     .send_to_participant(&contact, Message::reply("Your order has shipped."))
//!     .await?;
//! println!("sent in {} (message {:?})", sent.conversation_id, sent.message.id);
//! # Ok(()) }
//! ```
//!
//! Answering the sender of a Message Sent To Business: [`Client::send_to_sender`] picks their
//! most advanced ID (member over contact over visitor,
//! [`IdentificationData::participant_id`]).

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use crate::client::error::{Error, ErrorCode, ErrorKind};
use crate::types::{
    GetOrCreateConversationRequest, IdentificationData, Message, OverrideSenderOptions,
    ParticipantId, SendMessageRequest,
};
use crate::Client;

/// What [`Client::send_to_participant`] sent, and where.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SentMessage {
    /// The conversation the message went to: the participant's current one.
    pub conversation_id: String,
    /// The message as Wix stored it (with its `id`, `sequence`, `sender`...).
    pub message: Message,
    /// How many times the conversation was got (Get Or Create Conversation): 1, or 2 when the
    /// first Send Message found the conversation merged away.
    pub resolutions: u32,
}

impl Client {
    /// Sends `message` to the participant's current conversation: Get Or Create Conversation
    /// for `participant`, then Send Message; if Send Message answers 404
    /// `CONVERSATION_NOT_FOUND` (a merge happened in between), once more. Never sends twice:
    /// a 404 stored nothing, and any other error is returned as it is.
    ///
    /// `message` needs what Send Message needs: content, direction and visibility
    /// ([`Message::reply`] has them). Set `sendAs` or `sendNotifications` on the returned
    /// request before awaiting it.
    ///
    /// # Errors
    ///
    /// The [`Error`] of the call that failed; a Get Or Create Conversation answer without a
    /// conversation ID is [`ErrorKind::Decode`].
    pub fn send_to_participant(
        &self,
        participant: &ParticipantId,
        message: Message,
    ) -> SendToParticipant<'_> {
        SendToParticipant {
            client: self,
            participant: Ok(participant.clone()),
            message,
            send_as: None,
            send_notifications: None,
        }
    }

    /// [`send_to_participant`](Self::send_to_participant) for the sender of a message (say, of
    /// a Message Sent To Business): by their member ID, else contact ID, else anonymous
    /// visitor ID.
    ///
    /// # Errors
    ///
    /// Those of `send_to_participant`; a sender that is the business or an app, or has no ID,
    /// is [`ErrorKind::InvalidRequest`] (the reason, a
    /// [`NotAParticipant`](crate::NotAParticipant), is its `source`), and nothing is sent.
    pub fn send_to_sender(
        &self,
        sender: &IdentificationData,
        message: Message,
    ) -> SendToParticipant<'_> {
        SendToParticipant {
            client: self,
            participant: ParticipantId::try_from(sender).map_err(|why| {
                Error::new(ErrorKind::InvalidRequest)
                    .with_operation("get_or_create_conversation")
                    .with_message("the sender is not a participant")
                    .with_source(why)
            }),
            message,
            send_as: None,
            send_notifications: None,
        }
    }
}

/// A message to send to a participant's current conversation
/// ([`Client::send_to_participant`]); `.await` it.
#[must_use = "nothing is sent until it is awaited"]
#[derive(Debug)]
pub struct SendToParticipant<'a> {
    client: &'a Client,
    participant: Result<ParticipantId, Error>,
    message: Message,
    send_as: Option<OverrideSenderOptions>,
    send_notifications: Option<bool>,
}

impl SendToParticipant<'_> {
    /// Whose identity the message's `sender` takes (Send Message's `sendAs`; Wix's default is
    /// the caller).
    pub fn send_as(mut self, send_as: OverrideSenderOptions) -> Self {
        self.send_as = Some(send_as);
        self
    }

    /// Whether the message triggers notifications (Send Message's `sendNotifications`; Wix's
    /// default is `false`).
    pub fn send_notifications(mut self, notify: bool) -> Self {
        self.send_notifications = Some(notify);
        self
    }

    async fn run(self) -> Result<SentMessage, Error> {
        let participant = self.participant?;
        let mut resolutions = 0;
        loop {
            let conversation_id = current_conversation(self.client, &participant).await?;
            resolutions += 1;
            let request = SendMessageRequest {
                conversation_id: conversation_id.clone(),
                message: self.message.clone(),
                send_as: self.send_as.clone(),
                send_notifications: self.send_notifications,
                silent: None,
            };
            match self.client.send_message().body(request).send().await {
                Ok(sent) => {
                    return Ok(SentMessage {
                        conversation_id,
                        message: sent.into_inner().message.unwrap_or_default(),
                        resolutions,
                    })
                }
                // Merged away between the two calls: nothing was stored; get it again, once.
                Err(e) if resolutions == 1 && merged_away(&e) => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl<'a> IntoFuture for SendToParticipant<'a> {
    type Output = Result<SentMessage, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Whether Send Message failed because the conversation no longer exists: 404
/// `CONVERSATION_NOT_FOUND`.
fn merged_away(e: &Error) -> bool {
    e.status() == Some(reqwest::StatusCode::NOT_FOUND)
        && e.code() == Some(&ErrorCode::ConversationNotFound)
}

/// The participant's current conversation ID (Get Or Create Conversation).
async fn current_conversation(
    client: &Client,
    participant: &ParticipantId,
) -> Result<String, Error> {
    let found = client
        .get_or_create_conversation()
        .body(GetOrCreateConversationRequest {
            participant_id: participant.clone(),
        })
        .send()
        .await?
        .into_inner();
    found.conversation_id().map(str::to_owned).ok_or_else(|| {
        Error::new(ErrorKind::Decode)
            .with_operation("get_or_create_conversation")
            .with_message("the response names no conversation")
    })
}
