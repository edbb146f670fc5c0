//! HTTP helpers below everything else of the client: sending one request and reading its body
//! within a limit, the request ID, `Retry-After`, which statuses say "try again later", where a
//! redirect points, and keeping echoed credentials out of error bodies.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use reqwest::{
    header::{
        HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_LENGTH, LOCATION, RETRY_AFTER,
    },
    ResponseBuilderExt as _, StatusCode,
};

use crate::text::Printable;

/// The header in which Wix names a request; give it to Wix support.
pub(crate) const REQUEST_ID: &str = "x-wix-request-id";

/// The default limit on the body of one response: 16 MiB. Wix's responses are kilobytes (a
/// page of 100 messages is well under 1 MiB).
pub(crate) const DEFAULT_MAX_RESPONSE_SIZE: usize = 16 * 1024 * 1024;

/// The request ID of a response, if it has a readable one.
pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    header_text(headers.get(REQUEST_ID)?)
}

/// A header value as text, if it is text.
pub(crate) fn header_text(value: &HeaderValue) -> Option<String> {
    value.to_str().ok().map(str::to_string)
}

/// Wix's read-your-writes token: the latest value a response of a client carried is sent on
/// every later request of that client.
pub(crate) const CONSISTENT: HeaderName = HeaderName::from_static("x-wix-consistent");

/// The statuses that say "try again later": 429, 502, 503, 504.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

/// Where a redirect points, as `host` or `host:port` (a relative `Location` is resolved against
/// `from`): never its path or query, which may hold what is not ours to print.
pub(crate) fn redirect_host(from: &reqwest::Url, headers: &HeaderMap) -> Option<String> {
    let location = headers.get(LOCATION)?.to_str().ok()?;
    let to = from.join(location).ok()?;
    let host = to.host_str()?;
    Some(match to.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    })
}

/// The first line of a body that is not JSON (an HTML page of a proxy, say), that is not blank,
/// cleaned and cut short.
pub(crate) fn first_line(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    Printable(line.unwrap_or_default(), 200).to_string()
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

/// Secrets shorter than this are not looked for in responses: replacing every occurrence of a
/// few characters would garble the text, and real keys, secrets and tokens are far longer.
const MIN_REDACTED: usize = 8;

/// `body` with each occurrence of each secret replaced by `***`: what an error response echoes
/// of the credentials never reaches an error.
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

/// A response whose body passed the client's limit; it was not read further.
#[derive(Debug)]
pub(crate) struct ResponseTooLarge {
    pub(crate) limit: usize,
}

impl std::fmt::Display for ResponseTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the response is larger than the limit of {} bytes",
            self.limit
        )
    }
}

impl std::error::Error for ResponseTooLarge {}

/// Sends one request and reads the whole response, so that a connection that breaks mid-body is
/// seen here, where it can be retried. An error response with an empty body (usual for 5xx)
/// gets the body `{}`: Wix's error JSON with every (optional) part absent; in any other error
/// body, the request's `Authorization` and `also_secret` are replaced by `***`.
///
/// No more than `limit` bytes of body are read (a `Content-Length` over it is refused before
/// any): a response over it keeps its status and headers, and its body fails with
/// [`ResponseTooLarge`] when the generated code reads it.
pub(crate) async fn send(
    http: &reqwest::Client,
    request: reqwest::Request,
    limit: usize,
    also_secret: Option<&[u8]>,
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
            ResponseTooLarge { limit },
        )]));
        return Ok(rebuild(parts, url, reqwest::Body::wrap(failing)));
    };
    if !parts.status.is_success() {
        parts.headers.remove(CONTENT_LENGTH);
        body = if body.iter().all(u8::is_ascii_whitespace) {
            Bytes::from_static(b"{}")
        } else {
            let secrets = authorization.as_ref().map(HeaderValue::as_bytes);
            redact(body, secrets.into_iter().chain(also_secret))
        };
    }
    Ok(rebuild(parts, url, body.into()))
}

/// The whole body of a response, or `None` when it is longer than `limit` bytes: a declared
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

/// The response again, from its parts and a body.
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

    fn retry_after_of(value: &str) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, value.parse().unwrap());
        retry_after(&headers)
    }

    #[test]
    fn secrets_of_eight_bytes_or_more_are_redacted_and_shorter_ones_are_not() {
        let body = Bytes::from_static(b"key 12345678 and pin 1234567, key 12345678 again");
        let out = redact(body, [&b"12345678"[..], &b"1234567"[..]]);
        assert_eq!(&out[..], b"key *** and pin 1234567, key *** again");
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
        let at = SystemTime::now() + Duration::from_secs(120);
        let wait = retry_after_of(&httpdate::fmt_http_date(at)).unwrap();
        assert!(
            wait > Duration::from_secs(118) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        assert_eq!(retry_after_of("7"), Some(Duration::from_secs(7)));
        assert_eq!(retry_after_of("soon"), None);
        assert_eq!(retry_after_of("-1"), None);
    }

    #[test]
    fn a_redirect_names_its_host_and_port_only() {
        let from = reqwest::Url::parse("http://127.0.0.1:8080/oauth2/token").unwrap();
        let host = |location: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(LOCATION, location.parse().unwrap());
            redirect_host(&from, &headers)
        };
        assert_eq!(
            host("https://evil.example/x?secret=1").as_deref(),
            Some("evil.example")
        );
        assert_eq!(
            host("http://10.0.0.1:81/p#f").as_deref(),
            Some("10.0.0.1:81")
        );
        assert_eq!(host("/elsewhere?q=1").as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(redirect_host(&from, &HeaderMap::new()), None);
    }

    #[test]
    fn the_first_line_is_the_first_that_is_not_blank_cleaned() {
        assert_eq!(
            first_line(b"\n  \r\n<html>\x1b[2J</html>\nmore"),
            "<html>\u{fffd}[2J</html>"
        );
        assert_eq!(first_line(b""), "");
        assert_eq!(first_line(&[b'x'; 500]).chars().count(), 201);
    }

    #[test]
    fn redaction_replaces_every_occurrence_of_long_secrets_only() {
        let body = Bytes::from_static(b"key IST.abcdefgh, again IST.abcdefgh; short k");
        let out = redact(body, [&b"IST.abcdefgh"[..], &b"k"[..]]);
        assert_eq!(&out[..], b"key ***, again ***; short k");
    }
}
