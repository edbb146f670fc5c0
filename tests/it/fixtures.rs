//! Every example response and webhook example of Wix's docs (copied into `tests/fixtures/`)
//! deserializes into the generated types and serializes back without losing a field.
//!
//! Nothing here lists the spec's schemas, operations or events: a fixture names its schema
//! (`"schema"`), build.rs lists the object schemas (`$OUT_DIR/schemas.rs`, the dispatcher
//! below), the spec its operations and `webhooks::EVENTS` its events. Adding an operation or an
//! event is adding its fixture.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use wix_inbox::types;
use wix_inbox::webhooks::test_signer::{TestEvent, TestSigner};
use wix_inbox::webhooks::{EventKind, KnownEvent, EVENTS};

/// Makes `round_trip_as`, which round-trips a body through the type of the spec's schema of that
/// name, from the list of the spec's object schemas build.rs writes.
macro_rules! spec_schemas {
    ($($name:ident,)*) => {
        /// Round-trips `body` through the generated type of the object schema `schema` (see
        /// [`round_trip`]) and gives back what it serialized to.
        fn round_trip_as(schema: &str, body: &Value, what: &str) -> Value {
            match schema {
                $(stringify!($name) => {
                    serde_json::to_value(round_trip::<types::$name>(body, what)).unwrap()
                })*
                other => panic!("{what}: the spec has no object schema {other}"),
            }
        }
    };
}
include!(concat!(env!("OUT_DIR"), "/schemas.rs"));

/// Deserializes `body` as `T`, serializes it back and checks that every field of the input came
/// back with the same value (numbers compared by value, timestamps as instants, an empty array
/// the same as a missing one). `what` names the body in failure messages (a fixture's name).
pub fn round_trip<T: DeserializeOwned + Serialize>(body: &Value, what: &str) -> T {
    let typed: T = serde_json::from_value(body.clone()).unwrap_or_else(|e| {
        panic!(
            "{what}: does not deserialize as {}: {e}",
            std::any::type_name::<T>()
        )
    });
    let back = serde_json::to_value(&typed).unwrap();
    assert_preserved(body, &back, &format!("{what}: $"));
    typed
}

fn assert_preserved(input: &Value, output: &Value, path: &str) {
    match (input, output) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let p = format!("{path}.{k}");
                match b.get(k) {
                    Some(w) => assert_preserved(v, w, &p),
                    None => assert!(
                        v.as_array().is_some_and(|a| a.is_empty()),
                        "{p} was lost in the round trip (value {v})"
                    ),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{path}: array length changed");
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                assert_preserved(v, w, &format!("{path}[{i}]"));
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            assert_eq!(a.as_f64(), b.as_f64(), "{path}: number changed")
        }
        (Value::String(a), Value::String(b)) if a != b => {
            let ta = chrono::DateTime::parse_from_rfc3339(a);
            let tb = chrono::DateTime::parse_from_rfc3339(b);
            match (ta, tb) {
                (Ok(ta), Ok(tb)) => assert_eq!(ta, tb, "{path}: timestamp changed"),
                _ => panic!("{path}: {a:?} came back as {b:?}"),
            }
        }
        (a, b) => assert_eq!(a, b, "{path} changed"),
    }
}

fn fixtures(dir: &str) -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                serde_json::from_str(&text).unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The response fixtures of `schema`, typed.
fn examples<T: DeserializeOwned + Serialize>(schema: &str) -> Vec<(String, T)> {
    let all = fixtures("responses").into_iter();
    let all = all.filter(|(_, fixture)| fixture["schema"] == schema);
    let typed: Vec<_> = all
        .map(|(name, fixture)| {
            let typed = round_trip(&fixture["body"], &name);
            (name, typed)
        })
        .collect();
    assert!(!typed.is_empty(), "no example of {schema}");
    typed
}

/// The schema of each operation's 200 response, by operationId, from the spec.
fn response_schemas() -> Vec<(String, String)> {
    let spec: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../../openapi/inbox-v2.yaml")).unwrap();
    let mut out = Vec::new();
    for (_, path) in spec["paths"].as_mapping().unwrap() {
        for (_, op) in path.as_mapping().unwrap() {
            // The token call is no `Client` method: the credentials layer reads its token alone.
            if op.get("x-wix-auth-flow").is_some() {
                continue;
            }
            let id = op["operationId"].as_str().unwrap().to_owned();
            let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
            let target = schema["$ref"]
                .as_str()
                .unwrap_or_else(|| panic!("{id}: no 200 $ref"));
            let name = target.trim_start_matches("#/components/schemas/");
            out.push((id, name.to_owned()));
        }
    }
    out
}

