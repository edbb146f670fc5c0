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
        29,
        "one fixture per example response of the docs (Inbox 6, Contacts 11, Members 11), and \
         one for the SDK's fields"
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
            "QueryContactsResponse" => {
                let r: types::QueryContactsResponse = round_trip(body, &name);
                contacts(&r.contacts, &name);
                assert!(r.paging_metadata.unwrap().total.is_some(), "{name}");
            }
            "ListContactsResponse" => {
                let r: types::ListContactsResponse = round_trip(body, &name);
                contacts(&r.contacts, &name);
            }
            "GetContactResponse" => {
                let r: types::GetContactResponse = round_trip(body, &name);
                contacts(&[r.contact.unwrap()], &name);
                assert_eq!(
                    r.response_type,
                    Some(types::GetContactResponseType::Regular),
                    "{name}"
                );
            }
            "CreateContactResponse" => {
                let r: types::CreateContactResponse = round_trip(body, &name);
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
            "QueryMembersResponse" => {
                let r: types::QueryMembersResponse = round_trip(body, &name);
                members(&r.members, &name);
            }
            "ListMembersResponse" => {
                let r: types::ListMembersResponse = round_trip(body, &name);
                members(&r.members, &name);
            }
            "GetMemberResponse" => {
                let r: types::GetMemberResponse = round_trip(body, &name);
                members(&[r.member.unwrap()], &name);
            }
            other => panic!("{name}: unknown schema {other}"),
        }
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

/// Round-trips `body` through the response type named `schema`.
fn round_trip_as(schema: &str, body: &Value, what: &str) {
    fn check<T: DeserializeOwned + Serialize>(body: &Value, what: &str) {
        round_trip::<T>(body, what);
    }
    match schema {
        "GetConversationResponse" => check::<types::GetConversationResponse>(body, what),
        "GetOrCreateConversationResponse" => {
            check::<types::GetOrCreateConversationResponse>(body, what)
        }
        "ListMessagesResponse" => check::<types::ListMessagesResponse>(body, what),
        "SendMessageResponse" => check::<types::SendMessageResponse>(body, what),
        "QueryContactsResponse" => check::<types::QueryContactsResponse>(body, what),
        "ListContactsResponse" => check::<types::ListContactsResponse>(body, what),
        "GetContactResponse" => check::<types::GetContactResponse>(body, what),
        "CreateContactResponse" => check::<types::CreateContactResponse>(body, what),
        "QueryMembersResponse" => check::<types::QueryMembersResponse>(body, what),
        "ListMembersResponse" => check::<types::ListMembersResponse>(body, what),
        "GetMemberResponse" => check::<types::GetMemberResponse>(body, what),
        other => panic!("{what}: unknown schema {other}"),
    }
}

/// The webhook events of the spec: `(schema, entityFqdn, slug)` of each `x-wix-event`.
fn spec_events() -> Vec<(String, String, String)> {
    let spec: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../../openapi/inbox-v2.yaml")).unwrap();
    let schemas = spec["components"]["schemas"].as_mapping().unwrap();
    let mut events: Vec<_> = schemas
        .iter()
        // Domain events; the plain ones (`eventType` alone) have their own examples.
        .filter(|(_, schema)| schema["x-wix-event"].get("entityFqdn").is_some())
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
        let mut event = fixture["body"].clone();
        let added = add_unknown(&mut event, 0);
        let what = format!("{name} with {added} unknown fields");
        let typed: types::DomainEvent = round_trip(&event, &what);
        // The event body is decoded once its event is known: into its own type, keeping them.
        let body = typed.action_event.unwrap().body.unwrap().to_value();
        let back = match fixture["body"]["slug"].as_str().unwrap() {
            "conversations_merged" => {
                serde_json::to_value(round_trip::<types::ConversationsMerged>(&body, &what))
            }
            "message_sent_to_business" => {
                serde_json::to_value(round_trip::<types::MessageSentToBusiness>(&body, &what))
            }
            "message_sent_to_participant" => {
                serde_json::to_value(round_trip::<types::MessageSentToParticipant>(&body, &what))
            }
            "button_interacted" => {
                serde_json::to_value(round_trip::<types::ButtonInteracted>(&body, &what))
            }
            other => panic!("{name}: {other}"),
        }
        .unwrap();
        assert_eq!(back["addedByWixLater2"]["at"], 2, "{name}");
        checked += added;
    }
    assert!(checked > 300, "only {checked} unknown fields were checked");
}
