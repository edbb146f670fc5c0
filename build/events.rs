//! The webhook events: every component schema with `x-wix-event: {entityFqdn, slug}` is the body
//! of an event. `$OUT_DIR/events.rs` lists them for `src/webhooks/event.rs`, whose
//! `inbox_events!` makes their names, the `InboxEvent` enum and the decoder's table of them.

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
        let (fqdn, slug) = (field("entityFqdn")?, field("slug")?);
        let doc = schema
            .schema_data
            .description
            .as_deref()
            .unwrap_or_default();
        events += &format!("    #[doc = {doc:?}]\n    {name} = ({fqdn:?}, {slug:?}),\n");
    }
    if events.is_empty() {
        return Err("no schema has `x-wix-event`: the webhook bodies lost their names".into());
    }
    Ok(format!("inbox_events! {{\n{events}}}\n"))
}
