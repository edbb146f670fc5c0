//! How progenitor is told to generate the client: everything that a setting can do is done here.

use openapiv3::{
    AdditionalProperties, AnySchema, OpenAPI, ReferenceOr, Schema, SchemaKind, StringType, Type,
};
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
        // The production transport (auth, retries, tracing; `src/client.rs`) is the client's
        // inner value and its `ClientHooks` implementation, which must exist.
        .with_inner_type(quote!(crate::client::ClientState))
        .with_hooks(HooksMode::Expected)
        // progenitor sends the spec's `info.version` as an `api-version` header; Wix documents
        // no such header. Dropping it before the request is sent costs a map removal.
        .with_pre_hook(quote!(|_, request: &mut ::reqwest::Request| {
            request.headers_mut().remove("api-version");
        }));
    // An event body is decoded once its event is known: keep it as raw JSON, not a `Value` tree.
    settings.with_replacement(
        "ActionEventBody",
        "crate::wire::RawJson",
        std::iter::empty(),
    );
    // Secrets (`format: password`) never show in `Debug` output; an `int32` also reads `1200.0`
    // and `"1200"` (typify keeps its own `NonZeroU32` for an int32 with `minimum: 1`).
    let mut convert = |instance_type: InstanceType, format: &str, to: &str, impls: &[TypeImpl]| {
        let schema = SchemaObject {
            instance_type: Some(instance_type.into()),
            format: Some(format.to_string()),
            ..Default::default()
        };
        settings.with_conversion(schema, to, impls.iter().cloned());
    };
    convert(InstanceType::String, "password", "crate::wire::Secret", &[]);
    let impls = [TypeImpl::Display, TypeImpl::FromStr];
    convert(InstanceType::Integer, "int32", "crate::wire::Int32", &impls);

    // An object schema with `additionalProperties: {}` keeps the fields the spec does not name:
    // typify adds `#[serde(flatten)] pub extra: Map<String, Value>`, but, counting that map as a
    // required field, no longer derives `Default`. It is derived here when typify would have
    // derived it without the map (no required field); `kept_unknown_fields` in build/passes.rs
    // starts its builder with an empty map too.
    for (name, required) in keeping_unknown_fields(spec)? {
        if !required {
            settings.with_patch(name, TypePatch::default().with_derive("Default"));
        }
    }

    // typify makes closed enums, which would reject a value Wix adds tomorrow: every string enum
    // of `components/schemas` is replaced by an open one (`crate::wire::open_enum!`).
    let mut enums = String::new();
    for (name, schema) in spec.components.iter().flat_map(|c| &c.schemas) {
        let ReferenceOr::Item(schema) = schema else {
            continue;
        };
        let SchemaKind::Type(Type::String(StringType { enumeration, .. })) = &schema.schema_kind
        else {
            continue;
        };
        if enumeration.is_empty() {
            continue;
        }
        let impls = [TypeImpl::Display, TypeImpl::FromStr];
        settings.with_replacement(name, format!("crate::types::{name}"), impls.into_iter());
        let described = match schema.schema_data.extensions.get("x-enum-descriptions") {
            None => serde_json::Map::new(),
            Some(serde_json::Value::Object(map)) => map.clone(),
            Some(_) => return Err(format!("schema {name}: x-enum-descriptions is not a map")),
        };
        let doc = schema
            .schema_data
            .description
            .as_deref()
            .unwrap_or_default();
        enums += &format!(
            "crate::wire::open_enum! {{\n    #[doc = {doc:?}]\n    {name}, {name}Other {{\n"
        );
        for value in enumeration {
            let value = value
                .as_deref()
                .ok_or(format!("schema {name}: `null` in an enum"))?;
            let variant = heck::ToUpperCamelCase::to_upper_camel_case(value);
            enums += &match described.get(value) {
                None => format!("        {variant} = {value:?},\n"),
                Some(serde_json::Value::String(doc)) => {
                    format!("        {variant} = {value:?}: {doc:?},\n")
                }
                Some(_) => {
                    return Err(format!(
                        "schema {name}: x-enum-descriptions.{value} is not text"
                    ))
                }
            };
        }
        enums += "    }\n}\n";
        if let Some(stray) = described
            .keys()
            .find(|k| !enumeration.contains(&Some(k.to_string())))
        {
            return Err(format!(
                "schema {name}: x-enum-descriptions describes `{stray}`, which is not in its enum"
            ));
        }
    }
    Ok((settings, enums))
}

/// The object schemas of `components/schemas` that keep unknown fields (`additionalProperties:
/// {}`), and whether each has a required field. `additionalProperties: true` beside properties
/// is refused: typify reads it as "ignore them", so the fields would be dropped while the spec
/// seems to keep them.
pub fn keeping_unknown_fields(spec: &OpenAPI) -> Result<Vec<(&str, bool)>, String> {
    let mut names = Vec::new();
    for (name, schema) in spec.components.iter().flat_map(|c| &c.schemas) {
        let ReferenceOr::Item(schema) = schema else {
            continue;
        };
        let SchemaKind::Type(Type::Object(object)) = &schema.schema_kind else {
            continue;
        };
        if object.properties.is_empty() {
            continue; // a map: `additionalProperties` types its values
        }
        match &object.additional_properties {
            None | Some(AdditionalProperties::Any(false)) => {}
            Some(AdditionalProperties::Schema(any)) if is_empty_schema(any) => {
                names.push((name.as_str(), !object.required.is_empty()))
            }
            Some(_) => {
                return Err(format!(
                    "schema {name}: `additionalProperties` beside properties must be `{{}}` (keep \
                     the fields the spec does not name) or left out (accept and drop them)"
                ))
            }
        }
    }
    Ok(names)
}

fn is_empty_schema(schema: &ReferenceOr<Schema>) -> bool {
    matches!(schema, ReferenceOr::Item(Schema { schema_kind: SchemaKind::Any(any), .. }) if *any == AnySchema::default())
}