/// Every response fixture round-trips through the type of the schema it names, and every
/// operation of the spec has at least one example of its response.
#[test]
fn every_response_example_round_trips() {
    let mut seen = BTreeSet::new();
    for (name, fixture) in fixtures("responses") {
        let schema = fixture["schema"].as_str().unwrap();
        let back = round_trip_as(schema, &fixture["body"], &name);
        assert!(back.is_object(), "{name}");
        seen.insert(schema.to_owned());
    }
    for (id, schema) in response_schemas() {
        assert!(
            seen.contains(&schema),
            "{id}: add an example response ({schema}) of Wix's docs to tests/fixtures/responses"
        );
    }
}

/// What the examples hold arrives typed where the crate reads it.
#[test]
fn the_examples_hold_what_the_crate_reads() {
    for (name, r) in examples::<types::GetConversationResponse>("GetConversationResponse") {
        assert!(r.conversation.unwrap().id.is_some(), "{name}");
    }
    let created = "GetOrCreateConversationResponse";
    for (name, r) in examples::<types::GetOrCreateConversationResponse>(created) {
        assert_eq!(r.new_conversation, Some(true), "{name}");
    }
    for (name, r) in examples::<types::ListMessagesResponse>("ListMessagesResponse") {
        assert!(!r.messages.is_empty(), "{name}");
        if name == "list-messages-sdk-fields.json" {
            sdk_fields(&r.messages[0]);
        }
    }
    for (name, r) in examples::<types::SendMessageResponse>("SendMessageResponse") {
        let m = r.message.unwrap();
        assert!(m.sequence.is_some(), "{name}");
        assert!(m.direction.unwrap().is_known(), "{name}");
    }
    for (name, r) in examples::<types::QueryContactsResponse>("QueryContactsResponse") {
        contacts(&r.contacts, &name);
        assert!(r.paging_metadata.unwrap().total.is_some(), "{name}");
    }
    for (name, r) in examples::<types::ListContactsResponse>("ListContactsResponse") {
        contacts(&r.contacts, &name);
    }
    for (name, r) in examples::<types::GetContactResponse>("GetContactResponse") {
        contacts(&[r.contact.unwrap()], &name);
        let regular = Some(types::GetContactResponseType::Regular);
        assert_eq!(r.response_type, regular, "{name}");
    }
    for (name, r) in examples::<types::CreateContactResponse>("CreateContactResponse") {
        let contact = r.contact.unwrap();
        let info = contact.info.as_ref().unwrap();
        assert_eq!(info.name.as_ref().unwrap().first.as_deref(), Some("Some"));
        let phones = &info.phones.as_ref().unwrap().items;
        assert_eq!(phones[1].tag, Some(types::PhoneTag::Mobile), "{name}");
        assert_eq!(phones[1].e164_phone.as_deref(), Some("+380443955571"));
        // What the spec does not name (addresses, source, ...) is kept as it came.
        assert!(info.extra.contains_key("addresses"), "{name}");
        assert!(contact.extra.contains_key("source"), "{name}");
    }
    for (name, r) in examples::<types::QueryMembersResponse>("QueryMembersResponse") {
        members(&r.members, &name);
    }
    for (name, r) in examples::<types::ListMembersResponse>("ListMembersResponse") {
        members(&r.members, &name);
    }
    for (name, r) in examples::<types::GetMemberResponse>("GetMemberResponse") {
        members(&[r.member.unwrap()], &name);
    }
}

/// What Wix's contact examples hold, typed: an ID, and the emails and phones where the
/// fieldset returns them.
fn contacts(contacts: &[types::Contact], name: &str) {
    assert!(!contacts.is_empty(), "{name}");
    for contact in contacts {
        assert!(contact.id.is_some(), "{name}");
        assert!(contact.revision.is_some(), "{name}");
        let Some(emails) = contact.info.as_ref().and_then(|i| i.emails.as_ref()) else {
            continue;
        };
        assert!(emails.items.iter().all(|e| e.email.is_some()), "{name}");
        let tag = emails.items[0].tag.as_ref();
        assert_eq!(tag, Some(&types::EmailTag::Main), "{name}");
    }
}

