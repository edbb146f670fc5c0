//! The crate's one error type, [`Error`]: what failed and why, with what Wix said. The advice
//! on what to do about it is in [`advice`](super::advice) ([`Error::hint`]); the record of the
//! call that completes an error is in [`call`](super::call).

use std::{fmt, sync::Arc, time::Duration};

use reqwest::{header::HeaderMap, StatusCode};

use super::{http, operations};
use crate::{text::Printable, types};

/// What kind of failure an [`Error`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`ClientBuilder::build`](crate::ClientBuilder::build) was given a configuration that
    /// cannot work. Nothing was sent.
    Config,
    /// The request could not be built from the arguments given (say, a required parameter was
    /// not set). Nothing was sent.
    InvalidRequest,
    /// No app access token could be had from `POST /oauth2/token`.
    Token,
    /// Wix responded with an error status (4xx or 5xx, or a status the spec does not expect).
    Api,
    /// No connection could be made: the request never reached the server.
    Connect,
    /// No complete response came within the timeout.
    Timeout,
    /// The connection broke during the exchange (reset, truncated response).
    Transport,
    /// Wix's response is not the JSON the spec describes.
    Decode,
    /// Wix's response was larger than [`ClientBuilder::max_response_size`](crate::ClientBuilder::max_response_size)
    /// allows; it was not read past the limit.
    TooLarge,
    /// Wix's response (or the token endpoint's) was a redirect (3xx). Wix's API does not
    /// redirect, and the client follows none: a request is never sent, with its credentials or
    /// body, anywhere but the base URL. The error names the status and where the redirect
    /// pointed (its host, never its path or query).
    Redirect,
    /// The site of the app instance removed the app (App Instance Removed): nothing was sent,
    /// and no token is asked for it until the site installs the app again.
    AppRemoved,
    /// A [`MessageStream`](crate::paging::MessageStream) stopped early: Wix kept responding with
    /// new cursors to pages without messages, or the stream's page budget ran out.
    Paging,
}

/// An application error code of Wix (`details.applicationError.code` of an error response):
/// the spec's open enum [`types::ApplicationErrorCode`]. The codes the Inbox documents are
/// variants; any other is kept in `Other`.
pub use crate::types::ApplicationErrorCode as ErrorCode;

