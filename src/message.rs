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
//! ```

use crate::types::{
    BasicMessageData, BasicMessagePayload, Message, MessageContent, MessageDirection,
    MessageVisibility,
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
}
