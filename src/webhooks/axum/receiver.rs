//! The receiver: read, verify, claim, hand on, answer.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONNECTION, CONTENT_LENGTH};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, MethodRouter};
use futures_util::{FutureExt as _, StreamExt as _};
use tokio::sync::mpsc;

use futures_util::future::BoxFuture;

use super::ingest::{self, Ingest, DEFAULT_INGEST_TIMEOUT};
use crate::queue::{default_lane_key, LaneKey, QueueStore};
use crate::webhooks::{
    Claim, DedupError, Deduplicator, InMemoryDeduplicator, Lease, WebhookError, WebhookEvent,
    WebhookVerifier,
};

/// Why a handler could not hand an event on.
type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Where accepted events go.
enum Sink {
    /// A callback or a channel: takes the event, or gives it back (boxed: the error path is
    /// rare) when it cannot.
    Now(Box<dyn Fn(WebhookEvent) -> Result<(), Box<WebhookEvent>> + Send + Sync>),
    /// An async handler: `Ok` once the event was handed on.
    Later(Box<dyn Fn(WebhookEvent) -> BoxFuture<'static, Result<(), HandlerError>> + Send + Sync>),
    /// Queue mode: appended to a queue instead (no claim, no handler in the request).
    Queue(Ingest),
}

/// A webhook endpoint: verifier, deduplicator and where accepted events go.
///
/// Cloning is cheap (reference counts). See [the module docs](super) for the statuses it
/// answers with.
pub struct WebhookReceiver<D = InMemoryDeduplicator> {
    verifier: WebhookVerifier,
    dedup: Arc<D>,
    sink: Arc<Sink>,
    body_timeout: Duration,
}

/// How long a sender has to send the whole body, from when its headers were read: 3 seconds.
/// Wix sends a few kilobytes at once and gives up waiting for the answer after 1250 ms.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(3);

impl<D> Clone for WebhookReceiver<D> {
    fn clone(&self) -> Self {
        WebhookReceiver {
            verifier: self.verifier.clone(),
            dedup: Arc::clone(&self.dedup),
            sink: Arc::clone(&self.sink),
            body_timeout: self.body_timeout,
        }
    }
}

impl<D> std::fmt::Debug for WebhookReceiver<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookReceiver")
            .field("verifier", &self.verifier)
            .field("body_timeout", &self.body_timeout)
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
            sink: Arc::new(Sink::Now(Box::new(move |event| {
                on_event(event);
                Ok(())
            }))),
            body_timeout: DEFAULT_BODY_TIMEOUT,
        }
    }

    /// A receiver that awaits `handler` with each accepted event and answers 200 once it
    /// returned `Ok`; when it returns `Err` (logged) the answer is 503 and the claim is
    /// released, so Wix's retry is handled. It runs in a task of its own: when it takes longer
    /// than Wix waits (1,250 ms) and Wix hangs up, it still runs to its end once, its claim is
    /// completed, and Wix's resends are answered 503 while it runs and 200 after. Keep it within
    /// the deduplicator's lease: a resend after the lease is handed on again.
    ///
    /// ```
    /// # use wix_inbox::webhooks::{axum::WebhookReceiver, WebhookVerifier};
    /// # fn demo(verifier: WebhookVerifier, queue: tokio::sync::mpsc::Sender<String>) {
    /// let receiver = WebhookReceiver::with_handler(verifier, move |event| {
    ///     let queue = queue.clone();
    ///     async move { queue.send(event.id).await }
    /// });
    /// # }
    /// ```
    pub fn with_handler<F, Fut, E>(verifier: WebhookVerifier, handler: F) -> Self
    where
        F: Fn(WebhookEvent) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), E>> + Send + 'static,
        E: Into<HandlerError>,
    {
        let handler = move |event| -> BoxFuture<'static, Result<(), HandlerError>> {
            let handled = handler(event);
            Box::pin(async move { handled.await.map_err(Into::into) })
        };
        WebhookReceiver {
            verifier,
            dedup: Arc::new(InMemoryDeduplicator::new()),
            sink: Arc::new(Sink::Later(Box::new(handler))),
            body_timeout: DEFAULT_BODY_TIMEOUT,
        }
    }

    /// A receiver that sends each accepted event into a bounded channel, and the channel's
    /// receiving end. When the channel is full or closed the delivery is answered with 503 and
    /// its claim released, so Wix's retry is processed.
    pub fn with_channel(
        verifier: WebhookVerifier,
        capacity: usize,
    ) -> (Self, mpsc::Receiver<WebhookEvent>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let receiver = WebhookReceiver {
            verifier,
            dedup: Arc::new(InMemoryDeduplicator::new()),
            sink: Arc::new(Sink::Now(Box::new(move |event| {
                tx.try_send(event).map_err(|e| Box::new(e.into_inner()))
            }))),
            body_timeout: DEFAULT_BODY_TIMEOUT,
        };
        (receiver, rx)
    }
}

