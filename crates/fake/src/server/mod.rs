//! The HTTP side of the fake. This file: how it is served, the layer every request goes
//! through (fault injection, the request log, `x-wix-request-id`) and the routes. Each route
//! has its file: [`oauth`] (the token endpoint, and who a call is from), [`conversations`],
//! [`messages`], [`contacts`] (Contacts v4), [`members`] (Members v1); [`errors`] makes Wix's
//! error bodies, [`params`] reads the Contacts and Members requests, [`spec`] reads the spec:
//! the routes and the request bodies' rules come from it.

mod apps;
mod contacts;
mod conversations;
mod errors;
mod limits;
mod members;
mod messages;
mod oauth;
mod params;
mod query;
mod spec;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
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

/// The routes, from the spec ([`spec::operations`]): each operation the fake serves goes to
/// its handler (an operation of the spec it does not serve would answer 501), behind
/// [`conform_body`]; a method the spec does not declare on one of its paths answers 405, a path
/// it does not have 404, both with Wix's error body.
fn router(inner: Shared) -> Router {
    let mut paths: BTreeMap<&str, (MethodRouter<Shared>, Vec<String>)> = BTreeMap::new();
    for operation in spec::operations() {
        let Ok(filter) = MethodFilter::try_from(operation.method.clone()) else {
            continue;
        };
        let served = match operation.id {
            "getConversation" => on(filter, conversations::get_conversation),
            "getOrCreateConversation" => on(filter, conversations::get_or_create_conversation),
            "listMessages" => on(filter, messages::list_messages),
            "sendMessage" => on(filter, messages::send_message),
            "listContacts" => on(filter, contacts::list_contacts),
            "createContact" => on(filter, contacts::create_contact),
            "queryContacts" => on(filter, contacts::query_contacts),
            "getContact" => on(filter, contacts::get_contact),
            "listMembers" => on(filter, members::list_members),
            "queryMembers" => on(filter, members::query_members),
            "getMember" => on(filter, members::get_member),
            "createAccessToken" => on(filter, oauth::token),
            "getAppInstance" => on(filter, apps::get_app_instance),
            _ => on(filter, errors::not_served),
        };
        let served = match operation.query.is_empty() {
            true => served,
            false => {
                let rules = QueryRules {
                    declared: Arc::new(operation.query),
                    open: operation.open,
                };
                let state = (inner.clone(), rules);
                served.route_layer(axum::middleware::from_fn_with_state(state, conform_query))
            }
        };
        let served = match operation.body {
            Some(schema) => {
                let body = BodyRules {
                    schema,
                    open: operation.open,
                };
                let state = (inner.clone(), body);
                served.route_layer(axum::middleware::from_fn_with_state(state, conform_body))
            }
            None => served,
        };
        let (routes, methods) = paths
            .entry(operation.path)
            .or_insert_with(|| (MethodRouter::new(), Vec::new()));
        *routes = std::mem::take(routes).merge(served);
        methods.push(operation.method.to_string());
    }
    let router = paths
        .into_iter()
        .fold(Router::new(), |router, (path, (routes, methods))| {
            let allow = methods.join(", ");
            let not_allowed =
                move |method: Method, uri: Uri| errors::not_allowed(method, uri, allow.clone());
            router.route(path, routes.fallback(not_allowed))
        });
    router.fallback(errors::no_route).with_state(inner)
}

/// What [`conform_body`] holds a request body to: its schema in the spec, and whether the
/// operation is called without credentials.
#[derive(Clone, Copy)]
struct BodyRules {
    schema: &'static serde_json::Value,
    open: bool,
}

/// What [`conform_query`] holds a query string to: the operation's query parameters in the
/// spec, and whether it is called without credentials.
#[derive(Clone)]
struct QueryRules {
    declared: Arc<Vec<spec::QueryParameter>>,
    open: bool,
}

/// A query string held to the operation's parameters in the spec ([`query::check`]) before the
/// route reads it: a value the spec refuses is answered with Wix's 400 once the caller is known
/// (an unknown caller gets the route's 401). A query string that does not parse goes to the
/// route, which refuses it in its own words.
async fn conform_query(
    State((inner, rules)): State<(Shared, QueryRules)>,
    req: Request,
    next: Next,
) -> Response {
    type Pairs = axum::extract::Query<Vec<(String, String)>>;
    if let Ok(axum::extract::Query(pairs)) = Pairs::try_from_uri(req.uri()) {
        let violations = query::check(&pairs, &rules.declared);
        if !violations.is_empty()
            && (rules.open || oauth::authenticate(&inner, req.headers()).is_ok())
        {
            return errors::ApiError::validation(violations).into_response();
        }
    }
    next.run(req).await
}

/// The most a request body may hold (axum's default for the routes' `Bytes`).
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// A JSON request body held to its schema in the spec ([`spec::conform`]), before the route
/// reads it: the fields the spec does not declare are dropped, at any depth, as Wix drops them;
/// a string over its `maxLength`, or a field a closed object does not declare, is refused with
/// Wix's 400 once the caller is known (an unknown caller gets the route's 401, as from Wix). A
/// body that is not JSON goes to the route as it is, which refuses it in its own words.
async fn conform_body(
    State((inner, rules)): State<(Shared, BodyRules)>,
    req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        let error = errors::ApiError::application(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            &format!("The request body is over {BODY_LIMIT} bytes"),
        );
        return error.into_response();
    };
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    };
    let (dropped, violations) = spec::conform(&mut value, rules.schema);
    let known = rules.open || oauth::authenticate(&inner, &parts.headers).is_ok();
    if !violations.is_empty() && known {
        return errors::ApiError::validation(violations).into_response();
    }
    // Rewritten only when a field was dropped: the route reads every other body byte for byte.
    let bytes = match dropped {
        true => Bytes::from(serde_json::to_vec(&value).unwrap_or_default()),
        false => bytes,
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
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
