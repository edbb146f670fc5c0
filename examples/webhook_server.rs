//! A Wix Inbox webhook receiver.
//!
//! ```sh
//! WIX_WEBHOOK_PUBLIC_KEY="$(cat public-key.pem)" \
//!   cargo run --example webhook_server --features axum
//! ```
//!
//! Set the app's webhook URL to `https://<your host>/webhooks/wix`. The endpoint answers at
//! once (200, or 401/400/408/413 for refused deliveries) and hands accepted events to a task.
//! `WIX_WEBHOOK_ADDR` picks the listening address (default `127.0.0.1:3000`).
//!
//! It is served with the crate's production settings (`ServeOptions`: header-read and request
//! timeouts, a bound on open connections); put TLS in front of it (a reverse proxy, a load
//! balancer), as Wix calls `https://` URLs only.

use wix_inbox::webhooks::axum::{ServeOptions, WebhookReceiver};
use wix_inbox::webhooks::{InboxEvent, WebhookEvent, WebhookVerifier};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let public_key = std::env::var("WIX_WEBHOOK_PUBLIC_KEY")
        .map_err(|_| "set WIX_WEBHOOK_PUBLIC_KEY to the app's public key (PEM, or base64 of it)")?;
    let verifier = WebhookVerifier::from_public_key(&public_key)?;

    let (receiver, mut events) = WebhookReceiver::with_channel(verifier, 1024);
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            handle(event);
        }
    });

    let app = axum::Router::new().route("/webhooks/wix", receiver.into_method_router());
    let addr = std::env::var("WIX_WEBHOOK_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{addr}/webhooks/wix; stop with Ctrl-C");
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    ServeOptions::new()
        .serve_with_shutdown(listener, app, ctrl_c)
        .await;
    Ok(())
}

/// Your business logic: here, a line per event.
fn handle(event: WebhookEvent) {
    let site = event
        .account_info
        .as_ref()
        .and_then(|a| a.site_id.as_deref())
        .unwrap_or("?");
    match &event.event {
        InboxEvent::MessageSentToBusiness(sent) => {
            let preview = sent
                .message
                .as_ref()
                .and_then(|m| m.content.as_ref())
                .and_then(|c| c.preview_text.as_deref())
                .unwrap_or("");
            println!(
                "[{site}] new message in {:?}: {preview}",
                sent.conversation_id
            );
        }
        InboxEvent::MessageSentToParticipant(sent) => {
            println!("[{site}] business replied in {:?}", sent.conversation_id);
        }
        InboxEvent::ConversationsMerged(merged) => println!(
            "[{site}] {:?} merged into {:?}",
            merged.old_conversation_ids, merged.target_conversation_id
        ),
        InboxEvent::ButtonInteracted(pressed) => println!(
            "[{site}] button {:?} pressed in {:?}",
            pressed.interaction_id, pressed.conversation_id
        ),
        other => println!("[{site}] event {} ({:?})", event.id, other),
    }
}
