//! The webhook events: every component schema with `x-wix-event: {entityFqdn, slug, kind}` is
//! the body of an event. `$OUT_DIR/events.rs` lists them for `src/webhooks/event.rs`, whose
//! `inbox_events!` makes their names, the `InboxEvent` enum and the decoder's table of them.

/// Each `kind`, the variant of `webhooks::EventKind` it is, and the property of the body schema
/// that holds the entity (`None`: the schema is the body itself).
const KINDS: &[(&str, &str, Option<&str>)] = &[
    ("action", "Action", None),
    ("created", "Created", Some("entity")),
    ("updated", "Updated", Some("currentEntity")),
    ("deleted", "Deleted", Some("deletedEntity")),
];

pub fn events(spec: &openapiv3::OpenAPI) -> Result<String, String> {
    let mut events = String::new();
    for (name, schema) in crate::spec::schemas(spec) {
        let Some(event) = schema.schema_data.extensions.get("x-wix-event") else {
            continue;
        };
        let field = |key: &str| {
            let text = event.get(key).and_then(serde_json::Value::as_str);
            let text = text.filter(|text| !text.is_empty());
            text.ok_or(format!("schema {name}: x-wix-event needs a text `{key}`"))
        };
        let (fqdn, slug, kind) = (field("entityFqdn")?, field("slug")?, field("kind")?);
        let Some((_, variant, entity)) = KINDS.iter().find(|(k, ..)| *k == kind) else {
            let kinds: Vec<_> = KINDS.iter().map(|(k, ..)| *k).collect();
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
        events += &format!("    #[doc = {doc:?}]\n    {name} = ({fqdn:?}, {slug:?}, {variant}),\n");
    }
    if events.is_empty() {
        return Err("no schema has `x-wix-event`: the webhook bodies lost their names".into());
    }
    Ok(format!("inbox_events! {{\n{events}}}\n"))
}
