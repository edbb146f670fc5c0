//! Wix's error bodies ([`ErrorResponse`]): the 4xx of every route, field violations, injected
//! faults, unknown endpoints; and the input checks the routes share, which answer with them.

use axum::body::Bytes;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::query::Refusal;
use crate::store::Missing;
use wix_inbox::types::{
    ApplicationError, ErrorDetails, ErrorResponse, FieldViolation, ValidationError,
};

/// A Wix error response: status and [`ErrorResponse`] body.
pub(super) struct ApiError {
    status: StatusCode,
    body: Box<ErrorResponse>,
}

impl ApiError {
    pub(super) fn application(status: StatusCode, code: &str, description: &str) -> ApiError {
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

    /// 404 with `code`: `what` (say, `Contact c-1`) was not found.
    pub(super) fn not_found(code: &str, what: &str) -> ApiError {
        ApiError::application(StatusCode::NOT_FOUND, code, &format!("{what} not found"))
    }

    pub(super) fn unauthorized(description: &str) -> ApiError {
        ApiError::application(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", description)
    }

    pub(super) fn conversation_not_found(id: &str, why: Missing) -> ApiError {
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

    /// What Get Conversation answers for a conversation of another site (instance).
    pub(super) fn not_owned_by_business(id: &str) -> ApiError {
        ApiError::application(
            StatusCode::FORBIDDEN,
            "NOT_OWNED_BY_BUSINESS",
            &format!("Conversation {id} belongs to another site"),
        )
    }

    pub(super) fn validation(violations: Vec<FieldViolation>) -> ApiError {
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

    pub(super) fn one(field: &str, description: &str, rule: &str) -> ApiError {
        ApiError::validation(vec![violation(field, description, rule)])
    }

    /// A query the fake does not run ([`Refusal`]): 400 with its field violation.
    pub(super) fn refused(refusal: Refusal) -> ApiError {
        ApiError::one(&refusal.field, &refusal.description, refusal.rule)
    }

    /// An application error's `data` gets `key`.
    pub(super) fn with_data(mut self, key: &str, value: Value) -> ApiError {
        if let Some(error) = self
            .body
            .details
            .as_mut()
            .and_then(|d| d.application_error.as_mut())
        {
            error.data.insert(key.to_owned(), value);
        }
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(*self.body)).into_response()
    }
}

pub(super) fn violation(field: &str, description: &str, rule: &str) -> FieldViolation {
    FieldViolation {
        field: Some(field.to_owned()),
        description: Some(description.to_owned()),
        violated_rule: Some(rule.to_owned()),
        rule_name: None,
        data: Default::default(),
    }
}

pub(super) fn max_violation(field: &str, description: &str, threshold: i64) -> FieldViolation {
    let mut v = violation(field, description, "MAX");
    v.data.insert("threshold".to_owned(), json!(threshold));
    v
}

pub(super) async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::application(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        &format!("No such endpoint: {method} {}", uri.path()),
    )
}

/// A method the spec does not declare on one of its paths: 405 with Wix's error body and the
/// `Allow` header (`allow`, the methods it declares there).
pub(super) async fn not_allowed(method: Method, uri: Uri, allow: String) -> Response {
    let error = ApiError::application(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        &format!("{method} is not allowed on {}: {allow}", uri.path()),
    );
    let mut response = error.into_response();
    if let Ok(allow) = HeaderValue::from_str(&allow) {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    response
}

/// An operation of the spec the fake does not serve: Wix's error body with 501.
pub(super) async fn not_served(method: Method, uri: Uri) -> ApiError {
    ApiError::application(
        StatusCode::NOT_IMPLEMENTED,
        "NOT_IMPLEMENTED",
        &format!("The fake Inbox does not serve {method} {}", uri.path()),
    )
}

// ---------------------------------------------------------------------------------------------
// Input checks shared by the routes

/// A request body: a JSON object without `null` anywhere (Wix refuses a `null` field; the
/// spec declares none nullable).
pub(super) fn parse_json(body: &Bytes) -> Result<serde_json::Map<String, Value>, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::one("body", &format!("Invalid JSON: {e}"), "FORMAT"))?;
    if let Some(field) = null_at(&value, "") {
        return Err(ApiError::one(
            &field,
            &format!("{field} must not be null (leave it out)"),
            "FORMAT",
        ));
    }
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::one(
            "body",
            "The request body must be a JSON object",
            "FORMAT",
        )),
    }
}

/// Where the first `null` of `value` is (`query.paging`, `message.content.basic.items.0`).
fn null_at(value: &Value, at: &str) -> Option<String> {
    let join = |key: &str| match at {
        "" => key.to_owned(),
        _ => format!("{at}.{key}"),
    };
    match value {
        Value::Null => Some(if at.is_empty() {
            "body".into()
        } else {
            at.into()
        }),
        Value::Object(map) => map.iter().find_map(|(k, v)| null_at(v, &join(k))),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| null_at(v, &join(&i.to_string()))),
        _ => None,
    }
}

fn is_guid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

pub(super) fn check_conversation_id(id: Option<&str>) -> Result<String, FieldViolation> {
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
// Injected faults

/// The answer of [`Fault::Status`](crate::Fault::Status) and
/// [`Fault::StatusRetryAfter`](crate::Fault::StatusRetryAfter).
pub(super) fn fault_response(status: u16, retry_after: Option<u64>) -> Response {
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

/// The answer of [`Fault::Error`](crate::Fault::Error): Wix's error body.
pub(super) fn error_fault(
    status: u16,
    code: Option<&str>,
    message: &str,
    violations: &[FieldViolation],
) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut error = match code {
        Some(code) => ApiError::application(status, code, message),
        None => ApiError {
            status,
            body: Box::new(ErrorResponse {
                message: Some(message.to_owned()),
                details: None,
            }),
        },
    };
    if !violations.is_empty() {
        let details = error.body.details.get_or_insert_with(Default::default);
        details.validation_error = Some(ValidationError {
            field_violations: violations.to_vec(),
        });
    }
    error.into_response()
}
