//! Decoding the verified claims of a webhook into a [`WebhookEvent`].
//!
//! Wix nests JSON inside strings three times (see [the module docs](super)); each layer is
//! parsed into its generated type from [`crate::types`], and the event's body, from where its
//! [`EventKind`] says, into the body type of its event ([`InboxEvent`]). Strings are moved from
//! layer to layer, never copied.

use serde::{Deserialize, Serialize};

use super::body::{body, parse, raw_body, EventKind};
use super::error::{Layer, WebhookError};
use crate::types;

/// A verified, decoded webhook delivery: the metadata of the domain event and the event itself.
///
/// Every metadata field is as Wix sent it; only [`id`](Self::id) is guaranteed to be present,
/// since it is what duplicates are recognized by.
///
/// It serializes (for logs, queues, the CLI) with Wix's field names, the event as
/// `{"kind": "MessageSentToBusiness", "body": {...}}`, and deserializes back from that JSON
/// (what the CLI prints, what [`crate::queue`] stores): no token is needed to read it again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WebhookEvent {
    /// Unique event ID (`id` of the domain event). Wix redelivers an event with the same ID.
    /// Never empty, at most [`MAX_EVENT_ID_LEN`] bytes, and free of control, format and
    /// separator characters (any other is refused as malformed). A plain event (App Instance
    /// Installed or Removed) has none of its own: its ID is `<eventType>:<instanceId>:<iat>`,
    /// the same for every delivery of one signed event.
    pub id: String,
    /// The envelope's `eventType`, e.g. `wix.crm.inbox.v2.message_message_sent_to_business`.
    pub event_type: Option<String>,
    /// Fully qualified name of the entity, e.g. `wix.crm.inbox.v2.message`.
    pub entity_fqdn: Option<String>,
    /// Event name, e.g. `message_sent_to_business`.
    pub slug: Option<String>,
    /// ID of the entity the event is about (a message or conversation ID).
    pub entity_id: Option<String>,
    /// When the event happened: the domain event's `eventTime`; for a plain event (App
    /// Instance Installed or Removed), which has none, the JWT's `iat` (when Wix signed it).
    pub event_time: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether a privacy request (e.g. GDPR) triggered the event.
    pub triggered_by_anonymize_request: Option<bool>,
    /// The action that triggered the event, if Wix says.
    pub originated_from: Option<String>,
    /// Sequence number of the event for its entity (an int64 sent as a string).
    pub entity_event_sequence: Option<String>,
    /// ID of the app instance on the site (the envelope's `instanceId`).
    pub instance_id: Option<String>,
    /// Who caused the event, with its `identityType`.
    pub identity: Option<types::WebhookIdentity>,
    /// The Wix account and site of the event.
    pub account_info: Option<types::AccountInfo>,
    /// The event body, typed for every event of the spec ([`EVENTS`], [`PLAIN_EVENTS`]).
    pub event: InboxEvent,
}

/// A webhook event of the spec (a component schema with `x-wix-event`): its names and where
/// its body sits. [`EVENTS`] lists them all.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct KnownEvent {
    /// The name of its body schema, its type in [`crate::types`] and its [`InboxEvent`]
    /// variant (`"MessageSentToBusiness"`).
    pub name: &'static str,
    /// `eventType`: `entityFqdn` and `slug` joined by `_`.
    pub event_type: &'static str,
    /// `entityFqdn`, e.g. `wix.crm.inbox.v2.message`.
    pub entity_fqdn: &'static str,
    /// `slug`, e.g. `message_sent_to_business`.
    pub slug: &'static str,
    /// Where the domain event carries its body.
    pub kind: EventKind,
    /// A description of the event, from the spec.
    pub description: &'static str,
    decode: fn(&mut types::DomainEvent) -> Result<InboxEvent, WebhookError>,
}

/// A plain (older-style) webhook event of the spec (a component schema with
/// `x-wix-event: {eventType}`): the envelope's `data` is its body, with no domain event around
/// it, so it has no event ID or time of its own (App Instance Installed and Removed).
/// [`PLAIN_EVENTS`] lists them all.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct PlainEvent {
    /// The name of its body schema, its type in [`crate::types`] and its [`InboxEvent`]
    /// variant (`"AppInstanceInstalled"`).
    pub name: &'static str,
    /// The envelope's `eventType` (`"AppInstalled"`).
    pub event_type: &'static str,
    /// A description of the event, from the spec.
    pub description: &'static str,
    decode: fn(&str) -> Result<InboxEvent, WebhookError>,
}