/// What Wix's member examples hold, typed: an ID and a profile always; the login email and
/// contact ID only with the `FULL` fieldset (the status is `UNKNOWN` without it).
fn members(members: &[types::Member], name: &str) {
    assert!(!members.is_empty(), "{name}");
    for member in members {
        assert!(member.id.is_some(), "{name}");
        assert!(
            member.profile.as_ref().unwrap().nickname.is_some(),
            "{name}"
        );
        let full = name.contains("full");
        assert_eq!(member.login_email.is_some(), full, "{name}");
        assert_eq!(member.contact.is_some(), full, "{name}");
        if full {
            assert_eq!(member.status, Some(types::MemberStatus::Approved), "{name}");
            assert!(member.contact_id.is_some(), "{name}");
            let contact = member.contact.as_ref().unwrap();
            assert_eq!(contact.emails, ["john@example.com"], "{name}");
        } else {
            assert_eq!(member.status, Some(types::MemberStatus::Unknown), "{name}");
        }
    }
}

/// The fields Wix's SDK types name and its REST docs JSON lacks arrive typed.
fn sdk_fields(m: &types::Message) {
    assert_eq!(m.silent, Some(true));
    assert_eq!(
        m.target_channel_ids,
        ["6a3f35c1-7d62-4a7c-9f4b-54cc1f0a2a11"]
    );
    assert_eq!(
        m.source_channel_id.as_deref(),
        Some("0b2d1c5e-3a8f-4f59-a1c6-8a3e0c2d9f10")
    );
    let items = &m.content.as_ref().unwrap().basic.as_ref().unwrap().items;
    let expires: chrono::DateTime<chrono::Utc> = "2025-11-30T19:12:43.799Z".parse().unwrap();
    let image = items[0].image.as_ref().unwrap();
    assert_eq!(image.url_expiration, Some(expires));
    let file = items[1].file.as_ref().unwrap();
    assert_eq!(file.url_expiration, Some(expires));
}

/// The body the decoder should give for a domain event of `kind`, read from the domain event
/// as Wix sent it (an oracle written apart from the decoder): `actionEvent.body`, or the
/// created, updated or deleted event with its entity's JSON text parsed in place.
fn sent_body(domain: &Value, kind: EventKind) -> Value {
    let event = &domain[kind.field()];
    let parsed = |v: &Value| match v {
        Value::String(text) => serde_json::from_str(text).unwrap(),
        other => other.clone(),
    };
    let field = kind.entity();
    let as_json = format!("{field}AsJson");
    if kind == EventKind::Action {
        return match &event["body"] {
            Value::Null => parsed(&event[&as_json]),
            body => parsed(body),
        };
    }
    let mut event = event.as_object().expect("the event is an object").clone();
    if let Some(text) = event.remove(&as_json) {
        event.insert(field.to_owned(), parsed(&text));
    }
    if let Some(entity) = event.get_mut(field) {
        *entity = parsed(entity);
    }
    Value::Object(event)
}

/// The event of the spec a domain event names.
fn event_of(domain: &Value, what: &str) -> &'static KnownEvent {
    let (fqdn, slug) = (&domain["entityFqdn"], &domain["slug"]);
    EVENTS
        .iter()
        .find(|e| *fqdn == e.entity_fqdn && *slug == e.slug)
        .unwrap_or_else(|| panic!("{what}: {fqdn}/{slug} is no event of the spec"))
}

/// Signs a domain event as Wix does and verifies it: the decoded event as JSON.
fn delivered(event: &KnownEvent, domain: &Value) -> Value {
    let signer = TestSigner::shared();
    let token = signer.sign_event(&TestEvent::new(event.event_type, domain.clone()));
    let decoded = signer.verifier().verify(token.as_bytes()).unwrap();
    serde_json::to_value(&decoded.event).unwrap()
}

