//! The control API's changes: each handler reads a JSON body, calls the [`FakeInbox`] method
//! that does the thing (the same one a Rust test would call) and answers JSON.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{view, Fake, Refused};
use crate::{ContactDetails, FakeInbox, Fault, MemberDetails, MergeContactsError};
use wix_inbox::types::{Message, MessageContent, MessageVisibility, ParticipantId};

type Answer = Result<Json<Value>, Refused>;

/// The most faults one request may queue.
const MAX_FAULTS: usize = 1000;

/// The longest ID or URL the API takes, in bytes.
const MAX_ID: usize = 2048;

/// The body as `T`; an empty body reads as `{}`.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, Refused> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| Refused::bad_request(format!("bad JSON body: {e}")))
}

/// `value` if it is a usable ID (not empty, not too long).
fn id<'a>(name: &str, value: &'a str) -> Result<&'a str, Refused> {
    if value.trim().is_empty() {
        return Err(Refused::bad_request(format!("{name} must not be empty")));
    }
    if value.len() > MAX_ID {
        return Err(Refused::bad_request(format!(
            "{name} is longer than {MAX_ID} bytes"
        )));
    }
    Ok(value)
}

fn participant_id(p: &ParticipantId) -> Result<(), Refused> {
    let (ParticipantId::AnonymousVisitorId(v)
    | ParticipantId::ContactId(v)
    | ParticipantId::MemberId(v)) = p;
    id("participant", v).map(|_| ())
}

fn to_json(value: impl serde::Serialize) -> Answer {
    serde_json::to_value(value)
        .map(Json)
        .map_err(|e| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", e.to_string()))
}

/// What to send: `text` (a plain chat message) or a whole `message`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Content {
    text: Option<String>,
    message: Option<Message>,
}

