//! Serving a router with the bounds a server facing the internet needs.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tower::Layer as _;
use tower_http::timeout::{Timeout, TimeoutLayer};

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
/// With the limit reached, a new connection is accepted and an open connection that has had no
/// request answered 2xx (for the webhook receiver: no verified delivery), and had a request
/// answered or half a second to send one, is asked to give way: the oldest idle one is closed
/// at once, else the oldest in a request is closed after its answer. So connections that send nothing verifiable cannot keep a real delivery out; proven
/// connections (Wix's kept-alive ones) are never closed for a newcomer. When every connection
/// is proven, newcomers wait in the kernel's accept queue until one closes; the timeouts make
/// sure one does. [`WebhookReceiver`](super::WebhookReceiver) adds its own body deadline
/// ([`DEFAULT_BODY_TIMEOUT`](super::DEFAULT_BODY_TIMEOUT)) and size limit.
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

    /// The request timeout set (the getter of [`request_timeout`](Self::request_timeout)):
    /// what a server that adds its own timeout inside the router (the fake Inbox) needs.
    pub fn get_request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// How many connections are served at once (at least 1; one more may be accepted and wait
    /// for a slot). Keep it below the process's limit of open files.
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
        let open = Arc::new(Open::default());
        let (stop, stopped) = watch::channel(false);
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let stream = tokio::select! {
                biased;
                () = &mut shutdown => break,
                stream = accept(&listener) => stream,
            };
            let slot = tokio::select! {
                biased;
                () = &mut shutdown => break,
                slot = free_slot(&slots, &open) => slot,
            };
            while connections.try_join_next().is_some() {}
            let connection = open.add();
            let serving = serve_connection(
                stream,
                service.clone(),
                self.clone(),
                stopped.clone(),
                Arc::clone(&connection),
            );
            let open = Arc::clone(&open);
            connections.spawn(async move {
                serving.await;
                open.remove(&connection);
                drop(slot);
            });
        }
        drop(listener);
        stop.send_replace(true);
        while connections.join_next().await.is_some() {}
    }
}

/// The most a connection's read buffer holds: 64 KiB (hyper's default is about 400 KiB). A
/// request's headers must fit in it; with 512 connections the buffers stay under 32 MiB.
const READ_BUFFER: usize = 64 * 1024;

/// How often a connection waiting for a slot asks another unproven connection to give way,
/// while the ones asked before are still finishing a request.
const EVICT_AGAIN: Duration = Duration::from_millis(100);

/// How long a new connection has to send its first request before it may be asked to give
/// way: a real sender's request follows its connection at once.
const GRACE: Duration = Duration::from_millis(500);

/// A slot for a connection that was accepted: a free one, or, when all are taken, the slot of
/// an unproven connection asked to give way ([`Open::evict_one`]).
async fn free_slot(slots: &Arc<Semaphore>, open: &Open) -> OwnedSemaphorePermit {
    if let Ok(slot) = Arc::clone(slots).try_acquire_owned() {
        return slot;
    }
    loop {
        open.evict_one();
        let waited = tokio::time::timeout(EVICT_AGAIN, Arc::clone(slots).acquire_owned()).await;
        if let Ok(slot) = waited {
            return slot.expect("the semaphore is never closed");
        }
    }
}

/// One open connection, as the pressure on slots sees it.
#[derive(Debug, Default)]
struct Connection {
    /// Accept order: the oldest gives way first.
    order: u64,
    /// A request on it was answered 2xx (for the webhook receiver: a verified delivery).
    proven: AtomicBool,
    /// Requests being answered on it now.
    busy: AtomicUsize,
    /// Requests answered on it so far.
    answered: AtomicUsize,
    /// When it was accepted.
    opened: Option<tokio::time::Instant>,
    /// Asked to give way.
    evicted: AtomicBool,
    evict: Notify,
}

/// The open connections, oldest first.
#[derive(Debug, Default)]
struct Open {
    next: AtomicU64,
    connections: Mutex<BTreeMap<u64, Arc<Connection>>>,
}

impl Open {
    fn add(&self) -> Arc<Connection> {
        let order = self.next.fetch_add(1, Ordering::Relaxed);
        let connection = Arc::new(Connection {
            order,
            opened: Some(tokio::time::Instant::now()),
            ..Connection::default()
        });
        self.lock().insert(order, Arc::clone(&connection));
        connection
    }

    fn remove(&self, connection: &Connection) {
        self.lock().remove(&connection.order);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Connection>>> {
        self.connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Asks the oldest connection that has had no request answered 2xx, and had a request
    /// answered or [`GRACE`] to send one, to close: an idle one first (it closes at once), else
    /// one in a request (it closes after its answer). Proven connections (Wix's kept-alive
    /// ones) and new ones are never asked.
    fn evict_one(&self) {
        let connections = self.lock();
        let candidates = || {
            connections.values().filter(|c| {
                !c.proven.load(Ordering::Acquire)
                    && !c.evicted.load(Ordering::Acquire)
                    && (c.answered.load(Ordering::Acquire) > 0
                        || c.opened.is_some_and(|opened| opened.elapsed() >= GRACE))
            })
        };
        let chosen = candidates()
            .find(|c| c.busy.load(Ordering::Acquire) == 0)
            .or_else(|| candidates().next());
        if let Some(connection) = chosen {
            connection.evicted.store(true, Ordering::Release);
            connection.evict.notify_one();
        }
    }
}

/// Counts a request on a connection while it is answered, and proves the connection when the
/// answer is 2xx.
struct Answering(Arc<Connection>);

impl Answering {
    fn new(connection: Arc<Connection>) -> Self {
        connection.busy.fetch_add(1, Ordering::AcqRel);
        Answering(connection)
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.answered.fetch_add(1, Ordering::AcqRel);
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
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

/// Waits for a connection.
async fn accept(listener: &TcpListener) -> TcpStream {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => return stream,
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
/// too old, the server stops, or it is asked to give way to a new connection.
async fn serve_connection(
    stream: TcpStream,
    service: Timeout<axum::Router>,
    options: ServeOptions,
    mut stopped: watch::Receiver<bool>,
    connection: Arc<Connection>,
) {
    let on = Arc::clone(&connection);
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let answering = Answering::new(Arc::clone(&on));
        let answer = tower::ServiceExt::oneshot(service.clone(), request);
        async move {
            let answer = answer.await;
            if matches!(&answer, Ok(response) if response.status().is_success()) {
                answering.0.proven.store(true, Ordering::Release);
            }
            answer
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_buf_size(READ_BUFFER);
    let serving = http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(serving);
    tokio::select! {
        _ = serving.as_mut() => return,
        () = tokio::time::sleep(options.max_connection_age) => {}
        _ = stopped.wait_for(|&stop| stop) => {}
        () = connection.evict.notified() => {}
    }
    serving.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(options.request_timeout, serving).await;
}
