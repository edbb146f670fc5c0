//! Retries: when a request is tried again, how long the client waits first, and the loop that
//! sends every request of the generated operations.
//!
//! What is retried:
//! - an answer 429, 503 or 504, and a connection that timed out or broke, for the operations
//!   that are safe to repeat: Get Conversation, List Messages, Get Or Create Conversation;
//! - a connection that could not be made at all, for every operation, Send Message included:
//!   the request provably never reached Wix. Send Message is retried for nothing else, so a
//!   message is never sent twice;
//! - a 401 of a client with app credentials, once, after getting a new access token (see
//!   [`auth`](crate::auth)); this does not count against [`RetryPolicy::max_attempts`].
//!
//! The wait before retry `n` is drawn uniformly from zero to `initial_backoff × 2ⁿ⁻¹`, capped
//! at `max_backoff` ("full jitter"), unless Wix sent `Retry-After`: then that is waited, if it
//! is no longer than `max_retry_after` (a longer one gives up at once and the error carries it).
//! No retry starts once `max_elapsed` would be exceeded.

use std::{
    hash::{BuildHasher, Hasher},
    time::{Duration, SystemTime},
};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use reqwest::{
    header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_LENGTH, RETRY_AFTER},
    ResponseBuilderExt as _, StatusCode,
};
use tokio::time::Instant;
use tracing::{field::Empty, Instrument};

use crate::{client::Transport, error};

/// How the client retries; see the [module](self) for what it retries.
///
/// ```
/// use std::time::Duration;
/// use wix_inbox::RetryPolicy;
///
/// let patient = RetryPolicy::default().max_attempts(5).max_elapsed(Duration::from_secs(120));
/// let never = RetryPolicy::disabled();
/// # let _ = (patient, never);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_elapsed: Duration,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 3 attempts, backoff from 250 ms up to 8 s, 60 s in all, `Retry-After` up to 30 s.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            max_elapsed: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries: every request is sent once (an app token is still renewed once on a 401).
    pub fn disabled() -> Self {
        Self::default().max_attempts(1)
    }

    /// Attempts in all, the first included (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The cap of the wait before the first retry; it doubles for each retry after.
    pub fn initial_backoff(mut self, wait: Duration) -> Self {
        self.initial_backoff = wait;
        self
    }

    /// The largest cap of a wait computed by backoff.
    pub fn max_backoff(mut self, wait: Duration) -> Self {
        self.max_backoff = wait;
        self
    }

    /// The time, from the first attempt, after which no retry starts.
    pub fn max_elapsed(mut self, total: Duration) -> Self {
        self.max_elapsed = total;
        self
    }

    /// The longest `Retry-After` the client waits; a longer one gives up at once.
    pub fn max_retry_after(mut self, wait: Duration) -> Self {
        self.max_retry_after = wait;
        self
    }

    /// The wait before the next attempt, after `attempts` attempts were made `elapsed` ago; `None`
    /// to give up.
    pub(crate) fn delay(
        &self,
        attempts: u32,
        retry_after: Option<Duration>,
        elapsed: Duration,
    ) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let wait = match retry_after {
            Some(asked) if asked > self.max_retry_after => return None,
            Some(asked) => asked,
            None => {
                let doubling = 2u32.saturating_pow(attempts.saturating_sub(1));
                full_jitter(
                    self.initial_backoff
                        .saturating_mul(doubling)
                        .min(self.max_backoff),
                )
            }
        };
        elapsed
            .checked_add(wait)
            .is_some_and(|total| total <= self.max_elapsed)
            .then_some(wait)
    }
}

/// A wait drawn uniformly from `0..=cap`.
fn full_jitter(cap: Duration) -> Duration {
    // A fresh `RandomState` is randomly keyed: enough randomness for jitter, without a dependency.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(random % nanos.saturating_add(1))
}

/// The statuses that say "try again later": 429, 503, 504.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

/// `Retry-After` in seconds or as an HTTP date (any of its three forms); a date in the past is
/// no wait.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

/// Secrets shorter than this are not looked for in answers: replacing every occurrence of a few
/// characters would garble the text, and real keys, secrets and tokens are far longer.
const MIN_REDACTED: usize = 8;

