//! Running a handler on one started entry, for the [`Worker`](super::Worker): its span and
//! trace, the lease renewed meanwhile, panics caught.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::time::Instant;
use tracing::Instrument as _;

use super::{HandlerError, QueueStore, StoredEntry};
use crate::text::Printable;
use crate::trace::TraceContext;
use crate::webhooks::WebhookEvent;

/// Runs the handler on one started entry, renewing its lock meanwhile, in a span
/// `wix_inbox.queue.handle` of the delivery's trace (a new trace for an entry without one):
/// [`TraceContext::current`] in the handler is that span's. Panics and entries that are not
/// events are failures. The run is timed for the metrics.
pub(super) async fn handle<S, H, Fut, E>(
    store: &S,
    consumer: &str,
    entry: &StoredEntry,
    delivery: u32,
    visibility: Duration,
    handler: &H,
) -> Result<(), String>
where
    S: QueueStore,
    H: Fn(WebhookEvent) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Into<HandlerError>,
{
    let trace = entry
        .trace
        .as_deref()
        .and_then(TraceContext::parse)
        .map_or_else(TraceContext::new_root, |parent| parent.child());
    let (trace_id, span_id) = trace.hex_ids();
    let span = tracing::info_span!(
        "wix_inbox.queue.handle",
        trace_id = %trace_id,
        span_id = %span_id,
        event_id = %entry.event_id,
        entry = %entry.id,
        delivery,
    );
    let started = Instant::now();
    let outcome = trace
        .scope(run_handler(store, consumer, entry, visibility, handler))
        .instrument(span)
        .await;
    crate::metrics::queue_handler_ran(outcome.is_ok(), started.elapsed());
    outcome
}

/// [`handle`]'s work.
async fn run_handler<S, H, Fut, E>(
    store: &S,
    consumer: &str,
    entry: &StoredEntry,
    visibility: Duration,
    handler: &H,
) -> Result<(), String>
where
    S: QueueStore,
    H: Fn(WebhookEvent) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Into<HandlerError>,
{
    let event: WebhookEvent = serde_json::from_str(&entry.json)
        .map_err(|e| format!("the stored entry is not an event: {e}"))?;
    let Ok(handled) = std::panic::catch_unwind(AssertUnwindSafe(|| handler(event))) else {
        return Err("the handler panicked".to_owned());
    };
    let handled = AssertUnwindSafe(handled).catch_unwind();
    tokio::pin!(handled);
    let mut renew = tokio::time::interval(visibility / 3);
    renew.tick().await;
    loop {
        tokio::select! {
            outcome = &mut handled => {
                return match outcome {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(error)) => Err(Printable(&error.into().to_string(), 1000).to_string()),
                    Err(_) => Err("the handler panicked".to_owned()),
                };
            }
            _ = renew.tick() => {
                if let Err(error) = store.renew(consumer, entry, visibility).await {
                    tracing::warn!(entry = %entry.id, %error, "cannot renew the lease");
                }
            }
        }
    }
}
