//! Forwarding the queue's events to the app: a worker POSTs each event to `--to`, signed the
//! Standard Webhooks way, with retries, backoff and dead letters (the library's `Worker`). Each
//! POST carries a `traceparent` in the delivery's trace. `webhook relay --queue` runs it beside
//! its receiver, `events work` alone; both take [`WorkerArgs`]. `send_to_app` is the POST both
//! relay modes share.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use base64::Engine as _;
use clap::Args;
use wix_inbox::queue::{QueueError, Worker, WorkerOptions};
use wix_inbox::redis::RedisQueue;
use wix_inbox::trace::{TraceContext, TRACEPARENT};
use wix_inbox::webhooks::WebhookEvent;

use crate::Failure;

/// The most a signing-secret file may hold: 16 KiB.
const MAX_SECRETS_SIZE: usize = 16 * 1024;

/// Standard Webhooks signing keys (`whsec_<base64>`), several for rotation: each POST carries
/// one `v1,<signature>` per key.
pub struct Signer {
    keys: Vec<hmac::Key>,
}

impl Signer {
    /// The keys in `text`: `whsec_…` secrets separated by whitespace.
    pub fn parse(text: &str) -> Result<Signer, Failure> {
        let keys = text
            .split_whitespace()
            .map(|secret| {
                let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .ok()
                    .filter(|key| !key.is_empty())
                    .map(|key| hmac::Key::new(hmac::HMAC_SHA256, &key))
                    .ok_or_else(|| {
                        Failure::Usage(
                            "a signing secret is not whsec_ followed by base64".to_owned(),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(Failure::Usage("no signing secret given".to_owned()));
        }
        Ok(Signer { keys })
    }

    /// From `--signing-secret-file`, else the environment variable's value.
    pub fn load(file: Option<&Path>, env: Option<&str>) -> Result<Signer, Failure> {
        match (file, env) {
            (Some(path), _) => {
                let bytes = crate::read_input(
                    Some(path),
                    "signing secret",
                    MAX_SECRETS_SIZE,
                    Failure::Usage,
                )?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| Failure::Usage("the signing secret is not text".to_owned()))?;
                Signer::parse(&text)
            }
            (None, Some(text)) => Signer::parse(text),
            (None, None) => Err(Failure::Usage(
                "forwarding from the queue needs --signing-secret-file or \
                 WIX_INBOX_SIGNING_SECRET"
                    .to_owned(),
            )),
        }
    }

    /// The `webhook-signature` header for `id`, `timestamp` and `body`.
    pub fn signature(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut signed = Vec::with_capacity(id.len() + 24 + body.len());
        signed.extend_from_slice(id.as_bytes());
        signed.push(b'.');
        signed.extend_from_slice(timestamp.to_string().as_bytes());
        signed.push(b'.');
        signed.extend_from_slice(body);
        self.keys
            .iter()
            .map(|key| {
                let tag = hmac::sign(key, &signed);
                format!(
                    "v1,{}",
                    base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// How the queue's events are forwarded: the flags `webhook relay --queue` and `events work`
/// share.
#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// A file of `whsec_…` secrets signing the POSTs of the queue's events to the app,
    /// separated by whitespace (several for rotation: each POST carries one signature per
    /// secret).
    #[arg(long, value_name = "FILE")]
    pub signing_secret_file: Option<PathBuf>,
    /// The signing secrets, when no file is given.
    #[arg(
        long,
        value_name = "SECRETS",
        env = "WIX_INBOX_SIGNING_SECRET",
        hide_env_values = true,
        hide = true
    )]
    pub signing_secret: Option<String>,
    /// The queue's events forwarded at once (those of one conversation one at a time, in
    /// order).
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: u16,
    /// Seconds a queued event being forwarded is leased to this process (renewed while its
    /// POST runs); an event of a worker process that died is taken over by another after this
    /// long.
    #[arg(long, value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub visibility: u64,
}

impl WorkerArgs {
    /// The signer of `--signing-secret-file` or `WIX_INBOX_SIGNING_SECRET`.
    pub fn signer(&self) -> Result<Signer, Failure> {
        Signer::load(
            self.signing_secret_file.as_deref(),
            self.signing_secret.as_deref(),
        )
    }

    /// The worker's options.
    fn options(&self) -> WorkerOptions {
        WorkerOptions::new()
            .concurrency(usize::from(self.workers))
            .visibility(Duration::from_secs(self.visibility))
    }
}

/// `--to`: an http:// or https:// URL.
pub fn app_url(to: &str) -> Result<reqwest::Url, Failure> {
    reqwest::Url::parse(to)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
        .ok_or_else(|| Failure::Usage("--to must be an http:// or https:// URL".to_owned()))
}

/// The HTTP client of the POSTs to the app: `timeout` for each, no redirects.
pub fn app_client(timeout: Duration) -> Result<reqwest::Client, Failure> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(2)))
        // The app is where --to says, not where a redirect points.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Failure::Operation(format!("cannot build the HTTP client: {e}")))
}

/// Where and how the events go: the app's URL, the client, the signer.
pub struct Forwarder {
    pub http: reqwest::Client,
    pub to: reqwest::Url,
    pub signer: Signer,
}

/// A worker on `queue` with the options of `args`, named `worker-<random>` (as `events stats`
/// lists it).
pub fn worker(queue: RedisQueue, args: &WorkerArgs) -> Worker<RedisQueue> {
    Worker::new(queue, args.options())
}

/// Runs `worker`, forwarding the queue's events, until `stop` completes; then the POSTs in
/// flight finish and are acknowledged, and it returns.
pub async fn work(
    worker: Worker<RedisQueue>,
    forwarder: Forwarder,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), QueueError> {
    let Forwarder { http, to, signer } = forwarder;
    let signer = Arc::new(signer);
    let forward_one = move |event| {
        let (http, to, signer) = (http.clone(), to.clone(), signer.clone());
        async move { forward(&http, to, &signer, &event).await }
    };
    worker.run(forward_one, stop).await
}

/// POSTs `event` to the app, signed; `Ok` once it answered 2xx. The POST carries a
/// `traceparent` continuing the delivery's trace (the worker runs each event in it).
async fn forward(
    http: &reqwest::Client,
    to: reqwest::Url,
    signer: &Signer,
    event: &WebhookEvent,
) -> Result<(), String> {
    let body = serde_json::to_vec(event).map_err(|e| e.to_string())?;
    let timestamp = chrono::Utc::now().timestamp();
    let mut request = http.post(to);
    if let Some(trace) = TraceContext::current() {
        request = request.header(TRACEPARENT, trace.child().traceparent());
    }
    let request = request
        .header("content-type", "application/json")
        .header("webhook-id", &event.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            signer.signature(&event.id, timestamp, &body),
        )
        .body(body);
    send_to_app(request).await
}
/// Sends a POST to the app; `Ok` once it answered 2xx.
pub(crate) async fn send_to_app(request: reqwest::RequestBuilder) -> Result<(), String> {
    let response = request
        .send()
        .await
        // Not the URL: it may hold credentials.
        .map_err(|e| format!("the app did not answer: {}", e.without_url()))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the app answered {status}"))
    }
}
