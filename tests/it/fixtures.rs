//! Every example response and webhook example of Wix's docs (copied into `tests/fixtures/`)
//! deserializes into the generated types and serializes back without losing a field.

use std::path::Path;

use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use wix_inbox::types;

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

#[test]
fn every_response_example_round_trips() {
    let all = fixtures("responses");
    assert_eq!(
        all.len(),
        7,
        "one fixture per example response of the docs, and one for the SDK's fields"
    );
    for (name, fixture) in all {
        let body = &fixture["body"];
        match fixture["schema"].as_str().unwrap() {
            "GetConversationResponse" => {
                let r: types::GetConversationResponse = round_trip(body, &name);
                assert!(r.conversation.unwrap().id.is_some(), "{name}");
            }
            "GetOrCreateConversationResponse" => {
                let r: types::GetOrCreateConversationResponse = round_trip(body, &name);
                assert_eq!(r.new_conversation, Some(true), "{name}");
            }
            "ListMessagesResponse" => {
                let r: types::ListMessagesResponse = round_trip(body, &name);
                assert!(!r.messages.is_empty(), "{name}");
                if name == "list-messages-sdk-fields.json" {
                    sdk_fields(&r.messages[0]);
                }
            }
            "SendMessageResponse" => {
                let r: types::SendMessageResponse = round_trip(body, &name);
                let m = r.message.unwrap();
                assert!(m.sequence.is_some(), "{name}");
                assert!(m.direction.unwrap().is_known(), "{name}");
            }
            other => panic!("{name}: unknown schema {other}"),
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

/// The webhook events of the spec: `(schema, entityFqdn, slug)` of each `x-wix-event`.
fn spec_events() -> Vec<(String, String, String)> {
    let spec: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../../openapi/inbox-v2.yaml")).unwrap();
    let schemas = spec["components"]["schemas"].as_mapping().unwrap();
    let mut events: Vec<_> = schemas
        .iter()
        .filter(|(_, schema)| schema.get("x-wix-event").is_some())
        .map(|(name, schema)| {
            let event = &schema["x-wix-event"];
            let text = |v: &serde_yaml::Value| v.as_str().unwrap().to_owned();
            (text(name), text(&event["entityFqdn"]), text(&event["slug"]))
        })
        .collect();
    events.sort();
    events
}

/// Every event of the spec has a webhook example, which decodes into its own typed variant of
/// `InboxEvent`, and whose body round-trips: an event added to the spec needs its example here.
#[test]
fn every_webhook_example_round_trips_with_its_body() {
    let events = spec_events();
    assert!(!events.is_empty(), "the spec names no webhook event");
    let all = fixtures("webhooks");
    assert_eq!(all.len(), events.len(), "one fixture per event of the spec");
    let signer = wix_inbox::webhooks::test_signer::TestSigner::shared();
    let mut seen = Vec::new();
    for (name, fixture) in all {
        let event: types::DomainEvent = round_trip(&fixture["body"], &name);
        let body = &fixture["body"]["actionEvent"]["body"];
        let inner = format!("{name} actionEvent.body");
        let slug = event.slug.clone().unwrap();
        assert!(event.event_time.is_some(), "{name}");
        let (schema, fqdn, _) = events
            .iter()
            .find(|(_, _, s)| *s == slug)
            .unwrap_or_else(|| panic!("{name}: slug {slug} is no event of the spec"));
        assert_eq!(event.entity_fqdn.as_deref(), Some(fqdn.as_str()), "{name}");
        // Decoded as Wix delivers it, the example is its own event, not `Other`.
        let token = signer.sign_event(&wix_inbox::webhooks::test_signer::TestEvent::new(
            format!("{fqdn}_{slug}"),
            fixture["body"].clone(),
        ));
        let decoded = signer.verifier().verify(token.as_bytes()).unwrap();
        let decoded = serde_json::to_value(&decoded.event).unwrap();
        assert_eq!(decoded["kind"], schema.as_str(), "{name}");
        assert_preserved(body, &decoded["body"], &inner);
        match schema.as_str() {
            "ConversationsMerged" => {
                let b: types::ConversationsMerged = round_trip(body, &inner);
                assert!(!b.old_conversation_ids.is_empty(), "{name}");
                assert!(b.target_conversation_id.is_some(), "{name}");
            }
            "MessageSentToBusiness" => {
                let b: types::MessageSentToBusiness = round_trip(body, &inner);
                assert!(b.message.unwrap().sender.is_some(), "{name}");
            }
            "MessageSentToParticipant" => {
                let b: types::MessageSentToParticipant = round_trip(body, &inner);
                assert!(b.conversation_id.is_some(), "{name}");
            }
            "ButtonInteracted" => {
                let b: types::ButtonInteracted = round_trip(body, &inner);
                assert!(b.interaction_id.is_some(), "{name}");
            }
            other => panic!("{name}: add what the example of {other} must hold"),
        }
        seen.push(schema.clone());
    }
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen.len(),
        events.len(),
        "an event has no example: {seen:?}"
    );
}

#[test]
fn the_round_trip_check_catches_a_lost_field() {
    // The checker itself must be able to fail: a field the type does not name is lost.
    let body = serde_json::json!({"conversation": {"id": "x", "notInTheSpec": 1}});
    let result = std::panic::catch_unwind(|| {
        round_trip::<types::GetConversationResponse>(&body, "lost field");
    });
    let message = *result.unwrap_err().downcast::<String>().unwrap();
    assert!(
        message.starts_with("lost field: $.conversation.notInTheSpec was lost"),
        "{message}"
    );
}
