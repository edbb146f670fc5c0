//! A multi-tenant auto-reply bot: one Wix app, installed on many sites, answers every visitor,
//! contact and member on each site with "Thanks, we got: …", through that site's app instance,
//! and never answers itself.
//!
//! ```sh
//! cargo run --example bot
//! ```
//!
//! With no environment it plays against the embedded fake Inbox with the app installed on
//! three sites, prints a short transcript and exits 0 only if every step held. With
//! `WIX_APP_ID`, `WIX_APP_SECRET` and `WIX_WEBHOOK_PUBLIC_KEY` set it serves `POST /webhooks`
//! on `WIX_WEBHOOK_ADDR` (default `127.0.0.1:3000`) for the real Wix, for every site that
//! installs the app; put TLS in front of it.
//!
//! What it relies on:
//! - [`App`]: one connection pool and one token per instance for all the sites, each webhook
//!   answered through the client of the instance it names (`app.client_for(&event)`), and
//!   Wix's 200 requests a minute per instance kept by pacing;
//! - [`WebhookReceiver`]: verifies each webhook with the app's public key and drops
//!   redeliveries (Wix delivers more than once);
//! - `app.is_own_message(&event)`: the bot's replies come back as webhooks too, and a message
//!   an app sends as the participant even comes back as Message Sent To Business with the
//!   visitor as sender: only its `appId` tells;
//! - `send_to_participant`: the reply goes to the participant's *current* conversation, which
//!   a merge (a visitor becoming a contact) may have changed.

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wix_inbox::types::{Message, MessageDirection, OverrideSenderOptions, ParticipantId};
use wix_inbox::webhooks::axum::{ServeOptions, WebhookReceiver};
use wix_inbox::webhooks::{InboxEvent, WebhookEvent};
use wix_inbox::App;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The bot: the app (for every instance), and what it did.
pub struct Bot {
    app: App,
    /// Replies sent.
    pub replies: AtomicUsize,
    /// Messages of the app itself that came back and were not answered.
    pub own_skipped: AtomicUsize,
}

impl Bot {
    pub fn new(app: App) -> Arc<Bot> {
        Arc::new(Bot {
            app,
            replies: AtomicUsize::new(0),
            own_skipped: AtomicUsize::new(0),
        })
    }

    /// `POST /webhooks`: each event verified with the app's public key, redeliveries dropped,
    /// then [`handle`](Self::handle)d before Wix is answered 200 (an error answers 503, and
    /// Wix delivers it again).
    pub fn router(self: &Arc<Self>) -> Result<axum::Router, BoxError> {
        let verifier = self
            .app
            .verifier()
            .ok_or("the app needs its public key to verify webhooks")?
            .clone();
        let bot = self.clone();
        let receiver = WebhookReceiver::with_handler(verifier, move |event| {
            let bot = bot.clone();
            async move { bot.handle(event).await }
        });
        Ok(receiver.into_router("/webhooks"))
    }

