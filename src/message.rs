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
    Badge, BasicMessageData, BasicMessagePayload, Message, MessageContent, MessageDirection,
    MessageVisibility, SendMessageRequest,
};

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
