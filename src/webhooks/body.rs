//! Where a domain event carries the body of its event ([`EventKind`], the spec's
//! `x-wix-event.kind`), and taking it out: typed for a known event, as sent for any other.
//! Each layer is parsed straight into its type; a body sent as JSON text is parsed once.

use serde::de::DeserializeOwned;

use super::error::{Layer, WebhookError};
use crate::types;
use crate::wire::RawJson;

/// Where a domain event carries the body of its event: the spec's `x-wix-event.kind`.
///
/// Wix's standard events carry it in one of four fields of the domain event; Contacts v4's
/// Contact Created, for one, sends `{"createdEvent": {"entityAsJson": "<the contact>"}}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// `actionEvent.body` (or its JSON text, `actionEvent.bodyAsJson`) is the body.
    Action,
    /// `createdEvent` is the body, with the new entity in `entity` (sent as `entityAsJson`).
    Created,
    /// `updatedEvent` is the body, with the entity in `currentEntity` (sent as
    /// `currentEntityAsJson`).
    Updated,
    /// `deletedEvent` is the body, with the entity in `deletedEntity` (sent as
    /// `deletedEntityAsJson`) when Wix sends it: it may not (Contact Deleted sends `{}`).
    Deleted,
}

impl EventKind {
    /// The field of the domain event that carries the event: `actionEvent`, `createdEvent`,
    /// `updatedEvent` or `deletedEvent`.
    pub const fn field(self) -> &'static str {
        match self {
            EventKind::Action => "actionEvent",
            EventKind::Created => "createdEvent",
            EventKind::Updated => "updatedEvent",
            EventKind::Deleted => "deletedEvent",
        }
    }

    /// The field inside [`field`](Self::field) that holds the body (`body`) or the entity
    /// (`entity`, `currentEntity`, `deletedEntity`); Wix may send it as JSON text, in the field
    /// of this name followed by `AsJson`.
    pub const fn entity(self) -> &'static str {
        match self {
            EventKind::Action => "body",
            EventKind::Created => "entity",
            EventKind::Updated => "currentEntity",
            EventKind::Deleted => "deletedEntity",
        }
    }
}

/// Parses one layer of a delivery: a failure is [`WebhookError::Malformed`] at `layer`.
pub(super) fn parse<T: DeserializeOwned>(text: &str, layer: Layer) -> Result<T, WebhookError> {
    serde_json::from_str(text).map_err(|e| WebhookError::malformed(layer, &e))
}

/// The body of a known event of `kind`, taken out of the domain event.
pub(super) fn body<T: DeserializeOwned>(
    domain: &mut types::DomainEvent,
    kind: EventKind,
) -> Result<T, WebhookError> {
    let missing = |what: &str| {
        let reason = format!("the event has no `{}{what}`", kind.field());
        WebhookError::malformed_because(Layer::EventBody, &reason)
    };
    let container = match kind {
        EventKind::Action => {
            let action = domain.action_event.take();
            let (body, text) = action.map_or((None, None), |a| (a.body, a.body_as_json));
            return match (body, text) {
                (Some(body), _) if body.get() != "null" => typed_body(&body),
                (_, Some(text)) => parse(&text, Layer::EventBody),
                _ => Err(missing(".body")),
            };
        }
        EventKind::Created => domain.created_event.take(),
        EventKind::Updated => domain.updated_event.take(),
        EventKind::Deleted => domain.deleted_event.take(),
    };
    let container = container.filter(|raw| raw.get() != "null");
    let mut event: serde_json::Map<String, serde_json::Value> = parse(
        container.ok_or_else(|| missing(""))?.get(),
        Layer::EventBody,
    )?;
    let field = kind.entity();
    let entity = match event.remove(field) {
        Some(serde_json::Value::String(text)) => Some(text),
        Some(serde_json::Value::Null) | None => match event.remove(&format!("{field}AsJson")) {
            Some(serde_json::Value::String(text)) => Some(text),
            Some(serde_json::Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        },
        Some(entity) => {
            event.insert(field.to_owned(), entity);
            None
        }
    };
    if let Some(text) = entity {
        let entity: serde_json::Value = parse(&text, Layer::EventBody)?;
        event.insert(field.to_owned(), entity);
    }
    if kind != EventKind::Deleted && !event.contains_key(field) {
        return Err(missing(&format!(".{field}")));
    }
    serde_json::from_value(serde_json::Value::Object(event))
        .map_err(|e| WebhookError::malformed(Layer::EventBody, &e))
}

/// An action event's body: a JSON object, or (older payloads) JSON text of one. The body
/// was kept as raw JSON, so it is decoded straight into its type, without a `Value` tree.
fn typed_body<T: DeserializeOwned>(body: &RawJson) -> Result<T, WebhookError> {
    match body.get().as_bytes().first() {
        Some(b'"') => {
            let text: String = parse(body.get(), Layer::EventBody)?;
            parse(&text, Layer::EventBody)
        }
        _ => parse(body.get(), Layer::EventBody),
    }
}

/// The body of an unknown event, parsed when it came as valid JSON text: `actionEvent.body`
/// (or `bodyAsJson`), else the created, updated or deleted event as sent.
pub(super) fn raw_body(domain: &mut types::DomainEvent) -> serde_json::Value {
    let action = domain.action_event.take();
    let (body, text) = action.map_or((None, None), |a| (a.body, a.body_as_json));
    let body = body.map(|raw| raw.to_value());
    let body = body.or(text.map(serde_json::Value::String));
    let body = body.or_else(|| {
        [
            &domain.created_event,
            &domain.updated_event,
            &domain.deleted_event,
        ]
        .into_iter()
        .find_map(|event| event.as_ref().map(RawJson::to_value))
    });
    match body {
        Some(serde_json::Value::String(text)) => {
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
        }
        Some(value) => value,
        None => serde_json::Value::Null,
    }
}