impl WebhookReceiver<InMemoryDeduplicator> {
    /// A receiver in **queue mode**: it verifies each delivery, appends the event to `queue`
    /// (an event ID at most once, in one atomic step) and answers 200 as soon as it is stored,
    /// without waiting for any handler; [`Worker`](crate::queue::Worker)s handle the events.
    /// When the queue fails or does not answer within 1 s the answer is 503 (never 200 for an
    /// event not stored). Events are laned by [`default_lane`](crate::queue::default_lane).
    /// The deduplicator is not used: the queue drops duplicates itself.
    ///
    /// ```
    /// # use wix_inbox::webhooks::{axum::WebhookReceiver, WebhookVerifier};
    /// # fn demo(verifier: WebhookVerifier) {
    /// let queue = wix_inbox::queue::InMemoryQueue::new();
    /// let receiver = WebhookReceiver::queue(verifier, queue.clone());
    /// # }
    /// ```
    pub fn queue<S: QueueStore>(verifier: WebhookVerifier, queue: S) -> Self {
        Self::queue_with_lanes(verifier, queue, default_lane_key())
    }

    /// [`queue`](Self::queue) with lanes of your own: events with the same `lane_key` are
    /// handled one at a time, in order; `None` puts an event in no lane.
    pub fn queue_with_lanes<S: QueueStore>(
        verifier: WebhookVerifier,
        queue: S,
        lane_key: LaneKey,
    ) -> Self {
        WebhookReceiver {
            verifier,
            dedup: Arc::new(InMemoryDeduplicator::new()),
            sink: Arc::new(Sink::Queue(ingest::ingest(Arc::new(queue), lane_key))),
            body_timeout: DEFAULT_BODY_TIMEOUT,
        }
    }
}

impl<D: Deduplicator> WebhookReceiver<D> {
    /// Uses `dedup` instead of the default [`InMemoryDeduplicator`].
    pub fn deduplicator<D2: Deduplicator>(self, dedup: D2) -> WebhookReceiver<D2> {
        WebhookReceiver {
            verifier: self.verifier,
            dedup: Arc::new(dedup),
            sink: self.sink,
            body_timeout: self.body_timeout,
        }
    }

    /// Sets how long a sender has to send the whole body, counted from when the request
    /// reaches the receiver (default [`DEFAULT_BODY_TIMEOUT`]). When it passes, the answer is
    /// 408 and the connection is closed.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
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
    ///
    /// A panic in the callback, the handler or the deduplicator is caught: the answer is 500
    /// (so that Wix retries) and the claim is released. When the request is dropped once its
    /// event is claimed (the sender hung up, a server's request timeout), handing the event on
    /// goes on in its own task, and the claim is completed or released when it ends (logged).
    pub async fn handle(&self, request: Request) -> Response {
        match AssertUnwindSafe(self.handle_unguarded(request))
            .catch_unwind()
            .await
        {
            Ok(response) => response,
            Err(_) => {
                tracing::error!("the webhook receiver panicked; asking Wix to retry");
                handler_failed()
            }
        }
    }

    async fn handle_unguarded(&self, request: Request) -> Response {
        let read = read_body(request, self.verifier.max_body_size());
        let body = match tokio::time::timeout(self.body_timeout, read).await {
            Ok(Ok(body)) => body,
            Ok(Err(response)) => return response,
            Err(_) => {
                tracing::warn!(timeout = ?self.body_timeout, "webhook body not received in time");
                return (
                    StatusCode::REQUEST_TIMEOUT,
                    [(CONNECTION, "close")],
                    "webhook body not received in time",
                )
                    .into_response();
            }
        };
        let event = match self.verifier.verify(&body) {
            Ok(event) => event,
            Err(err) => return reject(&err),
        };
        drop(body);
        if let Sink::Queue(ingest) = &*self.sink {
            return ingest::answer(ingest, event, DEFAULT_INGEST_TIMEOUT).await;
        }
        let event_id = event.id.clone();
        let lease = match self.dedup.claim(&event_id).await {
            Ok(Claim::First(lease)) => lease,
            Ok(Claim::Done) => {
                tracing::debug!(%event_id, "duplicate webhook dropped");
                return (StatusCode::OK, "duplicate").into_response();
            }
            Ok(Claim::InProgressElsewhere) => {
                tracing::debug!(%event_id, "webhook being handed on elsewhere; asking Wix to retry");
                return retry_later("in progress elsewhere, retry later");
            }
            Err(error) => {
                tracing::warn!(%event_id, %error, "webhook not claimed; asking Wix to retry");
                return retry_later("de-duplication store unavailable, retry later");
            }
        };
        // Handing on and settling the claim run in a task of their own: if the sender hangs up
        // (Wix stops waiting at 1,250 ms) or a server's timeout drops this request, the event is
        // still handed on once and its claim completed, so that Wix's resend is answered 200
        // instead of being handed on again.
        let settling = tokio::spawn(settle(
            Arc::clone(&self.dedup),
            Arc::clone(&self.sink),
            lease,
            event,
        ));
        let mut waiting = Waiting(Some(&event_id));
        let settled = settling.await;
        waiting.0 = None;
        match settled {
            Ok(Settled::HandedOn) => (StatusCode::OK, "ok").into_response(),
            Ok(Settled::Refused) => retry_later("not handed on, retry later"),
            // The task was cancelled (the runtime is shutting down); its claim was released.
            Ok(Settled::Panicked) | Err(_) => handler_failed(),
        }
    }
}

