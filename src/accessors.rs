//! The helpers on the generated types, in one module: accessors for the paths every webhook
//! handler walks, and constructors of the messages an app sends.
//!
//! The generated types follow the spec, where almost every field is optional; these methods
//! give the values a handler needs without an `unwrap` or an `and_then` chain. Each answers
//! `None` (or `false`) when a field on the way is absent, never panics, and, like
//! [`IdentificationData::participant_id`](crate::types::IdentificationData::participant_id),
//! counts an empty ID as absent.
//!
//! A handler that answers every visitor, contact and member — and never itself:
//!
//! ```no_run
//! use wix_inbox::types::{Message, SendMessageRequest};
//! use wix_inbox::webhooks::{InboxEvent, WebhookEvent};
//!
//! # async fn run(client: wix_inbox::Client, event: WebhookEvent) -> Result<(), wix_inbox::Error> {
//! const APP_ID: &str = "a0c38670-6845-41e0-8f41-85a6054ccd98";
//! if let InboxEvent::MessageSentToBusiness(sent) = &event.event {
//!     // An app's own message sent as the participant comes back here with the visitor as
//!     // sender: only the message's appId tells.
//!     if sent.is_from_app(APP_ID) {
//!         return Ok(());
//!     }
//!     if let (Some(conversation), Some(text)) = (sent.conversation_id(), sent.plain_text()) {
//!         let reply = Message::reply(format!("Thanks, we got: {text}"));
//!         client
//!             .send_message()
//!             .body(SendMessageRequest::new(conversation, reply))
//!             .send()
//!             .await?;
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Who wrote a message
//!
//! `message.sender` is whom the message is *attributed* to, not who sent the request. An app
//! that sends with `sendAs: PARTICIPANT` and direction `PARTICIPANT_TO_BUSINESS` (to record
//! what a visitor wrote elsewhere, say) gets its message back as a Message Sent To Business
//! event whose sender is the visitor, exactly as if the visitor had written it. Only the
//! message's `appId` shows that the app sent it: check [`MessageSentToBusiness::is_from_app`]
//! before answering, or a bot answers itself.
//!
//! # Making a message
//!
//! Conveniences on the generated message types, for the message every app sends most: text.
//!
//! ```
//! use wix_inbox::types::{MessageContent, MessageDirection, MessageVisibility};
//!
//! let content = MessageContent::text("We ship to Norway.");
//! assert_eq!(content.preview_text.as_deref(), Some("We ship to Norway."));
//! assert_eq!(content.plain_text().as_deref(), Some("We ship to Norway."));
//!
//! let reply = wix_inbox::types::Message::reply("Thanks!");
//! assert_eq!(reply.direction, Some(MessageDirection::BusinessToParticipant));
//! assert_eq!(reply.visibility, Some(MessageVisibility::BusinessAndParticipant));
//!
//! let request = wix_inbox::types::SendMessageRequest::new("6202c3bb-f263-3c16-8c90-d6387d9ed420", reply);
//! assert_eq!(request.send_as, None); // Wix's defaults for the optional parts
//!
//! // Not counted as unread: `silent` is set on the message, not on the request (whose `silent`
//! // Wix deprecated, to be removed on 2026-06-01).
//! let quiet = wix_inbox::types::Message::reply("Noted.").silent(true);
//! assert_eq!(quiet.silent, Some(true));
//! let request = wix_inbox::types::SendMessageRequest::new("6202c3bb", quiet);
//! let json = serde_json::to_value(&request).unwrap();
//! assert_eq!(json["message"]["silent"], true);
//! assert!(json.get("silent").is_none());
//! ```
//!
//! Answering in a conversation:
//!
//! ```no_run
//! use wix_inbox::types::{Message, SendMessageRequest};
//!
//! # async fn run(client: wix_inbox::Client) -> Result<(), wix_inbox::Error> {
//! let sent = client
//!     .send_message()
//!     .body(SendMessageRequest::new("6202c3bb-f263-3c16-8c90-d6387d9ed420", Message::reply("Thanks!")))
//!     .send()
//!     .await?;
//! println!("sent as message {:?}", sent.message.as_ref().and_then(|m| m.id.as_deref()));
//! # Ok(()) }
//! ```

use crate::types::{
    Badge, BasicMessageData, BasicMessagePayload, ButtonInteracted, Conversation,
    ConversationsMerged, GetOrCreateConversationResponse, Message, MessageContent,
    MessageDirection, MessageSentToBusiness, MessageSentToParticipant, MessageVisibility,
    ParticipantId, SendMessageRequest,
};
use crate::webhooks::{InboxEvent, WebhookEvent};

/// `Some(id)` unless absent or empty.
fn present(id: &Option<String>) -> Option<&str> {
    id.as_deref().filter(|id| !id.is_empty())
}

impl Message {
    /// The message's text: the text items of a basic message joined by new lines, or the text
    /// of a minimal or system message
    /// ([`MessageContent::plain_text`](crate::types::MessageContent::plain_text)); `None`
    /// without content or text.
    pub fn plain_text(&self) -> Option<String> {
        self.content.as_ref()?.plain_text()
    }

