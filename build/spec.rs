//! Reading the spec, and what the generator needs to know about its operations and schemas.

use heck::{ToSnakeCase, ToUpperCamelCase};
use openapiv3::{OpenAPI, Schema};
use serde_json::Value;

/// The spec as the generator reads it ([`crate::strip`]), checked for what progenitor and typify would panic on or silently get wrong.
pub fn read(path: &str) -> Result<OpenAPI, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the spec: {e}"))?;
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| format!("not valid YAML: {e}"))?;
    let yaml = crate::strip::for_generation(yaml);
    let json = serde_json::to_value(&yaml).map_err(|e| format!("not a JSON document: {e}"))?;
    check(&json, &json, "")?;
    serde_yaml::from_value(yaml).map_err(|e| format!("not a valid OpenAPI 3.0 document: {e}"))
}

/// The whole spec, validation rules and all (not [`read`]'s stripped copy), as JSON text.
pub fn as_json(path: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the spec: {e}"))?;
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| format!("not valid YAML: {e}"))?;
    serde_json::to_string(&yaml).map_err(|e| format!("not a JSON document: {e}"))
}

/// The component schemas written out (not `$ref`s), by name.
pub fn schemas(spec: &OpenAPI) -> impl Iterator<Item = (&str, &Schema)> {
    let schemas = spec.components.iter().flat_map(|c| &c.schemas);
    schemas.filter_map(|(name, schema)| Some((name.as_str(), schema.as_item()?)))
}

/// An operation, named as progenitor names it after the spec's `operationId`.
pub struct Operation {
    /// The `Client` method (`get_conversation`), also `OperationInfo::operation_id`.
    pub method: String,
    /// The request builder type in the `builder` module (`GetConversation`).
    pub builder: String,
    pub summary: String,
    /// Whether sending it twice does nothing twice: a GET, or `x-wix-idempotent: true`.
    pub repeatable: bool,
    /// `x-wix-permission-scopes`: the scopes that allow it (any one of them).
    pub scopes: Vec<String>,
    /// The Wix API it belongs to: `x-wix-service` of its first tag (`Inbox`, `Contacts`, …).
    pub service: String,
    /// How many parameters its path has (`{conversationId}`).
    pub path_params: usize,
}

pub fn operations(spec: &OpenAPI) -> Result<Vec<Operation>, String> {
    let operations = spec.operations().map(|(path, method, op)| {
        let id = op.operation_id.as_deref().filter(|id| !id.is_empty());
        let id = id.ok_or(format!("the operation {method} {path} has no operationId"))?;
        let scopes = op.extensions.get("x-wix-permission-scopes");
        let scopes = scopes.and_then(Value::as_array).into_iter().flatten();
        let scopes: Option<Vec<String>> = scopes.map(|s| s.as_str().map(str::to_owned)).collect();
        let scopes = scopes.filter(|s| !s.is_empty());
        let scopes = scopes.ok_or(format!("{id}: `x-wix-permission-scopes` lists no scope"))?;
        let tag = op
            .tags
            .first()
            .and_then(|name| spec.tags.iter().find(|t| &t.name == name));
        let service = tag.and_then(|t| t.extensions.get("x-wix-service")?.as_str());
        let service = service.ok_or(format!("{id}: its first tag has no `x-wix-service`"))?;
        Ok(Operation {
            method: id.to_snake_case(),
            builder: id.to_upper_camel_case(),
            summary: op.summary.clone().unwrap_or_else(|| id.to_snake_case()),
            repeatable: method.eq_ignore_ascii_case("get")
                || op.extensions.get("x-wix-idempotent") == Some(&serde_json::Value::Bool(true)),
            path_params: path.matches('{').count(),
            scopes,
            service: service.to_owned(),
        })
    });
    operations.collect()
}

/// The operations, for the hand-written layer (retries, error messages and advice).
pub fn operations_table(operations: &[Operation]) -> syn::Item {
    let rows = operations.iter().map(|op| {
        let (method, summary, repeatable) = (&op.method, &op.summary, op.repeatable);
        let (scopes, service) = (&op.scopes, &op.service);
        quote::quote! {
            crate::client::Operation {
                method: #method,
                summary: #summary,
                repeatable: #repeatable,
                scopes: &[#(#scopes),*],
                service: #service,
            }
        }
    });
    syn::parse_quote! {
        /// What the spec says of each operation.
        pub(crate) const OPERATIONS: &[crate::client::Operation] = &[#(#rows),*];
    }
}

/// The object schemas (each a type in `types`), as one `spec_schemas!` call: the tests'
/// dispatcher from a schema's name to its type (`tests/it/fixtures.rs`).
pub fn object_schemas(spec: &OpenAPI) -> String {
    let objects = schemas(spec).filter(|(_, schema)| {
        matches!(
            schema.schema_kind,
            openapiv3::SchemaKind::Type(openapiv3::Type::Object(_))
        )
    });
    let names: String = objects.map(|(name, _)| format!("    {name},\n")).collect();
    format!("spec_schemas! {{\n{names}}}\n")
}

/// Refuses what typify would get wrong: an inline `enum` (typify makes it a closed Rust enum; only
/// component enums are made open) and a `$ref` that does not resolve (typify panics on it).
fn check(node: &Value, root: &Value, path: &str) -> Result<(), String> {
    let children: Vec<(String, &Value)> = match node {
        Value::Object(map) => map
            .iter()
            .map(|(key, child)| (key.clone(), child))
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, c)| (i.to_string(), c))
            .collect(),
        _ => return Ok(()),
    };
    for (key, child) in children {
        let component = path.strip_prefix("/components/schemas/");
        if key == "enum" && component.is_none_or(|name| name.contains('/')) {
            return Err(format!(
                "an inline `enum` at {}: declare it under components/schemas and $ref it, so that \
                 it is generated as an open enum",
                path.trim_start_matches('/')
            ));
        }
        if key == "$ref" {
            let target = child.as_str().ok_or("a `$ref` that is not a string")?;
            let pointer = target.strip_prefix('#');
            let pointer =
                pointer.ok_or(format!("`$ref: {target}` is not local to the document"))?;
            if root.pointer(pointer).is_none() {
                return Err(format!("`$ref: {target}` does not resolve"));
            }
        }
        check(child, root, &format!("{path}/{key}"))?;
    }
    Ok(())
}
