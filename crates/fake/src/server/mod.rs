//! The HTTP side of the fake. This file: how it is served, the layer every request goes
//! through (fault injection, the request log, `x-wix-request-id`) and the routes. Each route
//! has its file: [`oauth`] (the token endpoint, and who a call is from), [`conversations`],
//! [`messages`], [`contacts`] (Contacts v4), [`members`] (Members v1); [`errors`] makes Wix's
//! error bodies, [`params`] reads the Contacts and Members requests.

mod apps;
mod contacts;
mod conversations;
mod errors;
mod limits;
mod members;
mod messages;
mod oauth;
mod params;

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;

use super::{Fault, Inner, RecordedRequest};
#[cfg(doc)]
use wix_inbox::webhooks::axum::ServeOptions;

type Shared = Arc<Inner>;

/// How much longer than the fake's own request timeout the server lets a request run: room for
/// a [`Fault::Delay`], which the fake's timeout does not count.
const DELAY_ROOM: Duration = Duration::from_secs(3600);

/// Serves until aborted, with the crate's server and the builder's [`ServeOptions`] (a permit
/// per connection, hyper's header-read timeout, which also closes idle connections, a maximum
/// connection age).
///
/// Inside the router, the fake's layer ([`handle`]) wraps tower-http's request timeout, so a
/// request answered 408 is recorded like any other, and an injected delay is not counted.
pub(crate) async fn serve(listener: TcpListener, inner: Shared) {
    let options = &inner.config.serve;
    let request_timeout = options.get_request_timeout();
    let timeout = TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, request_timeout);
    let router = router(inner.clone())
        .layer(timeout)
        .layer(axum::middleware::from_fn_with_state(inner.clone(), handle));
    // The simulator's page and control API (see `control`), outside the fault queue and the
    // request log; everything else goes to the Inbox routes.
    let router = match listener.local_addr() {
        Ok(addr) => super::control::router(inner.clone(), addr, timeout).fallback_service(router),
        Err(_) => router,
    };
    options
        .clone()
        .request_timeout(request_timeout.saturating_add(DELAY_ROOM))
        .serve(listener, router)
        .await;
}

fn router(inner: Shared) -> Router {
    Router::new()
        .route(
            "/inbox/v2/conversations/{conversation_id}",
            get(conversations::get_conversation),
        )
        .route(
            "/inbox/v2/conversations",
            post(conversations::get_or_create_conversation),
        )
        .route(
            "/inbox/v2/messages",
            get(messages::list_messages).post(messages::send_message),
        )
        .route(
            "/contacts/v4/contacts",
            get(contacts::list_contacts).post(contacts::create_contact),
        )
        .route(
            "/contacts/v4/contacts/query",
            post(contacts::query_contacts),
        )
        .route(
            "/contacts/v4/contacts/{contact_id}",
            get(contacts::get_contact),
        )
        .route("/members/v1/members", get(members::list_members))
        .route("/members/v1/members/query", post(members::query_members))
        .route("/members/v1/members/{member_id}", get(members::get_member))
        .route("/oauth2/token", post(oauth::token))
        .route("/apps/v1/instance", get(apps::get_app_instance))
        .fallback(errors::no_route)
        .method_not_allowed_fallback(errors::not_served)
        .with_state(inner)
}

/// Every request: an injected fault (Inbox calls only) or the routes, then the request ID and
/// the record of the request.
async fn handle(State(inner): State<Shared>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let (instance, limited) = limits::check(&inner, &req);
    let send = req.method() == axum::http::Method::POST && req.uri().path() == "/inbox/v2/messages";
    let fault = if let Some(seconds) = limited {
        Some(Fault::StatusRetryAfter(429, seconds))
    } else if req.uri().path().starts_with("/inbox/") {
        inner.state().faults.pop_front()
    } else {
        None
    };
    let mut response = match fault {
        Some(Fault::Drop) => {
            inner.record(RecordedRequest {
                method,
                uri,
                status: None,
            });
            return dropped();
        }
        Some(Fault::Status(status)) => errors::fault_response(status, None),
        Some(Fault::StatusRetryAfter(status, seconds)) => {
            errors::fault_response(status, Some(seconds))
        }
        Some(Fault::Error {
            status,
            code,
            message,
            violations,
        }) => errors::error_fault(status, code.as_deref(), &message, &violations),
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            next.run(req).await
        }
        None if req.method() == axum::http::Method::POST
            && req.uri().path() == "/inbox/v2/messages"
            && take_send_to_drop(&inner) =>
        {
            let served = next.run(req).await;
            inner.record(RecordedRequest {
                method,
                uri,
                status: None,
            });
            drop(served);
            return dropped();
        }
        None => next.run(req).await,
    };
    if let (Some(i), true, StatusCode::NOT_FOUND) = (instance, send, response.status()) {
        inner.limits.send_not_found(i);
    }
    let request_id = uuid::Uuid::new_v4().to_string();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-wix-request-id", value);
    }
    inner.record(RecordedRequest {
        method,
        uri,
        status: Some(response.status().as_u16()),
    });
    response
}

/// Whether the Send Message in progress is one to leave unanswered
/// ([`FakeInbox::drop_after_next_sends`](super::FakeInbox::drop_after_next_sends)).
fn take_send_to_drop(inner: &Inner) -> bool {
    let mut state = inner.state();
    let take = state.sends_to_drop > 0;
    if take {
        state.sends_to_drop -= 1;
    }
    take
}

/// The answer to [`Fault::Drop`]: its body fails before its first byte, so hyper closes the
/// connection without writing any of it.
fn dropped() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, _>(std::io::Error::other(
            "connection dropped by an injected fault",
        ))
    });
    Response::new(Body::from_stream(failing))
}
