//! More ways to drive a [`FakeInbox`]: what the business writes from its own inbox, the
//! receivers and faults as they stand, redelivering an event. The simulator's control API
//! uses them; tests can too.

use super::{webhooks, FakeInbox, Fault};
use wix_inbox::types::{
    IdentificationData, IdentityType, Message, MessageDirection, MessageSentToParticipant,
    MessageVisibility, WebhookIdentity,
};

impl FakeInbox {
    /// The business writes `message` from the site's own inbox (as a person on the dashboard,
    /// not through the app): the fake sets its `sender` (the business user,
    /// [`business_user_id`](Self::business_user_id)), `direction`
    /// (`BUSINESS_TO_PARTICIPANT`), `visibility` when absent, `id`, `sequence` and
    /// `createdDate`, stores it and delivers Message Sent To Participant (returned). No fault is
    /// taken from [`fail_next`](Self::fail_next)'s queue: those are for the app's calls. `None`
    /// if the conversation is unknown or was merged away.
    pub fn business_writes(
        &self,
        conversation_id: &str,
        mut message: Message,
    ) -> Option<MessageSentToParticipant> {
        let user = self.business_user_id().to_owned();
        message.direction = Some(MessageDirection::BusinessToParticipant);
        if message.visibility.is_none() {
            message.visibility = Some(MessageVisibility::BusinessAndParticipant);
        }
        message.sender = Some(IdentificationData {
            wix_user_id: Some(user.clone()),
            ..Default::default()
        });
        if let Some(content) = message.content.as_mut() {
            if content.preview_text.is_none() {
                content.preview_text = content
                    .basic
                    .as_ref()
                    .and_then(|b| b.items.iter().find_map(|i| i.text.clone()));
            }
        }
        let stored = self
            .inner
            .state()
            .store
            .append(conversation_id, message)
            .ok()?;
        let body = MessageSentToParticipant {
            conversation_id: Some(conversation_id.to_owned()),
            message: Some(stored),
            ..Default::default()
        };
        let identity = WebhookIdentity {
            identity_type: Some(IdentityType::WixUser),
            wix_user_id: Some(user),
            ..Default::default()
        };
        webhooks::emit_message_sent_to_participant(&self.inner, &body, identity);
        Some(body)
    }

    /// The receivers every new event is delivered to, in the order they were added.
    pub fn webhook_receivers(&self) -> Vec<String> {
        self.inner.state().receivers.clone()
    }

    /// Stops delivering new events to `url` (deliveries under way go on). `false` if it was not
    /// a receiver.
    pub fn remove_webhook_receiver(&self, url: &str) -> bool {
        let mut state = self.inner.state();
        let before = state.receivers.len();
        state.receivers.retain(|r| r != url);
        state.receivers.len() != before
    }

    /// The faults still queued by [`fail_next`](Self::fail_next), the next one first.
    pub fn pending_faults(&self) -> Vec<Fault> {
        self.inner.state().faults.iter().cloned().collect()
    }

    /// Forgets the faults still queued: the next Inbox calls are served.
    pub fn clear_faults(&self) {
        self.inner.state().faults.clear();
    }

    /// Delivers the event `event_id` again, to `receiver` or (when `None`) to every receiver
    /// registered now: the same event ID, signed anew, each a new [`Delivery`](super::Delivery)
    /// retried like the first (as Wix's "resend" of a webhook). Returns how many deliveries
    /// started, `None` if the fake sent no event with that ID.
    pub fn redeliver(&self, event_id: &str, receiver: Option<&str>) -> Option<usize> {
        let receivers = match receiver {
            Some(url) => vec![url.to_owned()],
            None => self.webhook_receivers(),
        };
        webhooks::redeliver(&self.inner, event_id, receivers)
    }
}