/// Every event of the spec has a webhook example, which decodes, as Wix delivers it, into its
/// own typed variant of `InboxEvent` with its body whole: an event added to the spec needs its
/// example here, and nothing else.
#[test]
fn every_webhook_example_round_trips_with_its_body() {
    let spec: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../../openapi/inbox-v2.yaml")).unwrap();
    let schemas = spec["components"]["schemas"].as_mapping().unwrap();
    let in_spec: BTreeSet<&str> = schemas
        .iter()
        // Domain events; the plain ones (`eventType` alone) have their own examples
        // (`every_plain_event_example_decodes_into_its_own_variant`).
        .filter(|(_, schema)| schema["x-wix-event"].get("entityFqdn").is_some())
        .map(|(name, _)| name.as_str().unwrap())
        .collect();
    let generated: BTreeSet<&str> = EVENTS.iter().map(|e| e.name).collect();
    assert_eq!(
        generated, in_spec,
        "webhooks::EVENTS is the spec's domain events"
    );

    let mut seen = BTreeSet::new();
    for (name, fixture) in fixtures("webhooks") {
        let domain = &fixture["body"];
        let typed: types::DomainEvent = round_trip(domain, &name);
        assert!(typed.event_time.is_some(), "{name}");
        let event = event_of(domain, &name);
        let decoded = delivered(event, domain);
        assert_eq!(decoded["kind"], event.name, "{name}");
        let sent = sent_body(domain, event.kind);
        assert_preserved(&sent, &decoded["body"], &format!("{name} body"));
        round_trip_as(event.name, &decoded["body"], &name);
        seen.insert(event.name);
    }
    for event in EVENTS {
        assert!(
            seen.contains(event.name),
            "{}: add Wix's example as tests/fixtures/webhooks/{}DomainEvent.json",
            event.name,
            event.name
        );
    }
}

/// The Contacts v4 events of Wix's examples carry the contact (sent as JSON text) typed, and
/// Contact Deleted, whose `deletedEvent` is empty, is still its own event.
#[test]
fn contact_events_carry_the_contact() {
    use wix_inbox::webhooks::InboxEvent;
    let signer = TestSigner::shared();
    let mut checked = 0;
    for (name, fixture) in fixtures("webhooks") {
        let domain = &fixture["body"];
        let event = event_of(domain, &name);
        let token = signer.sign_event(&TestEvent::new(event.event_type, domain.clone()));
        let decoded = signer.verifier().verify(token.as_bytes()).unwrap();
        let id = decoded.entity_id.as_deref();
        checked += 1;
        let contact = match decoded.event {
            InboxEvent::ContactCreated(created) => created.entity.unwrap(),
            InboxEvent::ContactUpdated(updated) => updated.current_entity.unwrap(),
            InboxEvent::ContactDeleted(deleted) => {
                assert_eq!(deleted, types::ContactDeleted::default(), "{name}");
                assert!(id.is_some(), "{name}: the deleted contact is the entityId");
                continue;
            }
            _ => {
                checked -= 1;
                continue;
            }
        };
        assert_eq!(contact.id.as_deref(), id, "{name}");
        let emails = &contact
            .info
            .as_ref()
            .unwrap()
            .emails
            .as_ref()
            .unwrap()
            .items;
        assert_eq!(
            emails[0].email.as_deref(),
            Some("johndoe@example.com"),
            "{name}"
        );
        assert!(contact.extra.contains_key("source"), "{name}");
    }
    assert_eq!(checked, 3, "Contact Created, Updated and Deleted");
}

