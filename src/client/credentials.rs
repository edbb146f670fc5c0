//! Credentials, and the app access token kept between calls.
//!
//! - An **API key** is sent raw in `Authorization`, with the site in `wix-site-id` (Inbox is
//!   site-level).
//! - An **app** (OAuth client credentials) trades its ID, secret and the instance ID of its
//!   installation on a site for an access token at the [token endpoint](super::token), and
//!   sends the token raw in `Authorization`. The token is kept and reused until shortly before
//!   it expires (the last tenth of its life, at most 5 minutes); then the next call gets a new
//!   one. Callers that need a token at the same time wait for the one caller getting it: they
//!   share its attempts, whether they end in a token or in a failure. A 401 response gets one
//!   new token and one retry.
//!
//! No credential appears in `Debug` output, an error or a tracing event.

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

use super::{
    error::{Error, ErrorKind},
    policy::RetryPolicy,
    token::TokenEndpoint,
};

const SITE_ID: HeaderName = HeaderName::from_static("wix-site-id");
/// The longest a token is renewed before it expires.
const MAX_RENEW_MARGIN: Duration = Duration::from_secs(300);

/// How requests are authorized.
pub(crate) enum Credentials {
    /// Nothing is added (a proxy adds credentials, or a fake needs none).
    None,
    /// `Authorization: <key>` and `wix-site-id: <site>`.
    ApiKey {
        authorization: HeaderValue,
        site_id: HeaderValue,
    },
    /// `Authorization: <access token>` of an app.
    App(TokenCache),
}

impl Credentials {
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

    pub(crate) fn app(endpoint: TokenEndpoint) -> Self {
        Self::App(TokenCache {
            endpoint,
            token: RwLock::new(None),
            renewal: tokio::sync::Mutex::new(None),
            sequences: AtomicU64::new(0),
        })
    }

    /// The app secret, to keep out of what an error shows.
    pub(crate) fn secret(&self) -> Option<&[u8]> {
        match self {
            Self::App(app) => Some(app.endpoint.secret.as_bytes()),
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

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::ApiKey { site_id, .. } => f
                .debug_struct("ApiKey")
                .field("key", &"<redacted>")
                .field("site_id", site_id)
                .finish(),
            Self::App(app) => f.debug_tuple("App").field(&app.endpoint).finish(),
        }
    }
}

/// An app's token endpoint and its current access token.
pub(crate) struct TokenCache {
    endpoint: TokenEndpoint,
    token: RwLock<Option<Kept>>,
    /// Held while a token is requested, so that concurrent callers share one attempt sequence;
    /// it keeps how the last sequence failed, for the callers that waited for it.
    renewal: tokio::sync::Mutex<Option<Error>>,
    /// How many attempt sequences have ended.
    sequences: AtomicU64,
}

/// A token, and when to stop using it.
struct Kept {
    authorization: HeaderValue,
    renew_at: Instant,
}

impl TokenCache {
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
        let outcome = match self.endpoint.request(http, policy).await {
            Ok(token) => {
                let margin = (token.lifetime / 10).min(MAX_RENEW_MARGIN);
                let kept = Kept {
                    authorization: token.authorization.clone(),
                    renew_at: Instant::now() + token.lifetime - margin,
                };
                *self.token.write().unwrap_or_else(PoisonError::into_inner) = Some(kept);
                *last_failure = None;
                Ok(token.authorization)
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
}
