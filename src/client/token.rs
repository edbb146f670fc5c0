//! The app token endpoint: `POST {base}/oauth2/token` with the app's ID, secret and instance
//! ID, tried through the [attempt loop](super::attempts) like an operation that may be repeated.
//! Keeping the token is the [credentials](super::credentials)' business.

use std::{fmt, time::Duration};

use reqwest::header::HeaderValue;
use tracing::{field::Empty, Span};

use super::{
    attempts::{self, Attempt, Step},
    error::{Error, ErrorKind},
    http,
    policy::RetryPolicy,
};
use crate::types;

/// The lifetime Wix gives a token, used when the token endpoint does not say.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(14_400);

/// The largest response of the token endpoint read, in bytes; a token response is a few
/// hundred.
const MAX_TOKEN_RESPONSE: usize = 64 * 1024;

/// Where and as whom an app gets its access tokens (for any of its instances).
pub(crate) struct TokenEndpoint {
    pub(crate) url: String,
    pub(crate) app_id: String,
    pub(crate) secret: String,
}

/// An access token, ready to be sent in `Authorization`, and how long it lives.
pub(crate) struct Token {
    pub(crate) authorization: HeaderValue,
    pub(crate) lifetime: Duration,
}

impl TokenEndpoint {
    /// A new token for the app's instance `instance_id`, or why none could be had.
    pub(crate) async fn request(
        &self,
        http: &reqwest::Client,
        policy: &RetryPolicy,
        instance_id: &str,
    ) -> Result<Token, Error> {
        let body = types::OAuthTokenRequest {
            grant_type: "client_credentials".to_string(),
            client_id: self.app_id.clone(),
            client_secret: self.secret.clone().into(),
            instance_id: instance_id.to_owned(),
        };
        let attempt = TokenAttempt {
            endpoint: self,
            http,
            body: &body,
        };
        attempts::with_retries(policy, attempt, ()).await
    }
}

impl fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenEndpoint")
            .field("url", &self.url)
            .field("app_id", &self.app_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// One request to the token endpoint.
struct TokenAttempt<'a> {
    endpoint: &'a TokenEndpoint,
    http: &'a reqwest::Client,
    body: &'a types::OAuthTokenRequest,
}

impl Attempt for TokenAttempt<'_> {
    type Input = ();
    type Outcome = Result<Token, Error>;

    fn operation(&self) -> &'static str {
        "token"
    }

    fn span(&self, attempt: u32) -> Span {
        tracing::info_span!(
            "wix_inbox.token",
            attempt,
            status = Empty,
            request_id = Empty
        )
    }

    async fn attempt(&mut self, n: u32, _: (), span: &Span) -> Step<(), Self::Outcome> {
        let sent = async {
            let response = self
                .http
                .post(&self.endpoint.url)
                .json(self.body)
                .send()
                .await?;
            let url = response.url().clone();
            let (parts, body) = ::http::Response::from(response).into_parts();
            let body = http::read_limited(&parts.headers, body, MAX_TOKEN_RESPONSE).await?;
            Ok::<_, reqwest::Error>((url, parts.status, parts.headers, body))
        }
        .await;
        let (url, status, headers, body) = match sent {
            Ok(sent) => sent,
            Err(e) => {
                crate::metrics::token_request(None, false);
                let e = Error::from_reqwest(e).with_message("while getting an app access token");
                return retry(Err(e.with_attempts(n)), None);
            }
        };
        span.record("status", status.as_u16());
        if let Some(id) = http::request_id(&headers) {
            span.record("request_id", id.as_str());
        }
        let Some(body) = body else {
            crate::metrics::token_request(Some(status.as_u16()), false);
            let e = Error::from_response(ErrorKind::Token, status, &headers, None).with_message(
                format!("the token endpoint's response is larger than {MAX_TOKEN_RESPONSE} bytes"),
            );
            return Step::Done(Err(e.with_attempts(n)));
        };
        if status.is_success() {
            let token = read_token(&body, &headers, n);
            crate::metrics::token_request(Some(status.as_u16()), token.is_ok());
            return Step::Done(token);
        }
        crate::metrics::token_request(Some(status.as_u16()), false);
        if status.is_redirection() {
            let e = Error::redirect("the token endpoint", status, &headers, &url);
            return Step::Done(Err(e.with_attempts(n)));
        }
        let body = http::redact(body, [self.endpoint.secret.as_bytes()]);
        let e = match serde_json::from_slice(&body) {
            Ok(wix_says) => {
                Error::from_response(ErrorKind::Token, status, &headers, Some(wix_says))
            }
            Err(_) if body.iter().all(u8::is_ascii_whitespace) => {
                Error::from_response(ErrorKind::Token, status, &headers, None)
            }
            Err(_) => Error::from_response(ErrorKind::Token, status, &headers, None)
                .with_body_not_json(&body),
        };
        let e = e.with_attempts(n);
        if http::is_retryable_status(status) {
            retry(Err(e), http::retry_after(&headers))
        } else {
            Step::Done(Err(e))
        }
    }
}

fn retry(
    outcome: Result<Token, Error>,
    retry_after: Option<Duration>,
) -> Step<(), Result<Token, Error>> {
    Step::Retry {
        outcome,
        retry_after,
        next: (),
    }
}

fn read_token(
    body: &[u8],
    headers: &reqwest::header::HeaderMap,
    attempts: u32,
) -> Result<Token, Error> {
    let unreadable = |what: &str| {
        Error::from_response(ErrorKind::Token, reqwest::StatusCode::OK, headers, None)
            .with_message(format!("the token endpoint's response {what}"))
            .with_attempts(attempts)
    };
    // The serde error is left out: its text could quote the token.
    let response: types::OAuthTokenResponse =
        serde_json::from_slice(body).map_err(|_| unreadable("is not the JSON expected"))?;
    let mut authorization = HeaderValue::from_str(response.access_token.expose())
        .map_err(|_| unreadable("holds a token that is not a valid HTTP header value"))?;
    authorization.set_sensitive(true);
    let lifetime = response
        .expires_in
        .map(|s| s.get())
        .filter(|s| *s > 0)
        .map_or(DEFAULT_LIFETIME, |s| {
            Duration::from_secs(s.unsigned_abs().into())
        });
    Ok(Token {
        authorization,
        lifetime,
    })
}
