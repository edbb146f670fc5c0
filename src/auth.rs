//! Credentials, and the app access token.
//!
//! - An **API key** is sent raw in `Authorization`, with the site in `wix-site-id` (Inbox is
//!   site-level).
//! - An **app** (OAuth client credentials) trades its ID, secret and the instance ID of its
//!   installation on a site for an access token at `POST {base}/oauth2/token`, and sends the
//!   token raw in `Authorization`. The token is kept and reused until shortly before it expires
//!   (the last tenth of its life, at most 5 minutes); then the next call gets a new one. Callers
//!   that need a token at the same time wait for one request to the token endpoint rather than
//!   each sending their own. A 401 answer gets one new token and one retry (see
//!   [`retry`](mod@crate::retry)).
//!
//! No credential appears in `Debug` output, an [`Error`] or a tracing event.

use std::{
    fmt,
    sync::{
        atomic::{AtomicU64, Ordering},
        PoisonError, RwLock,
    },
    time::Duration,
};

use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};
use tokio::time::Instant;
use tracing::{field::Empty, Instrument};

use crate::{
    error::{self, Error, ErrorKind},
    retry::{self, RetryPolicy},
    types,
};

const SITE_ID: HeaderName = HeaderName::from_static("wix-site-id");
/// The lifetime Wix gives a token, used when the token endpoint does not say.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(14_400);
const MAX_RENEW_MARGIN: Duration = Duration::from_secs(300);

/// How requests are authorized.
pub(crate) enum Auth {
    /// Nothing is added (a proxy adds credentials, or a fake needs none).
    None,
    /// `Authorization: <key>` and `wix-site-id: <site>`.
    ApiKey {
        authorization: HeaderValue,
        site_id: HeaderValue,
    },
    /// `Authorization: <access token>` of an app.
    App(App),
}

impl Auth {
    pub(crate) fn api_key(key: &str, site_id: &str) -> Result<Self, Error> {
        let mut authorization = HeaderValue::from_str(key)
            .map_err(|_| Error::config("the API key is not a valid HTTP header value"))?;
        authorization.set_sensitive(true);
        let site_id = HeaderValue::from_str(site_id)
            .map_err(|_| Error::config("the site ID is not a valid HTTP header value"))?;
        Ok(Self::ApiKey {
            authorization,
            site_id,
        })
    }

    pub(crate) fn app(token_url: String, app_id: String, secret: String, instance: String) -> Self {
        Self::App(App {
            token_url,
            app_id,
            secret,
            instance_id: instance,
            token: RwLock::new(None),
            renewal: tokio::sync::Mutex::new(None),
            sequences: AtomicU64::new(0),
        })
    }

    /// The app secret, to keep out of what an error shows.
    pub(crate) fn secret(&self) -> Option<&[u8]> {
        match self {
            Self::App(app) => Some(app.secret.as_bytes()),
            _ => None,
        }
    }

    /// Adds the credentials to a request, getting an app token first if none is fresh.
    pub(crate) async fn authorize(
        &self,
        http: &reqwest::Client,
        policy: &RetryPolicy,
        request: &mut reqwest::Request,
    ) -> Result<(), Error> {
        let headers = request.headers_mut();
        match self {
            Self::None => {}
            Self::ApiKey {
                authorization,
                site_id,
            } => {
                headers.insert(AUTHORIZATION, authorization.clone());
                headers.insert(SITE_ID, site_id.clone());
            }
            Self::App(app) => {
                let token = match app.fresh(None) {
                    Some(token) => token,
                    // Boxed: a rare path, kept out of the size of every call's future.
                    None => Box::pin(app.token(http, policy, None)).await?,
                };
                headers.insert(AUTHORIZATION, token);
            }
        }
        Ok(())
    }

    /// Whether a 401 can be answered by getting a new token.
    pub(crate) fn renews(&self) -> bool {
        matches!(self, Self::App(_))
    }

    /// A token other than `stale` (the one a 401 refused): the one another caller got meanwhile,
    /// or a new one.
    pub(crate) async fn renew(
        &self,
        http: &reqwest::Client,
        policy: &RetryPolicy,
        stale: Option<&HeaderValue>,
    ) -> Result<HeaderValue, Error> {
        match self {
            Self::App(app) => app.token(http, policy, stale).await,
            _ => Err(Error::new(ErrorKind::Token).with_message("no app credentials")),
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::ApiKey { site_id, .. } => f
                .debug_struct("ApiKey")
                .field("key", &"<redacted>")
                .field("site_id", site_id)
                .finish(),
            Self::App(app) => f
                .debug_struct("App")
                .field("app_id", &app.app_id)
                .field("secret", &"<redacted>")
                .field("instance_id", &app.instance_id)
                .field("token_url", &app.token_url)
                .finish(),
        }
    }
}

/// An app's credentials and its current access token.
pub(crate) struct App {
    token_url: String,
    app_id: String,
    secret: String,
    instance_id: String,
    token: RwLock<Option<Token>>,
    /// Held while a token is requested, so that concurrent callers share one attempt sequence;
    /// it keeps how the last sequence failed, for the callers that waited for it.
    renewal: tokio::sync::Mutex<Option<Error>>,
    /// How many attempt sequences have ended.
    sequences: AtomicU64,
}

struct Token {
    authorization: HeaderValue,
    renew_at: Instant,
}

