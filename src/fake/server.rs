//! The HTTP side of the fake: the accept loop (with fault injection), auth, the four operations,
//! the token endpoint and Wix's error bodies.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use super::store::{Key, Missing};
use super::{webhooks, Fault, Inner, RecordedRequest};
use crate::types::{
    ApplicationError, Cursors, ErrorDetails, ErrorResponse, FieldViolation,
    GetConversationResponse, GetOrCreateConversationRequest, GetOrCreateConversationResponse,
    IdentificationData, IdentityType, ListMessagesResponse, MessageDirection,
    MessageSentToBusiness, MessageSentToParticipant, MessageVisibility, OverrideSenderOptions,
    PagingMetadataV2, SendMessageRequest, SendMessageResponse, SortOrder, ValidationError,
    WebhookIdentity,
};

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
        Some(Fault::Status(status)) => fault_response(status, None),
        Some(Fault::StatusRetryAfter(status, seconds)) => fault_response(status, Some(seconds)),
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

fn fault_response(status: u16, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut response = if status.is_client_error() {
        let (code, message) = if status == StatusCode::TOO_MANY_REQUESTS {
            ("TOO_MANY_REQUESTS", "Too many requests".to_owned())
        } else {
            ("INJECTED_FAULT", format!("Injected fault: {status}"))
        };
        ApiError::application(status, code, &message).into_response()
    } else {
        // Wix's 5xx bodies are often empty.
        status.into_response()
    };
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn router(inner: Shared) -> Router {
    Router::new()
        .route(
            "/inbox/v2/conversations/{conversation_id}",
            get(get_conversation),
        )
        .route("/inbox/v2/conversations", post(get_or_create_conversation))
        .route("/inbox/v2/messages", get(list_messages).post(send_message))
        .route("/oauth2/token", post(token))
        .fallback(no_route)
        .with_state(inner)
}

// ---------------------------------------------------------------------------------------------
// Errors

/// A Wix error response: status and [`ErrorResponse`] body.
pub(crate) struct ApiError {
    status: StatusCode,
    body: Box<ErrorResponse>,
}

impl ApiError {
    fn application(status: StatusCode, code: &str, description: &str) -> ApiError {
        ApiError {
            status,
            body: Box::new(ErrorResponse {
                message: Some(description.to_owned()),
                details: Some(ErrorDetails {
                    application_error: Some(ApplicationError {
                        code: Some(code.into()),
                        description: Some(description.to_owned()),
                        data: Default::default(),
                    }),
                    validation_error: None,
                }),
            }),
        }
    }

    fn unauthorized(description: &str) -> ApiError {
        ApiError::application(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", description)
    }

    fn conversation_not_found(id: &str, why: Missing) -> ApiError {
        let description = match why {
            Missing::Unknown => format!("Conversation {id} not found"),
            Missing::Merged => format!(
                "Conversation {id} not found: it was merged into another conversation \
                 (Get Or Create Conversation gives the participant's current one)"
            ),
        };
        ApiError::application(
            StatusCode::NOT_FOUND,
            "CONVERSATION_NOT_FOUND",
            &description,
        )
    }

    fn validation(violations: Vec<FieldViolation>) -> ApiError {
        let message = violations
            .iter()
            .map(|v| {
                format!(
                    "{}: {}",
                    v.field.as_deref().unwrap_or_default(),
                    v.description.as_deref().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: Box::new(ErrorResponse {
                message: Some(message),
                details: Some(ErrorDetails {
                    application_error: None,
                    validation_error: Some(ValidationError {
                        field_violations: violations,
                    }),
                }),
            }),
        }
    }

    fn one(field: &str, description: &str, rule: &str) -> ApiError {
        ApiError::validation(vec![violation(field, description, rule)])
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(*self.body)).into_response()
    }
}

fn violation(field: &str, description: &str, rule: &str) -> FieldViolation {
    FieldViolation {
        field: Some(field.to_owned()),
        description: Some(description.to_owned()),
        violated_rule: Some(rule.to_owned()),
        rule_name: None,
        data: Default::default(),
    }
}

fn max_violation(field: &str, description: &str, threshold: i64) -> FieldViolation {
    let mut v = violation(field, description, "MAX");
    v.data.insert("threshold".to_owned(), json!(threshold));
    v
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::application(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        &format!("No such endpoint: {method} {}", uri.path()),
    )
}

// ---------------------------------------------------------------------------------------------
// Auth

/// Who is calling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    /// An API key with its site: acts as the business user.
    ApiKey,
    /// An app, with an access token.
    App,
}

fn authenticate(inner: &Inner, headers: &HeaderMap) -> Result<Caller, ApiError> {
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
    if auth == inner.config.api_key {
        return match site {
            None => Err(ApiError::unauthorized(
                "An API key needs the wix-site-id header",
            )),
            Some(s) if s != inner.config.site_id => Err(ApiError::unauthorized(
                "The API key has no access to this site (wix-site-id)",
            )),
            Some(_) => Ok(Caller::ApiKey),
        };
    }
    let expiry = inner.state().tokens.get(auth).copied();
    match expiry {
        Some(expiry) if expiry <= Instant::now() => {
            Err(ApiError::unauthorized("The access token has expired"))
        }
        Some(_) => match site {
            Some(s) if s != inner.config.site_id => Err(ApiError::unauthorized(
                "The access token is for another site (wix-site-id)",
            )),
            _ => Ok(Caller::App),
        },
        None => Err(ApiError::unauthorized("Unknown API key or access token")),
    }
}

// ---------------------------------------------------------------------------------------------
// Input helpers

fn parse_json(body: &Bytes) -> Result<serde_json::Map<String, Value>, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::one("body", &format!("Invalid JSON: {e}"), "FORMAT"))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::one(
            "body",
            "The request body must be a JSON object",
            "FORMAT",
        )),
    }
}

