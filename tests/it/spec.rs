//! The spec itself: valid OpenAPI 3.0, every operation named and described, every `$ref` resolves.

use std::collections::BTreeSet;

use openapiv3::{OpenAPI, ReferenceOr};

const SPEC: &str = include_str!("../../openapi/inbox-v2.yaml");

fn spec() -> OpenAPI {
    serde_yaml::from_str(SPEC).expect("spec parses as OpenAPI 3.0")
}

#[test]
fn is_openapi_3_0() {
    let spec = spec();
    assert!(spec.openapi.starts_with("3.0."), "{}", spec.openapi);
    assert_eq!(spec.servers[0].url, "https://www.wixapis.com");
}

#[test]
fn every_operation_has_an_id_a_description_and_a_scope() {
    let spec = spec();
    let mut ids = BTreeSet::new();
    for (path, method, op) in spec.operations() {
        let id = op
            .operation_id
            .clone()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(
            op.description.as_deref().is_some_and(|d| d.len() > 20),
            "{id} has no description"
        );
        assert!(
            op.extensions.contains_key("x-wix-permission-scopes"),
            "{id} names no permission scope"
        );
        ids.insert((id, method.to_string(), path.to_string()));
    }
    // Which operations there are is the snapshot's to show (`it__snapshot__codegen.snap`, its
    // `OPERATIONS` table); here, that none is there twice.
    let unique: BTreeSet<_> = ids.iter().map(|(id, ..)| id).collect();
    assert_eq!(unique.len(), ids.len(), "an operationId is used twice");
    assert!(ids.len() >= 11, "operations went missing: {ids:?}");
}

/// What may be sent twice (a retry after a lost answer): a GET, or a POST the spec marks
/// `x-wix-idempotent`. The queries only read; creating a contact or sending a message does not.
#[test]
fn which_posts_may_be_repeated() {
    let spec = spec();
    let mut repeatable = BTreeSet::new();
    let mut not = BTreeSet::new();
    for (_, method, op) in spec.operations() {
        if method != "post" {
            continue;
        }
        let id = op.operation_id.clone().unwrap();
        match op.extensions.get("x-wix-idempotent") {
            Some(serde_json::Value::Bool(true)) => repeatable.insert(id),
            None => not.insert(id),
            Some(other) => panic!("{id}: x-wix-idempotent is {other}, not `true`"),
        };
    }
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        repeatable,
        names(&["getOrCreateConversation", "queryContacts", "queryMembers"])
    );
    assert_eq!(not, names(&["createContact", "sendMessage"]));
}

#[test]
fn every_ref_resolves() {
    let raw: serde_yaml::Value = serde_yaml::from_str(SPEC).unwrap();
    let mut refs = Vec::new();
    collect_refs(&raw, &mut refs);
    assert!(refs.len() > 50, "only {} refs found", refs.len());
    for r in refs {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external $ref {r}"));
        let mut node = &raw;
        for part in pointer.split('/').skip(1) {
            node = node
                .get(part)
                .unwrap_or_else(|| panic!("$ref {r} does not resolve (at {part})"));
        }
    }
}

