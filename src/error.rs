//! The crate's one error type, [`Error`], which every operation's `send()` fails with.
//!
//! ```no_run
//! # async fn run(client: wix_inbox::Client) -> Result<(), wix_inbox::Error> {
//! let found = client.get_conversation().conversation_id("6202c3bb").send().await;
//! match found {
//!     Ok(response) => println!("{:?}", response.conversation),
//!     Err(e) if e.is_not_found() => println!("no such conversation"),
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```
//!
//! The generated code fails with progenitor's error; `send()` turns it into an [`Error`] and
//! completes it with what only the transport saw: how many attempts were made, the status and
//! request ID behind an unreadable body, and why an app token could not be had.
//!
//! An [`Error`] never holds a credential: not the API key, the app secret nor an access token.

use std::{
    cell::RefCell,
    fmt::{self, Write as _},
    future::Future,
    sync::Arc,
    time::Duration,
};

use futures_util::FutureExt as _;
use reqwest::{
    header::{HeaderMap, HeaderValue},
    StatusCode,
};

use crate::{types, GeneratedError, ResponseValue};

/// The header in which Wix names a request; give it to Wix support.
pub(crate) const REQUEST_ID: &str = "x-wix-request-id";

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
    /// Wix answered with an error status (4xx or 5xx, or a status the spec does not expect).
    Api,
    /// No connection could be made: the request never reached the server.
    Connect,
    /// No complete answer came within the timeout.
    Timeout,
    /// The connection broke during the exchange (reset, truncated answer).
    Transport,
    /// Wix's answer is not the JSON the spec describes.
    Decode,
    /// Wix's answer was larger than [`ClientBuilder::max_response_size`](crate::ClientBuilder::max_response_size)
    /// allows; it was not read past the limit.
    TooLarge,
    /// A [`MessageStream`](crate::paging::MessageStream) stopped early: Wix kept answering with
    /// new cursors to pages without messages, or the stream's page budget ran out.
    Paging,
}

/// An application error code of Wix (`details.applicationError.code` of an error answer): the
/// spec's open enum [`types::ApplicationErrorCode`]. The codes the Inbox documents are variants;
/// any other is kept in `Other`.
pub use crate::types::ApplicationErrorCode as ErrorCode;

/// A failed call to Wix, or a client that could not be built.
///
/// It tells what happened ([`kind`](Self::kind), [`status`](Self::status), Wix's
/// [`message`](Self::message) and [`code`](Self::code), the [`field
/// violations`](Self::field_violations) of a bad request), how to follow it up with Wix
/// ([`request_id`](Self::request_id)), and how hard the client tried
/// ([`attempts`](Self::attempts)). Its `Display` says what to do about it.
#[derive(Clone)]
pub struct Error(Box<Inner>);

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    operation: Option<&'static str>,
    status: Option<StatusCode>,
    request_id: Option<String>,
    /// What this crate says went wrong; Wix's own words are read from `answer`.
    message: Option<String>,
    /// Wix's error body, when there was one: its message, code and field violations.
    answer: Option<types::ErrorResponse>,
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
            answer: None,
            attempts: 0,
            retry_after: None,
            source: None,
        }))
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config).with_message(message)
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

    /// A stream of pages that stopped early, and why.
    pub(crate) fn paging(why: String) -> Self {
        Self::new(ErrorKind::Paging)
            .with_operation("list_messages")
            .with_message(why)
    }

    /// An error of a transport failure (no usable answer at all).
    pub(crate) fn from_reqwest(e: reqwest::Error) -> Self {
        let mut cause = std::error::Error::source(&e);
        while let Some(inner) = cause {
            if let Some(too_large) = inner.downcast_ref::<crate::retry::AnswerTooLarge>() {
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

    /// An error of an answer with an error status: status, request ID, `Retry-After`, and what
    /// the body says if it is Wix's error JSON.
    pub(crate) fn from_answer(
        kind: ErrorKind,
        status: StatusCode,
        headers: &HeaderMap,
        body: Option<types::ErrorResponse>,
    ) -> Self {
        let mut e = Self::new(kind);
        e.0.status = Some(status);
        e.0.request_id = request_id(headers);
        e.0.retry_after = crate::retry::retry_after(headers);
        e.0.answer = body;
        e
    }

    /// The error of a generated operation, completed with what the transport recorded.
    fn from_generated(e: GeneratedError<types::ErrorResponse>, call: Call) -> Self {
        if let Some(token_error) = call.token_error {
            return token_error;
        }
        let mut out = match e {
            GeneratedError::ErrorResponse(answer) => {
                let (status, headers) = (answer.status(), answer.headers().clone());
                Self::from_answer(ErrorKind::Api, status, &headers, Some(answer.into_inner()))
            }
            GeneratedError::UnexpectedResponse(response) => {
                Self::from_answer(ErrorKind::Api, response.status(), response.headers(), None)
            }
            GeneratedError::InvalidResponsePayload(_, source) => {
                // An error status whose body is not Wix's JSON (say an HTML page of a proxy) is
                // still an error answer; a 2xx whose body does not parse is a decode error.
                let kind = match call.status {
                    Some(s) if !s.is_success() => ErrorKind::Api,
                    _ => ErrorKind::Decode,
                };
                // The parser's words may quote the body at any length: they are kept cut short.
                let cause = ParseError(Printable(&source.to_string(), 300).to_string());
                let mut e = Self::new(kind).with_source(cause);
                e.0.status = call.status;
                e.0.request_id = call.request_id.as_ref().and_then(header_text);
                e.0.retry_after = call.retry_after;
                e
            }
            GeneratedError::CommunicationError(source)
            | GeneratedError::ResponseBodyError(source)
            | GeneratedError::InvalidUpgrade(source) => Self::from_reqwest(source),
            GeneratedError::InvalidRequest(message) => {
                Self::new(ErrorKind::InvalidRequest).with_message(message)
            }
            // Only this crate's hooks raise `Custom`: for a token that could not be had.
            GeneratedError::Custom(message) => Self::new(ErrorKind::Token).with_message(message),
        };
        if out.0.kind == ErrorKind::TooLarge {
            out.0.status = call.status;
            out.0.request_id = call.request_id.as_ref().and_then(header_text);
            out.0.retry_after = call.retry_after;
        }
        out.0.operation = call.operation.or(out.0.operation);
        out.0.attempts = call.attempts;
        out
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The HTTP status Wix answered with, if it answered.
    pub fn status(&self) -> Option<StatusCode> {
        self.0.status
    }

    /// Wix's ID of the request (`x-wix-request-id`): give it to Wix support.
    pub fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    /// What went wrong: this crate's words when it has some to add, else Wix's (the answer's
    /// `message`, or its application error's `description`).
    pub fn message(&self) -> Option<&str> {
        if let Some(own) = &self.0.message {
            return Some(own);
        }
        let answer = self.0.answer.as_ref()?;
        answer
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
            .answer
            .as_ref()
            .and_then(|a| a.details.as_ref()?.validation_error.as_ref())
            .map_or(&[], |v| &v.field_violations)
    }

    fn application_error(&self) -> Option<&types::ApplicationError> {
        self.0
            .answer
            .as_ref()?
            .details
            .as_ref()?
            .application_error
            .as_ref()
    }

    /// Wix's error answer as it came (`message`, `details.applicationError` with its `data`,
    /// `details.validationError`), when the body was Wix's error JSON.
    pub fn answer(&self) -> Option<&types::ErrorResponse> {
        self.0.answer.as_ref()
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

    /// Whether the thing asked for does not exist: a 404, or `CONVERSATION_NOT_FOUND`.
    pub fn is_not_found(&self) -> bool {
        self.0.status == Some(StatusCode::NOT_FOUND)
            || self.code() == Some(&ErrorCode::ConversationNotFound)
    }

    /// Whether the same call may succeed later: 429, 503, 504, or a connection that could not be
    /// made, timed out or broke. (The client already retried what was safe to retry.)
    pub fn is_retryable(&self) -> bool {
        match self.0.kind {
            ErrorKind::Connect | ErrorKind::Timeout | ErrorKind::Transport => true,
            ErrorKind::Api | ErrorKind::Token | ErrorKind::TooLarge => {
                self.0.status.is_some_and(crate::retry::is_retryable_status)
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

    /// Whether the request may have reached Wix even though no usable answer came back: no
    /// answer within the timeout, a connection that broke, or a 2xx whose body could not be
    /// read. For Send Message, the message may then exist: check the conversation before
    /// sending it again.
    pub fn maybe_delivered(&self) -> bool {
        match self.0.kind {
            ErrorKind::Timeout | ErrorKind::Transport => true,
            // Wix accepted the request, but its answer could not be read.
            ErrorKind::Decode | ErrorKind::TooLarge => {
                self.0.status.is_some_and(|s| s.is_success())
            }
            _ => false,
        }
    }

    fn what_to_do(&self) -> String {
        // Only Send Message is not safe to repeat.
        let sending = self
            .0
            .operation
            .is_some_and(|op| !crate::retry::is_repeatable(op));
        let advice = match (self.code(), self.0.kind, self.0.status.map(|s| s.as_u16())) {
            (Some(ErrorCode::ConversationNotFound), _, _) | (_, ErrorKind::Api, Some(404)) => {
                "Check the ID. If the participant became a contact or member, Wix merged their \
                 conversation into a new one: call Get Or Create Conversation with their current \
                 participant ID."
            }
            (Some(ErrorCode::NotOwnedByBusiness), ..) => {
                "The conversation belongs to another site: check the site ID or app instance."
            }
            (Some(ErrorCode::NoInboxInstance | ErrorCode::InboxInstanceNotFound), ..) => {
                "Inbox is not set up on this site: the site owner has to enable Inbox (Wix Chat)."
            }
            (Some(ErrorCode::NotJoinedChatroom), ..) => {
                "The caller is not a participant of this conversation."
            }
            (Some(ErrorCode::IdentityDoesNotMatch), ..) => {
                "The sender does not match the caller or the conversation's participant: check \
                 `sendAs` and the conversation ID."
            }
            (Some(ErrorCode::InvalidMediaUrl), ..) => {
                "Wix cannot fetch an image or file of the message: use a public https URL or a \
                 Wix Media URL."
            }
            (_, ErrorKind::Config, _) => "",
            (_, ErrorKind::InvalidRequest, _) => "Set every required argument of the operation.",
            (_, ErrorKind::Token, _) => {
                "Check the app ID, app secret and instance ID, and that the app is installed on \
                 the site."
            }
            (_, ErrorKind::Connect, _) => "Check the network and the base URL.",
            (_, ErrorKind::Timeout | ErrorKind::Transport, _) if sending => {
                "The message may have been sent: list the conversation's messages before sending \
                 it again."
            }
            (_, ErrorKind::Timeout | ErrorKind::Transport, _) => "Try again later.",
            (_, ErrorKind::TooLarge, Some(200..=299)) if sending => {
                "The message was sent, but the answer was too large to read: list the \
                 conversation's messages instead of sending it again."
            }
            (_, ErrorKind::TooLarge, _) => {
                "Check the base URL (a proxy?), or raise ClientBuilder::max_response_size."
            }
            (_, ErrorKind::Decode, Some(200..=299)) if sending => {
                "The message was sent, but the answer could not be read: list the conversation's \
                 messages instead of sending it again, and report the answer with the request ID."
            }
            (_, ErrorKind::Paging, _) => {
                "Wix kept naming more pages: report it with a conversation ID, or raise the \
                 stream's max_empty_pages or max_pages."
            }
            (_, ErrorKind::Decode, _) => {
                "Wix sent something the crate's spec does not describe: report it, with the \
                 request ID."
            }
            (_, _, Some(400)) => "Fix the request: repeating it as it is will fail the same way.",
            (_, _, Some(401)) => {
                "Check the credentials: the API key and site ID, or the app ID, secret and \
                 instance ID."
            }
            (_, _, Some(403)) => {
                "The API key or app lacks a permission scope this needs (Read Inbox Messages or \
                 Manage Inbox Messages)."
            }
            (_, _, Some(428)) => "Is the app installed on the site, and Inbox enabled?",
            (_, _, Some(429)) => {
                "Wix allows 200 requests a minute per app instance: slow down and try again later."
            }
            (_, _, Some(500..=599)) => {
                "Wix has a problem on its side: try again later; if it persists, give Wix support \
                 the request ID."
            }
            _ => "",
        };
        advice.to_string()
    }
}

/// The operation's summary in the spec ("Send Message"), or its method name.
fn operation_name(operation: &str) -> &str {
    crate::generated::OPERATIONS
        .iter()
        .find(|(id, ..)| *id == operation)
        .map_or(operation, |(_, summary, _)| summary)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &*self.0;
        match (e.kind, e.operation) {
            (ErrorKind::Config, _) => f.write_str("the Wix Inbox client cannot be built")?,
            (ErrorKind::Token, _) => f.write_str("no Wix app access token could be had")?,
            (_, Some(op)) => write!(f, "{} failed", operation_name(op))?,
            (_, None) => f.write_str("the Wix Inbox call failed")?,
        }
        match (e.kind, e.status) {
            (ErrorKind::Connect, _) => f.write_str(": could not connect")?,
            (ErrorKind::Timeout, _) => f.write_str(": no answer within the timeout")?,
            (ErrorKind::Transport, _) => f.write_str(": the connection broke")?,
            (ErrorKind::Decode, Some(s)) => write!(f, ": Wix's answer ({s}) could not be read")?,
            (ErrorKind::Decode, None) => f.write_str(": Wix's answer could not be read")?,
            (ErrorKind::TooLarge, Some(s)) => write!(f, ": Wix's answer ({s}) is too large")?,
            (ErrorKind::TooLarge, None) => f.write_str(": Wix's answer is too large")?,
            (_, Some(s)) => write!(f, ": Wix answered {s}")?,
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
        if let Some(message) = self.message() {
            write!(f, ": {}", Printable(message, 500))?;
        }
        let violations = self.field_violations();
        for v in violations.iter().take(20) {
            let field = v.field.as_deref().unwrap_or("?");
            let what = v.description.as_deref().unwrap_or("invalid");
            write!(f, "; `{}`: {}", Printable(field, 100), Printable(what, 200))?;
            if let Some(rule) = &v.violated_rule {
                write!(f, " ({})", Printable(rule, 100))?;
            }
        }
        if violations.len() > 20 {
            write!(f, "; and {} more", violations.len() - 20)?;
        }
        if let Some(source) = &e.source {
            // The outermost cause and the innermost one ("Connection refused") say the most.
            let mut root: &dyn std::error::Error = source.as_ref();
            while let Some(next) = root.source() {
                root = next;
            }
            // A cause may quote the server's answer (serde does): cut it short too.
            let (outer, deepest) = (source.to_string(), root.to_string());
            if std::ptr::addr_eq(root, source.as_ref()) {
                write!(f, " ({})", Printable(&deepest, 300))?;
            } else {
                write!(
                    f,
                    " ({}: {})",
                    Printable(&outer, 300),
                    Printable(&deepest, 300)
                )?;
            }
        }
        f.write_str(".")?;
        if let Some(wait) = e.retry_after {
            write!(f, " Wix asked to wait {}s.", wait.as_secs())?;
        }
        let advice = self.what_to_do();
        if !advice.is_empty() {
            write!(f, " {advice}")?;
        }
        if let Some(id) = &e.request_id {
            write!(f, " (request ID {})", Printable(id, 100))?;
        }
        Ok(())
    }
}

/// Why a body could not be parsed, in the parser's words cut short.
#[derive(Debug)]
struct ParseError(String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// Text from the server, printed with at most `.1` characters and control characters replaced.
pub(crate) struct Printable<'a>(pub(crate) &'a str, pub(crate) usize);

impl fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.0.chars();
        for c in chars.by_ref().take(self.1) {
            f.write_char(if c.is_control() { '\u{fffd}' } else { c })?;
        }
        if chars.next().is_some() {
            f.write_char('…')?;
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

pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    headers.get(REQUEST_ID).and_then(header_text)
}

fn header_text(value: &HeaderValue) -> Option<String> {
    value.to_str().ok().map(str::to_string)
}

/// What the transport saw of one operation call, kept while [`convert`] drives it.
#[derive(Debug, Default)]
pub(crate) struct Call {
    pub(crate) operation: Option<&'static str>,
    pub(crate) attempts: u32,
    pub(crate) status: Option<StatusCode>,
    pub(crate) request_id: Option<HeaderValue>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) token_error: Option<Error>,
}

tokio::task_local! {
    static CALL: RefCell<Call>;
}

/// Updates the record of the call in progress, if it is driven by [`convert`].
pub(crate) fn record(update: impl FnOnce(&mut Call)) {
    let _ = CALL.try_with(|call| update(&mut call.borrow_mut()));
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
        .map(|result| result.map_err(|e| Error::from_generated(e, CALL.with(|call| call.take()))));
    let call = Call {
        operation: Some(operation_id),
        ..Call::default()
    };
    CALL.scope(RefCell::new(call), converted)
}
