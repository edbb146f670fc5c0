//! A multi-tenant bot: answers each message on every site with its count in the conversation
//! (across merges), each reply sent once, never itself nor a site that removed the app. Needs
//! `WIX_APP_ID`, `WIX_APP_SECRET`, `WIX_WEBHOOK_PUBLIC_KEY` (`wix-inbox fake serve` prints them),
//! `WIX_BASE_URL` and `WIX_WEBHOOK_ADDR` if set; tests/it/bot.rs plays 3 sites, `wix-inbox fake
//! load` many.
use std::sync::Arc;
use wix_inbox::state::{ConversationStates, Replies};
use wix_inbox::webhooks::{axum::ServeOptions, InboxEvent, WebhookEvent};
use wix_inbox::{types::Message, App};
type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The app, a count per conversation (summed when conversations merge), the replies sent.
pub type Bot = (App, ConversationStates<u64>, Replies);

/// `POST /webhooks` for every instance of the app.
pub fn router(app: App) -> Result<axum::Router, BoxError> {
    let bot = bot(&app);
    Ok(app.webhook_router(move |event| handle(bot.clone(), event))?)
}

/// The bot of `app`, for [`handle`] (behind another receiver, say a relay's queue).
pub fn bot(app: &App) -> Arc<Bot> {
    let counts = ConversationStates::new().merge_with(|a, b| a + b);
    Arc::new((app.clone(), counts, Replies::new().app_id(app.app_id())))
}

/// Handles one event (verified and decoded).
pub async fn handle(bot: Arc<Bot>, event: WebhookEvent) -> Result<(), BoxError> {
    let (app, counts, replies) = &*bot;
    app.installations().apply(&event).await?; // the sites that install and remove the app
    counts.follow(&event).await?; // a merge moves the counts (a refused one is logged)
    let InboxEvent::MessageSentToBusiness(sent) = &event.event else {
        return Ok(());
    };
    let site = event.instance_id.as_deref().unwrap_or_default();
    if app.installations().is_removed(site) || replies.is_own_message(&event).await? {
        return Ok(()); // a site that removed the app (no token either), or the bot's own reply
    }
    let n = counts.update_once(&event, |n| *n += 1).await?;
    let text = sent.plain_text().unwrap_or_default();
    let reply = Message::reply(format!("Thanks, we got: {text} (message {n})"));
    let client = app.client_for(&event)?;
    replies.reply(&client, &event, reply).await?;
    Ok(())
}

#[tokio::main]
pub async fn main() -> Result<(), BoxError> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let app = App::builder()
        .app_id(var("WIX_APP_ID")?)
        .app_secret(var("WIX_APP_SECRET")?);
    let app = app.public_key(&var("WIX_WEBHOOK_PUBLIC_KEY")?);
    let app = match var("WIX_BASE_URL") {
        Ok(url) => app.base_url(url), // a fake's (`fake serve`, `fake load`); else Wix's
        Err(_) => app,
    }
    .build()?;
    let addr = var("WIX_WEBHOOK_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    println!("listening on http://{addr}/webhooks");
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    ServeOptions::new().serve(listener, router(app)?).await;
    Ok(())
}