    /// One verified, first-time event, from any site.
    pub async fn handle(&self, event: WebhookEvent) -> Result<(), BoxError> {
        let InboxEvent::MessageSentToBusiness(sent) = &event.event else {
            return Ok(());
        };
        if self.app.is_own_message(&event) {
            self.own_skipped.fetch_add(1, Ordering::SeqCst);
            return Ok(());
        }
        let (Some(text), Some(participant)) = (sent.plain_text(), sent.sender_participant_id())
        else {
            return Ok(());
        };
        // The client of the site the event came from: its instance's token, its conversations.
        let client = self.app.client_for(&event)?;
        let reply = Message::reply(format!("Thanks, we got: {text}"));
        client.send_to_participant(&participant, reply).await?;
        self.replies.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let result = match (
        var("WIX_APP_ID"),
        var("WIX_APP_SECRET"),
        var("WIX_WEBHOOK_PUBLIC_KEY"),
    ) {
        (Some(app_id), Some(secret), Some(public_key)) => {
            serve(&app_id, &secret, &public_key, var("WIX_WEBHOOK_ADDR")).await
        }
        _ => {
            println!("no WIX_APP_ID/WIX_APP_SECRET/WIX_WEBHOOK_PUBLIC_KEY: three sites on the embedded fake Inbox");
            demo(&mut |line| println!("{line}")).await
        }
    };
    match result {
        Ok(()) => {
            println!("bot: OK, every step held");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bot: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The bot for the real Wix, for every site that installs the app.
async fn serve(
    app_id: &str,
    secret: &str,
    public_key: &str,
    addr: Option<String>,
) -> Result<(), String> {
    let app = App::builder()
        .app_id(app_id)
        .app_secret(secret)
        .public_key(public_key)
        // Wix allows 200 requests a minute per app instance: a burst to one site waits.
        .rate_limit_per_instance(200, Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())?;
    let router = Bot::new(app).router().map_err(|e| e.to_string())?;
    let addr = addr.unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("binding {addr}: {e}"))?;
    println!("listening on http://{addr}/webhooks");
    ServeOptions::new().serve(listener, router).await;
    Ok(())
}

/// A check of the story: `Err` with a clear line when a step did not hold.
fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

/// The texts of the participant's current conversation on the fake's site `instance`.
fn texts(fake: &wix_inbox_fake::FakeInbox, instance: &str, who: &ParticipantId) -> Vec<String> {
    fake.instance(instance)
        .map(|site| site.participant_messages(who))
        .unwrap_or_default()
        .iter()
        .filter_map(Message::plain_text)
        .collect()
}

/// Three sites with the app installed, on the fake: visitors write on each, the bot answers
/// each through its instance; its own messages, a redelivery and a merge do not fool it.
/// `say` gets one line per step.
pub async fn demo(say: &mut dyn FnMut(String)) -> Result<(), String> {
    const WAIT: Duration = Duration::from_secs(10);
    let fake = wix_inbox_fake::FakeInbox::start()
        .await
        .map_err(|e| format!("starting the fake Inbox: {e}"))?;
    let sites = [
        fake.instance_id().to_owned(),
        fake.add_instance(),
        fake.add_instance(),
    ];
    let bot = Bot::new(fake.app());
    let router = bot.router().map_err(|e| e.to_string())?;
    let url = fake
        .add_webhook_router("/webhooks", router)
        .map_err(|e| format!("serving the bot: {e}"))?;
    say(format!(
        "1. the app is installed on 3 sites; the bot listens at {url}"
    ));

    // The same visitor ID on each site: three different people, three conversations.
    let visitor = ParticipantId::AnonymousVisitorId("v-1".into());
    for (n, instance) in sites.iter().enumerate() {
        let site = fake.instance(instance).ok_or("a site went missing")?;
        site.visitor_writes("v-1", &format!("Hello from site {}", n + 1));
    }
    for (n, instance) in sites.iter().enumerate() {
        let expected = [
            format!("Hello from site {}", n + 1),
            format!("Thanks, we got: Hello from site {}", n + 1),
        ];
        fake.wait_until(&format!("the answer on site {}", n + 1), WAIT, |fake| {
            texts(fake, instance, &visitor) == expected
        })
        .await
        .map_err(|e| e.to_string())?;
        say(format!(
            "{}. site {} (instance {}…): visitor wrote \"{}\", bot answered \"{}\" there",
            n + 2,
            n + 1,
            &instance[..8],
            expected[0],
            expected[1]
        ));
    }

    // The app writes as the participant (say, a message the visitor sent by email): it comes
    // back as Message Sent To Business with the visitor as sender. Only its appId tells.
    let own = "Forwarded from email: where is my parcel?";
    let mut message = Message::reply(own);
    message.direction = Some(MessageDirection::ParticipantToBusiness);
    bot.app
        .instance(&sites[1])
        .send_to_participant(&visitor, message)
        .send_as(OverrideSenderOptions::Participant)
        .await
        .map_err(|e| format!("the app's own message: {e}"))?;
    fake.wait_until("the own message to come back", WAIT, |_| {
        bot.own_skipped.load(Ordering::SeqCst) >= 1
    })
    .await
    .map_err(|e| e.to_string())?;
    fake.settle().await;
    ensure(
        !texts(&fake, &sites[1], &visitor)
            .iter()
            .any(|t| t.contains("Thanks, we got: Forwarded")),
        || "the bot answered its own message".into(),
    )?;
    say("5. site 2: the app's own message, sent as the visitor, came back and was not answered (appId)".into());

    // Wix delivers more than once: a redelivery of site 1's message is dropped.
    let first = fake
        .events()
        .into_iter()
        .find(|e| e.envelope.instance_id.as_deref() == Some(sites[0].as_str()))
        .and_then(|e| e.domain_event.id)
        .ok_or("no event of site 1")?;
    fake.redeliver(&first, None)
        .ok_or("the fake did not redeliver")?;
    fake.settle().await;
    let answers = texts(&fake, &sites[0], &visitor)
        .iter()
        .filter(|t| t.starts_with("Thanks"))
        .count();
    ensure(answers == 1, || {
        format!("site 1 got {answers} answers after a redelivery")
    })?;
    say(format!(
        "6. site 1: event {}… delivered again, dropped as a duplicate (still 1 answer)",
        &first[..8]
    ));

    // On site 3 the visitor becomes a contact: their conversation is merged into a new one,
    // where the bot answers.
    let site3 = fake.instance(&sites[2]).ok_or("site 3 went missing")?;
    site3
        .visitor_becomes_contact("v-1", "c-3")
        .ok_or("nothing was merged")?;
    site3.contact_writes("c-3", "My email is jo@example.com");
    let contact = ParticipantId::ContactId("c-3".into());
    fake.wait_until("the answer after the merge", WAIT, |fake| {
        texts(fake, &sites[2], &contact)
            .last()
            .is_some_and(|t| t == "Thanks, we got: My email is jo@example.com")
    })
    .await
    .map_err(|e| e.to_string())?;
    let current = site3
        .current_conversation_id(&contact)
        .ok_or("the contact has no conversation")?;
    say(format!(
        "7. site 3: the visitor became a contact (conversation merged into {}…); the bot answered there",
        &current[..8]
    ));

    fake.settle().await;
    let requests = fake.requests();
    let tokens = requests
        .iter()
        .filter(|r| r.uri.starts_with("/oauth2/token"))
        .count();
    ensure(tokens == 3, || {
        format!("{tokens} token requests for 3 instances, expected 3")
    })?;
    let undelivered = fake.deliveries().iter().filter(|d| !d.delivered).count();
    ensure(undelivered == 0, || {
        format!("{undelivered} webhooks were not answered 200")
    })?;
    let replies = bot.replies.load(Ordering::SeqCst);
    ensure(replies == 4, || format!("{replies} replies, expected 4"))?;
    say(format!(
        "8. {replies} replies on 3 sites, one token request per instance ({tokens}), every webhook answered 200"
    ));
    Ok(())
}
