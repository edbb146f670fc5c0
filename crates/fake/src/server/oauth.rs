//! OAuth: `POST /oauth2/token` (client credentials) gives the app access tokens for each of its
//! instances, and [`authenticate`] tells who an Inbox call is from (an API key with its site,
//! or an app's token) and for which instance, or answers 401.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

use super::errors::{parse_json, violation, ApiError};
use super::Shared;
use crate::{Inner, IssuedToken};

// ---------------------------------------------------------------------------------------------
// The token endpoint

pub(super) async fn token(State(inner): State<Shared>, body: Bytes) -> Result<Response, ApiError> {
    let map = parse_json(&body)?;
    let field = |k: &str| map.get(k).and_then(Value::as_str).unwrap_or_default();
    let mut violations = Vec::new();
    for k in ["grant_type", "client_id", "client_secret", "instance_id"] {
        if field(k).is_empty() {
            violations.push(violation(k, &format!("{k} is required"), "REQUIRED_FIELD"));
        }
    }
    if !field("grant_type").is_empty() && field("grant_type") != "client_credentials" {
        violations.push(violation(
            "grant_type",
            "grant_type must be client_credentials",
            "INVALID_ENUM_VALUE",
        ));
    }
    if !violations.is_empty() {
        return Err(ApiError::validation(violations));
    }
    if field("client_id") != inner.config.app_id
        || field("client_secret") != inner.config.app_secret
    {
        return Err(ApiError::unauthorized("Invalid client_id or client_secret"));
    }
    let instance = inner
        .state()
        .instances
        .iter()
        .position(|i| i.instance_id == field("instance_id") && !i.removed);
    // A removed instance is answered as one the app was never installed on (Wix documents
    // no error of its own for it).
    let Some(instance) = instance else {
        return Err(ApiError::application(
            StatusCode::BAD_REQUEST,
            "INSTANCE_NOT_FOUND",
            "The app is not installed on this instance_id",
        ));
    };
    let token = format!("OauthNG.JWS.fake.{}", uuid::Uuid::new_v4().simple());
    let ttl = inner.config.token_ttl;
    let now = Instant::now();
    // A TTL too long for the clock is a token that does not expire (a century).
    let expiry = now
        .checked_add(ttl)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600));
    inner.state().tokens.insert(
        token.clone(),
        IssuedToken {
            expires: expiry,
            instance,
        },
    );
    Ok(Json(wix_inbox::types::OAuthTokenResponse {
        access_token: token.into(),
        token_type: Some("Bearer".to_owned()),
        expires_in: Some(wix_inbox::wire::Int32(
            i32::try_from(ttl.as_secs()).unwrap_or(i32::MAX),
        )),
    })
    .into_response())
}

// ---------------------------------------------------------------------------------------------
// Who is calling

/// Who is calling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Caller {
    /// An API key with its site: acts as the business user.
    ApiKey,
    /// An app, with an access token.
    App,
}

/// Who is calling, and for which instance (the index of `State::instances`): the site an API
/// key names, or the instance a token was issued for.
pub(super) fn authenticate(
    inner: &Inner,
    headers: &HeaderMap,
) -> Result<(Caller, usize), ApiError> {
    let Some(auth) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::unauthorized(
            "Missing Authorization header: send the API key or an access token, raw",
        ));
    };
    let auth = auth.to_str().unwrap_or_default();
    if headers.contains_key("wix-account-id") {
        return Err(ApiError::unauthorized(
            "wix-account-id was sent: the Inbox is site-level, send wix-site-id only",
        ));
    }
    let site = headers
        .get("wix-site-id")
        .map(|v| v.to_str().unwrap_or_default());
    if let Some(raw) = auth.strip_prefix("Bearer ") {
        let known = raw == inner.config.api_key || inner.state().tokens.contains_key(raw);
        return Err(ApiError::unauthorized(if known {
            "Authorization must be the key or token itself, without \"Bearer \""
        } else {
            "Unknown API key or access token"
        }));
    }
    let state = inner.state();
    let site_of = |s: &str| state.instances.iter().position(|i| i.site_id == s);
    // The API key is the account's: it serves every site of the fake, the one it names.
    if auth == inner.config.api_key {
        return match site {
            None => Err(ApiError::unauthorized(
                "An API key needs the wix-site-id header",
            )),
            Some(s) => match site_of(s) {
                None => Err(ApiError::unauthorized(
                    "The API key has no access to this site (wix-site-id)",
                )),
                Some(instance) => Ok((Caller::ApiKey, instance)),
            },
        };
    }
    match state.tokens.get(auth).copied() {
        Some(token) if token.expires <= Instant::now() => {
            Err(ApiError::unauthorized("The access token has expired"))
        }
        // A token acts for its own instance: another site's is refused.
        Some(IssuedToken { instance, .. }) => match site {
            Some(s) if site_of(s) != Some(instance) => Err(ApiError::unauthorized(
                "The access token is for another site (wix-site-id)",
            )),
            _ => Ok((Caller::App, instance)),
        },
        None => Err(ApiError::unauthorized("Unknown API key or access token")),
    }
}