impl App {
    async fn token(
        &self,
        http: &reqwest::Client,
        policy: &RetryPolicy,
        stale: Option<&HeaderValue>,
    ) -> Result<HeaderValue, Error> {
        let ended_before = self.sequences.load(Ordering::Acquire);
        if let Some(token) = self.fresh(stale) {
            return Ok(token);
        }
        let mut last_failure = self.renewal.lock().await;
        // Another caller may have got one while this one waited...
        if let Some(token) = self.fresh(stale) {
            return Ok(token);
        }
        // ... or failed to: its failure is this caller's too, rather than a sequence of its own
        // (an outage is not multiplied by the callers).
        if self.sequences.load(Ordering::Acquire) != ended_before {
            if let Some(failure) = last_failure.as_ref() {
                return Err(failure.clone());
            }
        }
        let outcome = self.request(http, policy).await;
        let outcome = match outcome {
            Ok(token) => {
                let authorization = token.authorization.clone();
                *self.token.write().unwrap_or_else(PoisonError::into_inner) = Some(token);
                *last_failure = None;
                Ok(authorization)
            }
            Err(e) => {
                *last_failure = Some(e.clone());
                Err(e)
            }
        };
        self.sequences.fetch_add(1, Ordering::Release);
        outcome
    }

    fn fresh(&self, stale: Option<&HeaderValue>) -> Option<HeaderValue> {
        let token = self.token.read().unwrap_or_else(PoisonError::into_inner);
        token
            .as_ref()
            .filter(|t| Instant::now() < t.renew_at && Some(&t.authorization) != stale)
            .map(|t| t.authorization.clone())
    }

    /// `POST /oauth2/token`, retried like a safe operation.
    async fn request(&self, http: &reqwest::Client, policy: &RetryPolicy) -> Result<Token, Error> {
        let body = types::OAuthTokenRequest {
            grant_type: "client_credentials".to_string(),
            client_id: self.app_id.clone(),
            client_secret: self.secret.clone().into(),
            instance_id: self.instance_id.clone(),
        };
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let span = tracing::info_span!(
                "wix_inbox.token",
                attempt,
                status = Empty,
                request_id = Empty
            );
            let sent = async {
                let response = http.post(&self.token_url).json(&body).send().await?;
                let (parts, body) = http::Response::from(response).into_parts();
                let body = retry::read_limited(&parts.headers, body, MAX_TOKEN_ANSWER).await?;
                Ok::<_, reqwest::Error>((parts.status, parts.headers, body))
            }
            .instrument(span.clone())
            .await;
            let (error, asked) = match sent {
                Ok((status, headers, body)) => {
                    span.record("status", status.as_u16());
                    if let Some(id) = error::request_id(&headers) {
                        span.record("request_id", id.as_str());
                    }
                    let Some(body) = body else {
                        let mut e = Error::from_answer(ErrorKind::Token, status, &headers, None);
                        e = e.with_message(format!(
                            "the token endpoint's answer is larger than {MAX_TOKEN_ANSWER} bytes"
                        ));
                        return Err(e.with_attempts(attempt));
                    };
                    if status.is_success() {
                        return read_token(&body, &headers, attempt);
                    }
                    let body = retry::redact(body, [self.secret.as_bytes()]);
                    let wix_says = serde_json::from_slice(&body).ok();
                    let e = Error::from_answer(ErrorKind::Token, status, &headers, wix_says);
                    let asked = retry::retry_after(&headers);
                    let again = retry::is_retryable_status(status);
                    (e, again.then_some(asked))
                }
                Err(e) => {
                    let e =
                        Error::from_reqwest(e).with_message("while getting an app access token");
                    (e, Some(None))
                }
            };
            let error = error.with_attempts(attempt);
            let wait = asked.and_then(|asked| policy.delay(attempt, asked, started.elapsed()));
            let Some(wait) = wait else {
                return Err(error);
            };
            span.in_scope(|| tracing::info!(wait_ms = wait.as_millis() as u64, "retrying"));
            tokio::time::sleep(wait).await;
        }
    }
}

/// The largest answer of the token endpoint read, in bytes; a token answer is a few hundred.
const MAX_TOKEN_ANSWER: usize = 64 * 1024;

fn read_token(
    body: &[u8],
    headers: &reqwest::header::HeaderMap,
    attempts: u32,
) -> Result<Token, Error> {
    let unreadable = |what: &str| {
        let mut e = Error::from_answer(ErrorKind::Token, reqwest::StatusCode::OK, headers, None);
        e = e.with_message(format!("the token endpoint's answer {what}"));
        e.with_attempts(attempts)
    };
    // The serde error is left out: its text could quote the token.
    let answer: types::OAuthTokenResponse =
        serde_json::from_slice(body).map_err(|_| unreadable("is not the JSON expected"))?;
    let mut authorization = HeaderValue::from_str(answer.access_token.expose())
        .map_err(|_| unreadable("holds a token that is not a valid HTTP header value"))?;
    authorization.set_sensitive(true);
    let lifetime = answer
        .expires_in
        .map(|s| s.get())
        .filter(|s| *s > 0)
        .map_or(DEFAULT_LIFETIME, |s| {
            Duration::from_secs(s.unsigned_abs().into())
        });
    let margin = (lifetime / 10).min(MAX_RENEW_MARGIN);
    Ok(Token {
        authorization,
        renew_at: Instant::now() + lifetime - margin,
    })
}
