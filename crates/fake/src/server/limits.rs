//! Which instance an API call is of, for the count of calls and [`ApiLimit`](crate::ApiLimit).

use axum::extract::Request;

use super::oauth;
use crate::Inner;

/// The paths of the API calls an instance makes (the token endpoint is not one).
const API: [&str; 4] = ["/inbox/", "/contacts/", "/members/", "/apps/"];

/// The instance of an authenticated API call (counted), and `Retry-After` in seconds when the
/// call is over the instance's limit.
pub(super) fn check(inner: &Inner, req: &Request) -> (Option<usize>, Option<u64>) {
    let path = req.uri().path();
    if !API.iter().any(|prefix| path.starts_with(prefix)) {
        return (None, None);
    }
    let Ok((_, instance)) = oauth::authenticate(inner, req.headers()) else {
        return (None, None);
    };
    let limited = inner
        .limits
        .call(instance, inner.config.api_limit)
        .err()
        .map(|wait| wait.as_secs_f64().ceil().max(1.0) as u64);
    (Some(instance), limited)
}
