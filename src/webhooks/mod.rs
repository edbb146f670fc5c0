//! Receiving Wix Inbox webhooks: verify, decode, drop duplicates.
//!
//! Wix delivers each webhook as an HTTP `POST` whose whole body is a JWT, signed with RS256 and
//! the app's private key. Its payload nests JSON inside strings three times:
//!
//! ```text
//! JWT claims (WebhookPayload):  {"data": "<JSON text>", "iat": n, "exp": n}
//! data (WebhookEnvelope):       {"eventType", "instanceId", "identity": "<JSON text>",
//!                                "accountInfo": {..}, "data": "<JSON text>"}
//! identity (WebhookIdentity):   {"identityType", "anonymousVisitorId" | "memberId" | ..}
//! data (DomainEvent):           {"id", "entityFqdn", "slug", "entityId", "eventTime", ..,
//!                                "actionEvent": {"body": {..}}}   (or createdEvent,
//!                                updatedEvent, deletedEvent: see EventKind)
//! ```
//!
//! - [`WebhookVerifier`] checks the token (size, RS256 only, signature, `exp`/`nbf`) with a key
//!   parsed once, and decodes all layers into a [`WebhookEvent`] whose [`InboxEvent`] is typed
//!   for every event of the spec ([`EVENTS`]: the Inbox's four, Contact Created, Updated and
//!   Deleted; [`PLAIN_EVENTS`]: App Instance Installed and Removed, whose envelope carries the
//!   body itself). Every failure is a distinct [`WebhookError`].
//! - [`Deduplicator`] / [`InMemoryDeduplicator`] claim event IDs with a lease, so that a
//!   redelivery (Wix retries for about 47 hours) is not handed on twice and an event whose
//!   handling failed is not lost; `RedisDeduplicator` (feature `redis`) shares the claims
//!   between processes.
//! - [`axum::WebhookReceiver`] (feature `axum`) is a ready endpoint.
//! - [`test_signer`] (feature `test-util`) signs events as Wix does, for tests.
//!
//! ```
//! use wix_inbox::webhooks::{Claim, InMemoryDeduplicator, InboxEvent, WebhookVerifier};
//! # use wix_inbox::webhooks::test_signer::{TestEvent, TestSigner};
//! # let public_key_pem = TestSigner::shared().public_key_pem();
//! # let body = TestSigner::shared().sign_event(&TestEvent::new(
//! #     "wix.crm.inbox.v2.message_message_sent_to_business",
//! #     serde_json::json!({"id": "e1", "actionEvent": {"body": {"conversationId": "c1"}}}),
//! # ));
//!
//! // Once, at start-up:
//! let verifier = WebhookVerifier::from_public_key(public_key_pem)?;
//! let seen = InMemoryDeduplicator::new();
//!
//! // Per request (`body` is the raw request body):
//! let event = verifier.verify(body.as_bytes())?;
//! if let Claim::First(lease) = seen.claim_now(&event.id) {
//!     if let InboxEvent::MessageSentToBusiness(sent) = &event.event {
//!         println!("new message in {:?}", sent.conversation_id);
//!     }
//!     seen.complete_now(&lease)?; // handed on: a redelivery is now a duplicate
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod body;
mod dedup;
mod error;
mod event;
mod verify;

#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "test-util")]
pub mod test_signer;

pub use body::EventKind;
pub use dedup::{
    Claim, DedupError, Deduplicator, InMemoryDeduplicator, Lease, DEFAULT_CAPACITY, DEFAULT_LEASE,
    DEFAULT_TTL,
};
pub use error::{Layer, WebhookError};
pub use event::{
    InboxEvent, KnownEvent, PlainEvent, WebhookEvent, EVENTS, MAX_EVENT_ID_LEN, PLAIN_EVENTS,
};
pub use verify::{WebhookVerifier, DEFAULT_LEEWAY, DEFAULT_MAX_BODY_SIZE};

/// The decode path after the signature check, for fuzzing: `claims` is the JSON of a JWT's
/// claims. Times are checked against `now` with the default leeway; `exp` is not required.
#[doc(hidden)]
pub fn __fuzz_decode_claims(claims: &[u8], now: i64) -> Result<WebhookEvent, WebhookError> {
    let time = event::TimePolicy {
        leeway_secs: DEFAULT_LEEWAY.as_secs() as i64,
        require_exp: false,
    };
    event::decode_claims(claims, &time, now)
}
