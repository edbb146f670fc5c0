//! What an app's end-to-end test needs besides the fake itself: the app's router served as a
//! webhook receiver in one call, a wait for a condition on the fake's state with a clear
//! failure, and a participant's conversation read in order.

use std::time::Duration;

use super::FakeInbox;
use wix_inbox::types::Message;
use wix_inbox::webhooks::axum::ServeOptions;

/// How often [`FakeInbox::wait_until`] looks again when the fake's state has not changed (for a
/// condition that also reads the app's own state).
const RECHECK: Duration = Duration::from_millis(100);

/// [`FakeInbox::wait_until`] gave up: what was awaited, for how long, and what the fake had
/// seen by then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitTimeout {
    /// What was awaited, as the caller named it.
    pub what: String,
    /// How long it was awaited.
    pub timeout: Duration,
    /// The fake's state when it gave up: conversations, messages, webhook events and how their
    /// deliveries went.
    pub state: String,
}

impl std::fmt::Display for WaitTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "gave up waiting for {} after {:?}; the fake had {}",
            self.what, self.timeout, self.state
        )
    }
}

impl std::error::Error for WaitTimeout {}

impl FakeInbox {
    /// Serves `router` (an app's axum router, with its webhook route at `path`) on a free port
    /// of 127.0.0.1 for as long as the fake lives, and delivers every event from now on to
    /// `path` on it. Returns the receiver's URL.
    ///
    /// The router is served as [`webhooks::axum::serve`](wix_inbox::webhooks::axum::serve) serves
    /// one, with its timeouts and bound on connections.
    ///
    /// ```
    /// # use wix_inbox_fake::FakeInbox;
    /// use wix_inbox::webhooks::{axum::WebhookReceiver, WebhookVerifier};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let fake = FakeInbox::start().await?;
    /// let verifier = WebhookVerifier::from_public_key(fake.public_key_pem())?;
    /// let receiver = WebhookReceiver::new(verifier, |event| println!("{}", event.id));
    /// let url = fake.add_webhook_router("/webhooks", receiver.into_router("/webhooks"))?;
    /// assert!(url.ends_with("/webhooks"));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// If no port can be bound.
    pub fn add_webhook_router(&self, path: &str, router: axum::Router) -> std::io::Result<String> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let listener = {
            let _runtime = self.inner.runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let app = self.inner.runtime.spawn(async move {
            ServeOptions::new().serve(listener, router).await;
        });
        self.apps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(app);
        let slash = if path.starts_with('/') { "" } else { "/" };
        let url = format!("http://{addr}{slash}{path}");
        self.add_webhook_receiver(url.clone());
        Ok(url)
    }

