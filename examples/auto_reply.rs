//! An auto-reply app: answers every visitor, contact and member with "Thanks, we got: …",
//! never answers itself, and counts the messages of each conversation across merges.
//!
//! ```sh
//! cargo run --example auto_reply
//! ```
//!
//! With no environment it plays a visitor who becomes a contact, then a member, against the
//! embedded fake Inbox. With `WIX_APP_ID`, `WIX_APP_SECRET`, `WIX_INSTANCE_ID` and
//! `WIX_WEBHOOK_PUBLIC_KEY` set it serves `POST /webhooks` on `WIX_WEBHOOK_ADDR` (default
//! `127.0.0.1:3000`) for the real Wix; put TLS in front of it.
//!
//! What it relies on: `WebhookReceiver` verifies each webhook and drops redeliveries;
//! `ConversationDirectory` follows Conversations Merged, whatever order they arrive in;
//! `send_to_participant` sends to the participant's current conversation, even when a merge
//! happens between finding it and sending.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Mutex;

use wix_inbox::lifecycle::ConversationDirectory;
use wix_inbox::types::Message;
use wix_inbox::webhooks::axum::{ServeOptions, WebhookReceiver};
use wix_inbox::webhooks::{InboxEvent, WebhookEvent, WebhookVerifier};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The app: an API client (as the app), where merged conversations lead, and a count of the
/// participants' messages per conversation (locked across each directory step, so that a merge
/// and a count that run at once cannot miss each other).
pub struct AutoReply {
    client: wix_inbox::Client,
    app_id: String,
    directory: ConversationDirectory,
    counters: Mutex<HashMap<String, u64>>,
}

impl AutoReply {
    pub fn new(client: wix_inbox::Client, app_id: &str) -> Arc<Self> {
        Arc::new(AutoReply {
            client,
            app_id: app_id.to_owned(),
            directory: ConversationDirectory::new(),
            counters: Mutex::default(),
        })
    }

    /// The app's routes: `POST /webhooks`, each event verified with the app's public key.
    pub fn router(self: &Arc<Self>, verifier: WebhookVerifier) -> axum::Router {
        let app = self.clone();
        WebhookReceiver::with_handler(verifier, move |event| {
            let app = app.clone();
            async move { app.handle(event).await }
        })
        .into_router("/webhooks")
    }

    /// One verified, first-time event. An `Err` answers 503, and Wix delivers it again.
    pub async fn handle(&self, event: WebhookEvent) -> Result<(), BoxError> {
        // A merge: what was counted under the old conversations moves to the new one.
        let mut counters = self.counters.lock().await;
        for moved in self.directory.apply_event(&event).await? {
            if let Some(n) = counters.remove(&moved.from) {
                *counters.entry(moved.to).or_default() += n;
            }
        }
        drop(counters);
        let InboxEvent::MessageSentToBusiness(sent) = &event.event else {
            return Ok(());
        };
        // Our own message (sent as the participant) comes back with the participant as
        // sender: only its appId tells.
        if sent.is_from_app(&self.app_id) {
            return Ok(());
        }
        let (Some(conversation), Some(text), Some(participant)) = (
            sent.conversation_id(),
            sent.plain_text(),
            sent.sender_participant_id(),
        ) else {
            return Ok(());
        };
        let reply = Message::reply(format!("Thanks, we got: {text}"));
        self.client.send_to_participant(&participant, reply).await?;
        let mut counters = self.counters.lock().await;
        let current = self.directory.current(conversation).await?;
        *counters.entry(current).or_default() += 1;
        Ok(())
    }

    /// How many participant messages the app answered in `conversation` and in those merged
    /// into it.
    pub async fn count(&self, conversation: &str) -> Result<u64, BoxError> {
        let counters = self.counters.lock().await;
        let current = self.directory.current(conversation).await?;
        Ok(counters.get(&current).copied().unwrap_or(0))
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(app_id), Some(app_secret), Some(instance_id), Some(public_key)) = (
        var("WIX_APP_ID"),
        var("WIX_APP_SECRET"),
        var("WIX_INSTANCE_ID"),
        var("WIX_WEBHOOK_PUBLIC_KEY"),
    ) else {
        return demo().await;
    };
    let client = wix_inbox::Client::builder()
        .app(wix_inbox::AppCredentials {
            app_id: app_id.clone(),
            app_secret,
            instance_id,
        })
        .build()?;
    let router =
        AutoReply::new(client, &app_id).router(WebhookVerifier::from_public_key(&public_key)?);
    let addr = var("WIX_WEBHOOK_ADDR").unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{addr}/webhooks");
    ServeOptions::new().serve(listener, router).await;
    Ok(())
}

/// A visitor writes, becomes a contact and writes, becomes a member and writes, against the
/// fake Inbox; prints the conversation.
pub async fn demo() -> Result<(), BoxError> {
    use std::time::Duration;
    use wix_inbox::types::ParticipantId;

    let fake = wix_inbox_fake::FakeInbox::start().await?;
    let app = AutoReply::new(fake.app_client_builder().build()?, fake.app_id());
    let verifier = WebhookVerifier::from_public_key(fake.public_key_pem())?;
    fake.add_webhook_router("/webhooks", app.router(verifier))?;

    let member = ParticipantId::MemberId("m-1".into());
    let replies = |fake: &wix_inbox_fake::FakeInbox, n: usize| {
        let texts = fake.participant_messages(&member);
        texts
            .iter()
            .filter(|m| m.plain_text().is_some_and(|t| t.starts_with("Thanks")))
            .count()
            >= n
    };
    fake.visitor_writes("v-1", "Do you ship to Norway?");
    fake.visitor_becomes_contact("v-1", "c-1");
    fake.contact_writes("c-1", "My email is jo@example.com");
    fake.contact_becomes_member("c-1", "m-1");
    fake.member_writes("m-1", "I signed up!");
    fake.wait_until("three replies", Duration::from_secs(10), |f| replies(f, 3))
        .await?;
    fake.settle().await;
    let conversation = fake.current_conversation_id(&member).unwrap_or_default();
    for text in fake.message_texts(&conversation) {
        println!("{text}");
    }
    println!(
        "{} messages answered in {conversation}",
        app.count(&conversation).await?
    );
    Ok(())
}
