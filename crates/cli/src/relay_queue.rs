//! `webhook relay --queue`: Wix is answered once the event is stored in the Redis queue; a
//! worker forwards each event to the app, signed the Standard Webhooks way, with retries,
//! backoff and dead letters. Each POST carries a `traceparent` in the delivery's trace, and
//! with `--metrics-listen` the queue's metrics (`wix_inbox_queue_*`) are served with the
//! receiver's.

use std::path::Path;

use aws_lc_rs::hmac;
use base64::Engine as _;
use wix_inbox::queue::{Worker, WorkerOptions};
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
                "--queue needs --signing-secret-file or WIX_INBOX_SIGNING_SECRET".to_owned(),
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

/// Runs a worker forwarding the queue's events to `to` until `stopped` turns true.
pub async fn work(
    queue: wix_inbox::redis::RedisQueue,
    http: reqwest::Client,
    to: reqwest::Url,
    signer: Signer,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let signer = std::sync::Arc::new(signer);
    let worker = Worker::new(queue, WorkerOptions::new());
    let run = worker.run(
        move |event| {
            let (http, to, signer) = (http.clone(), to.clone(), signer.clone());
            async move { forward(&http, to, &signer, &event).await }
        },
        async move {
            let _ = stopped.wait_for(|&stop| stop).await;
        },
    );
    if let Err(error) = run.await {
        tracing::warn!(%error, "the worker stopped with an error");
    }
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
