//! What the fake records and is told: the faults it answers with, the webhook events it
//! emitted, their deliveries, the requests it received.

use std::time::Duration;

use wix_inbox::types::{DomainEvent, WebhookEnvelope};

#[cfg(doc)]
use super::{FakeInbox, FakeInboxBuilder};

/// A fault the fake answers an Inbox call with, instead of serving it (see
/// [`FakeInbox::fail_next`]).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status: for 4xx a Wix error body (429 `TOO_MANY_REQUESTS` without
    /// `Retry-After`, as Wix documents none), for 5xx an empty body, as Wix often sends.
    Status(u16),
    /// Answer with this status and a `Retry-After: <seconds>` header.
    StatusRetryAfter(u16, u64),
    /// Close the TCP connection without answering.
    Drop,
    /// Wait this long, then serve the call normally (for client timeouts). The wait is not
    /// counted by the request timeout of [`FakeInboxBuilder::serve_options`], up to an hour of it.
    Delay(Duration),
    /// Answer with Wix's error body: `status` (400 to 599), `message`, the application error
    /// `code` when given (`NO_INBOX_INSTANCE`, `IDENTITY_DOES_NOT_MATCH`, ...; its
    /// `description` is `message`), and the validation error's field violations when any.
    Error {
        /// The HTTP status.
        status: u16,
        /// `details.applicationError.code`.
        code: Option<String>,
        /// `message` (and the application error's `description`).
        message: String,
        /// `details.validationError.fieldViolations`.
        violations: Vec<wix_inbox::types::FieldViolation>,
    },
}

/// A webhook event the fake emitted (one per event, whatever the number of receivers).
#[derive(Clone, Debug)]
pub struct SentEvent {
    /// The envelope's `eventType`, e.g. `wix.crm.inbox.v2.message_message_sent_to_business`.
    pub event_type: String,
    /// The envelope, as signed (its `identity` and `data` are JSON text).
    pub envelope: WebhookEnvelope,
    /// The domain event (its `id` is the event ID; `actionEvent.body` the event body). A plain
    /// event (App Instance Installed or Removed) has none: only its `id` is set here, the ID
    /// the decoder gives it (`<eventType>:<instanceId>:<iat>`); its body is the envelope's
    /// `data`.
    pub domain_event: DomainEvent,
    /// The signed JWT of the first delivery (each redelivery is signed anew, same event ID).
    pub jwt: String,
}

/// One try at delivering an event to a receiver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryAttempt {
    /// The receiver's status code, if it answered in time.
    pub status: Option<u16>,
    /// Why there was no status (connection refused, timed out...).
    pub error: Option<String>,
    /// How long the attempt took, from sending the request to the status (or the error).
    pub latency: Duration,
}

/// The delivery of one event to one receiver, with every attempt so far.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The domain event's `id`: the same on every attempt.
    pub event_id: String,
    /// The envelope's `eventType`.
    pub event_type: String,
    /// The receiver's URL.
    pub receiver: String,
    /// The attempts, in order.
    pub attempts: Vec<DeliveryAttempt>,
    /// Whether an attempt was answered with 200.
    pub delivered: bool,
    /// Whether the fake stopped trying (delivered, or out of attempts).
    pub finished: bool,
    /// Whether this delivers an event again: [`FakeInbox::redeliver`], or a repeat of the
    /// [`DeliveryPolicy::duplicates`](crate::DeliveryPolicy::duplicates).
    pub repeat: bool,
    /// How long after the delivery started the receiver answered 200 (resends and holds
    /// included), once it did.
    pub time_to_200: Option<Duration>,
}

/// An HTTP request the fake received (see [`FakeInbox::requests`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`...
    pub method: String,
    /// The path and query, as sent, cut to its first [`URI_LIMIT`](Self::URI_LIMIT) bytes.
    pub uri: String,
    /// The status answered, or `None` when the connection was dropped (a [`Fault::Drop`]).
    pub status: Option<u16>,
}

impl RecordedRequest {
    /// How much of a URI the log keeps, in bytes (8 KiB).
    pub const URI_LIMIT: usize = 8 * 1024;
}
