//! The webhook events: every component schema with `x-wix-event` is the body of an event, either
//! a domain event's (`{entityFqdn, slug}`) or a plain one's (`{eventType}`: the older-style app
//! events, whose envelope carries the body itself). `$OUT_DIR/events.rs` lists them for
//! `src/webhooks/event.rs`, whose `inbox_events!` makes their names, the `InboxEvent` enum and
//! the decoder's tables of them.

pub fn events(spec: &openapiv3::OpenAPI) -> Result<String, String> {
    let (mut domain, mut plain) = (String::new(), String::new());
    for (name, schema) in crate::spec::schemas(spec) {
        let Some(event) = schema.schema_data.extensions.get("x-wix-event") else {
            continue;
        };
        let field = |key: &str| {
            let text = event.get(key).and_then(serde_json::Value::as_str);
            text.filter(|text| !text.is_empty())
        };
        let doc = schema
            .schema_data
            .description
            .as_deref()
            .unwrap_or_default();
        let needs = |key: &str| {
            field(key).ok_or(format!("schema {name}: x-wix-event needs a text `{key}`"))
        };
        if let Some(event_type) = field("eventType") {
            if event.get("entityFqdn").is_some() || event.get("slug").is_some() {
                return Err(format!(
                    "schema {name}: x-wix-event names a plain event (`eventType`) and a domain \
                     event (`entityFqdn`, `slug`): give one"
                ));
            }
            plain += &format!("        #[doc = {doc:?}]\n        {name} = {event_type:?},\n");
        } else {
            let (fqdn, slug) = (needs("entityFqdn")?, needs("slug")?);
            domain +=
                &format!("        #[doc = {doc:?}]\n        {name} = ({fqdn:?}, {slug:?}),\n");
        }
    }
    if domain.is_empty() {
        return Err("no schema has `x-wix-event`: the webhook bodies lost their names".into());
    }
    Ok(format!(
        "inbox_events! {{\n    domain {{\n{domain}    }}\n    plain {{\n{plain}    }}\n}}\n"
    ))
}