/// How the hand-off of one claimed event ended.
enum Settled {
    /// Handed on; the claim completed (or, if completing failed, left to its lease).
    HandedOn,
    /// The sink refused it; the claim released.
    Refused,
    /// The sink panicked; the claim released.
    Panicked,
}

/// Hands a claimed event on and completes its claim, or releases it when handing on failed;
/// runs to its end whatever happens to the request that claimed it.
async fn settle<D: Deduplicator>(
    dedup: Arc<D>,
    sink: Arc<Sink>,
    lease: Lease,
    event: WebhookEvent,
) -> Settled {
    let event_id = event.id.clone();
    let held = HeldClaim {
        dedup,
        lease: Some(lease),
    };
    match hand_on(&sink, event).await {
        Ok(()) => {
            if let Err(error) = held.complete().await {
                // Handed on all the same: answering 503 would only have it handed on again.
                tracing::warn!(%event_id, %error, "webhook handed on but its claim not completed; a redelivery after the lease would be handed on again");
            }
            Settled::HandedOn
        }
        Err(NotHandedOn::Refused(error)) => {
            tracing::warn!(%event_id, %error, "webhook not handed on; asking Wix to retry");
            held.release().await;
            Settled::Refused
        }
        Err(NotHandedOn::Panicked) => {
            tracing::error!(%event_id, "the webhook callback panicked; asking Wix to retry");
            held.release().await;
            Settled::Panicked
        }
    }
}

/// Logs a request dropped while its event is being handed on: the sender hung up (or a
/// server's timeout ended the request). The hand-off goes on.
struct Waiting<'a>(Option<&'a str>);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(event_id) = self.0 {
            tracing::warn!(%event_id, "the sender hung up before the answer; the event is still being handed on, and a resend is answered once that ends");
        }
    }
}

/// Hands `event` to the sink, catching panics.
async fn hand_on(sink: &Sink, event: WebhookEvent) -> Result<(), NotHandedOn> {
    match sink {
        Sink::Now(take) => match std::panic::catch_unwind(AssertUnwindSafe(|| take(event))) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_event)) => Err(NotHandedOn::Refused(
                "the event channel is full or closed".into(),
            )),
            Err(_) => Err(NotHandedOn::Panicked),
        },
        // Answered before any claim (`handle_unguarded`): never here.
        Sink::Queue(_) => Err(NotHandedOn::Refused("a queue is not a handler".into())),
        Sink::Later(handle) => {
            let Ok(handled) = std::panic::catch_unwind(AssertUnwindSafe(|| handle(event))) else {
                return Err(NotHandedOn::Panicked);
            };
            match AssertUnwindSafe(handled).catch_unwind().await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(NotHandedOn::Refused(error)),
                Err(_) => Err(NotHandedOn::Panicked),
            }
        }
    }
}

/// Why an event was not handed on.
enum NotHandedOn {
    /// The sink refused it (channel full, handler error).
    Refused(HandlerError),
    /// The sink panicked.
    Panicked,
}

/// A claim this request holds: completed or released explicitly, or released in the background
/// when the request is dropped before either (a server's timeout, a panic).
struct HeldClaim<D: Deduplicator> {
    dedup: Arc<D>,
    lease: Option<Lease>,
}

impl<D: Deduplicator> HeldClaim<D> {
    async fn complete(mut self) -> Result<(), DedupError> {
        let Some(lease) = &self.lease else {
            return Ok(());
        };
        let completed = self.dedup.complete(lease).await;
        self.lease = None;
        completed
    }

    async fn release(mut self) {
        if let Some(lease) = &self.lease {
            if let Err(error) = self.dedup.release(lease).await {
                tracing::warn!(event_id = %lease.event_id(), %error, "claim not released; it ends with its lease");
            }
        }
        self.lease = None;
    }
}

impl<D: Deduplicator> Drop for HeldClaim<D> {
    fn drop(&mut self) {
        let Some(lease) = self.lease.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let dedup = Arc::clone(&self.dedup);
        runtime.spawn(async move {
            if let Err(error) = dedup.release(&lease).await {
                tracing::warn!(event_id = %lease.event_id(), %error, "claim not released; it ends with its lease");
            }
        });
    }
}

/// A 503: Wix retries.
fn retry_later(text: &'static str) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, text).into_response()
}

/// The answer when the callback or the deduplicator panicked: Wix retries a 500.
fn handler_failed() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, "webhook not processed").into_response()
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
