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
use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

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
pub(crate) async fn serve(listener: TcpListener, inner: Shared) {
    let router = router(inner.clone());
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors and the like: wait and go on.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let router = router.clone();
        let inner = inner.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                handle(inner.clone(), router.clone(), req.map(Body::new))
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            // Errors here are the client's going away, or a dropped connection: nothing to do.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
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
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let fault = if req.uri().path().starts_with("/inbox/") {
        inner.state().faults.pop_front()
    } else {
        None
    };
    let mut response = match fault {
        Some(Fault::Drop) => {
            inner.state().requests.push(RecordedRequest {
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
    inner.state().requests.push(RecordedRequest {
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
