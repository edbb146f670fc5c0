//! The webhook events: every component schema with `x-wix-event: {entityFqdn, slug, kind}` is
//! the body of a domain event, one with `x-wix-event: {eventType}` the body of a plain one (the
//! older-style app events, whose envelope carries the body itself). `$OUT_DIR/events.rs` lists
//! them for `src/webhooks/event.rs`, whose `inbox_events!` makes their names, the `InboxEvent`
//! enum and the decoder's tables of them (`EVENTS`, `PLAIN_EVENTS`).

/// A value of `x-wix-event.kind`.
struct Kind {
    /// As the spec writes it: `action`.
    name: &'static str,
    /// The variant of `webhooks::EventKind` it is: `Action`.
    variant: &'static str,
    /// The property of the body schema that holds the entity (`None`: the schema is the body
    /// itself).
    entity: Option<&'static str>,
}

const KINDS: &[Kind] = &[
    Kind {
        name: "action",
        variant: "Action",
        entity: None,
    },
    Kind {
        name: "created",
        variant: "Created",
        entity: Some("entity"),
    },
    Kind {
        name: "updated",
        variant: "Updated",
        entity: Some("currentEntity"),
    },
    Kind {
        name: "deleted",
        variant: "Deleted",
        entity: Some("deletedEntity"),
    },
];

pub fn events(spec: &openapiv3::OpenAPI) -> Result<String, String> {
    let (mut events, mut plain) = (String::new(), String::new());
    for (name, schema) in crate::spec::schemas(spec) {
        let Some(event) = schema.schema_data.extensions.get("x-wix-event") else {
            continue;
        };
        // A plain (older-style) event names only its `eventType`: its envelope's `data` is the
        // body itself (App Instance Installed and Removed).
        if let Some(event_type) = event.get("eventType").and_then(serde_json::Value::as_str) {
            if event.get("entityFqdn").is_some() || event.get("slug").is_some() {
                return Err(format!(
                    "schema {name}: x-wix-event names a plain event (`eventType`) and a domain \
                     event (`entityFqdn`, `slug`): give one"
                ));
            }
            let doc = schema
                .schema_data
                .description
                .as_deref()
                .unwrap_or_default();
            plain += &format!("        #[doc = {doc:?}]\n        {name} = {event_type:?},\n");
            continue;
        }
        let field = |key: &str| {
            let text = event.get(key).and_then(serde_json::Value::as_str);
            let text = text.filter(|text| !text.is_empty());
            text.ok_or(format!("schema {name}: x-wix-event needs a text `{key}`"))
        };
        let (fqdn, slug, kind) = (field("entityFqdn")?, field("slug")?, field("kind")?);
        let Some(Kind {
            variant, entity, ..
        }) = KINDS.iter().find(|k| k.name == kind)
        else {
            let kinds: Vec<_> = KINDS.iter().map(|k| k.name).collect();
            return Err(format!(
                "schema {name}: x-wix-event's kind `{kind}` is none of {kinds:?}"
            ));
        };
        if let Some(entity) = entity {
            let openapiv3::SchemaKind::Type(openapiv3::Type::Object(object)) = &schema.schema_kind
            else {
                return Err(format!(
                    "schema {name}: a `{kind}` event's body is an object"
                ));
            };
            if !object.properties.contains_key(*entity) {
                return Err(format!(
                    "schema {name}: a `{kind}` event's body holds its entity in `{entity}`"
                ));
            }
        }
        let doc = schema
            .schema_data
            .description
            .as_deref()
            .unwrap_or_default();
        events += &format!(
            "        #[doc = {doc:?}]\n        {name} = ({fqdn:?}, {slug:?}, {variant}),\n"
        );
    }
    if events.is_empty() {
        return Err("no schema has `x-wix-event`: the webhook bodies lost their names".into());
    }
    Ok(format!(
        "inbox_events! {{\n    domain {{\n{events}    }}\n    plain {{\n{plain}    }}\n}}\n"
    ))
}
