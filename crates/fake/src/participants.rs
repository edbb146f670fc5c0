//! What the participants of a site do: write to the business, press a button; and where
//! their conversation is. Methods of [`FakeInstance`]; the fake's own instance has them through
//! [`FakeInbox`]'s `Deref` (`fake.visitor_writes(..)`).

use wix_inbox::types::{
    ButtonInteracted, Message, MessageContent, MessageDirection, MessageSentToBusiness,
    MessageVisibility, ParticipantId,
};

use super::store::Key;
#[cfg(doc)]
use super::FakeInbox;
use super::{webhooks, FakeInstance};

impl FakeInstance {
    /// An anonymous visitor of this site writes `text` in the chat: the message is stored in their current
    /// conversation (created on first use; after they became a contact or member, that one's)
    /// and Message Sent To Business is delivered. Returns the event's body.
    pub fn visitor_writes(&self, visitor_id: &str, text: &str) -> MessageSentToBusiness {
        self.participant_writes(
            &ParticipantId::AnonymousVisitorId(visitor_id.to_owned()),
            chat_message(text),
        )
    }

    /// A contact writes `text` (see [`visitor_writes`](Self::visitor_writes)).
    pub fn contact_writes(&self, contact_id: &str, text: &str) -> MessageSentToBusiness {
        self.participant_writes(
            &ParticipantId::ContactId(contact_id.to_owned()),
            chat_message(text),
        )
    }

    /// A member writes `text` (see [`visitor_writes`](Self::visitor_writes)).
    pub fn member_writes(&self, member_id: &str, text: &str) -> MessageSentToBusiness {
        self.participant_writes(
            &ParticipantId::MemberId(member_id.to_owned()),
            chat_message(text),
        )
    }

    /// A participant sends `message` (any content) to the business. The fake sets its
    /// `sender`, `direction` (`PARTICIPANT_TO_BUSINESS`), `visibility` when absent, `id`,
    /// `sequence` and `createdDate`, stores it and delivers Message Sent To Business.
    pub fn participant_writes(
        &self,
        participant: &ParticipantId,
        mut message: Message,
    ) -> MessageSentToBusiness {
        let instance = self.index;
        message.direction = Some(MessageDirection::ParticipantToBusiness);
        if message.visibility.is_none() {
            message.visibility = Some(MessageVisibility::BusinessAndParticipant);
        }
        let written = {
            let mut state = self.inner.state();
            // A contact who writes is one of the site's contacts.
            if let ParticipantId::ContactId(contact) = participant {
                state
                    .directory
                    .ensure_contact(instance, contact, Default::default());
            }
            let key = Key::from(participant);
            state.store.participant_writes(instance, &key, message)
        };
        let body = MessageSentToBusiness {
            conversation_id: Some(written.conversation_id),
            message: Some(written.message),
            interaction_info: None,
            ..Default::default()
        };
        webhooks::emit_message_sent_to_business(&self.inner, &body, written.identity);
        body
    }

    /// The participant presses a postback button (of a template or system message) whose
    /// `postbackProperties.interactionId` is `interaction_id`: Button Interacted is delivered
    /// (returned), with the fake's app ID. `None` if the participant has no conversation.
    pub fn participant_presses_button(
        &self,
        participant: &ParticipantId,
        interaction_id: &str,
    ) -> Option<ButtonInteracted> {
        let (conversation_id, interacted_by, identity) = self
            .inner
            .state()
            .store
            .whois(self.index, &Key::from(participant))?;
        let body = ButtonInteracted {
            app_id: Some(self.inner.config.app_id.clone()),
            conversation_id: Some(conversation_id),
            interacted_by: Some(interacted_by),
            interaction_id: Some(interaction_id.to_owned()),
            ..Default::default()
        };
        webhooks::emit_button_interacted(&self.inner, &body, identity);
        Some(body)
    }

    /// The current conversation of a participant of this site, by any ID they have had.
    pub fn current_conversation_id(&self, participant: &ParticipantId) -> Option<String> {
        self.inner
            .state()
            .store
            .current_conversation(self.index, &Key::from(participant))
    }

    /// The messages of the participant's current conversation on this site (followed through
    /// merges: any ID they have had leads to it), oldest first. Empty if they have none.
    pub fn participant_messages(&self, participant: &ParticipantId) -> Vec<Message> {
        self.current_conversation_id(participant)
            .map(|id| self.inner.state().store.messages(&id))
            .unwrap_or_default()
    }
}

/// A plain chat message with one line of text.
pub(crate) fn chat_message(text: &str) -> Message {
    Message {
        content: Some(MessageContent::text(text)),
        source_channel: Some(wix_inbox::types::ChannelType::Chat),
        ..Default::default()
    }
}
