//! `webhook relay`: a standalone verifying receiver for apps in any language.
//!
//! It verifies each delivery, claims its event ID (in memory, or in Redis shared by several
//! relays), POSTs the decoded event as JSON to the app, and answers Wix 200 only once the app
//! answered 2xx; 503 otherwise, so that Wix retries. It serves with the crate's production
//! settings (header-read and request timeouts, a bound on open connections); SIGTERM (or
//! Ctrl-C) stops accepting connections and lets the requests in flight finish.
//!
//! With `--metrics-listen` it serves the library's metrics (`wix_inbox::metrics`) at
//! `/metrics` in Prometheus's text format, on loopback unless `--metrics-public`. Each POST to
//! the app carries the delivery's W3C `traceparent` (`wix_inbox::trace`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use wix_inbox::metrics::Prometheus;
use wix_inbox::trace::{TraceContext, TRACEPARENT};
use wix_inbox::webhooks::axum::{ServeOptions, WebhookReceiver};
use wix_inbox::webhooks::{Deduplicator, InMemoryDeduplicator, WebhookEvent};

use crate::redis_target::RedisTarget;
use crate::{read_verifier, Failure, Outcome};

/// The header that carries the event ID on the POST to the app, percent-encoded.
const EVENT_ID_HEADER: &str = "wix-inbox-event-id";

/// What is percent-encoded in [`EVENT_ID_HEADER`]: every byte of the ID's UTF-8 but RFC 3986's
/// unreserved characters (`A-Z a-z 0-9 - . _ ~`). A GUID (Wix's IDs) goes out as it is; an ID
/// with spaces or in another script reaches the app whole and distinct (a header cannot carry
/// non-ASCII text, and HTTP strips the spaces at its ends).
const NOT_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Args, Debug)]
pub struct Relay {
    /// The app's public key: a PEM file, or a file holding base64 of the PEM.
    #[arg(long, value_name = "FILE")]
    pub public_key: PathBuf,
    /// Where to listen for Wix, e.g. 0.0.0.0:8080 (port 0: any free port). The address is
    /// printed on the first line of stdout.
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The app's URL: each event is POSTed there as JSON (what `webhook verify` prints), with
    /// its ID in the `wix-inbox-event-id` header, percent-encoded (a GUID as it is; the body's
    /// `id` is the ID exactly).
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// A Redis (or Redis Cluster) shared by several relays; in memory, for this process alone,
    /// when left out.
    #[command(flatten)]
    pub redis: RedisTarget,
    /// Seconds the app has to answer a POST; then Wix is answered 503.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub app_timeout: u64,
    /// Serve the relay's metrics at /metrics, in Prometheus's text format, on this address:
    /// a port (on 127.0.0.1), or HOST:PORT. Off when left out.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// Allow --metrics-listen on an address other than loopback (the metrics say how busy the
    /// app is and why deliveries fail: keep them private).
    #[arg(long, requires = "metrics_listen")]
    pub metrics_public: bool,
    /// Seconds a claim on an event holds: a relay that dies while handing an event on holds it
    /// that long, then another relay hands the redelivery on. Longer than --app-timeout.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub lease: u64,
    /// Queue mode (needs --redis or --redis-cluster): answer Wix as soon as the event is
    /// stored in the Redis queue, and forward it to --to from a worker, with retries, backoff
    /// and dead letters (see `wix-inbox events`). Each POST is signed the Standard Webhooks
    /// way.
    #[arg(long, requires = "redis_store")]
    pub queue: bool,
    /// With --queue: a file of `whsec_…` signing secrets, separated by whitespace (several
    /// for rotation: each POST carries one signature per secret).
    #[arg(long, value_name = "FILE")]
    pub signing_secret_file: Option<PathBuf>,
    /// With --queue: the signing secrets, when no file is given.
    #[arg(
        long,
        value_name = "SECRETS",
        env = "WIX_INBOX_SIGNING_SECRET",
        hide_env_values = true,
        hide = true
    )]
    pub signing_secret: Option<String>,
}

