//! The receiver: read, verify, claim, hand on, answer.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::header::CONNECTION;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, MethodRouter};
use futures_util::FutureExt as _;
use tokio::sync::{mpsc, Semaphore};
use tracing::Instrument as _;

use futures_util::future::BoxFuture;

use super::body::{read_body, reject};
use super::ingest::{self, Ingest, DEFAULT_INGEST_TIMEOUT};
use crate::queue::{default_lane_key, LaneKey, QueueStore};
use crate::trace::{TraceContext, TRACEPARENT};
use crate::webhooks::{
    Claim, DedupError, Deduplicator, InMemoryDeduplicator, Lease, WebhookEvent, WebhookVerifier,
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
    budget: Arc<Semaphore>,
}

/// How many bytes of bodies not yet verified all requests together may hold: 16 MiB (512
/// connections of 32 KiB; Wix's bodies are a few KB, and one body of the verifier's full 1 MiB
/// still fits). Beyond it a request is answered 503 (Wix retries) and its connection closed.
pub const DEFAULT_BODY_BUDGET: usize = 16 * 1024 * 1024;

/// A budget of `bytes`.
fn budget(bytes: usize) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS)))
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
            budget: Arc::clone(&self.budget),
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
            budget: budget(DEFAULT_BODY_BUDGET),
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
            budget: budget(DEFAULT_BODY_BUDGET),
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
            budget: budget(DEFAULT_BODY_BUDGET),
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
            budget: budget(DEFAULT_BODY_BUDGET),
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
            budget: self.budget,
        }
    }

    /// Sets how long a sender has to send the whole body, counted from when the request
    /// reaches the receiver (default [`DEFAULT_BODY_TIMEOUT`]). When it passes, the answer is
    /// 408 and the connection is closed.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Sets how many bytes of bodies not yet verified all requests to this receiver (and its
    /// clones) may hold at once (default [`DEFAULT_BODY_BUDGET`]). A request whose body does
    /// not fit in what is left is answered 503 with its connection closed: Wix retries, and
    /// unauthenticated senders cannot grow the process's memory past the budget. Keep it at
    /// least the verifier's [`max_body_size`](WebhookVerifier::max_body_size).
    pub fn body_budget(mut self, bytes: usize) -> Self {
        self.budget = budget(bytes);
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
    ///
    /// Each delivery is counted in the crate's [metrics](crate::metrics) by status and reason,
    /// and runs in a span `wix_inbox.delivery` with its [trace context](crate::trace).
    pub async fn handle(&self, request: Request) -> Response {
        // The sender's trace when it sent a valid `traceparent` (this delivery is a span in it),
        // a new one otherwise.
        let trace = request
            .headers()
            .get(TRACEPARENT)
            .and_then(|v| v.to_str().ok())
            .and_then(TraceContext::parse)
            .map_or_else(TraceContext::new_root, |parent| parent.child());
        let (trace_id, span_id) = trace.hex_ids();
        let span = tracing::info_span!(
            "wix_inbox.delivery",
            trace_id = %trace_id,
            span_id = %span_id,
            event_id = tracing::field::Empty,
        );
        let handled = AssertUnwindSafe(self.handle_unguarded(request, trace, span.clone()))
            .catch_unwind()
            .instrument(span)
            .await;
        let (response, reason) = match handled {
            Ok(answer) => answer,
            Err(_) => {
                tracing::error!("the webhook receiver panicked; asking Wix to retry");
                (handler_failed(), "panicked")
            }
        };
        crate::metrics::delivery(response.status().as_u16(), reason);
        response
    }

    /// The answer, and its reason for the metrics.
    async fn handle_unguarded(
        &self,
        request: Request,
        trace: TraceContext,
        span: tracing::Span,
    ) -> (Response, &'static str) {
        let read = read_body(request, self.verifier.max_body_size(), &self.budget);
        // `charged` holds the body's bytes in the budget until it is verified (or refused).
        let (body, charged) = match tokio::time::timeout(self.body_timeout, read).await {
            Ok(Ok(read)) => read,
            Ok(Err(refused)) => return refused,
            Err(_) => {
                tracing::warn!(timeout = ?self.body_timeout, "webhook body not received in time");
                let response = (
                    StatusCode::REQUEST_TIMEOUT,
                    [(CONNECTION, "close")],
                    "webhook body not received in time",
                );
                return (response.into_response(), "body_timeout");
            }
        };
        let event = match self.verifier.verify(&body) {
            Ok(event) => event,
            Err(err) => return reject(&err),
        };
        drop(body);
        drop(charged);
        let event_id = event.id.clone();
        span.record("event_id", event_id.as_str());
        if let Sink::Queue(ingest) = &*self.sink {
            return ingest::answer(ingest, event, trace, DEFAULT_INGEST_TIMEOUT).await;
        }
        let claimed = self.dedup.claim(&event_id).await;
        crate::metrics::claim(match &claimed {
            Ok(Claim::First(_)) => "first",
            Ok(Claim::Done) => "done",
            Ok(Claim::InProgressElsewhere) => "in_progress_elsewhere",
            Err(_) => "error",
        });
        let lease = match claimed {
            Ok(Claim::First(lease)) => lease,
            Ok(Claim::Done) => {
                tracing::debug!(%event_id, "duplicate webhook dropped");
                return ((StatusCode::OK, "duplicate").into_response(), "duplicate");
            }
            Ok(Claim::InProgressElsewhere) => {
                tracing::debug!(%event_id, "webhook being handed on elsewhere; asking Wix to retry");
                let response = retry_later("in progress elsewhere, retry later");
                return (response, "in_progress_elsewhere");
            }
            Err(error) => {
                tracing::warn!(%event_id, %error, "webhook not claimed; asking Wix to retry");
                let response = retry_later("de-duplication store unavailable, retry later");
                return (response, "store_unavailable");
            }
        };
        let event_time = event.event_time;
        // Handing on and settling the claim run in a task of their own: if the sender hangs up
        // (Wix stops waiting at 1,250 ms) or a server's timeout drops this request, the event is
        // still handed on once and its claim completed, so that Wix's resend is answered 200
        // instead of being handed on again. The task is in the delivery's span and trace.
        let settling = tokio::spawn(
            trace
                .scope(settle(
                    Arc::clone(&self.dedup),
                    Arc::clone(&self.sink),
                    lease,
                    event,
                ))
                .instrument(span),
        );
        let mut waiting = Waiting(Some(&event_id));
        let settled = settling.await;
        waiting.0 = None;
        match settled {
            Ok(Settled::HandedOn) => {
                if let Some(at) = event_time {
                    let age = chrono::Utc::now().signed_duration_since(at);
                    crate::metrics::event_age(age.to_std().unwrap_or_default());
                }
                ((StatusCode::OK, "ok").into_response(), "handed_on")
            }
            Ok(Settled::Refused) => (retry_later("not handed on, retry later"), "not_handed_on"),
            // The task was cancelled (the runtime is shutting down); its claim was released.
            Ok(Settled::Panicked) | Err(_) => (handler_failed(), "panicked"),
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