fn is_guid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

fn check_conversation_id(id: Option<&str>) -> Result<String, FieldViolation> {
    match id {
        None | Some("") => Err(violation(
            "conversationId",
            "conversationId is required",
            "REQUIRED_FIELD",
        )),
        Some(id) if !is_guid(id) => Err(violation(
            "conversationId",
            &format!("conversationId must be a GUID, got {id:?}"),
            "FORMAT",
        )),
        Some(id) => Ok(id.to_owned()),
    }
}

// ---------------------------------------------------------------------------------------------
// Get Conversation

async fn get_conversation(
    State(inner): State<Shared>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<GetConversationResponse>, ApiError> {
    authenticate(&inner, &headers)?;
    let Path(id) = path.map_err(|e| ApiError::one("conversationId", &e.body_text(), "FORMAT"))?;
    let id = check_conversation_id(Some(&id)).map_err(|v| ApiError::validation(vec![v]))?;
    let conversation = inner
        .state()
        .store
        .conversation(&id)
        .map_err(|why| ApiError::conversation_not_found(&id, why))?;
    Ok(Json(GetConversationResponse {
        conversation: Some(conversation),
    }))
}

// ---------------------------------------------------------------------------------------------
// Get Or Create Conversation

const PARTICIPANT_KEYS: [&str; 3] = ["contactId", "anonymousVisitorId", "memberId"];

async fn get_or_create_conversation(
    State(inner): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<GetOrCreateConversationResponse>, ApiError> {
    authenticate(&inner, &headers)?;
    let map = parse_json(&body)?;
    let one_of = "participantId must have exactly one of contactId, anonymousVisitorId, memberId";
    match map.get("participantId") {
        None | Some(Value::Null) => {
            return Err(ApiError::one(
                "participantId",
                "participantId is required",
                "REQUIRED_FIELD",
            ))
        }
        Some(Value::Object(p)) => {
            let given: Vec<&String> = p
                .keys()
                .filter(|k| PARTICIPANT_KEYS.contains(&k.as_str()))
                .collect();
            if given.len() != 1 {
                return Err(ApiError::one("participantId", one_of, "ONE_OF"));
            }
            let field = format!("participantId.{}", given[0]);
            match &p[given[0].as_str()] {
                Value::String(s) if !s.is_empty() => {}
                Value::String(_) => {
                    return Err(ApiError::one(
                        &field,
                        &format!("{field} must not be empty"),
                        "REQUIRED_FIELD",
                    ))
                }
                _ => {
                    return Err(ApiError::one(
                        &field,
                        &format!("{field} must be a string"),
                        "FORMAT",
                    ))
                }
            }
        }
        Some(_) => return Err(ApiError::one("participantId", one_of, "FORMAT")),
    }
    let request: GetOrCreateConversationRequest = serde_json::from_value(Value::Object(map))
        .map_err(|e| ApiError::one("participantId", &e.to_string(), "FORMAT"))?;
    let (conversation, created) = inner
        .state()
        .store
        .get_or_create(&Key::from(&request.participant_id));
    Ok(Json(GetOrCreateConversationResponse {
        conversation: Some(conversation),
        new_conversation: Some(created),
    }))
}

// ---------------------------------------------------------------------------------------------
// List Messages

const DEFAULT_LIMIT: i64 = 30;
const MAX_LIMIT: i64 = 100;

/// A List Messages cursor: the query it continues and the last sequence returned.
struct Cursor {
    conversation_id: String,
    order: SortOrder,
    visibility: MessageVisibility,
    after: i64,
}

impl Cursor {
    fn encode(&self) -> String {
        let text = format!(
            "v1|{}|{}|{}|{}",
            self.conversation_id, self.order, self.visibility, self.after
        );
        text.bytes().map(|b| format!("{b:02x}")).collect()
    }

    fn decode(s: &str) -> Option<Cursor> {
        if !s.len().is_multiple_of(2) || !s.is_ascii() {
            return None;
        }
        let bytes = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.split('|');
        if parts.next()? != "v1" {
            return None;
        }
        let cursor = Cursor {
            conversation_id: parts.next()?.to_owned(),
            order: SortOrder::from(parts.next()?),
            visibility: MessageVisibility::from(parts.next()?),
            after: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(cursor)
    }
}

async fn list_messages(
    State(inner): State<Shared>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<ListMessagesResponse>, ApiError> {
    authenticate(&inner, &headers)?;
    let Query(pairs) = query.map_err(|e| ApiError::one("query", &e.body_text(), "FORMAT"))?;
    let q: HashMap<String, String> = pairs.into_iter().collect();
    let get = |k: &str| q.get(k).map(String::as_str);
    let mut violations = Vec::new();

    let conversation_id = check_conversation_id(get("conversationId"))
        .map_err(|v| violations.push(v))
        .ok();

    let mut visibility = match get("visibility").map(MessageVisibility::from) {
        None | Some(MessageVisibility::UnknownVisibility) => {
            violations.push(violation(
                "visibility",
                "visibility is required: BUSINESS_AND_PARTICIPANT or BUSINESS",
                "REQUIRED_FIELD",
            ));
            None
        }
        Some(MessageVisibility::Other(other)) => {
            violations.push(violation(
                "visibility",
                &format!(
                    "visibility must be BUSINESS_AND_PARTICIPANT or BUSINESS, got {:?}",
                    other.as_str()
                ),
                "INVALID_ENUM_VALUE",
            ));
            None
        }
        Some(v) => Some(v),
    };

    let limit = match get("paging.limit") {
        None | Some("") => DEFAULT_LIMIT,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if n > MAX_LIMIT => {
                violations.push(max_violation(
                    "paging.limit",
                    &format!("paging.limit must be at most {MAX_LIMIT}, got {n}"),
                    MAX_LIMIT,
                ));
                DEFAULT_LIMIT
            }
            Ok(n) if n < 0 => {
                violations.push(violation(
                    "paging.limit",
                    &format!("paging.limit must not be negative, got {n}"),
                    "MIN",
                ));
                DEFAULT_LIMIT
            }
            Ok(0) => DEFAULT_LIMIT,
            Ok(n) => n,
            Err(_) => {
                violations.push(violation(
                    "paging.limit",
                    &format!("paging.limit must be an integer, got {raw:?}"),
                    "FORMAT",
                ));
                DEFAULT_LIMIT
            }
        },
    };

    match get("sorting.fieldName") {
        None | Some("") | Some("sequence") | Some("createdDate") => {}
        Some(other) => violations.push(violation(
            "sorting.fieldName",
            &format!("messages can be sorted by sequence (or createdDate) only, not {other:?}"),
            "INVALID_ENUM_VALUE",
        )),
    }
    let mut order = match get("sorting.order").map(SortOrder::from) {
        None => SortOrder::Desc,
        Some(SortOrder::Other(other)) if other.as_str().is_empty() => SortOrder::Desc,
        Some(SortOrder::Other(other)) => {
            violations.push(violation(
                "sorting.order",
                &format!(
                    "sorting.order must be ASC or DESC, got {:?}",
                    other.as_str()
                ),
                "INVALID_ENUM_VALUE",
            ));
            SortOrder::Desc
        }
        Some(o) => o,
    };

    let mut after = None;
    if let Some(raw) = get("paging.cursor").filter(|c| !c.is_empty()) {
        match Cursor::decode(raw) {
            Some(c) if Some(&c.conversation_id) == conversation_id.as_ref() => {
                // The cursor carries its query: visibility and order as on the first page.
                order = c.order;
                visibility = Some(c.visibility);
                after = Some(c.after);
            }
            Some(_) => violations.push(violation(
                "paging.cursor",
                "paging.cursor belongs to another conversation",
                "FORMAT",
            )),
            None => violations.push(violation(
                "paging.cursor",
                "paging.cursor is not a cursor this server returned",
                "FORMAT",
            )),
        }
    }

    if !violations.is_empty() {
        return Err(ApiError::validation(violations));
    }
    let (Some(conversation_id), Some(visibility)) = (conversation_id, visibility) else {
        unreachable!("a violation was recorded for each missing value");
    };
    let page = inner
        .state()
        .store
        .page(
            &conversation_id,
            &visibility,
            &order,
            after,
            usize::try_from(limit).unwrap_or(30),
        )
        .map_err(|why| ApiError::conversation_not_found(&conversation_id, why))?;
    let next = page.last_sequence_if_more.map(|after| {
        Cursor {
            conversation_id: conversation_id.clone(),
            order,
            visibility,
            after,
        }
        .encode()
    });
    let count = i32::try_from(page.messages.len()).unwrap_or(i32::MAX);
    Ok(Json(ListMessagesResponse {
        messages: page.messages,
        paging_metadata: Some(PagingMetadataV2 {
            count: Some(count.into()),
            cursors: Some(Cursors { next, prev: None }),
            offset: None,
            too_many_to_count: None,
            total: None,
        }),
    }))
}

// ---------------------------------------------------------------------------------------------
// Send Message

fn check_message(request: &SendMessageRequest) -> Vec<FieldViolation> {
    let mut violations = Vec::new();
    let m = &request.message;
    match &m.content {
        None => violations.push(violation(
            "message.content",
            "message.content is required",
            "REQUIRED_FIELD",
        )),
        Some(c) => {
            if c.basic.is_none()
                && c.template.is_none()
                && c.minimal.is_none()
                && c.form.is_none()
                && c.system.is_none()
            {
                violations.push(violation(
                    "message.content",
                    "message.content needs one of basic, template, minimal, form or system",
                    "ONE_OF",
                ));
            }
            if let Some(basic) = &c.basic {
                if basic.items.is_empty() {
                    violations.push(violation(
                        "message.content.basic.items",
                        "message.content.basic.items must not be empty",
                        "MIN_SIZE",
                    ));
                }
                for (i, item) in basic.items.iter().enumerate() {
                    if item.text.is_none() && item.image.is_none() && item.file.is_none() {
                        violations.push(violation(
                            &format!("message.content.basic.items[{i}]"),
                            "an item needs one of text, image or file",
                            "ONE_OF",
                        ));
                    }
                }
            }
        }
    }
    match &m.direction {
        None | Some(MessageDirection::UnknownDirection) => violations.push(violation(
            "message.direction",
            "message.direction is required: BUSINESS_TO_PARTICIPANT or PARTICIPANT_TO_BUSINESS",
            "REQUIRED_FIELD",
        )),
        Some(MessageDirection::Other(o)) => violations.push(violation(
            "message.direction",
            &format!("unknown message.direction {:?}", o.as_str()),
            "INVALID_ENUM_VALUE",
        )),
        Some(_) => {}
    }
    match &m.visibility {
        None | Some(MessageVisibility::UnknownVisibility) => violations.push(violation(
            "message.visibility",
            "message.visibility is required: BUSINESS_AND_PARTICIPANT or BUSINESS",
            "REQUIRED_FIELD",
        )),
        Some(MessageVisibility::Other(o)) => violations.push(violation(
            "message.visibility",
            &format!("unknown message.visibility {:?}", o.as_str()),
            "INVALID_ENUM_VALUE",
        )),
        Some(_) => {}
    }
    if let Some(OverrideSenderOptions::Other(o)) = &request.send_as {
        violations.push(violation(
            "sendAs",
            &format!(
                "sendAs must be CALLER, PARTICIPANT or BUSINESS_USER, got {:?}",
                o.as_str()
            ),
            "INVALID_ENUM_VALUE",
        ));
    }
    violations
}

async fn send_message(
    State(inner): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SendMessageResponse>, ApiError> {
    let caller = authenticate(&inner, &headers)?;
    let map = parse_json(&body)?;
    let mut violations = Vec::new();
    let conversation_id = check_conversation_id(map.get("conversationId").and_then(Value::as_str))
        .map_err(|v| violations.push(v))
        .ok();
    if map.get("message").is_none_or(Value::is_null) {
        violations.push(violation(
            "message",
            "message is required",
            "REQUIRED_FIELD",
        ));
    }
    if !violations.is_empty() {
        return Err(ApiError::validation(violations));
    }
    let request: SendMessageRequest = serde_json::from_value(Value::Object(map))
        .map_err(|e| ApiError::one("message", &e.to_string(), "FORMAT"))?;
    let violations = check_message(&request);
    if !violations.is_empty() {
        return Err(ApiError::validation(violations));
    }
    let conversation_id = conversation_id.expect("checked above");

    let caller_identity = match caller {
        Caller::ApiKey => WebhookIdentity {
            identity_type: Some(IdentityType::WixUser),
            wix_user_id: Some(inner.config.business_user_id.clone()),
            ..Default::default()
        },
        Caller::App => WebhookIdentity {
            identity_type: Some(IdentityType::App),
            app_id: Some(inner.config.app_id.clone()),
            ..Default::default()
        },
    };
    let business_user = IdentificationData {
        wix_user_id: Some(inner.config.business_user_id.clone()),
        ..Default::default()
    };
    let (stored, identity) = {
        let mut state = inner.state();
        let store = &mut state.store;
        let participant = store
            .participant(&conversation_id)
            .map_err(|why| ApiError::conversation_not_found(&conversation_id, why))?;
        let mut message = request.message;
        let (sender, identity) = match (&request.send_as, caller) {
            (Some(OverrideSenderOptions::Participant), _) => {
                (participant, store.participant_identity(&conversation_id))
            }
            (Some(OverrideSenderOptions::BusinessUser), _) | (_, Caller::ApiKey) => {
                (business_user, caller_identity)
            }
            (_, Caller::App) => (
                IdentificationData {
                    app_id: Some(inner.config.app_id.clone()),
                    ..Default::default()
                },
                caller_identity,
            ),
        };
        message.sender = Some(sender);
        if caller == Caller::App {
            message.app_id = Some(inner.config.app_id.clone());
        }
        if let Some(silent) = request.silent {
            message.silent = Some(silent);
        }
        let content = message.content.as_mut().expect("checked above");
        if content.preview_text.is_none() {
            content.preview_text = content
                .basic
                .as_ref()
                .and_then(|b| b.items.iter().find_map(|i| i.text.clone()));
        }
        let stored = store
            .append(&conversation_id, message)
            .map_err(|why| ApiError::conversation_not_found(&conversation_id, why))?;
        (stored, identity)
    };
    match stored.direction {
        Some(MessageDirection::ParticipantToBusiness) => {
            webhooks::emit_message_sent_to_business(
                &inner,
                &MessageSentToBusiness {
                    conversation_id: Some(conversation_id),
                    message: Some(stored.clone()),
                    interaction_info: None,
                },
                identity,
            );
        }
        _ => {
            webhooks::emit_message_sent_to_participant(
                &inner,
                &MessageSentToParticipant {
                    conversation_id: Some(conversation_id),
                    message: Some(stored.clone()),
                },
                identity,
            );
        }
    }
    Ok(Json(SendMessageResponse {
        message: Some(stored),
    }))
}

// ---------------------------------------------------------------------------------------------
// OAuth

async fn token(State(inner): State<Shared>, body: Bytes) -> Result<Response, ApiError> {
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
    if field("instance_id") != inner.config.instance_id {
        return Err(ApiError::application(
            StatusCode::BAD_REQUEST,
            "INSTANCE_NOT_FOUND",
            "The app is not installed on this instance_id",
        ));
    }
    let token = format!("OauthNG.JWS.fake.{}", uuid::Uuid::new_v4().simple());
    let ttl = inner.config.token_ttl;
    let now = Instant::now();
    // A TTL too long for the clock is a token that does not expire (a century).
    let expiry = now
        .checked_add(ttl)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600));
    inner.state().tokens.insert(token.clone(), expiry);
    Ok(Json(crate::types::OAuthTokenResponse {
        access_token: token.into(),
        token_type: Some("Bearer".to_owned()),
        expires_in: Some(crate::wire::Int32(
            i32::try_from(ttl.as_secs()).unwrap_or(i32::MAX),
        )),
    })
    .into_response())
}
