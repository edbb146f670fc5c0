//! Credentials, and the app access token of one instance kept between calls.
//!
//! - An **API key** is sent raw in `Authorization`, with the site in `wix-site-id` (Inbox is
//!   site-level). The key is the account's: one key serves every site of the account, each
//!   call naming its site.
//! - An **app** (OAuth client credentials) trades its ID, secret and the instance ID of one of
//!   its installations for an access token at the [token endpoint](super::token), and sends the
//!   token raw in `Authorization`. Each instance has its own token, kept in its [`TokenSlot`]
//!   and reused until shortly before it expires (the last tenth of its life, at most 5
//!   minutes); then the next call gets a new one. Callers that need an instance's token at the
//!   same time wait for the one caller getting it: they share its attempts, whether they end in
//!   a token or in a failure. A 401 response gets one new token and one retry.
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

use reqwest::header::HeaderValue;
use tokio::time::Instant;

use super::{
    error::Error,
    fleet::{FleetStore, SharedToken},
    policy::RetryPolicy,
    token::TokenEndpoint,
};

/// The longest a token is renewed before it expires.
const MAX_RENEW_MARGIN: Duration = Duration::from_secs(300);

/// How requests are authorized: what every site or instance of a client shares.
pub(crate) enum Credentials {
    /// Nothing is added (a proxy adds credentials, or a fake needs none).
    None,
    /// `Authorization: <key>`, with the site's `wix-site-id`.
    ApiKey { authorization: HeaderValue },
    /// `Authorization: <access token>` of one of the app's instances.
    App(TokenEndpoint),
}

impl Credentials {
    pub(crate) fn api_key(key: &str) -> Result<Self, Error> {
        let mut authorization = HeaderValue::from_str(key)
            .map_err(|_| Error::config("the API key is not a valid HTTP header value"))?;
        authorization.set_sensitive(true);
        Ok(Self::ApiKey { authorization })
    }

    /// The app secret, to keep out of what an error shows.
    pub(crate) fn secret(&self) -> Option<&[u8]> {
        match self {
            Self::App(app) => Some(app.secret.as_bytes()),
            _ => None,
        }
    }

    /// Whether a 401 can be answered by getting a new token.
    pub(crate) fn renews(&self) -> bool {
        matches!(self, Self::App(_))
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::ApiKey { .. } => f
                .debug_struct("ApiKey")
                .field("key", &"<redacted>")
                .finish(),
            Self::App(app) => f.debug_tuple("App").field(app).finish(),
        }
    }
}

/// The access token of one app instance.
#[derive(Default)]
pub(crate) struct TokenSlot {
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
    expires_at: Instant,
}

impl TokenSlot {
    /// A token that is fresh and not `stale` (the one a 401 refused), without waiting.
    pub(crate) fn fresh(&self, stale: Option<&HeaderValue>) -> Option<HeaderValue> {
        let token = self.token.read().unwrap_or_else(PoisonError::into_inner);
        token
            .as_ref()
            .filter(|t| Instant::now() < t.renew_at && Some(&t.authorization) != stale)
            .map(|t| t.authorization.clone())
    }

    /// The length of the kept token, in bytes (0 without one).
    pub(crate) fn bytes(&self) -> usize {
        let token = self.token.read().unwrap_or_else(PoisonError::into_inner);
        token.as_ref().map_or(0, |t| t.authorization.len())
    }

    /// How long the kept token still lives (`None` without one).
    pub(crate) fn lifetime_left(&self) -> Option<Duration> {
        let token = self.token.read().unwrap_or_else(PoisonError::into_inner);
        token
            .as_ref()
            .map(|t| t.expires_at.saturating_duration_since(Instant::now()))
    }