pub async fn relay(args: Relay) -> Outcome {
    // First, so that a SIGTERM from the moment the relay says it listens is a clean stop.
    let stop = stop_signal()?;
    // Why a delivery was answered 503 (a store or an app that failed), one line each.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::WARN)
        .with_target(false)
        .try_init();
    let verifier = read_verifier(&args.public_key)?;
    let to = reqwest::Url::parse(&args.to)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
        .ok_or_else(|| Failure::Usage("--to must be an http:// or https:// URL".to_owned()))?;
    let app_timeout = Duration::from_secs(args.app_timeout);
    let lease = Duration::from_secs(args.lease);
    if args.app_timeout == 0 {
        return Err(Failure::Usage(
            "--app-timeout must be at least 1".to_owned(),
        ));
    }
    if lease <= app_timeout {
        return Err(Failure::Usage(format!(
            "--lease ({}) must be longer than --app-timeout ({}): a claim must outlive the POST \
             to the app",
            args.lease, args.app_timeout
        )));
    }
    let http = reqwest::Client::builder()
        .timeout(app_timeout)
        .connect_timeout(app_timeout.min(Duration::from_secs(2)))
        // The app is where --to says, not where a redirect points.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Failure::Operation(format!("cannot build the HTTP client: {e}")))?;
    let (http_for_queue, to_for_queue, verifier_for_queue) =
        (http.clone(), to.clone(), verifier.clone());
    let receiver = WebhookReceiver::with_handler(verifier, move |event: WebhookEvent| {
        let (http, to) = (http.clone(), to.clone());
        async move { hand_on(&http, to, &event).await }
    });
    let metrics = match &args.metrics_listen {
        Some(addr) => Some(metrics_listener(addr, args.metrics_public).await?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| Failure::Operation(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::Operation(format!("cannot read the listening address: {e}")))?;
    // A request may wait for the app, plus the time to read its body.
    let options = ServeOptions::new().request_timeout(app_timeout + Duration::from_secs(5));
    let metrics = metrics
        .map(|listener| serve_metrics(listener, &options))
        .transpose()?;
    if args.queue {
        let config = args.redis.required()?;
        let signer = crate::relay_queue::Signer::load(
            args.signing_secret_file.as_deref(),
            args.signing_secret.as_deref(),
        )?;
        let queue = wix_inbox::redis::RedisQueue::connect_with(&config)
            .await
            .map_err(|e| Failure::Operation(format!("cannot use Redis: {e}")))?;
        let (stopping, stopped) = tokio::sync::watch::channel(false);
        let worker = tokio::spawn(crate::relay_queue::work(
            queue.clone(),
            http_for_queue,
            to_for_queue,
            signer,
            stopped,
        ));
        let receiver = WebhookReceiver::queue(verifier_for_queue, queue);
        let served = serve(
            receiver,
            listener,
            addr,
            "a Redis queue",
            options,
            metrics,
            stop,
        )
        .await;
        stopping.send_replace(true);
        let _ = worker.await;
        return served;
    }
    match args.redis.config() {
        Some(config) => {
            let store = wix_inbox::redis::RedisDeduplicator::connect_with(&config)
                .await
                .map_err(|e| Failure::Operation(format!("cannot use Redis: {e}")))?
                .lease(lease);
            let receiver = receiver.deduplicator(store);
            serve(receiver, listener, addr, "Redis", options, metrics, stop).await
        }
        None => {
            let receiver = receiver.deduplicator(InMemoryDeduplicator::new().lease(lease));
            serve(receiver, listener, addr, "memory", options, metrics, stop).await
        }
    }
}

/// POSTs `event` to the app; `Ok` once it answered 2xx.
async fn hand_on(
    http: &reqwest::Client,
    to: reqwest::Url,
    event: &WebhookEvent,
) -> Result<(), String> {
    let mut request = http.post(to).header(
        EVENT_ID_HEADER,
        percent_encoding::utf8_percent_encode(&event.id, NOT_UNRESERVED).to_string(),
    );
    // The delivery's trace goes on to the app: this POST is a span of its own in it.
    if let Some(trace) = TraceContext::current() {
        request = request.header(TRACEPARENT, trace.child().traceparent());
    }
    crate::relay_queue::send_to_app(request.json(event)).await
}

async fn serve<D: Deduplicator>(
    receiver: WebhookReceiver<D>,
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    store: &str,
    options: ServeOptions,
    metrics: Option<(SocketAddr, tokio::task::JoinHandle<()>)>,
    stop: impl std::future::Future<Output = ()>,
) -> Outcome {
    let router = axum::Router::new().fallback_service(receiver.into_method_router());
    let metrics_line = match &metrics {
        Some((addr, _)) => format!("; metrics on http://{addr}/metrics"),
        None => String::new(),
    };
    println!(
        "relay listening on http://{addr} (claims in {store}){metrics_line}; stop it with \
         SIGTERM or Ctrl-C"
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    options.serve_with_shutdown(listener, router, stop).await;
    if let Some((_, metrics)) = metrics {
        metrics.abort();
    }
    eprintln!("relay stopped; requests in flight were answered");
    Ok(())
}

/// Binds `--metrics-listen`: a port alone is on 127.0.0.1; an address that is not loopback is
/// refused unless `public`.
async fn metrics_listener(addr: &str, public: bool) -> Result<tokio::net::TcpListener, Failure> {
    let parsed = match addr.parse::<u16>() {
        Ok(port) => Ok(SocketAddr::from(([127, 0, 0, 1], port))),
        Err(_) => addr.parse::<SocketAddr>(),
    };
    let addr = parsed.map_err(|_| {
        Failure::Usage(format!(
            "--metrics-listen must be a port or an IP address and port, not {addr:?}"
        ))
    })?;
    if !addr.ip().is_loopback() && !public {
        return Err(Failure::Usage(format!(
            "--metrics-listen {addr} is not a loopback address: the metrics would be public; \
             add --metrics-public if that is meant"
        )));
    }
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::Operation(format!("cannot listen on {addr} for metrics: {e}")))
}

/// Installs the Prometheus recorder and serves `/metrics` on `listener`, with the relay's
/// server settings; its address and task.
fn serve_metrics(
    listener: tokio::net::TcpListener,
    options: &ServeOptions,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), Failure> {
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::Operation(format!("cannot read the metrics address: {e}")))?;
    let prometheus = Prometheus::install().map_err(|e| Failure::Operation(e.to_string()))?;
    let options = options.clone().max_connections(16);
    let task = tokio::spawn(async move {
        options.serve(listener, prometheus.router()).await;
    });
    Ok((addr, task))
}

/// Completes on SIGTERM or Ctrl-C. The handlers are installed now.
fn stop_signal() -> Result<impl std::future::Future<Output = ()>, Failure> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Failure::Operation(format!("cannot handle SIGTERM: {e}")))?;
    let ctrl_c = tokio::signal::ctrl_c();
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {}
            _ = ctrl_c => {}
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
    })
}
