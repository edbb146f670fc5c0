//! What the generator leaves out of the spec: the rules that only say which requests Wix refuses
//! (ARCHITECTURE.md, "Rules that only validate"). Validators, fuzzers, other generators and the
//! fake read them; the Rust types stay what they were, since typify would make a new type of
//! each constrained string and each `allOf` member.
//!
//! - the keywords `minLength`, `maxLength`, `pattern`, `minItems`, `maxItems`, `uniqueItems`,
//!   `not`, and `format: uuid` (typify reads it as `uuid::Uuid`; Wix's IDs are strings);
//! - in an `allOf`, a member with neither `$ref` nor `type`: it only constrains (required
//!   fields, one content kind, a request enum without its `UNKNOWN_*` value); a schema left as
//!   a lone `allOf: [X]` becomes `X`;
//! - an `x-extensible-enum` (an enum whose values Wix may add to, which validators must not
//!   close) is an `enum` to the generator, which opens every enum anyway;
//! - an operation marked `x-wix-auth-flow: true` (the token call): the client's credentials
//!   layer sends it, no `Client` method does.

use serde_yaml::{Mapping, Value};

const VALIDATION_ONLY: &[&str] = &[
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "not",
    // A note for other generators (Wix sends `1200.0`); the crate's `Int32` reads it already.
    "x-wix-integral-float",
];

/// The spec as the generator reads it (a YAML value: the document's order is kept, and with it
/// the order of the generated items).
pub fn for_generation(mut spec: Value) -> Value {
    if let Some(Value::Mapping(paths)) = spec.get_mut("paths") {
        for item in paths.values_mut().filter_map(Value::as_mapping_mut) {
            item.retain(|_, op| op.get("x-wix-auth-flow") != Some(&Value::Bool(true)));
        }
        paths.retain(|_, item| item.as_mapping().is_none_or(|item| !item.is_empty()));
    }
    walk(&mut spec);
    spec
}

/// Strips every schema under `node`: a schema is any mapping that holds schema keywords; the
/// keys of a `properties` map are names, never keywords.
fn walk(node: &mut Value) {
    match node {
        Value::Mapping(map) => {
            strip(map);
            for (key, child) in map.iter_mut() {
                match (key.as_str(), child) {
                    (Some("properties"), Value::Mapping(properties)) => {
                        properties.values_mut().for_each(walk)
                    }
                    (_, child) => walk(child),
                }
            }
            if map.len() == 1 {
                if let Some(Value::Sequence(all)) = map.get("allOf") {
                    if let [only] = all.as_slice() {
                        *node = only.clone();
                    }
                }
            }
        }
        Value::Sequence(items) => items.iter_mut().for_each(walk),
        _ => {}
    }
}

fn strip(map: &mut Mapping) {
    let is_schema = [
        "type",
        "$ref",
        "allOf",
        "format",
        "enum",
        "x-extensible-enum",
    ]
    .iter()
    .any(|keyword| map.contains_key(*keyword));
    if !is_schema {
        return;
    }
    for keyword in VALIDATION_ONLY {
        map.remove(*keyword);
    }
    if map.get("format").and_then(Value::as_str) == Some("uuid") {
        map.remove("format");
    }
    if let Some(values) = map.remove("x-extensible-enum") {
        map.insert("enum".into(), values);
    }
    if let Some(Value::Sequence(all)) = map.get_mut("allOf") {
        all.retain(|member| member.get("$ref").is_some() || member.get("type").is_some());
        if all.is_empty() {
            map.remove("allOf");
        }
    }
}