/// `body` with each occurrence of each secret replaced by `***`: what an error answer echoes of
/// the credentials never reaches an [`Error`](crate::Error).
pub(crate) fn redact<'a>(mut body: Bytes, secrets: impl IntoIterator<Item = &'a [u8]>) -> Bytes {
    for secret in secrets {
        if secret.len() < MIN_REDACTED || memchr::memmem::find(&body, secret).is_none() {
            continue;
        }
        let mut out = Vec::with_capacity(body.len());
        let mut rest = &body[..];
        while let Some(at) = memchr::memmem::find(rest, secret) {
            out.extend_from_slice(&rest[..at]);
            out.extend_from_slice(b"***");
            rest = &rest[at + secret.len()..];
        }
        out.extend_from_slice(rest);
        body = out.into();
    }
    body
}

/// Whether an operation may be sent twice without doing something twice: a GET, or what the
/// spec marks `x-wix-idempotent` (Get Or Create Conversation).
pub(crate) fn is_repeatable(operation: &str) -> bool {
    crate::generated::OPERATIONS
        .iter()
        .any(|&(id, _, repeatable)| id == operation && repeatable)
}

enum Next {
    Done,
    RenewToken,
    Retry(Option<Duration>),
}

/// Sends `request` of `operation`, retrying and renewing the app token as the module says.
/// Returns the last answer, its body read in full.
pub(crate) async fn execute(
    http: &reqwest::Client,
    transport: &Transport,
    mut request: reqwest::Request,
    operation: &'static str,
) -> reqwest::Result<reqwest::Response> {
    let policy = transport.retry();
    let repeatable = is_repeatable(operation);
    let started = Instant::now();
    let mut token_renewed = false;
    let mut retries = 0;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let spare = request.try_clone();
        let span = tracing::info_span!(
            "wix_inbox.request",
            operation,
            attempt,
            method = %request.method(),
            status = Empty,
            request_id = Empty,
        );
        let outcome = send(
            http,
            request,
            transport.max_response_size(),
            transport.auth(),
        )
        .instrument(span.clone())
        .await;
        let next = match &outcome {
            Ok(response) => {
                let status = response.status();
                let request_id = response.headers().get(error::REQUEST_ID).cloned();
                let wait = (!status.is_success())
                    .then(|| retry_after(response.headers()))
                    .flatten();
                span.record("status", status.as_u16());
                if let Some(id) = request_id.as_ref().and_then(|id| id.to_str().ok()) {
                    span.record("request_id", id);
                }
                error::record(|call| {
                    call.attempts = attempt;
                    call.status = Some(status);
                    call.request_id = request_id;
                    call.retry_after = wait;
                });
                if status == StatusCode::UNAUTHORIZED && !token_renewed && transport.auth().renews()
                {
                    Next::RenewToken
                } else if repeatable && is_retryable_status(status) {
                    Next::Retry(wait)
                } else {
                    Next::Done
                }
            }
            Err(e) => {
                span.in_scope(|| tracing::debug!(error = %e, "request failed"));
                error::record(|call| {
                    call.attempts = attempt;
                    call.status = None;
                    call.request_id = None;
                    call.retry_after = None;
                });
                let never_sent = e.is_connect();
                if never_sent || (repeatable && !e.is_builder()) {
                    Next::Retry(None)
                } else {
                    Next::Done
                }
            }
        };
        let Some(mut spare) = spare else {
            return outcome;
        };
        match next {
            Next::Done => return outcome,
            Next::RenewToken => {
                token_renewed = true;
                let stale = spare.headers().get(AUTHORIZATION).cloned();
                // Boxed: a rare path, kept out of the size of every call's future.
                let renewal = Box::pin(transport.auth().renew(http, policy, stale.as_ref()));
                match renewal.await {
                    Ok(fresh) => {
                        spare.headers_mut().insert(AUTHORIZATION, fresh);
                    }
                    Err(e) => {
                        error::record(|call| call.token_error = Some(e));
                        return outcome;
                    }
                }
            }
            Next::Retry(asked) => {
                retries += 1;
                let Some(wait) = policy.delay(retries, asked, started.elapsed()) else {
                    return outcome;
                };
                span.in_scope(|| tracing::info!(wait_ms = wait.as_millis() as u64, "retrying"));
                tokio::time::sleep(wait).await;
            }
        }
        request = spare;
    }
}