    /// The summary Wix shows in the message list (`content.previewText`): present for every
    /// kind of content, forms and files included, where [`plain_text`](Self::plain_text) may be
    /// `None`.
    pub fn preview_text(&self) -> Option<&str> {
        self.content.as_ref()?.preview_text.as_deref()
    }

    /// The participant ID of the sender: member over contact over visitor
    /// ([`IdentificationData::participant_id`](crate::types::IdentificationData::participant_id));
    /// `None` when the sender is the business, an app, or absent.
    ///
    /// **The sender is not always who wrote.** A message an app sent with `sendAs: PARTICIPANT`
    /// has the participant as sender; only [`app_id`](Self::app_id) says it was the app. Check
    /// [`is_from_app`](Self::is_from_app) before treating the message as the participant's.
    pub fn sender_participant_id(&self) -> Option<ParticipantId> {
        self.sender.as_ref()?.participant_id()
    }

    /// Whether the app `app_id` sent this message: the message's `appId` is `app_id`, or the
    /// app sent it as itself (the sender's `appId`). Whatever the sender shows: a message an
    /// app sends as the participant (`sendAs: PARTICIPANT`) has the participant as sender and
    /// only the message's `appId` tells. `false` for an empty `app_id`.
    ///
    /// The message's `appId` names any app that created the message, including a form or
    /// booking app that submitted it for the participant: it is the check for "my own
    /// message", not for "written by a person".
    pub fn is_from_app(&self, app_id: &str) -> bool {
        !app_id.is_empty()
            && (present(&self.app_id) == Some(app_id)
                || self
                    .sender
                    .as_ref()
                    .is_some_and(|s| present(&s.app_id) == Some(app_id)))
    }
}

impl MessageSentToBusiness {
    /// The conversation ID.
    pub fn conversation_id(&self) -> Option<&str> {
        present(&self.conversation_id)
    }

    /// The message's text ([`Message::plain_text`]).
    pub fn plain_text(&self) -> Option<String> {
        self.message.as_ref()?.plain_text()
    }

    /// The participant ID of the sender ([`Message::sender_participant_id`]): the visitor,
    /// contact or member the conversation is with.
    ///
    /// **Not necessarily who wrote**: a message your app sent with `sendAs: PARTICIPANT` comes
    /// back as this event with the participant as sender. Check [`is_from_app`](Self::is_from_app)
    /// first.
    pub fn sender_participant_id(&self) -> Option<ParticipantId> {
        self.message.as_ref()?.sender_participant_id()
    }

    /// Whether the app `app_id` sent the message ([`Message::is_from_app`]): an auto-reply bot
    /// returns early on its own messages, which come back as this event with the participant as
    /// sender when it sent them with `sendAs: PARTICIPANT`.
    pub fn is_from_app(&self, app_id: &str) -> bool {
        self.message.as_ref().is_some_and(|m| m.is_from_app(app_id))
    }
}

impl MessageSentToParticipant {
    /// The conversation ID.
    pub fn conversation_id(&self) -> Option<&str> {
        present(&self.conversation_id)
    }

    /// The message's text ([`Message::plain_text`]).
    pub fn plain_text(&self) -> Option<String> {
        self.message.as_ref()?.plain_text()
    }

    /// Whether the app `app_id` sent the message ([`Message::is_from_app`]).
    pub fn is_from_app(&self, app_id: &str) -> bool {
        self.message.as_ref().is_some_and(|m| m.is_from_app(app_id))
    }
}

impl ButtonInteracted {
    /// The conversation ID.
    pub fn conversation_id(&self) -> Option<&str> {
        present(&self.conversation_id)
    }

    /// The participant ID of who pressed the button (member over contact over visitor).
    pub fn participant_id(&self) -> Option<ParticipantId> {
        self.interacted_by.as_ref()?.participant_id()
    }
}

impl ConversationsMerged {
    /// The old conversation IDs, merged into the [`target`](Self::target) (empty IDs skipped).
    pub fn sources(&self) -> impl Iterator<Item = &str> + '_ {
        self.old_conversation_ids
            .iter()
            .map(String::as_str)
            .filter(|id| !id.is_empty())
    }

    /// The conversation the old ones were merged into.
    pub fn target(&self) -> Option<&str> {
        present(&self.target_conversation_id)
    }
}

impl Conversation {
    /// The conversation ID.
    pub fn id(&self) -> Option<&str> {
        present(&self.id)
    }

    /// The participant ID of the visitor, contact or member the conversation is with (member
    /// over contact over visitor).
    pub fn participant_id(&self) -> Option<ParticipantId> {
        self.participant.as_ref()?.participant_id()
    }
}

impl GetOrCreateConversationResponse {
    /// The ID of the conversation got or created: the participant's current conversation.
    pub fn conversation_id(&self) -> Option<&str> {
        self.conversation.as_ref()?.id()
    }
}

