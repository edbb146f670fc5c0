//! A ready webhook endpoint for [axum](https://docs.rs/axum) 0.8 (feature `axum`).
//!
//! [`WebhookReceiver`] reads the raw body whatever its `Content-Type` (Wix sends `text/plain`
//! or none), enforces the verifier's size limit while reading, verifies, claims the event ID in
//! its [`Deduplicator`], hands the event on, and answers 200 only once the event was handed on:
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
//! ([`WebhookReceiver::with_handler`]); do slow work after handing on, not in the request
//! (Wix wants an answer within 1,250 ms).
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
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tower::Layer as _;
use tower_http::timeout::{Timeout, TimeoutLayer};

use futures_util::future::BoxFuture;

use super::{
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
}

/// A webhook endpoint: verifier, deduplicator and where accepted events go.
///
/// Cloning is cheap (reference counts). See [the module docs](self) for the statuses it
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
    /// released, so Wix's retry is handled. It runs within the request: keep it well within
    /// the deduplicator's lease and Wix's 1,250 ms (hand the event to a queue, an app).
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

    /// Renamed to [`deduplicator`](Self::deduplicator).
    #[deprecated(since = "0.1.0", note = "renamed to `deduplicator`")]
    pub fn with_deduplicator<D2: Deduplicator>(self, dedup: D2) -> WebhookReceiver<D2> {
        self.deduplicator(dedup)
    }

    /// Sets how long a sender has to send the whole body, counted from when the request
    /// reaches the receiver (default [`DEFAULT_BODY_TIMEOUT`]). When it passes, the answer is
    /// 408 and the connection is closed.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Renamed to [`body_timeout`](Self::body_timeout).
    #[deprecated(since = "0.1.0", note = "renamed to `body_timeout`")]
    pub fn with_body_timeout(self, timeout: Duration) -> Self {
        self.body_timeout(timeout)
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
    /// (so that Wix retries) and the claim is released. When the request is dropped before it
    /// is answered (a server's request timeout), the claim is released too.
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
        let held = HeldClaim {
            dedup: Arc::clone(&self.dedup),
            lease: Some(lease),
        };
        match self.hand_on(event).await {
            Ok(()) => {
                if let Err(error) = held.complete().await {
                    // Handed on all the same: answering 503 would only have it handed on again.
                    tracing::warn!(%event_id, %error, "webhook handed on but its claim not completed; a redelivery after the lease would be handed on again");
                }
                (StatusCode::OK, "ok").into_response()
            }
            Err(NotHandedOn::Refused(error)) => {
                tracing::warn!(%event_id, %error, "webhook not handed on; asking Wix to retry");
                held.release().await;
                retry_later("not handed on, retry later")
            }
            Err(NotHandedOn::Panicked) => {
                tracing::error!(%event_id, "the webhook callback panicked; asking Wix to retry");
                held.release().await;
                handler_failed()
            }
        }
    }

    /// Hands `event` to the sink, catching panics.
    async fn hand_on(&self, event: WebhookEvent) -> Result<(), NotHandedOn> {
        match &*self.sink {
            Sink::Now(take) => match std::panic::catch_unwind(AssertUnwindSafe(|| take(event))) {
                Ok(Ok(())) => Ok(()),
                Ok(Err(_event)) => Err(NotHandedOn::Refused(
                    "the event channel is full or closed".into(),
                )),
                Err(_) => Err(NotHandedOn::Panicked),
            },
            Sink::Later(handle) => {
                let Ok(handled) = std::panic::catch_unwind(AssertUnwindSafe(|| handle(event)))
                else {
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

/// How long a client has to send a request's headers, and how long an idle kept-alive
/// connection stays open: 5 seconds.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one request may take, body and handler included, before it is answered 408:
/// 10 seconds.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How many connections are open at once: 512 (below the usual limit of 1024 open files).
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// How long a connection may stay open, however busy: 60 seconds. Then it is closed after its
/// current request.
pub const DEFAULT_MAX_CONNECTION_AGE: Duration = Duration::from_secs(60);

/// The settings [`serve`] uses: what a server that faces the internet must bound.
///
/// | setting | default | what it stops |
/// |---|---|---|
/// | [`header_read_timeout`](Self::header_read_timeout) | [`DEFAULT_HEADER_READ_TIMEOUT`] | silent connections, headers sent a byte at a time, idle kept-alive connections |
/// | [`request_timeout`](Self::request_timeout) | [`DEFAULT_REQUEST_TIMEOUT`] | slow bodies and slow handlers on any route (answered 408) |
/// | [`max_connections`](Self::max_connections) | [`DEFAULT_MAX_CONNECTIONS`] | running out of file descriptors and memory |
/// | [`max_connection_age`](Self::max_connection_age) | [`DEFAULT_MAX_CONNECTION_AGE`] | a connection held for ever (e.g. a client that never reads) |
///
/// With the limit reached, new connections wait in the kernel's accept queue until one closes;
/// the timeouts make sure one does. [`WebhookReceiver`] adds its own body deadline
/// ([`DEFAULT_BODY_TIMEOUT`]) and size limit.
///
/// **Mounting the receiver in your own server** (your own `axum::serve`, hyper, a framework):
/// `axum::serve` sets none of these. Set a header-read timeout (hyper's
/// `http1::Builder::header_read_timeout`, with a timer), a request timeout (tower-http's
/// `TimeoutLayer`), and a bound on open connections, or put a reverse proxy that does so in front.
///
/// ```no_run
/// use std::time::Duration;
/// use wix_inbox::webhooks::axum::{ServeOptions, WebhookReceiver};
/// # use wix_inbox::webhooks::WebhookVerifier;
/// # async fn run(verifier: WebhookVerifier) -> std::io::Result<()> {
/// let receiver = WebhookReceiver::new(verifier, |event| println!("{}", event.id));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// ServeOptions::new()
///     .max_connections(256)
///     .serve(listener, receiver.into_router("/webhooks/wix"))
///     .await;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ServeOptions {
    header_read_timeout: Duration,
    request_timeout: Duration,
    max_connections: usize,
    max_connection_age: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connection_age: DEFAULT_MAX_CONNECTION_AGE,
        }
    }
}

impl ServeOptions {
    /// The defaults (see the table in the type's docs).
    pub fn new() -> Self {
        Self::default()
    }

    /// How long a client has to send a request's headers, counted from when the server starts
    /// waiting for them: on a new connection, and after each answer on a kept-alive one. When
    /// it passes, the connection is closed.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How long one request may take from its headers to its answer (reading the body
    /// included); when it passes, the answer is 408.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How many connections are served at once (at least 1). Keep it below the process's limit
    /// of open files.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.clamp(1, Semaphore::MAX_PERMITS);
        self
    }

    /// How long a connection may stay open; then it is closed once its current request is
    /// answered (or after [`request_timeout`](Self::request_timeout) more, at the latest).
    pub fn max_connection_age(mut self, age: Duration) -> Self {
        self.max_connection_age = age;
        self
    }

    /// Serves `router` on `listener` (HTTP/1.1) with these settings, for ever. Dropping the
    /// future closes every connection.
    pub async fn serve(&self, listener: TcpListener, router: axum::Router) {
        self.serve_with_shutdown(listener, router, std::future::pending())
            .await;
    }

    /// Like [`serve`](Self::serve), until `shutdown` completes: then no new connection is
    /// accepted, each open one is closed after its current request, and the future completes
    /// when all are closed (after [`request_timeout`](Self::request_timeout) at the latest).
    pub async fn serve_with_shutdown(
        &self,
        listener: TcpListener,
        router: axum::Router,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let service =
            TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, self.request_timeout)
                .layer(router);
        let slots = Arc::new(Semaphore::new(self.max_connections));
        let (stop, stopped) = watch::channel(false);
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let (slot, stream) = tokio::select! {
                biased;
                () = &mut shutdown => break,
                accepted = accept(&listener, &slots) => accepted,
            };
            while connections.try_join_next().is_some() {}
            let connection =
                serve_connection(stream, service.clone(), self.clone(), stopped.clone());
            connections.spawn(async move {
                connection.await;
                drop(slot);
            });
        }
        drop(listener);
        stop.send_replace(true);
        while connections.join_next().await.is_some() {}
    }
}

