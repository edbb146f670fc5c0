//! The HTTP side of the fake. This file: the accept loop, the layer every request goes through
//! (fault injection, the request log, `x-wix-request-id`) and the routes. Each route has its
//! file: [`oauth`] (the token endpoint, and who a call is from), [`conversations`],
//! [`messages`]; [`errors`] makes Wix's error bodies.

mod conversations;
mod errors;
mod messages;
mod oauth;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::timeout::TimeoutLayer;

use super::{Fault, Inner, RecordedRequest};

type Shared = Arc<Inner>;

/// The connection was dropped on purpose ([`Fault::Drop`]); hyper closes it without answering.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

/// Accepts connections until aborted; each is served by hyper (HTTP/1.1) with the router
/// behind a layer that injects faults, records requests and adds `x-wix-request-id`.
///
/// Bounds, from the builder: at most `max_connections` connections at once (a semaphore's
/// permit per connection; at the bound the next waits in the listen queue); hyper's
/// header-read timeout, which also closes a connection idle after its last answer; and
/// tower-http's timeout on the router, so a body that never ends is answered 408.
pub(crate) async fn serve(listener: TcpListener, inner: Shared) {
    let config = &inner.config;
    let timeout =
        TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, config.request_timeout);
    let router = router(inner.clone()).layer(timeout);
    // The simulator's page and control API, beside the Inbox routes (see `control`).
    let simulator = listener
        .local_addr()
        .map(|addr| super::control::router(inner.clone(), addr).layer(timeout));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout);
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return; // never closed
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors and the like: wait and go on.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let router = router.clone();
        let simulator = simulator.as_ref().ok().cloned();
        let inner = inner.clone();
        let http = http.clone();
        connections.spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req| {
                let req = req.map(Body::new);
                let to = match &simulator {
                    Some(s) if super::control::owns(req.uri().path()) => s.clone(),
                    _ => router.clone(),
                };
                handle(inner.clone(), to, req)
            });
            let io = TokioIo::new(stream);
            // Errors here are the client's going away, a timeout, or a dropped connection:
            // nothing to do.
            let _ = http.serve_connection(io, service).await;
        });
        while connections.try_join_next().is_some() {}
    }
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
        .route("/oauth2/token", post(oauth::token))
        .fallback(errors::no_route)
        .with_state(inner)
}

/// Every request: an injected fault (Inbox calls only) or the router, then the request ID and
/// the record of the request.
async fn handle(
    inner: Shared,
    router: Router,
    req: axum::http::Request<Body>,
) -> Result<Response, Dropped> {
    if super::control::owns(req.uri().path()) {
        // The simulator's own requests: no fault, not in the request log.
        return Ok(serve_with(router, req).await);
    }
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let fault = if req.uri().path().starts_with("/inbox/") {
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
            return Err(Dropped);
        }
        Some(Fault::Status(status)) => errors::fault_response(status, None),
        Some(Fault::StatusRetryAfter(status, seconds)) => {
            errors::fault_response(status, Some(seconds))
        }
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            serve_with(router, req).await
        }
        None => serve_with(router, req).await,
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-wix-request-id", value);
    }
    inner.record(RecordedRequest {
        method,
        uri,
        status: Some(response.status().as_u16()),
    });
    Ok(response)
}

async fn serve_with(router: Router, req: axum::http::Request<Body>) -> Response {
    let result: Result<Response, Infallible> = tower::ServiceExt::oneshot(router, req).await;
    match result {
        Ok(response) => response,
        Err(never) => match never {},
    }
}
