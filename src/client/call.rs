//! The record of the operation call in progress, and the conversion of the generated code's
//! error into an [`Error`] completed with it.
//!
//! The generated code fails with progenitor's error, which does not know what only the
//! transport saw: how many attempts were made, the status and request ID behind an unreadable
//! body, and why an app token could not be had. The attempt loop writes these into a task-local
//! record of the call ([`record`]); [`convert`], which every operation's `send()` goes through,
//! reads it back.

use std::{cell::RefCell, future::Future, sync::Arc, time::Duration};

use futures_util::FutureExt as _;
use reqwest::{header::HeaderValue, StatusCode};

use super::{
    error::{Error, ErrorKind},
    http,
    tenant::Tenant,
};
use crate::{text::Printable, types, GeneratedError, ResponseValue};

/// What the transport saw of one operation call, kept while [`convert`] drives it.
#[derive(Debug, Default)]
pub(crate) struct Call {
    pub(crate) operation: Option<&'static str>,
    pub(crate) attempts: u32,
    pub(crate) status: Option<StatusCode>,
    pub(crate) request_id: Option<HeaderValue>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) token_error: Option<Error>,
    /// The site or instance the call is for, found once by the `pre` hook for the attempts.
    pub(crate) tenant: Option<Arc<Tenant>>,
}

tokio::task_local! {
    static CALL: RefCell<Call>;
}

/// Updates the record of the call in progress, if it is driven by [`convert`].
pub(crate) fn record(update: impl FnOnce(&mut Call)) {
    let _ = CALL.try_with(|call| update(&mut call.borrow_mut()));
}

/// The site or instance the `pre` hook found for the call in progress, taken.
pub(crate) fn take_tenant() -> Option<Arc<Tenant>> {
    CALL.try_with(|call| call.borrow_mut().tenant.take())
        .ok()
        .flatten()
}

/// Drives a generated operation's future and turns its error into an [`Error`], completed with
/// what the transport recorded of the call (attempts, status, request ID, token failure). Every
/// operation's `send()` calls it.
pub(crate) fn convert<T>(
    operation_id: &'static str,
    operation: impl Future<Output = Result<ResponseValue<T>, GeneratedError<types::ErrorResponse>>>,
) -> impl Future<Output = Result<ResponseValue<T>, Error>> {
    // `map` rather than an `async` block: the operation's future is large, and an `async` block
    // would hold it twice.
    let converted = operation
        .map(|result| result.map_err(|e| from_generated(e, CALL.with(|call| call.take()))));
    let call = Call {
        operation: Some(operation_id),
        ..Call::default()
    };
    CALL.scope(RefCell::new(call), converted)
}

/// Why a body could not be parsed, in the parser's words cut short (they may quote the body at
/// any length).
#[derive(Debug)]
struct ParseError(String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// The error of a generated operation, completed with what the transport recorded.
fn from_generated(e: GeneratedError<types::ErrorResponse>, call: Call) -> Error {
    if let Some(token_error) = call.token_error {
        return token_error;
    }
    let recorded = |e: Error| {
        e.with_response_details(
            call.status,
            call.request_id.as_ref().and_then(http::header_text),
            call.retry_after,
        )
    };
    let out = match e {
        GeneratedError::ErrorResponse(response) => {
            let (status, headers) = (response.status(), response.headers().clone());
            Error::from_response(
                ErrorKind::Api,
                status,
                &headers,
                Some(response.into_inner()),
            )
        }
        GeneratedError::UnexpectedResponse(response) if response.status().is_redirection() => {
            Error::redirect("Wix", response.status(), response.headers(), response.url())
        }
        GeneratedError::UnexpectedResponse(response) => {
            Error::from_response(ErrorKind::Api, response.status(), response.headers(), None)
        }
        // An error status whose body is not Wix's JSON (say an HTML page of a proxy) is still an
        // error response: it says so, with the body's first line rather than the parser's words.
        GeneratedError::InvalidResponsePayload(body, _)
            if call.status.is_some_and(|s| !s.is_success()) =>
        {
            recorded(Error::new(ErrorKind::Api).with_body_not_json(&body))
        }
        // A 2xx whose body does not parse is a decode error.
        GeneratedError::InvalidResponsePayload(_, source) => {
            let cause = ParseError(Printable(&source.to_string(), 300).to_string());
            recorded(Error::new(ErrorKind::Decode).with_source(cause))
        }
        GeneratedError::CommunicationError(source)
        | GeneratedError::ResponseBodyError(source)
        | GeneratedError::InvalidUpgrade(source) => {
            let e = Error::from_reqwest(source);
            if e.kind() == ErrorKind::TooLarge {
                recorded(e)
            } else {
                e
            }
        }
        GeneratedError::InvalidRequest(message) => {
            Error::new(ErrorKind::InvalidRequest).with_message(message)
        }
        // Only this crate's hooks raise `Custom`: for a token that could not be had.
        GeneratedError::Custom(message) => Error::new(ErrorKind::Token).with_message(message),
    };
    let out = match call.operation {
        Some(operation) => out.with_operation(operation),
        None => out,
    };
    out.with_attempts(call.attempts)
}