/// The default limit on the body of one answer: 16 MiB. Wix's answers are kilobytes (a page of
/// 100 messages is well under 1 MiB).
pub(crate) const DEFAULT_MAX_RESPONSE_SIZE: usize = 16 * 1024 * 1024;

/// An answer whose body passed the client's limit; it was not read further.
#[derive(Debug)]
pub(crate) struct AnswerTooLarge {
    pub(crate) limit: usize,
}

impl std::fmt::Display for AnswerTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the answer is larger than the limit of {} bytes",
            self.limit
        )
    }
}

impl std::error::Error for AnswerTooLarge {}

/// Sends one request and reads the whole answer, so that a connection that breaks mid-answer is
/// seen here, where it can be retried. An error answer with an empty body (usual for 5xx) gets
/// the body `{}`: Wix's error JSON with every (optional) part absent.
///
/// No more than `limit` bytes of body are read (a `Content-Length` over it is refused before
/// any): an answer over it keeps its status and headers, and its body fails with
/// [`AnswerTooLarge`] when the generated code reads it.
async fn send(
    http: &reqwest::Client,
    request: reqwest::Request,
    limit: usize,
    auth: &crate::auth::Auth,
) -> reqwest::Result<reqwest::Response> {
    let authorization = request.headers().get(AUTHORIZATION).cloned();
    let response = http.execute(request).await?;
    let url = response.url().clone();
    let (mut parts, body) = http::Response::from(response).into_parts();
    let Some(mut body) = read_limited(&parts.headers, body, limit).await? else {
        parts.headers.remove(CONTENT_LENGTH);
        let failing = http_body_util::StreamBody::new(futures_util::stream::iter([Err::<
            http_body::Frame<Bytes>,
            _,
        >(
            AnswerTooLarge { limit },
        )]));
        return Ok(rebuild(parts, url, reqwest::Body::wrap(failing)));
    };
    if !parts.status.is_success() && body.iter().all(u8::is_ascii_whitespace) {
        parts.headers.remove(CONTENT_LENGTH);
        body = Bytes::from_static(b"{}");
    } else if !parts.status.is_success() {
        let secrets = authorization.as_ref().map(HeaderValue::as_bytes);
        parts.headers.remove(CONTENT_LENGTH);
        body = redact(body, secrets.into_iter().chain(auth.secret()));
    }
    Ok(rebuild(parts, url, body.into()))
}

/// The whole body of an answer, or `None` when it is longer than `limit` bytes: a declared
/// `Content-Length` over the limit is refused before any of the body is read, and no more than
/// `limit` bytes are read otherwise. A single-chunk body is not copied.
pub(crate) async fn read_limited(
    headers: &HeaderMap,
    body: reqwest::Body,
    limit: usize,
) -> reqwest::Result<Option<Bytes>> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Ok(None);
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(Some(collected.to_bytes())),
        Err(e) => match e.downcast::<reqwest::Error>() {
            Ok(e) => Err(*e),
            // The other error `Limited` knows: the body passed the limit.
            Err(_) => Ok(None),
        },
    }
}