fn collect_refs(v: &serde_yaml::Value, out: &mut Vec<String>) {
    match v {
        serde_yaml::Value::Mapping(m) => {
            for (k, v) in m {
                if k.as_str() == Some("$ref") {
                    out.push(v.as_str().expect("$ref is a string").to_string());
                } else {
                    collect_refs(v, out);
                }
            }
        }
        serde_yaml::Value::Sequence(s) => s.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

fn described(data: &openapiv3::SchemaData) -> bool {
    data.description
        .as_deref()
        .is_some_and(|d| !d.trim().is_empty())
}

/// Every component schema and every property says what it is: rustdoc shows it on the
/// generated type, and build.rs points each builder at its type.
#[test]
fn every_schema_and_property_is_described() {
    let spec = spec();
    let components = spec.components.unwrap();
    for (name, schema) in &components.schemas {
        let ReferenceOr::Item(schema) = schema else {
            panic!("{name} is a bare $ref")
        };
        // The description is the generated type's docs (and its builder's, through build.rs).
        assert!(
            described(&schema.schema_data),
            "schema {name} has no description"
        );
        if let openapiv3::SchemaKind::Type(openapiv3::Type::Object(o)) = &schema.schema_kind {
            for (field, prop) in &o.properties {
                let described = match prop {
                    ReferenceOr::Item(s) => described(&s.schema_data),
                    // A bare $ref field takes the referenced schema's description.
                    ReferenceOr::Reference { .. } => true,
                };
                assert!(described, "{name}.{field} has no description");
            }
        }
    }
}

#[test]
fn the_named_schemas_exist() {
    let spec = spec();
    let schemas = spec.components.unwrap().schemas;
    for name in [
        "Conversation",
        "IdentificationData",
        "ParticipantId",
        "ConversationDisplayData",
        "GetConversationResponse",
        "GetOrCreateConversationRequest",
        "GetOrCreateConversationResponse",
        "Message",
        "MessageContent",
        "BasicMessagePayload",
        "TemplateMessagePayload",
        "MinimalMessagePayload",
        "FormMessagePayload",
        "SystemMessagePayload",
        "ListMessagesResponse",
        "PagingMetadataV2",
        "SendMessageRequest",
        "SendMessageResponse",
        "ChannelType",
        "MessageVisibility",
        "MessageDirection",
        "BadgeVisibility",
        "Orientation",
        "SortOrder",
        "OverrideSenderOptions",
        "ErrorResponse",
        "ConversationsMerged",
        "MessageSentToBusiness",
        "MessageSentToParticipant",
        "ButtonInteracted",
        "WebhookPayload",
        "WebhookEnvelope",
        "WebhookIdentity",
        "AccountInfo",
        "DomainEvent",
        "Contact",
        "ContactInfo",
        "ContactEmail",
        "ContactPhone",
        "ContactFieldSet",
        "QueryContactsRequest",
        "QueryContactsResponse",
        "ListContactsResponse",
        "GetContactResponse",
        "CreateContactRequest",
        "CreateContactResponse",
        "Member",
        "MemberFieldSet",
        "MemberStatus",
        "QueryMembersRequest",
        "QueryMembersResponse",
        "ListMembersResponse",
        "GetMemberResponse",
        "PagingMetadata",
    ] {
        assert!(schemas.contains_key(name), "schema {name} is missing");
    }
}

#[test]
fn deprecated_fields_are_marked() {
    let raw: serde_yaml::Value = serde_yaml::from_str(SPEC).unwrap();
    let schemas = &raw["components"]["schemas"];
    for (schema, field) in [
        ("Conversation", "channels"),
        ("Message", "targetChannels"),
        ("Message", "sourceChannel"),
        ("SendMessageRequest", "silent"),
    ] {
        assert_eq!(
            schemas[schema]["properties"][field]["deprecated"].as_bool(),
            Some(true),
            "{schema}.{field}"
        );
    }
}

/// Wix's SDK names what replaces a deprecated field and when it goes: the spec says it too
/// (`x-wix-replaced-by`, `x-wix-target-removal-date`), and the replacement exists.
#[test]
fn deprecated_fields_name_their_replacement() {
    let raw: serde_yaml::Value = serde_yaml::from_str(SPEC).unwrap();
    let schemas = &raw["components"]["schemas"];
    for (schema, field, replaced_by, date) in [
        (
            "Message",
            "targetChannels",
            "targetChannelIds",
            "2026-06-30",
        ),
        ("Message", "sourceChannel", "sourceChannelId", "2026-06-30"),
        (
            "SendMessageRequest",
            "silent",
            "message.silent",
            "2026-06-01",
        ),
    ] {
        let prop = &schemas[schema]["properties"][field];
        assert_eq!(prop["x-wix-replaced-by"].as_str(), Some(replaced_by));
        assert_eq!(prop["x-wix-target-removal-date"].as_str(), Some(date));
        let description = prop["description"].as_str().unwrap();
        assert!(description.contains("Deprecated"), "{schema}.{field}");
        assert!(description.contains(date), "{schema}.{field}");
        // The replacement is a field of the spec, and not deprecated itself.
        let (owner, name) = match replaced_by.split_once('.') {
            Some(("message", name)) => ("Message", name),
            _ => (schema, replaced_by),
        };
        let replacement = &schemas[owner]["properties"][name];
        assert!(replacement.is_mapping(), "{owner}.{name} is missing");
        assert_ne!(replacement["deprecated"].as_bool(), Some(true));
        assert_ne!(
            replacement["readOnly"].as_bool(),
            Some(true),
            "{owner}.{name}"
        );
    }
}

/// The schemas reachable from `name` through `$ref`s (itself included).
fn reachable(schemas: &serde_yaml::Value, name: &str, seen: &mut BTreeSet<String>) {
    if !seen.insert(name.to_owned()) {
        return;
    }
    let mut refs = Vec::new();
    collect_refs(&schemas[name], &mut refs);
    for r in refs {
        let target = r.strip_prefix("#/components/schemas/").unwrap();
        reachable(schemas, target, seen);
    }
}

/// Every object Wix sends (a success response of an operation, a webhook's layers and event
/// bodies) keeps the fields the spec does not name, with `additionalProperties: {}`: re-serialized,
/// it gives back what Wix sent. (Error bodies are read by the client, not handed on.)
#[test]
fn every_object_wix_sends_keeps_unknown_fields() {
    let raw: serde_yaml::Value = serde_yaml::from_str(SPEC).unwrap();
    let schemas = &raw["components"]["schemas"];
    let mut sent = BTreeSet::new();
    for (_, item) in raw["paths"].as_mapping().unwrap() {
        for (_, op) in item.as_mapping().unwrap() {
            let ok = &op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"];
            let name = ok
                .as_str()
                .unwrap()
                .strip_prefix("#/components/schemas/")
                .unwrap();
            reachable(schemas, name, &mut sent);
        }
    }
    for (name, schema) in schemas.as_mapping().unwrap() {
        if schema.get("x-wix-event").is_some() {
            reachable(schemas, name.as_str().unwrap(), &mut sent);
        }
    }
    reachable(schemas, "WebhookPayload", &mut sent);
    for layer in ["WebhookEnvelope", "WebhookIdentity", "DomainEvent"] {
        reachable(schemas, layer, &mut sent);
    }
    let mut objects = 0;
    for name in &sent {
        let schema = &schemas[name.as_str()];
        if schema["type"].as_str() != Some("object") || schema.get("properties").is_none() {
            continue;
        }
        objects += 1;
        let extra = &schema["additionalProperties"];
        assert!(
            extra.as_mapping().is_some_and(|m| m.is_empty()),
            "{name} drops the fields Wix adds: give it `additionalProperties: {{}}`"
        );
    }
    assert!(objects >= 35, "only {objects} objects Wix sends were found");
}

#[test]
fn every_error_code_an_operation_lists_is_a_known_application_error_code() {
    let spec: serde_yaml::Value = serde_yaml::from_str(SPEC).unwrap();
    let known: Vec<&str> = spec["components"]["schemas"]["ApplicationErrorCode"]["enum"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut listed = 0;
    for (_, item) in spec["paths"].as_mapping().unwrap() {
        for (_, op) in item.as_mapping().unwrap() {
            for code in op["x-wix-error-codes"].as_sequence().into_iter().flatten() {
                let code = code.as_str().unwrap();
                assert!(
                    known.contains(&code),
                    "{code} is not in ApplicationErrorCode"
                );
                listed += 1;
            }
        }
    }
    assert!(listed >= 7, "{listed}");
    for value in &known {
        assert_eq!(
            wix_inbox::types::ApplicationErrorCode::from(*value).as_str(),
            *value
        );
    }
}
