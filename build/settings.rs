//! How progenitor is told to generate the client: everything that a setting can do is done here.

use std::collections::BTreeMap;

use heck::ToUpperCamelCase;
use openapiv3::{AdditionalProperties, AnySchema, ObjectType, OpenAPI, ReferenceOr, Schema};
use openapiv3::{SchemaKind, Type};
use progenitor::{GenerationSettings, HooksMode, InterfaceStyle, TagStyle, TypeImpl, TypePatch};
use quote::quote;
use schemars::schema::{InstanceType, SchemaObject};

/// The settings, and the open enums that replace typify's closed ones (`$OUT_DIR/enums.rs`,
/// included in the `types` module).
pub fn settings(spec: &OpenAPI) -> Result<(GenerationSettings, String), String> {
    let mut settings = GenerationSettings::default();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_tag(TagStyle::Merged)
        .with_derive("PartialEq")
        // The crate's client state (credentials, retries, tracing; `src/client/`) is the client's
        // inner value, and its `ClientHooks` implementation must exist.
        .with_inner_type(quote!(crate::client::ClientState))
        .with_hooks(HooksMode::Expected)
        // progenitor sends the spec's `info.version` as an `api-version` header; Wix documents
        // no such header. Dropping it before the request is sent costs a map removal.
        .with_pre_hook(quote!(|_, request: &mut ::reqwest::Request| {
            request.headers_mut().remove("api-version");
        }))
        // An event body is decoded once its event is known: kept as raw JSON, not a `Value` tree.
        .with_replacement("ActionEventBody", "crate::wire::RawJson", [].into_iter())
        .with_replacement("EntityEvent", "crate::wire::RawJson", [].into_iter());
    // Secrets (`format: password`) never show in `Debug` output; an `int32` also reads `1200.0`
    // and `"1200"` (typify keeps its own `NonZeroU32` for an int32 with `minimum: 1`).
    let text = [TypeImpl::Display, TypeImpl::FromStr];
    let format = |instance_type: InstanceType, format: &str| SchemaObject {
        instance_type: Some(instance_type.into()),
        format: Some(format.into()),
        ..Default::default()
    };
    let secret = format(InstanceType::String, "password");
    settings.with_conversion(secret, "crate::wire::Secret", [].into_iter());
    let int32 = format(InstanceType::Integer, "int32");
    settings.with_conversion(int32, "crate::wire::Int32", text.iter().cloned());
    let mut enums = String::new();
    for (name, schema) in crate::spec::schemas(spec) {
        match &schema.schema_kind {
            SchemaKind::Type(Type::String(string)) if !string.enumeration.is_empty() => {
                let open = format!("crate::types::{name}");
                settings.with_replacement(name, open, text.iter().cloned());
                enums += &open_enum(name, schema, &string.enumeration)?;
            }
            // typify, counting the `extra` map as a required field, no longer derives `Default`:
            // derived here when no other field is required.
            SchemaKind::Type(Type::Object(object))
                if keeps_unknown_fields(name, object)? && object.required.is_empty() =>
            {
                settings.with_patch(name, TypePatch::default().with_derive("Default"));
            }
            _ => {}
        }
    }
    Ok((settings, enums))
}

/// typify makes closed enums, which would reject a value Wix adds tomorrow: each string enum of
/// `components/schemas` becomes a `crate::wire::open_enum!`, its values described by the
/// schema's `x-enum-descriptions`.
fn open_enum(name: &str, schema: &Schema, values: &[Option<String>]) -> Result<String, String> {
    let data = &schema.schema_data;
    let described = data.extensions.get("x-enum-descriptions").cloned();
    let described = serde_json::from_value::<Option<BTreeMap<String, String>>>(described.into());
    let described = described.map_err(|e| format!("schema {name}: x-enum-descriptions: {e}"))?;
    let (mut described, doc) = (described.unwrap_or_default(), data.description.as_deref());
    let doc = doc.unwrap_or_default();
    let mut code =
        format!("crate::wire::open_enum! {{\n    #[doc = {doc:?}]\n    {name}, {name}Other {{\n");
    for value in values {
        let value = value
            .as_deref()
            .ok_or(format!("schema {name}: `null` in an enum"))?;
        let doc = described.remove(value).map(|doc| format!(": {doc:?}"));
        let (variant, doc) = (value.to_upper_camel_case(), doc.unwrap_or_default());
        code += &format!("        {variant} = {value:?}{doc},\n");
    }
    match described.into_keys().next() {
        Some(stray) => Err(format!(
            "schema {name}: x-enum-descriptions describes `{stray}`, which is not in its enum"
        )),
        None => Ok(code + "    }\n}\n"),
    }
}

/// Whether an object schema keeps the fields the spec does not name, `additionalProperties: {}`
/// (typify adds `#[serde(flatten)] pub extra: Map<String, Value>`; ARCHITECTURE.md, "Unknown
/// fields"). `true` beside properties is refused: typify reads it as "ignore them", so the
/// fields would be dropped while the spec seems to keep them.
fn keeps_unknown_fields(name: &str, object: &ObjectType) -> Result<bool, String> {
    match &object.additional_properties {
        _ if object.properties.is_empty() => Ok(false), // a map: they type its values
        None | Some(AdditionalProperties::Any(false)) => Ok(false),
        Some(AdditionalProperties::Schema(any)) if is_empty_schema(any) => Ok(true),
        Some(_) => Err(format!(
            "schema {name}: `additionalProperties` beside properties must be `{{}}` (keep the \
             fields the spec does not name) or left out (accept and drop them)"
        )),
    }
}

fn is_empty_schema(schema: &ReferenceOr<Schema>) -> bool {
    matches!(schema, ReferenceOr::Item(Schema { schema_kind: SchemaKind::Any(any), .. }) if *any == AnySchema::default())
}
