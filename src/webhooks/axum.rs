//! A ready webhook endpoint for [axum](https://docs.rs/axum) 0.8 (feature `axum`).
//!
//! [`WebhookReceiver`] reads the raw body whatever its `Content-Type` (Wix sends `text/plain`
//! or none), enforces the verifier's size limit while reading, verifies, drops duplicates and
//! answers at once:
//!
//! | outcome | status |
//! |---|---|
//! | accepted, or a duplicate of an accepted event | 200 |
//! | bad signature, wrong algorithm, expired, not yet valid, no `exp` | 401 |
//! | not a JWT, or a broken layer inside it | 400 |
//! | body over the limit | 413 |
//! | accepted but the event channel is full or closed (Wix will retry) | 503 |
//!
//! Accepted events go to your code through a callback or a channel; do the slow work there, not
//! in the request (Wix wants an answer within 1250 ms).
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
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header::CONTENT_LENGTH, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, MethodRouter};
use futures_util::StreamExt as _;
use tokio::sync::mpsc;

use super::{
    Deduplicator, InMemoryDeduplicator, Sighting, WebhookError, WebhookEvent, WebhookVerifier,
};

/// Takes an accepted event; gives it back (boxed: the error path is rare) when it cannot.
type Sink = dyn Fn(WebhookEvent) -> Result<(), Box<WebhookEvent>> + Send + Sync;

/// A webhook endpoint: verifier, deduplicator and where accepted events go.
///
/// Cloning is cheap (reference counts). See [the module docs](self) for the statuses it
/// answers with.
pub struct WebhookReceiver<D = InMemoryDeduplicator> {
    verifier: WebhookVerifier,
    dedup: Arc<D>,
    sink: Arc<Sink>,
}

impl<D> Clone for WebhookReceiver<D> {
    fn clone(&self) -> Self {
        WebhookReceiver {
            verifier: self.verifier.clone(),
            dedup: Arc::clone(&self.dedup),
            sink: Arc::clone(&self.sink),
        }
    }
}

impl<D> std::fmt::Debug for WebhookReceiver<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookReceiver")
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

impl WebhookReceiver<InMemoryDeduplicator> {
    /// A receiver that calls `on_event` with each accepted event, before answering 200.
    /// `on_event` should be quick (hand the event to a task or queue).
    pub fn new(
        verifier: WebhookVerifier,
        on_event: impl Fn(WebhookEvent) + Send + Sync + 'static,
    ) -> Self {
        WebhookReceiver {
            verifier,
            dedup: Arc::new(InMemoryDeduplicator::new()),
            sink: Arc::new(move |event| {
                on_event(event);
                Ok(())
            }),
        }
    }

    /// A receiver that sends each accepted event into a bounded channel, and the channel's
    /// receiving end. When the channel is full or closed the delivery is answered with 503 and
    /// its event ID forgotten, so Wix's retry is processed.
    pub fn with_channel(
        verifier: WebhookVerifier,
        capacity: usize,
    ) -> (Self, mpsc::Receiver<WebhookEvent>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let receiver = WebhookReceiver {
            verifier,
            dedup: Arc::new(InMemoryDeduplicator::new()),
            sink: Arc::new(move |event| tx.try_send(event).map_err(|e| Box::new(e.into_inner()))),
        };
        (receiver, rx)
    }
}

impl<D: Deduplicator> WebhookReceiver<D> {
    /// Uses `dedup` instead of the default [`InMemoryDeduplicator`].
    pub fn with_deduplicator<D2: Deduplicator>(self, dedup: D2) -> WebhookReceiver<D2> {
        WebhookReceiver {
            verifier: self.verifier,
            dedup: Arc::new(dedup),
            sink: self.sink,
        }
    }

    /// A `POST` route for [`axum::Router::route`].
    pub fn into_method_router<S>(self) -> MethodRouter<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        post(move |request: Request| {
            let receiver = self.clone();
            async move { receiver.handle(request).await }
        })
    }

    /// A router with this receiver as `POST path`.
    pub fn into_router(self, path: &str) -> axum::Router {
        axum::Router::new().route(path, self.into_method_router())
    }

    /// Handles one delivery; for use inside your own handler.
    pub async fn handle(&self, request: Request) -> Response {
        let body = match read_body(request, self.verifier.max_body_size()).await {
            Ok(body) => body,
            Err(response) => return response,
        };
        let event = match self.verifier.verify(&body) {
            Ok(event) => event,
            Err(err) => return reject(&err),
        };
        drop(body);
        match self.dedup.check_and_insert(&event.id).await {
            Sighting::Duplicate => {
                tracing::debug!(event_id = %event.id, "duplicate webhook dropped");
                (StatusCode::OK, "duplicate").into_response()
            }
            Sighting::First => match (self.sink)(event) {
                Ok(()) => (StatusCode::OK, "ok").into_response(),
                Err(event) => {
                    tracing::warn!(event_id = %event.id, "webhook event channel full or closed; asking Wix to retry");
                    self.dedup.forget(&event.id).await;
                    (StatusCode::SERVICE_UNAVAILABLE, "busy, retry later").into_response()
                }
            },
        }
    }
}

/// The most a body buffer reserves before its bytes arrive: Wix's webhooks are a few kilobytes.
const INITIAL_BUFFER: usize = 64 * 1024;

/// Reads the whole body, refusing more than `limit` bytes (by `Content-Length` first, then by
/// counting).
async fn read_body(request: Request, limit: usize) -> Result<Vec<u8>, Response> {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(size) = declared.filter(|&size| size > limit) {
        return Err(reject(&WebhookError::TooLarge { size, limit }));
    }
    // The sender's `Content-Length` sizes the buffer only up to what a Wix webhook needs; the
    // rest grows as bytes actually arrive.
    let mut body = Vec::with_capacity(declared.unwrap_or(4096).min(limit).min(INITIAL_BUFFER));
    let mut stream = Body::into_data_stream(request.into_body());
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return Err((StatusCode::BAD_REQUEST, "unreadable body").into_response());
        };
        if body.len() + chunk.len() > limit {
            let size = body.len() + chunk.len();
            return Err(reject(&WebhookError::TooLarge { size, limit }));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The answer to a refused delivery. The detail goes to the log, not to the sender.
fn reject(err: &WebhookError) -> Response {
    tracing::warn!(error = %err, "webhook refused");
    let status = StatusCode::from_u16(err.status_code()).unwrap_or(StatusCode::BAD_REQUEST);
    let text = match status {
        StatusCode::UNAUTHORIZED => "invalid webhook token",
        StatusCode::PAYLOAD_TOO_LARGE => "webhook body too large",
        StatusCode::BAD_REQUEST => "malformed webhook",
        _ => "webhook not processed",
    };
    (status, text).into_response()
}
