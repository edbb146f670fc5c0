//! The receiver's queue mode: verify, append to a [`QueueStore`](crate::queue::QueueStore) in
//! one atomic step, answer 200 without waiting for any handler.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;

use crate::queue::{append_event, Appended, LaneKey, QueueError, QueueStore};
use crate::trace::TraceContext;
use crate::webhooks::WebhookEvent;

/// How long the queue has to store an event before the delivery is answered 503: 1 second
/// (Wix waits 1,250 ms).
pub const DEFAULT_INGEST_TIMEOUT: Duration = Duration::from_secs(1);

/// Appends one event: a queue behind a type-erased function (the receiver is not generic over
/// its queue).
pub(super) type Ingest =
    Arc<dyn Fn(WebhookEvent) -> BoxFuture<'static, Result<Appended, QueueError>> + Send + Sync>;

/// The [`Ingest`] of `store`, with `lane_key`.
pub(super) fn ingest<S: QueueStore>(store: Arc<S>, lane_key: LaneKey) -> Ingest {
    Arc::new(move |event| {
        let (store, lane_key) = (Arc::clone(&store), Arc::clone(&lane_key));
        Box::pin(async move { append_event(&*store, &lane_key, &event).await })
    })
}

/// Appends `event` and answers: 200 once it is stored (or was stored before), 503 when the
/// queue failed or did not answer within `timeout`. The append runs in a task of its own, so
/// that a sender that hangs up cannot cancel it half way (an append is one atomic script
/// anyway: it happened or it did not). The event is stored with the delivery's `trace`, for
/// the worker that handles it. With the answer, its reason for the metrics.
pub(super) async fn answer(
    ingest: &Ingest,
    event: WebhookEvent,
    trace: TraceContext,
    timeout: Duration,
) -> (Response, &'static str) {
    let event_id = event.id.clone();
    let appending = tokio::spawn(trace.scope(ingest(event)));
    match tokio::time::timeout(timeout, appending).await {
        Ok(Ok(Ok(Appended::New(entry)))) => {
            tracing::debug!(%event_id, %entry, "webhook queued");
            ((StatusCode::OK, "queued").into_response(), "queued")
        }
        Ok(Ok(Ok(Appended::Duplicate))) => {
            tracing::debug!(%event_id, "duplicate webhook dropped");
            ((StatusCode::OK, "duplicate").into_response(), "duplicate")
        }
        Ok(Ok(Err(error))) => {
            tracing::warn!(%event_id, %error, "webhook not queued; asking Wix to retry");
            let response = (
                StatusCode::SERVICE_UNAVAILABLE,
                "queue unavailable, retry later",
            );
            (response.into_response(), "queue_unavailable")
        }
        Ok(Err(_)) => {
            tracing::error!(%event_id, "the queue panicked; asking Wix to retry");
            let response = (StatusCode::INTERNAL_SERVER_ERROR, "webhook not processed");
            (response.into_response(), "panicked")
        }
        Err(_) => {
            tracing::warn!(%event_id, ?timeout, "the queue did not answer in time; asking Wix to retry");
            let response = (
                StatusCode::SERVICE_UNAVAILABLE,
                "queue too slow, retry later",
            );
            (response.into_response(), "queue_timeout")
        }
    }
}
