//! The app's webhook receiver in one call (feature `axum`).

use std::future::Future;

use super::App;
use crate::webhooks::axum::WebhookReceiver;
use crate::webhooks::{WebhookError, WebhookEvent};

impl App {
    /// A [`WebhookReceiver`] that verifies each webhook with the app's public key, drops
    /// redeliveries and hands each event to `handler` (an `Err` answers 503: Wix delivers the
    /// event again). Set its deduplicator or timeouts, then
    /// [`into_router`](WebhookReceiver::into_router).
    ///
    /// # Errors
    ///
    /// [`WebhookError::InvalidPublicKey`] when the app was built without a public key.
    pub fn webhook_receiver<F, Fut, E>(&self, handler: F) -> Result<WebhookReceiver, WebhookError>
    where
        F: Fn(WebhookEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let verifier = self.verifier().ok_or(WebhookError::InvalidPublicKey {
            reason: "the app was built without one: App::builder().public_key(..)",
        })?;
        Ok(WebhookReceiver::with_handler(verifier.clone(), handler))
    }

    /// An axum router serving `POST /webhooks` with
    /// [`webhook_receiver(handler)`](Self::webhook_receiver): the whole wiring of an app's
    /// webhooks.
    ///
    /// ```no_run
    /// # async fn run(app: wix_inbox::App) -> Result<(), Box<dyn std::error::Error>> {
    /// let router = app.webhook_router(|event| async move {
    ///     println!("{:?} for instance {:?}", event.event_type, event.instance_id());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`webhook_receiver`](Self::webhook_receiver).
    pub fn webhook_router<F, Fut, E>(&self, handler: F) -> Result<axum::Router, WebhookError>
    where
        F: Fn(WebhookEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        Ok(self.webhook_receiver(handler)?.into_router("/webhooks"))
    }
}