impl WebhookEvent {
    /// The app instance the event is for (the envelope's `instanceId`): which installation of
    /// the app, on which site, to answer through.
    pub fn instance_id(&self) -> Option<&str> {
        present(&self.instance_id)
    }

    /// Whether the event is about a message the app `app_id` sent ([`Message::is_from_app`]):
    /// a Message Sent To Business or To Participant whose message it sent, whatever the sender
    /// shows. `false` for every other event (a Button Interacted names the app whose button
    /// was pressed, but the participant pressed it).
    pub fn is_from_app(&self, app_id: &str) -> bool {
        match &self.event {
            InboxEvent::MessageSentToBusiness(sent) => sent.is_from_app(app_id),
            InboxEvent::MessageSentToParticipant(sent) => sent.is_from_app(app_id),
            _ => false,
        }
    }
}

impl MessageContent {
    /// A basic message with one text item, its preview text the same text.
    pub fn text(text: impl Into<String>) -> Self {
        let text = text.into();
        MessageContent {
            preview_text: Some(text.clone()),
            basic: Some(BasicMessagePayload {
                items: vec![BasicMessageData {
                    text: Some(text),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// The text items of a basic message joined by new lines, or else the text of a minimal or
    /// system message; `None` when the message has no text.
    pub fn plain_text(&self) -> Option<String> {
        if let Some(basic) = &self.basic {
            let texts: Vec<&str> = basic
                .items
                .iter()
                .filter_map(|item| item.text.as_deref())
                .collect();
            if !texts.is_empty() {
                return Some(texts.join("\n"));
            }
        }
        self.minimal
            .as_ref()
            .and_then(|m| m.text.clone())
            .or_else(|| self.system.as_ref().and_then(|s| s.text.clone()))
    }
}

impl Message {
    /// A text message from the business to the participant, visible to both: what Send Message
    /// takes to answer a visitor, contact or member.
    pub fn reply(text: impl Into<String>) -> Self {
        Message {
            content: Some(MessageContent::text(text)),
            direction: Some(MessageDirection::BusinessToParticipant),
            visibility: Some(MessageVisibility::BusinessAndParticipant),
            ..Default::default()
        }
    }

    /// A text the participant wrote elsewhere (an email, another service's form), recorded in
    /// their conversation for the business only: direction `PARTICIPANT_TO_BUSINESS`,
    /// visibility `BUSINESS`, and `badge` (text and icon URL) naming where it came from. This is
    /// Wix's "Sync messages from an external service" flow.
    ///
    /// Send it with the default `sendAs` (`CALLER`, i.e. leave it unset), never `PARTICIPANT`:
    /// sent as the caller, the message is the app's own (its `appId`, and the ID the
    /// [`Replies`](crate::state::Replies) outbox remembers), so a bot does not answer it;
    /// sent as the participant with an API key it would carry no `appId` and look exactly like
    /// something the participant typed. The direction and the badge already say who wrote it.
    ///
    /// ```
    /// use wix_inbox::types::{Badge, Message, MessageDirection, MessageVisibility};
    ///
    /// let badge = Badge { text: Some("Email".into()), ..Default::default() };
    /// let synced = Message::synced("Where is my order?", Some(badge));
    /// assert_eq!(synced.direction, Some(MessageDirection::ParticipantToBusiness));
    /// assert_eq!(synced.visibility, Some(MessageVisibility::Business));
    /// assert_eq!(synced.badges.len(), 1);
    /// ```
    pub fn synced(text: impl Into<String>, badge: Option<Badge>) -> Self {
        Message {
            content: Some(MessageContent::text(text)),
            direction: Some(MessageDirection::ParticipantToBusiness),
            visibility: Some(MessageVisibility::Business),
            badges: badge.into_iter().collect(),
            ..Default::default()
        }
    }

    /// The message with `silent` set: when `true`, sending it updates neither the unread count
    /// nor the conversation summary in the Inbox's Message List (Wix's default is `false`).
    ///
    /// This is `Message.silent`, which replaces Send Message's top-level `silent` (deprecated by
    /// Wix, removal announced for 2026-06-01); the crate never sets the deprecated field.
    pub fn silent(mut self, silent: bool) -> Self {
        self.silent = Some(silent);
        self
    }
}

impl Badge {
    /// A badge with this text and no icon (say `Badge::named("Email")` on a synced message).
    pub fn named(text: impl Into<String>) -> Self {
        Badge {
            text: Some(text.into()),
            ..Default::default()
        }
    }
}

impl SendMessageRequest {
    /// A request to send `message` in `conversation_id`, with Wix's defaults for the rest
    /// (attributed to the caller, notifications as Wix decides). To send without updating the
    /// unread count, set [`Message::silent`] on the message; the request's own `silent` is
    /// deprecated and left unset.
    pub fn new(conversation_id: impl Into<String>, message: Message) -> Self {
        SendMessageRequest {
            conversation_id: conversation_id.into(),
            message,
            send_as: None,
            send_notifications: None,
            silent: None,
        }
    }
}