impl Content {
    fn message(self) -> Result<Message, Refused> {
        match (self.text, self.message) {
            (Some(text), None) if !text.trim().is_empty() => Ok(Message {
                content: Some(MessageContent::text(text)),
                source_channel: Some(wix_inbox::types::ChannelType::Chat),
                ..Default::default()
            }),
            (None, Some(message)) if message.content.is_some() => Ok(message),
            (None, Some(_)) => Err(Refused::bad_request("message.content is required")),
            (Some(_), None) => Err(Refused::bad_request("text must not be empty")),
            _ => Err(Refused::bad_request("give either text or message")),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Write {
    participant: ParticipantId,
    #[serde(flatten)]
    content: Content,
}

/// `POST /_fake/participants/write`: the participant writes to the business.
pub(super) async fn write(fake: Fake, bytes: Bytes) -> Answer {
    let req: Write = body(&bytes)?;
    participant_id(&req.participant)?;
    let message = req.content.message()?;
    to_json(fake.participant_writes(&req.participant, message))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PressButton {
    participant: ParticipantId,
    interaction_id: String,
}

/// `POST /_fake/participants/press-button`: Button Interacted.
pub(super) async fn press_button(fake: Fake, bytes: Bytes) -> Answer {
    let req: PressButton = body(&bytes)?;
    participant_id(&req.participant)?;
    id("interactionId", &req.interaction_id)?;
    match fake.participant_presses_button(&req.participant, &req.interaction_id) {
        Some(event) => to_json(event),
        None => Err(Refused::not_found(
            "the participant has no conversation to press a button in",
        )),
    }
}

/// What a visitor gives as a contact: all optional.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Details {
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
}

impl Details {
    fn of(&self, contact_id: &str) -> Result<ContactDetails, Refused> {
        let mut details = ContactDetails::new(id("contactId", contact_id)?);
        if self.first_name.is_some() || self.last_name.is_some() {
            let name = |n: &Option<String>| n.clone().unwrap_or_default();
            details = details.name(name(&self.first_name), name(&self.last_name));
        }
        if let Some(email) = &self.email {
            details = details.email(id("email", email)?);
        }
        if let Some(phone) = &self.phone {
            details = details.phone(id("phone", phone)?);
        }
        Ok(details)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BecomeContact {
    visitor_id: String,
    contact_id: String,
    #[serde(flatten)]
    details: Details,
}

/// `POST /_fake/participants/become-contact`: `{"merged": ConversationsMerged | null}`.
pub(super) async fn become_contact(fake: Fake, bytes: Bytes) -> Answer {
    let req: BecomeContact = body(&bytes)?;
    let contact = req.details.of(&req.contact_id)?;
    let merged = fake.visitor_becomes_contact(id("visitorId", &req.visitor_id)?, contact);
    Ok(Json(json!({ "merged": merged })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BecomeMember {
    visitor_id: Option<String>,
    contact_id: String,
    member_id: String,
    login_email: Option<String>,
    #[serde(flatten)]
    details: Details,
}

/// `POST /_fake/participants/become-member`: a visitor (with `visitorId`) or a contact becomes a
/// member; `{"merged": ConversationsMerged | null}`.
pub(super) async fn become_member(fake: Fake, bytes: Bytes) -> Answer {
    let req: BecomeMember = body(&bytes)?;
    let mut member = MemberDetails::new(id("memberId", &req.member_id)?);
    if let Some(login) = &req.login_email {
        member = member.login_email(id("loginEmail", login)?);
    }
    let merged = match &req.visitor_id {
        Some(visitor) => {
            let contact = req.details.of(&req.contact_id)?;
            fake.visitor_becomes_member(id("visitorId", visitor)?, contact, member)
        }
        None => fake.contact_becomes_member(id("contactId", &req.contact_id)?, member),
    };
    Ok(Json(json!({ "merged": merged })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MergeContacts {
    source_id: String,
    target_id: String,
}

/// `POST /_fake/contacts/merge`: `{"merged": ConversationsMerged | null}`; 404 for an unknown
/// contact, 409 for a member as the source or a contact merged into itself.
pub(super) async fn merge_contacts(fake: Fake, bytes: Bytes) -> Answer {
    let req: MergeContacts = body(&bytes)?;
    let source = id("sourceId", &req.source_id)?;
    let target = id("targetId", &req.target_id)?;
    match fake.merge_contacts(source, target) {
        Ok(merged) => Ok(Json(json!({ "merged": merged }))),
        Err(e @ MergeContactsError::UnknownContact(_)) => Err(Refused::not_found(e.to_string())),
        Err(e) => Err(Refused::new(
            StatusCode::CONFLICT,
            "CONFLICT",
            e.to_string(),
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BusinessSend {
    conversation_id: String,
    visibility: Option<MessageVisibility>,
    #[serde(flatten)]
    content: Content,
}

/// `POST /_fake/business/send`: the business writes from its inbox.
pub(super) async fn business_send(fake: Fake, bytes: Bytes) -> Answer {
    let req: BusinessSend = body(&bytes)?;
    let conversation = id("conversationId", &req.conversation_id)?;
    let mut message = req.content.message()?;
    if let Some(visibility) = req.visibility {
        message.visibility = Some(visibility);
    }
    match fake.business_writes(conversation, message) {
        Some(event) => to_json(event),
        None => Err(Refused::not_found(format!(
            "no conversation {conversation:?} to write in (unknown, or merged into another)"
        ))),
    }
}

#[derive(Deserialize)]
pub(super) struct Receiver {
    url: String,
}

impl Receiver {
    /// The URL, if it is an absolute `http` or `https` URL.
    fn checked(&self) -> Result<&str, Refused> {
        let url = id("url", &self.url)?;
        match reqwest::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(url),
            _ => Err(Refused::bad_request(format!(
                "a receiver is an http:// or https:// URL, not {url:?}"
            ))),
        }
    }
}

fn receivers(fake: &FakeInbox) -> Answer {
    Ok(Json(json!({ "receivers": fake.webhook_receivers() })))
}

/// `POST /_fake/receivers/add`: `{"receivers": [...]}`.
pub(super) async fn add_receiver(fake: Fake, bytes: Bytes) -> Answer {
    let req: Receiver = body(&bytes)?;
    let url = req.checked()?;
    if !fake.webhook_receivers().iter().any(|r| r == url) {
        fake.add_webhook_receiver(url);
    }
    receivers(&fake)
}

/// `POST /_fake/receivers/remove`: `{"receivers": [...]}`, 404 if it was not one.
pub(super) async fn remove_receiver(fake: Fake, bytes: Bytes) -> Answer {
    let req: Receiver = body(&bytes)?;
    if !fake.remove_webhook_receiver(&req.url) {
        return Err(Refused::not_found(format!(
            "{:?} is not a receiver",
            req.url
        )));
    }
    receivers(&fake)
}

/// A fault to queue, as the snapshot writes it, with how many calls it fails.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FaultRequest {
    #[serde(default = "one")]
    count: usize,
    #[serde(flatten)]
    fault: FaultSpec,
}

fn one() -> usize {
    1
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
enum FaultSpec {
    #[serde(rename_all = "camelCase")]
    Status {
        status: u16,
        retry_after: Option<u64>,
    },
    Drop,
    Delay {
        ms: u64,
    },
    #[serde(rename_all = "camelCase")]
    Error {
        status: u16,
        code: Option<String>,
        message: String,
        #[serde(default)]
        field_violations: Vec<wix_inbox::types::FieldViolation>,
    },
}

fn pending(fake: &FakeInbox) -> Answer {
    let faults: Vec<Value> = fake.pending_faults().iter().map(view::fault).collect();
    Ok(Json(json!({ "pendingFaults": faults })))
}

/// `POST /_fake/faults`: the next `count` Inbox calls fail; `{"pendingFaults": [...]}`.
pub(super) async fn add_faults(fake: Fake, bytes: Bytes) -> Answer {
    let req: FaultRequest = body(&bytes)?;
    if req.count == 0 || req.count > MAX_FAULTS {
        return Err(Refused::bad_request(format!(
            "count must be from 1 to {MAX_FAULTS}"
        )));
    }
    let fault = match req.fault {
        FaultSpec::Status { status, .. } if !(400..=599).contains(&status) => {
            return Err(Refused::bad_request(format!(
                "a fault's status is from 400 to 599, not {status}"
            )))
        }
        FaultSpec::Status {
            status,
            retry_after: None,
        } => Fault::Status(status),
        FaultSpec::Status {
            status,
            retry_after: Some(seconds),
        } => Fault::StatusRetryAfter(status, seconds),
        FaultSpec::Drop => Fault::Drop,
        FaultSpec::Delay { ms } if ms > 600_000 => {
            return Err(Refused::bad_request("a delay is at most 600000 ms"))
        }
        FaultSpec::Delay { ms } => Fault::Delay(Duration::from_millis(ms)),
        FaultSpec::Error { status, .. } if !(400..=599).contains(&status) => {
            return Err(Refused::bad_request(format!(
                "a fault's status is from 400 to 599, not {status}"
            )))
        }
        FaultSpec::Error {
            status,
            code,
            message,
            field_violations,
        } => Fault::Error {
            status,
            code,
            message,
            violations: field_violations,
        },
    };
    fake.fail_next(req.count, fault);
    pending(&fake)
}

/// `POST /_fake/faults/clear`: `{"pendingFaults": []}`.
pub(super) async fn clear_faults(fake: Fake) -> Answer {
    fake.clear_faults();
    pending(&fake)
}

/// `POST /_fake/tokens/expire`: every access token issued so far stops working.
pub(super) async fn expire_tokens(fake: Fake) -> Answer {
    fake.expire_tokens();
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub(super) struct Redeliver {
    receiver: Option<String>,
}

/// `POST /_fake/webhooks/{eventId}/redeliver`: `{"deliveries": n}`.
pub(super) async fn redeliver(fake: Fake, Path(event_id): Path<String>, bytes: Bytes) -> Answer {
    let req: Redeliver = body(&bytes)?;
    if let Some(url) = &req.receiver {
        Receiver { url: url.clone() }.checked()?;
    }
    match fake.redeliver(&event_id, req.receiver.as_deref()) {
        None => Err(Refused::not_found(format!(
            "no webhook event has the ID {event_id:?}"
        ))),
        Some(0) => Err(Refused::new(
            StatusCode::CONFLICT,
            "NO_RECEIVER",
            "no receiver to deliver to: add one first",
        )),
        Some(n) => Ok(Json(json!({ "deliveries": n }))),
    }
}