    /// Waits until `condition` holds, for at most `timeout`; `what` names the condition in the
    /// error. The condition is checked at once, then each time the fake's state changes (a
    /// message stored, a webhook emitted or answered, a request served) and at least every
    /// 100 ms (so it may read the app's own state too).
    ///
    /// Use it where [`settle`](Self::settle) is not enough: `settle` knows when the fake's
    /// deliveries are answered, not what the app does after answering (say, replying through
    /// the API).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use wix_inbox_fake::FakeInbox;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let fake = FakeInbox::start().await?;
    /// let written = fake.visitor_writes("visitor-1", "Hi!");
    /// let conversation = written.conversation_id.unwrap();
    /// // ... the app answers the webhook, then replies through the API ...
    /// # fake.client().send_message().body(wix_inbox::types::SendMessageRequest::new(
    /// #     &conversation, wix_inbox::types::Message::reply("Hello!"))).send().await?;
    /// fake.wait_until("the app's reply", Duration::from_secs(5), |fake| {
    ///     fake.messages(&conversation).len() == 2
    /// })
    /// .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`WaitTimeout`] when `timeout` passes first: its message names `what`, the timeout and
    /// what the fake had seen by then (deliveries that failed, with the receiver's answer).
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        mut condition: impl FnMut(&FakeInbox) -> bool,
    ) -> Result<(), WaitTimeout> {
        self.wait_until_async(what, timeout, || std::future::ready(condition(self)))
            .await
    }

    /// [`wait_until`](Self::wait_until) for a condition that must `.await` (it reads the app's
    /// own state behind an async lock or store, say): looked at again at each change of the
    /// fake's state, and at least every 100 ms.
    ///
    /// # Errors
    ///
    /// [`WaitTimeout`] when `timeout` passes first.
    pub async fn wait_until_async<F, Fut>(
        &self,
        what: &str,
        timeout: Duration,
        mut condition: F,
    ) -> Result<(), WaitTimeout>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let now = tokio::time::Instant::now();
        // A timeout too long for the clock is a wait without end (a century).
        let deadline = now
            .checked_add(timeout)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600));
        loop {
            // Registered before the check, so that a change right after it is not missed.
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if condition().await {
                return Ok(());
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(WaitTimeout {
                    what: what.to_owned(),
                    timeout,
                    state: self.describe(),
                });
            }
            let _ = tokio::time::timeout_at(deadline.min(now + RECHECK), changed).await;
        }
    }

    /// The text of each message of a conversation, oldest first
    /// ([`MessageContent::plain_text`](wix_inbox::types::MessageContent::plain_text); empty for a
    /// message without text).
    pub fn message_texts(&self, conversation_id: &str) -> Vec<String> {
        texts(&self.messages(conversation_id))
    }

    /// A summary of the fake's state for a failure message.
    fn describe(&self) -> String {
        let conversations = self.conversations();
        let messages: usize = conversations
            .iter()
            .filter_map(|c| c.id.as_deref())
            .map(|id| self.messages(id).len())
            .sum();
        let events = self.events().len();
        let deliveries = self.deliveries();
        let delivered = deliveries.iter().filter(|d| d.delivered).count();
        let under_way = deliveries.iter().filter(|d| !d.finished).count();
        let mut text = format!(
            "{} conversations, {messages} messages, {events} webhook events; deliveries: \
             {delivered} answered 200, {under_way} under way, {} failed",
            conversations.len(),
            deliveries.len() - delivered - under_way,
        );
        // The receivers' answers, where they were not 200: why an app saw nothing.
        let refused: Vec<String> = deliveries
            .iter()
            .filter(|d| !d.delivered)
            .filter_map(|d| {
                let last = d.attempts.last()?;
                let answer = match (&last.status, &last.error) {
                    (Some(status), _) => format!("answered {status}"),
                    (None, Some(error)) => error.clone(),
                    (None, None) => "no answer".to_owned(),
                };
                Some(format!("{} to {}: {answer}", d.event_type, d.receiver))
            })
            .take(3)
            .collect();
        if !refused.is_empty() {
            text.push_str(" (");
            text.push_str(&refused.join("; "));
            text.push(')');
        }
        if deliveries.is_empty() && events > 0 {
            text.push_str(" (no webhook receiver is registered)");
        }
        text
    }
}

/// The text of each message ([`Message::plain_text`]; empty for one without text).
pub(crate) fn texts(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m.plain_text().unwrap_or_default())
        .collect()
}

impl super::SentEvent {
    /// The event's ID (the domain event's `id`): what [`FakeInbox::redeliver`] takes.
    pub fn id(&self) -> Option<&str> {
        self.domain_event.id.as_deref().filter(|id| !id.is_empty())
    }

    /// The app instance (site) the event is for: the envelope's `instanceId`.
    pub fn instance_id(&self) -> Option<&str> {
        self.envelope
            .instance_id
            .as_deref()
            .filter(|id| !id.is_empty())
    }

    /// Whether it is a Message Sent To Business (a participant wrote).
    pub fn is_message_to_business(&self) -> bool {
        self.event_type == wix_inbox::types::MessageSentToBusiness::EVENT_TYPE
    }
}