    /// A fresh token other than `stale`: the one kept, the one another caller got meanwhile,
    /// or a new one from `endpoint` for `instance_id`.
    pub(crate) async fn token(
        &self,
        endpoint: &TokenEndpoint,
        instance_id: &str,
        http: &reqwest::Client,
        policy: &RetryPolicy,
        stale: Option<&HeaderValue>,
        fleet: Option<&dyn FleetStore>,
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
        let fetched = match fleet {
            None => endpoint
                .request(http, policy, instance_id)
                .await
                .map(|token| token.shared()),
            Some(fleet) => fleet_fetch(fleet, endpoint, instance_id, http, policy, stale).await,
        };
        let outcome = match fetched.and_then(|token| Ok((Kept::from_shared(&token)?, token))) {
            Ok((kept, _)) => {
                let authorization = kept.authorization.clone();
                *self.token.write().unwrap_or_else(PoisonError::into_inner) = Some(kept);
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
}

impl super::token::Token {
    /// The token as the fleet keeps it: renewed in the last tenth of its life (at most
    /// [`MAX_RENEW_MARGIN`] before it expires).
    fn shared(self) -> SharedToken {
        let margin = (self.lifetime / 10).min(MAX_RENEW_MARGIN);
        SharedToken {
            authorization: self.authorization.to_str().unwrap_or_default().to_owned(),
            renew_in: self.lifetime - margin,
            expires_in: self.lifetime,
        }
    }
}

impl Kept {
    fn from_shared(token: &SharedToken) -> Result<Kept, Error> {
        let mut authorization = HeaderValue::from_str(&token.authorization).map_err(|_| {
            Error::new(super::error::ErrorKind::Token)
                .with_message("the fleet store holds a token that is not a header value")
        })?;
        authorization.set_sensitive(true);
        let now = Instant::now();
        Ok(Kept {
            authorization,
            renew_at: now + token.renew_in,
            expires_at: now + token.expires_in,
        })
    }
}

/// How long one process may hold the fleet's right to request an instance's token.
const FETCH_LEASE: Duration = Duration::from_secs(15);

/// How often a process waiting for another's token request looks for its result.
const FETCH_POLL: Duration = Duration::from_millis(25);

/// The instance's token for the fleet: the one the fleet keeps, or one this process requests
/// while holding the fleet's right to (the others wait for it, then read it). A store that
/// fails, or a right held past its lease, leaves this process to request one alone.
async fn fleet_fetch(
    fleet: &dyn FleetStore,
    endpoint: &TokenEndpoint,
    instance_id: &str,
    http: &reqwest::Client,
    policy: &RetryPolicy,
    stale: Option<&HeaderValue>,
) -> Result<SharedToken, Error> {
    let usable = |token: &Option<SharedToken>| {
        token
            .as_ref()
            .filter(|t| stale.is_none_or(|s| s.as_bytes() != t.authorization.as_bytes()))
            .cloned()
    };
    let deadline = Instant::now() + FETCH_LEASE;
    let alone = loop {
        let token = match fleet.token(instance_id).await {
            Ok(token) => token,
            Err(e) => break e,
        };
        if let Some(token) = usable(&token) {
            return Ok(token);
        }
        let lease = match fleet.begin_fetch(instance_id, FETCH_LEASE).await {
            Ok(lease) => lease,
            Err(e) => break e,
        };
        if let Some(lease) = lease {
            // Another process may have kept one between the look and the lease.
            let kept = fleet.token(instance_id).await.ok().flatten();
            let result = match usable(&kept) {
                Some(token) => Ok(token),
                None => endpoint
                    .request(http, policy, instance_id)
                    .await
                    .map(|token| token.shared()),
            };
            let keep = result.as_ref().ok().filter(|_| usable(&kept).is_none());
            if let Err(e) = fleet.finish_fetch(instance_id, lease, keep).await {
                tracing::warn!(error = %e, "the instance's token was not shared with the fleet");
            }
            return result;
        }
        if Instant::now() >= deadline {
            break super::fleet::FleetError(
                "another process held the right to request this token past its lease".into(),
            );
        }
        tokio::time::sleep(FETCH_POLL).await;
    };
    tracing::warn!(error = %alone, "requesting the instance's token without the fleet");
    endpoint
        .request(http, policy, instance_id)
        .await
        .map(|token| token.shared())
}
