//! `webhook relay`: a standalone verifying receiver for apps in any language.
//!
//! It verifies each delivery, claims its event ID (in memory, or in Redis shared by several
//! relays), POSTs the decoded event as JSON to the app, and answers Wix 200 only once the app
//! answered 2xx; 503 otherwise, so that Wix retries. It serves with the crate's production
//! settings (header-read and request timeouts, a bound on open connections); SIGTERM (or
//! Ctrl-C) stops accepting connections and lets the requests in flight finish.
//!
//! With `--queue` it answers Wix once the event is stored in the Redis queue, and a worker in
//! the same process (`forward`) POSTs it to the app; with `--no-worker` as well it only
//! ingests, and `events work` processes forward.
//!
//! With `--metrics-listen` it serves the library's metrics (`wix_inbox::metrics`) at
//! `/metrics` in Prometheus's text format, on loopback unless `--metrics-public`. Each POST to
//! the app carries the delivery's W3C `traceparent` (`wix_inbox::trace`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use wix_inbox::trace::{TraceContext, TRACEPARENT};
use wix_inbox::webhooks::axum::{ServeOptions, WebhookReceiver};
use wix_inbox::webhooks::{Deduplicator, InMemoryDeduplicator, WebhookEvent};

use crate::forward::{self, Forwarder, WorkerArgs};
use crate::redis_target::RedisTarget;
use crate::serving::{self, MetricsArgs, MetricsServer};
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
    /// `id` is the ID exactly). Not with --no-worker.
    #[arg(long, value_name = "URL", required_unless_present = "no_worker")]
    pub to: Option<String>,
    /// A Redis (or Redis Cluster) shared by several relays; in memory, for this process alone,
    /// when left out.
    #[command(flatten)]
    pub redis: RedisTarget,
    /// Seconds the app has to answer a POST; then Wix is answered 503.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub app_timeout: u64,
    #[command(flatten)]
    pub metrics: MetricsArgs,
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
    /// With --queue: ingest only (verify, store, answer 200), run no worker here; run
    /// `wix-inbox events work` processes to forward the events. For relays that must answer
    /// Wix at once whatever the app does, and workers you scale apart from them.
    #[arg(long, requires = "queue", conflicts_with_all = ["to", "signing_secret_file", "workers", "visibility"])]
    pub no_worker: bool,
    /// With --queue (and without --no-worker): how the worker forwards.
    #[command(flatten)]
    pub worker: WorkerArgs,
}

pub async fn relay(args: Relay) -> Outcome {
    // First, so that a SIGTERM from the moment the relay says it listens is a clean stop.
    let stop = serving::stop_signal()?;
    // Why a delivery was answered 503 (a store or an app that failed), one line each.
    serving::log_warnings();
    let verifier = read_verifier(&args.public_key)?;
    let to = args.to.as_deref().map(forward::app_url).transpose()?;
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
    let http = forward::app_client(app_timeout)?;
    let metrics = args.metrics.bind().await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| Failure::Operation(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::Operation(format!("cannot read the listening address: {e}")))?;
    // A request may wait for the app, plus the time to read its body.
    let options = ServeOptions::new().request_timeout(app_timeout + Duration::from_secs(5));
    let serving = Serving {
        listener,
        addr,
        options,
        metrics: None,
    }
    .with_metrics(metrics)?;
    if args.queue {
        let config = args.redis.required()?;
        let forwarder = match to {
            Some(to) if !args.no_worker => Some(Forwarder {
                http,
                to,
                signer: args.worker.signer()?,
            }),
            _ => None,
        };
        let queue = wix_inbox::redis::RedisQueue::connect_with(&config)
            .await
            .map_err(|e| Failure::Operation(format!("cannot use Redis: {e}")))?;
        let receiver = WebhookReceiver::queue(verifier, queue.clone());
        let Some(forwarder) = forwarder else {
            return serving
                .run(receiver, "a Redis queue; no worker", stop)
                .await;
        };
        let (stopping, stopped) = tokio::sync::watch::channel(false);
        let worker = forward::worker(queue, &args.worker);
        let worker = tokio::spawn(async move {
            let mut stopped = stopped;
            let stop = async move {
                let _ = stopped.wait_for(|&stop| stop).await;
            };
            if let Err(error) = forward::work(worker, forwarder, stop).await {
                tracing::warn!(%error, "the worker stopped with an error");
            }
        });
        let served = serving.run(receiver, "a Redis queue", stop).await;
        stopping.send_replace(true);
        let _ = worker.await;
        return served;
    }
    let Some(to) = to else {
        return Err(Failure::Usage(
            "--to is needed (but with --queue --no-worker)".to_owned(),
        ));
    };
    let receiver = WebhookReceiver::with_handler(verifier, move |event: WebhookEvent| {
        let (http, to) = (http.clone(), to.clone());
        async move { hand_on(&http, to, &event).await }
    });
    match args.redis.config() {
        Some(config) => {
            let store = wix_inbox::redis::RedisDeduplicator::connect_with(&config)
                .await
                .map_err(|e| Failure::Operation(format!("cannot use Redis: {e}")))?
                .lease(lease);
            let receiver = receiver.deduplicator(store);
            serving.run(receiver, "Redis", stop).await
        }
        None => {
            let receiver = receiver.deduplicator(InMemoryDeduplicator::new().lease(lease));
            serving.run(receiver, "memory", stop).await
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
    forward::send_to_app(request.json(event)).await
}

/// The relay's listener, its server settings and its metrics server.
struct Serving {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    options: ServeOptions,
    metrics: Option<MetricsServer>,
}

impl Serving {
    /// Serves `/metrics` on `listener`, if given, with the relay's server settings.
    fn with_metrics(mut self, listener: Option<tokio::net::TcpListener>) -> Result<Self, Failure> {
        self.metrics = listener
            .map(|listener| serving::serve_metrics(listener, &self.options))
            .transpose()?;
        Ok(self)
    }

    /// Serves `receiver` until `stop` completes, then lets the requests in flight finish.
    async fn run<D: Deduplicator>(
        self,
        receiver: WebhookReceiver<D>,
        store: &str,
        stop: impl std::future::Future<Output = ()>,
    ) -> Outcome {
        let router = axum::Router::new().fallback_service(receiver.into_method_router());
        serving::announce(&format!(
            "relay listening on http://{} (claims in {store}){}; stop it with SIGTERM or Ctrl-C",
            self.addr,
            MetricsServer::line(self.metrics.as_ref()),
        ));
        self.options
            .serve_with_shutdown(self.listener, router, stop)
            .await;
        drop(self.metrics);
        eprintln!("relay stopped; requests in flight were answered");
        Ok(())
    }
}
