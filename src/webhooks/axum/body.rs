//! Reading a delivery's body: within the size limit, and charging its buffer to the receiver's
//! budget of bytes not yet verified.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONNECTION, CONTENT_LENGTH};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::webhooks::WebhookError;

/// The most a body buffer reserves before its bytes arrive: Wix's webhooks are a few kilobytes.
const INITIAL_BUFFER: usize = 64 * 1024;

/// Reads the whole body, refusing more than `limit` bytes (by `Content-Length` first, then by
/// counting), and charging the bytes its buffer reserves to `budget`: the permits come back
/// with the body.
pub(super) async fn read_body(
    request: Request,
    limit: usize,
    budget: &Arc<Semaphore>,
) -> Result<(Vec<u8>, Charged), (Response, &'static str)> {
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
    let mut body = Vec::new();
    let mut charged = Charged(None);
    let initial = declared.unwrap_or(4096).min(limit).min(INITIAL_BUFFER);
    charged.grow(&mut body, initial, limit, budget)?;
    let mut stream = Body::into_data_stream(request.into_body());
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            let response = (StatusCode::BAD_REQUEST, "unreadable body").into_response();
            return Err((response, "unreadable_body"));
        };
        if body.len() + chunk.len() > limit {
            let size = body.len() + chunk.len();
            return Err(reject(&WebhookError::TooLarge { size, limit }));
        }
        let needed = body.len() + chunk.len();
        charged.grow(&mut body, needed, limit, budget)?;
        body.extend_from_slice(&chunk);
    }
    Ok((body, charged))
}

/// The bytes a body's buffer holds in the receiver's budget.
pub(super) struct Charged(Option<OwnedSemaphorePermit>);

impl Charged {
    /// Makes room in `body` for `needed` bytes (doubling, at most `limit`), charging what the
    /// buffer grows by; a 503 that closes the connection when the budget has not that much.
    // The answer is the error, as in `read_body`; the path is cold.
    #[allow(clippy::result_large_err)]
    fn grow(
        &mut self,
        body: &mut Vec<u8>,
        needed: usize,
        limit: usize,
        budget: &Arc<Semaphore>,
    ) -> Result<(), (Response, &'static str)> {
        if needed <= body.capacity() {
            return Ok(());
        }
        let capacity = needed
            .max(body.capacity().saturating_mul(2))
            .min(limit.max(needed));
        let more = capacity - body.capacity();
        let permit = u32::try_from(more)
            .ok()
            .and_then(|more| Arc::clone(budget).try_acquire_many_owned(more).ok())
            .ok_or_else(|| {
                tracing::warn!(bytes = more, "webhook body refused: the receiver's body budget is spent; asking the sender to retry");
                let response = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(CONNECTION, "close")],
                    "busy, retry later",
                );
                (response.into_response(), "body_budget")
            })?;
        match &mut self.0 {
            Some(held) => held.merge(permit),
            None => self.0 = Some(permit),
        }
        body.reserve_exact(capacity - body.len());
        Ok(())
    }
}

/// The answer to a refused delivery, and the error's kind. The detail goes to the log, not to
/// the sender.
pub(super) fn reject(err: &WebhookError) -> (Response, &'static str) {
    tracing::warn!(error = %err, "webhook refused");
    let status = StatusCode::from_u16(err.status_code()).unwrap_or(StatusCode::BAD_REQUEST);
    let text = match status {
        StatusCode::UNAUTHORIZED => "invalid webhook token",
        StatusCode::PAYLOAD_TOO_LARGE => "webhook body too large",
        StatusCode::BAD_REQUEST => "malformed webhook",
        _ => "webhook not processed",
    };
    ((status, text).into_response(), err.kind())
}