/// Every plain event of the spec (`x-wix-event: {eventType}`: App Instance Installed and
/// Removed) has an example envelope, from Wix's docs, that decodes into its own variant with
/// every field, signed as Wix delivers it.
#[test]
fn every_plain_event_example_decodes_into_its_own_variant() {
    let spec: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../../openapi/inbox-v2.yaml")).unwrap();
    let mut plain: Vec<(String, String)> = spec["components"]["schemas"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter_map(|(name, schema)| {
            let event_type = schema["x-wix-event"].get("eventType")?;
            Some((name.as_str()?.to_owned(), event_type.as_str()?.to_owned()))
        })
        .collect();
    plain.sort();
    let mut generated: Vec<(String, String)> = wix_inbox::webhooks::PLAIN_EVENTS
        .iter()
        .map(|e| (e.name.to_owned(), e.event_type.to_owned()))
        .collect();
    generated.sort();
    assert_eq!(
        generated, plain,
        "webhooks::PLAIN_EVENTS is the spec's plain events"
    );
    let all = fixtures("app-events");
    let names: Vec<_> = all
        .iter()
        .map(|(_, f)| f["schema"].as_str().unwrap())
        .collect();
    let expected: Vec<_> = plain.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, expected, "one example per plain event of the spec");
    let signer = wix_inbox::webhooks::test_signer::TestSigner::shared();
    for ((schema, event_type), (name, fixture)) in plain.iter().zip(&all) {
        let envelope = &fixture["envelope"];
        assert_eq!(envelope["eventType"], event_type.as_str(), "{name}");
        let claims = serde_json::json!({
            "data": envelope.to_string(),
            "iat": 1_700_000_000,
            "exp": i64::MAX / 2,
        });
        let event = signer
            .verifier()
            .verify(signer.sign_claims(&claims).as_bytes())
            .unwrap();
        assert_eq!(
            event.id,
            format!(
                "{event_type}:{}:1700000000",
                envelope["instanceId"].as_str().unwrap()
            )
        );
        assert_eq!(
            event.instance_id.as_deref(),
            envelope["instanceId"].as_str()
        );
        assert_eq!(event.event_type.as_deref(), Some(event_type.as_str()));
        assert_eq!(
            event.event_time,
            chrono::DateTime::from_timestamp(1_700_000_000, 0)
        );
        let identity = event.identity.as_ref().unwrap();
        assert_eq!(identity.identity_type, Some(types::IdentityType::WixUser));
        let decoded = serde_json::to_value(&event.event).unwrap();
        assert_eq!(decoded["kind"], schema.as_str(), "{name}");
        let body: Value = serde_json::from_str(envelope["data"].as_str().unwrap()).unwrap();
        assert_eq!(decoded["body"], body, "{name}: every field kept");
        match &event.event {
            wix_inbox::webhooks::InboxEvent::AppInstanceInstalled(installed) => {
                assert_eq!(installed.app_id.as_deref(), body["appId"].as_str());
                assert_eq!(
                    installed.origin_instance_id.as_deref(),
                    body["originInstanceId"].as_str()
                );
            }
            wix_inbox::webhooks::InboxEvent::AppInstanceRemoved(removed) => {
                assert_eq!(removed.app_id.as_deref(), body["appId"].as_str());
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn the_round_trip_check_catches_a_lost_field() {
    // The checker itself must be able to fail: a field a type that does not keep unknown fields
    // (an error body) does not name is lost.
    let body =
        serde_json::json!({"details": {"applicationError": {"code": "X", "notInTheSpec": 1}}});
    let result = std::panic::catch_unwind(|| {
        round_trip::<types::ErrorResponse>(&body, "lost field");
    });
    let message = *result.unwrap_err().downcast::<String>().unwrap();
    assert!(
        message.starts_with("lost field: $.details.applicationError.notInTheSpec was lost"),
        "{message}"
    );
}

/// Fields Wix adds tomorrow survive a round trip through the response types, at every depth:
/// Wix's own examples with an unknown field added to every object of them.
#[test]
fn unknown_fields_survive_a_round_trip_at_every_depth() {
    fn add_unknown(value: &mut Value, depth: usize) -> usize {
        match value {
            Value::Object(map) => {
                let mut added = 0;
                for (_, v) in map.iter_mut() {
                    added += add_unknown(v, depth + 1);
                }
                map.insert(
                    format!("addedByWixLater{depth}"),
                    serde_json::json!({"nested": [1, "two", null], "at": depth}),
                );
                added + 1
            }
            Value::Array(items) => items.iter_mut().map(|v| add_unknown(v, depth + 1)).sum(),
            _ => 0,
        }
    }
    let mut checked = 0;
    for (name, fixture) in fixtures("responses") {
        let mut body = fixture["body"].clone();
        let added = add_unknown(&mut body, 0);
        let what = format!("{name} with {added} unknown fields");
        round_trip_as(fixture["schema"].as_str().unwrap(), &body, &what);
        checked += added;
    }
    for (name, fixture) in fixtures("webhooks") {
        let mut domain = fixture["body"].clone();
        let added = add_unknown(&mut domain, 0);
        let what = format!("{name} with {added} unknown fields");
        round_trip::<types::DomainEvent>(&domain, &what);
        // The event body is decoded once its event is known: into its own type, keeping them.
        let event = event_of(&domain, &name);
        let decoded = delivered(event, &domain);
        assert_eq!(decoded["kind"], event.name, "{name}");
        assert_preserved(&sent_body(&domain, event.kind), &decoded["body"], &what);
        checked += added;
    }
    assert!(checked > 300, "only {checked} unknown fields were checked");
}