/// The answer again, from its parts and a body.
fn rebuild(
    mut parts: http::response::Parts,
    url: reqwest::Url,
    body: reqwest::Body,
) -> reqwest::Response {
    // Keeping the URL spares `reqwest::Response::from` parsing a placeholder one.
    if let Ok(with_url) = http::Response::builder().url(url).body(()) {
        parts.extensions.extend(with_url.into_parts().0.extensions);
    }
    http::Response::from_parts(parts, body).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn policy() -> RetryPolicy {
        RetryPolicy::default()
            .max_attempts(10)
            .initial_backoff(100 * MS)
            .max_backoff(1000 * MS)
            .max_elapsed(Duration::from_secs(60))
            .max_retry_after(Duration::from_secs(5))
    }

    #[test]
    fn backoff_is_full_jitter_under_a_doubling_cap() {
        // The cap before retry n is initial × 2ⁿ⁻¹, at most max_backoff; the wait is in 0..=cap.
        for (attempts, cap) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (9, 1000)] {
            let waits: Vec<_> = (0..200)
                .map(|_| policy().delay(attempts, None, Duration::ZERO).unwrap())
                .collect();
            assert!(
                waits.iter().all(|w| *w <= cap * MS),
                "{attempts}: {waits:?}"
            );
            // Jitter: the waits spread over the range rather than sit at one value.
            let above_half = waits.iter().filter(|w| **w > cap * MS / 2).count();
            assert!((40..=160).contains(&above_half), "{attempts}: {above_half}");
        }
    }

    #[test]
    fn attempts_and_total_time_bound_the_retries() {
        assert_eq!(policy().delay(10, None, Duration::ZERO), None);
        assert!(policy().delay(9, None, Duration::ZERO).is_some());
        let late = Duration::from_secs(60) - 50 * MS;
        assert_eq!(policy().delay(1, Some(100 * MS), late), None);
        assert_eq!(policy().delay(1, Some(10 * MS), late), Some(10 * MS));
    }

    #[test]
    fn retry_after_is_waited_as_asked_up_to_its_bound() {
        assert_eq!(
            policy().delay(1, Some(Duration::from_secs(5)), Duration::ZERO),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            policy().delay(1, Some(Duration::from_secs(6)), Duration::ZERO),
            None,
            "longer than max_retry_after: give up at once"
        );
        assert_eq!(
            policy().delay(1, Some(Duration::ZERO), Duration::ZERO),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn no_wait_overflows() {
        let unbounded = policy()
            .max_retry_after(Duration::MAX)
            .max_elapsed(Duration::MAX)
            .max_backoff(Duration::MAX)
            .initial_backoff(Duration::MAX);
        assert_eq!(
            unbounded.delay(1, Some(Duration::MAX), Duration::from_secs(1)),
            None
        );
        assert!(unbounded.delay(9, None, Duration::ZERO).is_some());
        assert_eq!(RetryPolicy::disabled().delay(1, None, Duration::ZERO), None);
    }

    #[test]
    fn the_defaults_are_pinned() {
        // 3 attempts, 60 s in all, `Retry-After` waited up to 30 s.
        let d = RetryPolicy::default();
        let asked = |secs| Some(Duration::from_secs(secs));
        assert!(d.delay(2, None, Duration::ZERO).is_some());
        assert_eq!(d.delay(3, None, Duration::ZERO), None, "3 attempts");
        assert_eq!(d.delay(1, asked(30), Duration::ZERO), asked(30));
        assert_eq!(d.delay(1, asked(31), Duration::ZERO), None, "30 s cap");
        assert_eq!(
            d.delay(1, asked(10), Duration::from_secs(50)),
            asked(10),
            "60 s in all"
        );
        assert_eq!(d.delay(1, asked(10), Duration::from_secs(50) + MS), None);
        // Backoff: the first wait at most 250 ms, the second at most 500 ms.
        for _ in 0..50 {
            assert!(d.delay(1, None, Duration::ZERO).unwrap() <= 250 * MS);
            assert!(d.delay(2, None, Duration::ZERO).unwrap() <= 500 * MS);
        }
    }

    fn retry_after_of(value: &str) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, value.parse().unwrap());
        retry_after(&headers)
    }

    #[test]
    fn a_retry_after_date_in_the_past_is_no_wait_in_every_date_form() {
        for past in [
            "Sun, 06 Nov 1994 08:49:37 GMT",  // IMF-fixdate
            "Sunday, 06-Nov-94 08:49:37 GMT", // RFC 850
            "Sun Nov  6 08:49:37 1994",       // asctime
        ] {
            assert_eq!(retry_after_of(past), Some(Duration::ZERO), "{past}");
        }
    }

    #[test]
    fn a_retry_after_date_in_the_future_is_waited_for() {
        let at = std::time::SystemTime::now() + Duration::from_secs(120);
        let wait = retry_after_of(&httpdate::fmt_http_date(at)).unwrap();
        assert!(
            wait > Duration::from_secs(118) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        assert_eq!(retry_after_of("7"), Some(Duration::from_secs(7)));
        assert_eq!(retry_after_of("soon"), None);
        assert_eq!(retry_after_of("-1"), None);
    }
}