/// Serves `router` on `listener` with the production settings of [`ServeOptions::default`]:
/// header-read and request timeouts, a bound on open connections. The one-line replacement for
/// `axum::serve(listener, router)`.
///
/// ```no_run
/// # use wix_inbox::webhooks::{axum::WebhookReceiver, WebhookVerifier};
/// # async fn run(verifier: WebhookVerifier) -> std::io::Result<()> {
/// let receiver = WebhookReceiver::new(verifier, |event| println!("{}", event.id));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// wix_inbox::webhooks::axum::serve(listener, receiver.into_router("/webhooks/wix")).await;
/// # Ok(()) }
/// ```
pub async fn serve(listener: TcpListener, router: axum::Router) {
    ServeOptions::default().serve(listener, router).await;
}

/// Waits for a free slot, then for a connection.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> (OwnedSemaphorePermit, TcpStream) {
    let slot = Arc::clone(slots)
        .acquire_owned()
        .await
        .expect("the semaphore is never closed");
    loop {
        match listener.accept().await {
            Ok((stream, _)) => return (slot, stream),
            // The client gave up before it was accepted.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionRefused
                ) => {}
            // Out of file descriptors, say: wait rather than spin.
            Err(e) => {
                tracing::error!(error = %e, "cannot accept a connection; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// One connection: hyper's HTTP/1.1 with its header-read timeout, closed gracefully when it is
/// too old or the server stops.
async fn serve_connection(
    stream: TcpStream,
    service: Timeout<axum::Router>,
    options: ServeOptions,
    mut stopped: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        tower::ServiceExt::oneshot(service.clone(), request)
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout);
    let connection = http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        () = tokio::time::sleep(options.max_connection_age) => {}
        _ = stopped.wait_for(|&stop| stop) => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(options.request_timeout, connection).await;
}