/// A failed call to Wix, or a client that could not be built.
///
/// It tells what happened ([`kind`](Self::kind), [`status`](Self::status), Wix's
/// [`message`](Self::message) and [`code`](Self::code), the [`field
/// violations`](Self::field_violations) of a bad request), how to follow it up with Wix
/// ([`request_id`](Self::request_id)), how hard the client tried
/// ([`attempts`](Self::attempts)), and what to do about it ([`hint`](Self::hint)).
///
/// Its `Display` is one clause that says what failed and why, with what Wix said (cut short and
/// without control characters); the underlying failure, if any, is its
/// [`source`](std::error::Error::source), which `Display` does not repeat. A reporter that
/// walks the chain (`anyhow`'s `{:#}`) prints each text once.
///
/// Every operation's `send()` fails with it. Its one path is the crate's root,
/// `wix_inbox::Error` (with [`ErrorKind`] and [`ErrorCode`]).
///
/// ```no_run
/// # async fn run(client: wix_inbox::Client) -> Result<(), wix_inbox::Error> {
/// let found = client.get_conversation().conversation_id("6202c3bb").send().await;
/// match found {
///     Ok(response) => println!("{:?}", response.conversation),
///     Err(e) if e.is_not_found() => println!("no such conversation"),
///     Err(e) => {
///         eprintln!("{e}");
///         if let Some(hint) = e.hint() {
///             eprintln!("{hint}");
///         }
///         return Err(e);
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Error(Box<Inner>);

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    operation: Option<&'static str>,
    status: Option<StatusCode>,
    request_id: Option<String>,
    /// What this crate says went wrong; Wix's own words are read from `response`.
    message: Option<String>,
    /// Wix's error body, when there was one: its message, code and field violations.
    response: Option<types::ErrorResponse>,
    attempts: u32,
    retry_after: Option<Duration>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Self(Box::new(Inner {
            kind,
            operation: None,
            status: None,
            request_id: None,
            message: None,
            response: None,
            attempts: 0,
            retry_after: None,
            source: None,
        }))
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config).with_message(message)
    }

    /// A call through an instance whose site removed the app.
    pub(crate) fn app_removed(instance_id: &str) -> Self {
        Self::new(ErrorKind::AppRemoved).with_message(format!(
            "the app was removed from the site of instance {}",
            Printable(instance_id, 100)
        ))
    }

    /// A stream of the pages of `operation` (a method name) that stopped early, and why.
    pub(crate) fn paging(operation: &'static str, why: String) -> Self {
        Self::new(ErrorKind::Paging)
            .with_operation(operation)
            .with_message(why)
    }

    pub(crate) fn with_message(mut self, message: impl Into<String>) -> Self {
        self.0.message = Some(message.into());
        self
    }

    pub(crate) fn with_operation(mut self, operation: &'static str) -> Self {
        self.0.operation = Some(operation);
        self
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.0.attempts = attempts;
        self
    }

    pub(crate) fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.0.source = Some(Arc::from(source.into()));
        self
    }

    /// Sets what the transport saw of the response: its status, request ID and `Retry-After`.
    pub(crate) fn with_response_details(
        mut self,
        status: Option<StatusCode>,
        request_id: Option<String>,
        retry_after: Option<Duration>,
    ) -> Self {
        self.0.status = status;
        self.0.request_id = request_id;
        self.0.retry_after = retry_after;
        self
    }

    /// An error of a transport failure (no usable response at all).
    pub(crate) fn from_reqwest(e: reqwest::Error) -> Self {
        let mut cause = std::error::Error::source(&e);
        while let Some(inner) = cause {
            if let Some(too_large) = inner.downcast_ref::<http::ResponseTooLarge>() {
                let message = too_large.to_string();
                return Self::new(ErrorKind::TooLarge).with_message(message);
            }
            cause = inner.source();
        }
        let kind = if e.is_connect() {
            ErrorKind::Connect
        } else if e.is_timeout() {
            ErrorKind::Timeout
        } else if e.is_builder() {
            ErrorKind::InvalidRequest
        } else {
            ErrorKind::Transport
        };
        Self::new(kind).with_source(e)
    }

    /// An error of a redirect (3xx) from `what` (Wix, the token endpoint) at `from`: its status,
    /// request ID and the host it points to.
    pub(crate) fn redirect(
        what: &str,
        status: StatusCode,
        headers: &HeaderMap,
        from: &reqwest::Url,
    ) -> Self {
        let message = match http::redirect_host(from, headers) {
            Some(host) => format!("{what} redirects to {host}; the client follows no redirect"),
            None => format!("{what} redirects; the client follows no redirect"),
        };
        Self::from_response(ErrorKind::Redirect, status, headers, None).with_message(message)
    }

    /// Says that the body was not JSON, with its first line (cleaned).
    pub(crate) fn with_body_not_json(self, body: &[u8]) -> Self {
        let line = http::first_line(body);
        let message = if line.is_empty() {
            "the body is not JSON".to_string()
        } else {
            format!("the body is not JSON: {line}")
        };
        self.with_message(message)
    }

    /// An error of a response with an error status: status, request ID, `Retry-After`, and what
    /// the body says if it is Wix's error JSON.
    pub(crate) fn from_response(
        kind: ErrorKind,
        status: StatusCode,
        headers: &HeaderMap,
        body: Option<types::ErrorResponse>,
    ) -> Self {
        let mut e = Self::new(kind).with_response_details(
            Some(status),
            http::request_id(headers),
            http::retry_after(headers),
        );
        e.0.response = body;
        e
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The HTTP status Wix responded with, if it responded.
    pub fn status(&self) -> Option<StatusCode> {
        self.0.status
    }

    /// Wix's ID of the request (`x-wix-request-id`): give it to Wix support.
    pub fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    /// What went wrong: this crate's words when it has some to add, else Wix's (the response's
    /// `message`, or its application error's `description`).
    pub fn message(&self) -> Option<&str> {
        if let Some(own) = &self.0.message {
            return Some(own);
        }
        let response = self.0.response.as_ref()?;
        response
            .message
            .as_deref()
            .filter(|m| !m.is_empty())
            .or_else(|| self.application_error()?.description.as_deref())
    }

    /// The application error code, such as [`ErrorCode::ConversationNotFound`].
    pub fn code(&self) -> Option<&ErrorCode> {
        self.application_error()?.code.as_ref()
    }

    /// The fields of a bad request (400) and the rules they broke.
    pub fn field_violations(&self) -> &[types::FieldViolation] {
        self.0
            .response
            .as_ref()
            .and_then(|r| r.details.as_ref()?.validation_error.as_ref())
            .map_or(&[], |v| &v.field_violations)
    }

    fn application_error(&self) -> Option<&types::ApplicationError> {
        self.0
            .response
            .as_ref()?
            .details
            .as_ref()?
            .application_error
            .as_ref()
    }

    /// Wix's error response as it came (`message`, `details.applicationError` with its `data`,
    /// `details.validationError`), when the body was Wix's error JSON.
    pub fn response(&self) -> Option<&types::ErrorResponse> {
        self.0.response.as_ref()
    }

    /// How many requests were sent (retries and a token refresh included); 0 when unknown, as
    /// when the transport recorded nothing (a request that could not be built).
    pub fn attempts(&self) -> u32 {
        self.0.attempts
    }

    /// How long Wix asked to wait before trying again (`Retry-After`), if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// The operation that failed, as its generated method is named (`"send_message"`).
    pub fn operation(&self) -> Option<&'static str> {
        self.0.operation
    }

    /// The HTTP status as a number (`Some(409)`), to compare without naming
    /// [`StatusCode`]: `e.status_code() == Some(409)`.
    pub fn status_code(&self) -> Option<u16> {
        self.0.status.map(|s| s.as_u16())
    }

    /// Whether Wix answered 409 Conflict (say, Create Contact for an email a contact has).
    pub fn is_conflict(&self) -> bool {
        self.0.status == Some(StatusCode::CONFLICT)
    }

    /// Whether the thing asked for does not exist: a 404, or `CONVERSATION_NOT_FOUND`.
    pub fn is_not_found(&self) -> bool {
        self.0.status == Some(StatusCode::NOT_FOUND)
            || self.code() == Some(&ErrorCode::ConversationNotFound)
    }

    /// Whether the same call may succeed later: 429, 502, 503, 504, or a connection that could
    /// not be made, or that timed out or broke during an operation the spec says may be
    /// repeated (after Send Message or Create Contact, look before repeating it: see
    /// [`hint`](Self::hint)). The client already retried what was safe to retry.
    pub fn is_retryable(&self) -> bool {
        match self.0.kind {
            ErrorKind::Connect => true,
            ErrorKind::Timeout | ErrorKind::Transport => self.operation_is_repeatable(),
            ErrorKind::Api | ErrorKind::Token | ErrorKind::TooLarge => {
                self.0.status.is_some_and(http::is_retryable_status)
            }
            _ => false,
        }
    }

    /// Whether the credentials were refused (401, 403) or no app token could be had.
    pub fn is_auth(&self) -> bool {
        self.0.kind == ErrorKind::Token
            || matches!(
                self.0.status,
                Some(StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
            )
    }

    /// Whether Wix refused the request's content (400); see [`field_violations`](Self::field_violations).
    pub fn is_validation(&self) -> bool {
        self.0.status == Some(StatusCode::BAD_REQUEST)
    }

    /// Whether Wix limited the rate of requests (429); see [`retry_after`](Self::retry_after).
    pub fn is_rate_limited(&self) -> bool {
        self.0.status == Some(StatusCode::TOO_MANY_REQUESTS)
    }

    /// Whether the request may have reached Wix even though no usable response came back: no
    /// response within the timeout, a connection that broke, or a 2xx whose body could not be
    /// read. For Send Message, the message may then exist: check the conversation before
    /// sending it again.
    pub fn maybe_delivered(&self) -> bool {
        match self.0.kind {
            ErrorKind::Timeout | ErrorKind::Transport => true,
            // Wix accepted the request, but its response could not be read.
            ErrorKind::Decode | ErrorKind::TooLarge => {
                self.0.status.is_some_and(|s| s.is_success())
            }
            _ => false,
        }
    }

    /// Whether the operation that failed may be sent twice without doing something twice
    /// (the spec's `OPERATIONS` table says); `true` when no operation is known.
    pub(crate) fn operation_is_repeatable(&self) -> bool {
        self.0.operation.is_none_or(operations::is_repeatable)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &*self.0;
        match (e.kind, e.operation) {
            (ErrorKind::Config, _) => f.write_str("the Wix Inbox client cannot be built")?,
            (ErrorKind::Token, _) => f.write_str("no Wix app access token could be had")?,
            (_, Some(op)) => write!(f, "{} failed", operations::name(op))?,
            (_, None) => f.write_str("the Wix Inbox call failed")?,
        }
        match (e.kind, e.status) {
            (ErrorKind::Connect, _) => f.write_str(": could not connect")?,
            (ErrorKind::Timeout, _) => f.write_str(": no response within the timeout")?,
            (ErrorKind::Transport, _) => f.write_str(": the connection broke")?,
            (ErrorKind::Decode, Some(s)) => write!(f, ": Wix's response ({s}) could not be read")?,
            (ErrorKind::Decode, None) => f.write_str(": Wix's response could not be read")?,
            (ErrorKind::TooLarge, Some(s)) => write!(f, ": Wix's response ({s}) is too large")?,
            (ErrorKind::TooLarge, None) => f.write_str(": Wix's response is too large")?,
            (_, Some(s)) => write!(f, ": Wix responded {s}")?,
            _ => {}
        }
        if e.attempts > 1 {
            write!(f, " after {} attempts", e.attempts)?;
        }
        // What the server sent is printed cut short and without control characters: it must
        // not rewrite a terminal or forge log lines.
        if let Some(code) = self.code() {
            write!(f, " ({})", Printable(code.as_str(), 100))?;
        }
        // Wix's message often lists the violations already: then they are printed once, from
        // the violations (which also name the rule broken).
        let violations = self.field_violations();
        let message = self.message().filter(|message| {
            e.message.is_some()
                || violations.is_empty()
                || !violations.iter().all(|v| is_said_in(v, message))
        });
        if let Some(message) = message {
            write!(f, ": {}", Printable(message, 500))?;
        }
        for (i, v) in violations.iter().take(20).enumerate() {
            let field = v.field.as_deref().unwrap_or("?");
            let what = v.description.as_deref().unwrap_or("invalid");
            let separator = if message.is_none() && i == 0 {
                ": "
            } else {
                "; "
            };
            write!(
                f,
                "{separator}`{}`: {}",
                Printable(field, 100),
                Printable(what, 200)
            )?;
            if let Some(rule) = &v.violated_rule {
                write!(f, " ({})", Printable(rule, 100))?;
            }
        }
        if violations.len() > 20 {
            write!(f, "; and {} more", violations.len() - 20)?;
        }
        if let Some(wait) = e.retry_after {
            write!(f, "; Wix asked to wait {}s", wait.as_secs())?;
        }
        if let Some(id) = &e.request_id {
            write!(f, " (request ID {})", Printable(id, 100))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &*self.0;
        f.debug_struct("Error")
            .field("kind", &e.kind)
            .field("operation", &e.operation)
            .field("status", &e.status)
            .field("request_id", &e.request_id)
            .field("message", &self.message())
            .field("code", &self.code())
            .field("violations", &self.field_violations())
            .field("attempts", &e.attempts)
            .field("retry_after", &e.retry_after)
            .field("source", &e.source)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// Whether `message` already says `violation`: its field and its description.
fn is_said_in(violation: &types::FieldViolation, message: &str) -> bool {
    let said = |part: &Option<String>| part.as_deref().is_none_or(|p| message.contains(p));
    said(&violation.field) && said(&violation.description)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 400 of Get Conversation with Wix's `message` and `count` field violations.
    fn validation(message: &str, count: usize) -> Error {
        let violations: Vec<_> = (0..count)
            .map(|i| serde_json::json!({"field": format!("f{i}"), "description": "is wrong"}))
            .collect();
        let body = serde_json::json!({"message": message,
            "details": {"validationError": {"fieldViolations": violations}}});
        let mut e = Error::new(ErrorKind::Api)
            .with_operation("get_conversation")
            .with_response_details(Some(StatusCode::BAD_REQUEST), None, None);
        e.0.response = Some(serde_json::from_value(body).unwrap());
        e
    }

    #[test]
    fn each_kind_without_a_status_says_what_happened() {
        let text = |kind| {
            Error::new(kind)
                .with_operation("get_conversation")
                .to_string()
        };
        assert_eq!(
            text(ErrorKind::Timeout),
            "Get Conversation failed: no response within the timeout"
        );
        assert_eq!(
            text(ErrorKind::Decode),
            "Get Conversation failed: Wix's response could not be read"
        );
        assert_eq!(
            text(ErrorKind::TooLarge),
            "Get Conversation failed: Wix's response is too large"
        );
    }

    #[test]
    fn violations_follow_a_message_that_does_not_say_them_after_a_semicolon() {
        assert_eq!(
            validation("bad request", 1).to_string(),
            "Get Conversation failed: Wix responded 400 Bad Request: bad request; `f0`: is wrong"
        );
        // A message that names the field but not what is wrong with it does not say it.
        assert_eq!(
            validation("f0 is the problem", 1).to_string(),
            "Get Conversation failed: Wix responded 400 Bad Request: f0 is the problem; `f0`: \
             is wrong"
        );
        // One that says both is left out: the violation says it once.
        assert_eq!(
            validation("f0 is wrong", 1).to_string(),
            "Get Conversation failed: Wix responded 400 Bad Request: `f0`: is wrong"
        );
    }

    #[test]
    fn twenty_violations_are_printed_and_more_are_counted() {
        let twenty = validation("bad", 20).to_string();
        assert!(twenty.ends_with("`f19`: is wrong"), "{twenty}");
        assert!(!twenty.contains("more"), "{twenty}");
        let twenty_one = validation("bad", 21).to_string();
        assert!(
            twenty_one.ends_with("`f19`: is wrong; and 1 more"),
            "{twenty_one}"
        );
        assert!(!twenty_one.contains("`f20`"), "{twenty_one}");
    }

    #[test]
    fn only_send_message_is_not_repeatable() {
        let of = |operation| Error::new(ErrorKind::Timeout).with_operation(operation);
        assert!(of("get_conversation").operation_is_repeatable());
        assert!(of("list_messages").operation_is_repeatable());
        assert!(!of("send_message").operation_is_repeatable());
        assert!(Error::new(ErrorKind::Timeout).operation_is_repeatable());
    }

    #[test]
    fn the_classifiers_answer_only_their_status() {
        let e = validation("bad", 1);
        assert!(e.is_validation());
        assert!(!e.is_rate_limited() && !e.is_not_found() && !e.is_auth());
        let limited = Error::new(ErrorKind::Api).with_response_details(
            Some(StatusCode::TOO_MANY_REQUESTS),
            None,
            Some(Duration::from_secs(3)),
        );
        assert!(limited.is_rate_limited());
        assert!(!limited.is_validation() && !limited.is_not_found());
        assert_eq!(
            format!("{limited:?}"),
            "Error { kind: Api, operation: None, status: Some(429), request_id: None, \
             message: None, code: None, violations: [], attempts: 0, retry_after: Some(3s), \
             source: None }"
        );
    }
}
