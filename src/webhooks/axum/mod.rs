//! A ready webhook endpoint for [axum](https://docs.rs/axum) 0.8 (feature `axum`).
//!
//! [`WebhookReceiver`] reads the raw body whatever its `Content-Type` (Wix sends `text/plain`
//! or none), enforces the verifier's size limit while reading, verifies, claims the event ID in
//! its [`Deduplicator`](super::Deduplicator), hands the event on, and answers 200 only once the event was handed on.
//! Handing on runs in a task of its own: a sender that hangs up (Wix stops waiting at
//! 1,250 ms) does not cancel it, so a slow handler gets each event once and Wix's next resend
//! is answered 200 (or 503 while the handler still runs).
//!
//!
//! | outcome | status |
//! |---|---|
//! | handed on (the callback ran, the channel took it, the handler returned `Ok`) | 200 |
//! | a duplicate of an event handed on (its claim is done) | 200 |
//! | bad signature, wrong algorithm, expired, not yet valid, no `exp` | 401 |
//! | not a JWT, or a broken layer inside it | 400 |
//! | body over the limit | 413 |
//! | body not received within the deadline ([`DEFAULT_BODY_TIMEOUT`]) | 408 |
//! | not handed on: the channel is full or closed, the handler returned `Err` | 503 |
//! | the deduplicator failed (a store error: nothing is known about the event) | 503 |
//! | another request holds the event's claim (it is being handed on now) | 503 |
//! | the callback, the handler or the deduplicator panicked | 500 |
//!
//! Wix retries every answer but 200, so nothing that was not handed on is answered 200, and
//! whatever is not handed on leaves nothing claimed: the claim is released (and if even that
//! fails, its lease ends). See [`dedup`](super::Deduplicator) for the guarantee: at least once
//! handed on, never twice while a lease holds.
//!
//! **Why 503, not 200, for an event in progress elsewhere.** Wix gives up on a request after
//! 1,250 ms and retries it, possibly at another process, while the first is still handing the
//! event on. If the second answered 200, Wix would count the event as delivered; should the
//! first then fail and release its claim, it would answer a request Wix no longer listens to,
//! and the event would be lost. With 503 Wix retries once more: by then the claim is done
//! (answered 200 as a duplicate) or released (handled again). It costs one redelivery.
//!
//! Accepted events go to your code through a callback, a channel or an async handler
//! ([`WebhookReceiver::with_handler`]); do slow work after handing on, not in the request:
//! Wix wants an answer within 1,250 ms, and each resend it makes meanwhile costs a request.
//!
//! The receiver bounds what one request can cost (body size, time to send the body). What it
//! cannot see, the server must bound: how long a client may take to send its headers, how long
//! an idle connection stays open, how many connections are open at once. [`serve`] does that
//! with production settings ([`ServeOptions`]); when you mount the receiver in your own server,
//! set the same (see [`ServeOptions`] for what and why).
//!
//! ```no_run
//! use wix_inbox::webhooks::{axum::WebhookReceiver, WebhookVerifier};
//!
//! # async fn run(public_key_pem: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = WebhookVerifier::from_public_key(public_key_pem)?;
//! let (receiver, mut events) = WebhookReceiver::with_channel(verifier, 1024);
//! tokio::spawn(async move {
//!     while let Some(event) = events.recv().await {
//!         println!("{} {:?}", event.id, event.event);
//!     }
//! });
//! let app = axum::Router::new().route("/webhooks/wix", receiver.into_method_router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! // Not `axum::serve`: it has no header-read timeout and no bound on connections.
//! wix_inbox::webhooks::axum::serve(listener, app).await;
//! # Ok(()) }
//! ```

mod ingest;
mod receiver;
mod serve;

pub use ingest::DEFAULT_INGEST_TIMEOUT;
pub use receiver::{WebhookReceiver, DEFAULT_BODY_TIMEOUT};
pub use serve::{
    serve, ServeOptions, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTION_AGE, DEFAULT_REQUEST_TIMEOUT,
};
