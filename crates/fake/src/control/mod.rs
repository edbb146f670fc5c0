//! The simulator: a page at `/` and the JSON control API under `/_fake/` it uses (documented in
//! the [fake's module docs](super#the-simulator-and-its-control-api)).
//!
//! This file: the router, the guard every simulator request passes (the fake's own `Host` and
//! `Origin` only, JSON for changes) and the page's files, embedded in the binary. [`api`] has
//! the handlers that change the fake, [`view`] the state as JSON and its live stream.

mod api;
mod view;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::json;
use tower_http::timeout::TimeoutLayer;

use super::{FakeInbox, Inner};

/// The largest body the control API reads.
const BODY_LIMIT: usize = 64 * 1024;

const INDEX_HTML: &str = include_str!("../ui/index.html");
const APP_JS: &str = include_str!("../ui/app.js");
const STYLE_CSS: &str = include_str!("../ui/style.css");

/// What the page may load: its own files and API only (nothing from the network, no inline
/// script), and it may not be framed by another page.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

/// The simulator's routes, each behind the [`guard`](Guard::check), the body limit and
/// `timeout`. Only the page (`/`) and paths under `/_fake/` are routed here; the fake serves
/// the rest with the Inbox routes, as the router's fallback.
pub(crate) fn router(inner: Arc<Inner>, addr: SocketAddr, timeout: TimeoutLayer) -> Router {
    // A view of the fake: dropping it stops nothing.
    let fake = FakeInbox::new(inner, addr, None);
    let guard = Arc::new(Guard::new(addr));
    Router::new()
        .route("/", get(page))
        .route("/_fake/ui/app.js", get(script))
        .route("/_fake/ui/style.css", get(style))
        .route("/_fake/state", get(view::state))
        .route("/_fake/stream", {
            let streams = Arc::new(tokio::sync::Semaphore::new(view::MAX_STREAMS));
            get(move |fake: Fake| view::stream(fake, Arc::clone(&streams)))
        })
        .route("/_fake/webhooks/{event_id}", get(view::webhook))
        .route("/_fake/webhooks/{event_id}/redeliver", post(api::redeliver))
        .route("/_fake/participants/write", post(api::write))
        .route("/_fake/participants/press-button", post(api::press_button))
        .route(
            "/_fake/participants/become-contact",
            post(api::become_contact),
        )
        .route(
            "/_fake/participants/become-member",
            post(api::become_member),
        )
        .route("/_fake/contacts/merge", post(api::merge_contacts))
        .route("/_fake/business/send", post(api::business_send))
        .route("/_fake/receivers/add", post(api::add_receiver))
        .route("/_fake/receivers/remove", post(api::remove_receiver))
        .route("/_fake/faults", post(api::add_faults))
        .route("/_fake/faults/clear", post(api::clear_faults))
        .route("/_fake/tokens/expire", post(api::expire_tokens))
        .route("/_fake/{*rest}", any(not_found))
        // Route layers: the Inbox routes, this router's fallback, go without them.
        .route_layer(timeout)
        .route_layer(DefaultBodyLimit::max(BODY_LIMIT))
        .route_layer(middleware::from_fn_with_state(guard, guard_layer))
        .with_state(Arc::new(fake))
}

type Fake = State<Arc<FakeInbox>>;

/// A refusal or failure of the control API: `{"code": "...", "message": "..."}`.
#[derive(Debug)]
pub(crate) struct Refused {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refused {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Refused {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Refused::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Refused::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"code": self.code, "message": self.message})),
        )
            .into_response()
    }
}

async fn not_found() -> Refused {
    Refused::not_found("no such simulator path; the control API is described in the fake's docs")
}

/// Who may use the simulator: requests addressed to the fake itself (`Host`), from its own
/// page or from no page at all (`Origin`, `Sec-Fetch-Site`).
struct Guard {
    hosts: [String; 2],
    origins: [String; 2],
}

impl Guard {
    fn new(addr: SocketAddr) -> Guard {
        let port = addr.port();
        let hosts = [format!("127.0.0.1:{port}"), format!("localhost:{port}")];
        let origins = hosts.clone().map(|h| format!("http://{h}"));
        Guard { hosts, origins }
    }

    /// `Err` with the answer when the request must not be served.
    ///
    /// - `Host` must be the fake's own address (`127.0.0.1:PORT` or `localhost:PORT`): a page
    ///   of another site whose name was made to resolve to 127.0.0.1 (DNS rebinding) sends its
    ///   own name.
    /// - `Origin`, when sent, must be the fake's own: another page open in the browser sends
    ///   its origin with its `fetch`es and form posts.
    /// - `Sec-Fetch-Site`, when sent, must be `same-origin` or `none` (typed in the address
    ///   bar): the browser says so for the requests `Origin` is not sent with.
    /// - A `POST` must say its body is JSON (`application/json`): a form of another page
    ///   cannot, and a `fetch` that does needs a CORS preflight, which the fake never grants.
    fn check(&self, method: &Method, headers: &HeaderMap) -> Result<(), Refused> {
        let forbidden = |message: String| Refused::new(StatusCode::FORBIDDEN, "FORBIDDEN", message);
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        if !self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            return Err(forbidden(format!(
                "the simulator answers requests addressed to {} or {} only",
                self.hosts[0], self.hosts[1]
            )));
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or_default();
            if !self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin)) {
                return Err(forbidden(format!(
                    "requests from another origin are refused; open the simulator at {}/",
                    self.origins[0]
                )));
            }
        }
        if let Some(site) = headers.get("sec-fetch-site") {
            if !matches!(site.to_str(), Ok("same-origin" | "none")) {
                return Err(forbidden(
                    "requests from another site are refused".to_owned(),
                ));
            }
        }
        if method == Method::POST {
            let json = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
            if !json {
                return Err(Refused::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "JSON_REQUIRED",
                    "a control request's body must be JSON, sent with \
                     Content-Type: application/json",
                ));
            }
        }
        Ok(())
    }
}

async fn guard_layer(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let mut response = match guard.check(req.method(), req.headers()) {
        Ok(()) => next.run(req).await,
        Err(refused) => refused.into_response(),
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CONTENT_SECURITY_POLICY, CSP),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn asset(content_type: &'static str, text: &'static str) -> Response {
    let mut response = Response::new(Body::from(text));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

async fn page() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE_CSS)
}