/// Defines the webhook events of the spec: build.rs writes `$OUT_DIR/events.rs`, one invocation
/// listing each component schema with `x-wix-event` (its description, `entityFqdn`, `slug` and
/// kind), and this macro makes, from that list alone, each body type's names, [`InboxEvent`]
/// and [`EVENTS`] and [`PLAIN_EVENTS`], the decoder's tables. Adding an event to the spec adds
/// it everywhere here.
macro_rules! inbox_events {
    (
        domain { $( #[doc = $doc:literal] $name:ident = ($fqdn:literal, $slug:literal, $kind:ident), )* }
        plain { $( #[doc = $pdoc:literal] $pname:ident = $ptype:literal, )* }
    ) => {
        $(
            impl types::$name {
                /// `entityFqdn` of the webhook event whose body this is.
                pub const ENTITY_FQDN: &'static str = $fqdn;
                /// `slug` of the webhook event whose body this is.
                pub const SLUG: &'static str = $slug;
                /// `eventType` of the webhook event whose body this is: `entityFqdn` and `slug`
                /// joined by `_`.
                pub const EVENT_TYPE: &'static str = concat!($fqdn, "_", $slug);
                /// Where the domain event carries this body.
                pub const KIND: EventKind = EventKind::$kind;
            }
        )*
        $(
            impl types::$pname {
                /// `eventType` of the (plain, older-style) webhook event whose body this is.
                pub const EVENT_TYPE: &'static str = $ptype;
            }
        )*

        /// The body of a webhook event.
        ///
        /// An event is recognized by its `eventType` (the canonical `…_message_sent_to_business`
        /// or the hyphenated `…_message-sent-to-business` of older pages) or, failing that, by
        /// `entityFqdn` + `slug`, and its body taken from where its [`EventKind`] says. Any other
        /// event is [`Other`](Self::Other), with its body kept: an unknown event is not an error.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind", content = "body")]
        #[non_exhaustive]
        pub enum InboxEvent {
            $(
                #[doc = concat!("`", $fqdn, "_", $slug, "`: ", $doc)]
                $name(types::$name),
            )*
            $(
                #[doc = concat!("`", $ptype, "` (a plain event: the envelope's `data` is the body): ", $pdoc)]
                $pname(types::$pname),
            )*
            /// An event this crate does not know, with its body as sent (a body sent as JSON text
            /// is parsed when it is valid JSON; `null` when there is none).
            #[serde(rename_all = "camelCase")]
            Other {
                /// The envelope's `eventType`, or `entityFqdn` and `slug` joined by `_` when it
                /// has none.
                event_type: String,
                /// `actionEvent.body`, or else the `createdEvent`, `updatedEvent` or
                /// `deletedEvent` object as sent.
                body: serde_json::Value,
            },
        }

        /// The webhook events of the spec, in its order.
        pub const EVENTS: &[KnownEvent] = &[$(
            KnownEvent {
                name: stringify!($name),
                event_type: concat!($fqdn, "_", $slug),
                entity_fqdn: $fqdn,
                slug: $slug,
                kind: EventKind::$kind,
                description: $doc,
                decode: |domain| body(domain, EventKind::$kind).map(InboxEvent::$name),
            },
        )*];

        /// The plain (older-style) webhook events of the spec, in its order: their envelope's
        /// `data` is the body.
        pub const PLAIN_EVENTS: &[PlainEvent] = &[$(
            PlainEvent {
                name: stringify!($pname),
                event_type: $ptype,
                description: $pdoc,
                decode: |data| parse(data, Layer::EventBody).map(InboxEvent::$pname),
            },
        )*];
    };
}

include!(concat!(env!("OUT_DIR"), "/events.rs"));

/// Whether `sent` names `canonical`, reading a `-` in `sent` as `_` (the spelling of older
/// pages).
fn same_name(sent: &str, canonical: &str) -> bool {
    sent.len() == canonical.len()
        && sent
            .bytes()
            .zip(canonical.bytes())
            .all(|(s, c)| s == c || (s == b'-' && c == b'_'))
}

/// The known event these names name, if any.
fn known(
    event_type: Option<&str>,
    fqdn: Option<&str>,
    slug: Option<&str>,
) -> Option<&'static KnownEvent> {
    if let Some(sent) = event_type {
        if let Some(known) = EVENTS.iter().find(|e| same_name(sent, e.event_type)) {
            return Some(known);
        }
    }
    let (fqdn, slug) = (fqdn?, slug?);
    EVENTS
        .iter()
        .find(|e| e.entity_fqdn == fqdn && same_name(slug, e.slug))
}

/// How the claims' times are checked.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimePolicy {
    /// Leeway for `exp` and `nbf`, in seconds.
    pub(crate) leeway_secs: i64,
    /// Whether a token without `exp` is refused.
    pub(crate) require_exp: bool,
}

/// Decodes verified claims JSON into an event: time checks first, then the layers in order.
pub(crate) fn decode_claims(
    claims: &[u8],
    time: &TimePolicy,
    now: i64,
) -> Result<WebhookEvent, WebhookError> {
    let payload: types::WebhookPayload =
        serde_json::from_slice(claims).map_err(|e| claims_error(claims, &e))?;

    match payload.exp {
        Some(exp) if now > exp.saturating_add(time.leeway_secs) => {
            return Err(WebhookError::Expired { exp, now });
        }
        None if time.require_exp => return Err(WebhookError::MissingExpiry),
        _ => {}
    }
    if let Some(nbf) = payload.nbf {
        if nbf > now.saturating_add(time.leeway_secs) {
            return Err(WebhookError::NotYetValid { nbf, now });
        }
    }

    decode_envelope(&payload.data, payload.iat)
}

/// Tells a missing or non-string `data` claim from other broken claims (off the hot path).
fn claims_error(claims: &[u8], err: &serde_json::Error) -> WebhookError {
    match serde_json::from_slice::<serde_json::Value>(claims) {
        Ok(serde_json::Value::Object(map)) => match map.get("data") {
            None => WebhookError::MissingData,
            Some(serde_json::Value::String(_)) => WebhookError::malformed(Layer::Claims, err),
            Some(_) => WebhookError::DataNotAString,
        },
        _ => WebhookError::malformed(Layer::Claims, err),
    }
}

/// The longest event `id` accepted, in bytes: Wix's are 36-character GUIDs. A deduplicator
/// stores every ID it sees, so this bounds its memory by size as well as by count. An ID with a
/// control, format or separator character (Unicode Cc, Cf, Zl, Zp) is refused too, so an
/// accepted ID is safe to print or log as it is.
pub const MAX_EVENT_ID_LEN: usize = 256;

/// Decodes the `data` claim (a `WebhookEnvelope` as JSON text) and everything inside it; `iat`
/// (the claims' issue time) is a plain event's time.
pub(crate) fn decode_envelope(data: &str, iat: Option<i64>) -> Result<WebhookEvent, WebhookError> {
    let envelope: types::WebhookEnvelope = parse(data, Layer::Envelope)?;

    let identity = match envelope.identity.as_deref() {
        None | Some("") => None,
        Some(text) => Some(parse::<types::WebhookIdentity>(text, Layer::Identity)?),
    };

    if let Some(plain) = envelope
        .event_type
        .as_deref()
        .and_then(|sent| PLAIN_EVENTS.iter().find(|e| e.event_type == sent))
    {
        return decode_plain(envelope, identity, plain, iat);
    }

    let domain_text = envelope.data.as_deref().ok_or_else(|| {
        WebhookError::malformed_because(Layer::Envelope, "it has no `data` (the domain event)")
    })?;
    let mut domain: types::DomainEvent = parse(domain_text, Layer::DomainEvent)?;

    let id = match domain.id.take() {
        Some(id) if id.len() > MAX_EVENT_ID_LEN => {
            return Err(WebhookError::malformed_because(
                Layer::DomainEvent,
                "its event `id` is longer than 256 bytes",
            ))
        }
        // Wix's IDs are GUIDs: an ID that could rewrite a terminal, forge a log line or look
        // like another ID is no event of Wix's.
        Some(id) if id.chars().any(crate::text::is_hidden) => {
            return Err(WebhookError::malformed_because(
                Layer::DomainEvent,
                "its event `id` holds a control, format or separator character",
            ))
        }
        Some(id) if !id.is_empty() => id,
        _ => {
            return Err(WebhookError::malformed_because(
                Layer::DomainEvent,
                "it has no event `id`",
            ))
        }
    };

    let known = known(
        envelope.event_type.as_deref(),
        domain.entity_fqdn.as_deref(),
        domain.slug.as_deref(),
    );
    let event = match known {
        Some(known) => (known.decode)(&mut domain)?,
        None => InboxEvent::Other {
            event_type: envelope.event_type.clone().unwrap_or_else(|| {
                format!(
                    "{}_{}",
                    domain.entity_fqdn.as_deref().unwrap_or_default(),
                    domain.slug.as_deref().unwrap_or_default()
                )
            }),
            body: raw_body(&mut domain),
        },
    };

    Ok(WebhookEvent {
        id,
        event_type: envelope.event_type,
        entity_fqdn: domain.entity_fqdn,
        slug: domain.slug,
        entity_id: domain.entity_id,
        event_time: domain.event_time,
        triggered_by_anonymize_request: domain.triggered_by_anonymize_request,
        originated_from: domain.originated_from,
        entity_event_sequence: domain.entity_event_sequence,
        instance_id: envelope.instance_id,
        identity,
        account_info: envelope.account_info,
        event,
    })
}

/// A plain event (the app-instance events): the envelope's `data` is its body, and it has no
/// event ID or time of its own. Its [`WebhookEvent::id`] is made of its type, instance and `iat`
/// (`AppRemoved:<instanceId>:<iat>`), the same for every delivery of one signed event; its
/// [`event_time`](WebhookEvent::event_time) is `iat`, when Wix signed it.
fn decode_plain(
    envelope: types::WebhookEnvelope,
    identity: Option<types::WebhookIdentity>,
    plain: &PlainEvent,
    iat: Option<i64>,
) -> Result<WebhookEvent, WebhookError> {
    let instance_id = envelope
        .instance_id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            WebhookError::malformed_because(
                Layer::Envelope,
                "an app-instance event names no `instanceId`",
            )
        })?;
    let data = envelope.data.as_deref().ok_or_else(|| {
        WebhookError::malformed_because(Layer::Envelope, "it has no `data` (the event body)")
    })?;
    let event = (plain.decode)(data)?;
    let event_type = plain.event_type;
    let id = match iat {
        Some(iat) => format!("{event_type}:{instance_id}:{iat}"),
        None => format!("{event_type}:{instance_id}"),
    };
    if id.len() > MAX_EVENT_ID_LEN {
        return Err(WebhookError::malformed_because(
            Layer::Envelope,
            "its `instanceId` makes an event ID longer than 256 bytes",
        ));
    }
    // As for a domain event's ID: safe to print or log as it is.
    if id.chars().any(crate::text::is_hidden) {
        return Err(WebhookError::malformed_because(
            Layer::Envelope,
            "its `instanceId` holds a control, format or separator character",
        ));
    }
    Ok(WebhookEvent {
        id,
        event_type: envelope.event_type,
        entity_fqdn: None,
        slug: None,
        entity_id: None,
        event_time: iat.and_then(|iat| chrono::DateTime::from_timestamp(iat, 0)),
        triggered_by_anonymize_request: None,
        originated_from: None,
        entity_event_sequence: None,
        instance_id: Some(instance_id),
        identity,
        account_info: envelope.account_info,
        event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_with_their_kind() {
        let other = InboxEvent::Other {
            event_type: "wix.contacts.v4.contact_created".into(),
            body: serde_json::json!({"id": 1}),
        };
        assert_eq!(
            serde_json::to_value(&other).unwrap(),
            serde_json::json!({"kind": "Other", "body": {
                "eventType": "wix.contacts.v4.contact_created", "body": {"id": 1}
            }})
        );
        let merged = InboxEvent::ConversationsMerged(types::ConversationsMerged {
            old_conversation_ids: vec!["a".into()],
            target_conversation_id: Some("b".into()),
            ..Default::default()
        });
        assert_eq!(
            serde_json::to_value(&merged).unwrap(),
            serde_json::json!({"kind": "ConversationsMerged", "body": {
                "oldConversationIds": ["a"], "targetConversationId": "b"
            }})
        );
    }

    #[test]
    fn events_deserialize_from_what_they_serialize_to() {
        let event = decode_envelope(
            &serde_json::json!({
                "eventType": types::ConversationsMerged::EVENT_TYPE,
                "instanceId": "i1",
                "identity": "{\"identityType\": \"APP\", \"appId\": \"a1\"}",
                "data": serde_json::json!({
                    "id": "e1", "entityFqdn": "wix.crm.inbox.v2.conversation",
                    "eventTime": "2024-01-01T00:00:00Z",
                    "actionEvent": {"body": {"oldConversationIds": ["a"],
                        "targetConversationId": "b", "future": 1}}
                })
                .to_string(),
            })
            .to_string(),
            None,
        )
        .unwrap();
        let json = serde_json::to_string(&event).unwrap();
        let back: WebhookEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(back, event);
        let other = InboxEvent::Other {
            event_type: "x_y".into(),
            body: serde_json::json!([1]),
        };
        let back: InboxEvent =
            serde_json::from_str(&serde_json::to_string(&other).unwrap()).unwrap();
        assert_eq!(back, other);
    }

    #[test]
    fn names_with_hyphens_match() {
        assert!(same_name(
            "wix.crm.inbox.v2.message_message-sent-to-business",
            "wix.crm.inbox.v2.message_message_sent_to_business"
        ));
        assert!(!same_name("a_b", "a.b"));
        assert!(!same_name("a", "ab"));
    }

    #[test]
    fn kind_by_fqdn_and_slug() {
        let by_names = known(
            None,
            Some("wix.crm.inbox.v2.message"),
            Some("button-interacted"),
        );
        assert_eq!(
            by_names.map(|k| k.event_type),
            Some(types::ButtonInteracted::EVENT_TYPE)
        );
        assert!(known(Some("x"), Some("wix.crm.inbox.v2.message"), None).is_none());
    }
    #[test]
    fn a_plain_event_is_its_envelope_s_data() {
        let envelope =
            r#"{"eventType":"AppRemoved","instanceId":"i-1","data":"{\"appId\":\"a\"}"}"#;
        let event = decode_envelope(envelope, Some(7)).unwrap();
        assert_eq!(event.id, "AppRemoved:i-1:7");
        assert_eq!(event.event_time, chrono::DateTime::from_timestamp(7, 0));
        assert_eq!(event.entity_fqdn, None);
        let InboxEvent::AppInstanceRemoved(body) = event.event else {
            panic!("{:?}", event.event)
        };
        assert_eq!(body.app_id.as_deref(), Some("a"));
        // Without `iat`, the ID is the type and instance.
        assert_eq!(
            decode_envelope(envelope, None).unwrap().id,
            "AppRemoved:i-1"
        );
        assert_eq!(types::AppInstanceRemoved::EVENT_TYPE, "AppRemoved");
        let event = decode_envelope(envelope, Some(7)).unwrap();
        let back: WebhookEvent =
            serde_json::from_str(&serde_json::to_string(&event).unwrap()).unwrap();
        assert_eq!(
            back, event,
            "a plain event deserializes from what it serializes to"
        );
        assert_eq!(types::AppInstanceInstalled::EVENT_TYPE, "AppInstalled");
    }

    #[test]
    fn a_broken_plain_event_is_malformed() {
        let cases = [
            (
                r#"{"eventType":"AppInstalled","data":"{}"}"#,
                "names no `instanceId`",
            ),
            (
                r#"{"eventType":"AppInstalled","instanceId":"","data":"{}"}"#,
                "names no `instanceId`",
            ),
            (
                r#"{"eventType":"AppInstalled","instanceId":"i"}"#,
                "has no `data`",
            ),
            (
                r#"{"eventType":"AppInstalled","instanceId":"i","data":"[1]"}"#,
                "event body",
            ),
        ];
        for (envelope, says) in cases {
            let error = decode_envelope(envelope, Some(1)).unwrap_err().to_string();
            assert!(error.contains(says), "{envelope}: {error}");
        }
        let long = format!(
            r#"{{"eventType":"AppInstalled","instanceId":"{}","data":"{{}}"}}"#,
            "i".repeat(MAX_EVENT_ID_LEN)
        );
        let error = decode_envelope(&long, Some(1)).unwrap_err().to_string();
        assert!(error.contains("longer than 256 bytes"), "{error}");
    }
}
