//! What the fake reads from the spec ([`wix_inbox::SPEC_JSON`]) rather than knowing it by hand:
//! the operations it routes (path, method, `operationId`), which of them need credentials, and
//! each request body's schema, whose undeclared fields it drops (Wix drops a request field it
//! does not know) and whose `maxLength` it holds strings to.

use std::sync::LazyLock;

use axum::http::Method;
use serde_json::Value;

use crate::violation;
use wix_inbox::types::FieldViolation;

/// The spec, parsed once. build.rs wrote it from a YAML document it had already read, so it is
/// JSON; were it not, the fake would serve no operation (and its tests would say so).
static SPEC: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(wix_inbox::SPEC_JSON).unwrap_or_default());

/// The methods an OpenAPI path item may declare operations for.
const METHODS: [Method; 8] = [
    Method::GET,
    Method::PUT,
    Method::POST,
    Method::DELETE,
    Method::OPTIONS,
    Method::HEAD,
    Method::PATCH,
    Method::TRACE,
];

/// An operation of the spec.
pub(super) struct Operation {
    /// Its path, with `{parameter}`s (axum's syntax too).
    pub(super) path: &'static str,
    pub(super) method: Method,
    pub(super) id: &'static str,
    /// Whether it may be called without credentials (`security: []`).
    pub(super) open: bool,
    /// The schema of its JSON request body, if it has one.
    pub(super) body: Option<&'static Value>,
    /// Its query parameters (the path item's and its own).
    pub(super) query: Vec<QueryParameter>,
}

/// A query parameter of an operation, its schema resolved once (when the routes are made).
pub(super) struct QueryParameter {
    pub(super) name: &'static str,
    pub(super) required: bool,
    /// Its schema and every schema it is combined with ([`parts`]).
    pub(super) schemas: Vec<&'static Value>,
    /// For an array, the same of its items: each value of the list is held to them.
    pub(super) items: Option<Vec<&'static Value>>,
}

/// The query parameters among `parameters` (an operation's or a path item's).
fn query_parameters(parameters: &'static Value) -> impl Iterator<Item = QueryParameter> {
    let all = parameters.as_array().into_iter().flatten().map(resolve);
    all.filter(|p| p["in"] == "query").filter_map(|p| {
        let mut schemas = Vec::new();
        parts(&p["schema"], &mut schemas);
        let array = schemas.iter().any(|s| s["type"] == "array");
        let items = array.then(|| {
            let mut items = Vec::new();
            for schema in schemas.iter().filter_map(|s| s.get("items")) {
                parts(schema, &mut items);
            }
            items
        });
        Some(QueryParameter {
            name: p["name"].as_str()?,
            required: p["required"] == true,
            schemas,
            items,
        })
    })
}

/// Every operation of the spec, in its order.
pub(super) fn operations() -> Vec<Operation> {
    let paths = SPEC["paths"].as_object().into_iter().flatten();
    let operations = paths.flat_map(|(path, item)| {
        METHODS.iter().filter_map(move |method| {
            let operation = item.get(method.as_str().to_ascii_lowercase())?;
            let body = &operation["requestBody"]["content"]["application/json"]["schema"];
            let security = operation.get("security").and_then(Value::as_array);
            Some(Operation {
                path: path.as_str(),
                method: method.clone(),
                id: operation["operationId"].as_str()?,
                open: security.is_some_and(Vec::is_empty),
                body: (!body.is_null()).then_some(body),
                query: query_parameters(&item["parameters"])
                    .chain(query_parameters(&operation["parameters"]))
                    .collect(),
            })
        })
    });
    operations.collect()
}

/// `schema` with its `$ref` followed (a local one: the spec's are).
fn resolve(schema: &'static Value) -> &'static Value {
    match schema["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => SPEC.pointer(pointer).map_or(&Value::Null, resolve),
        None => schema,
    }
}

/// `schema` and every schema it is combined with (`allOf`, `anyOf`, `oneOf`), resolved: a
/// field any of them declares is a declared field.
fn parts(schema: &'static Value, out: &mut Vec<&'static Value>) {
    let schema = resolve(schema);
    out.push(schema);
    for key in ["allOf", "anyOf", "oneOf"] {
        for member in schema[key].as_array().into_iter().flatten() {
            parts(member, out);
        }
    }
}

/// What a request body becomes under its schema: the fields it does not declare dropped at
/// every depth (an object whose schema declares no `properties` at all, such as a query's
/// `filter`, is free-form and kept whole), and a violation for each field of a closed object
/// (`additionalProperties: false`) it does not declare and each string longer than its
/// `maxLength`. Whether anything was dropped is the returned flag.
pub(super) fn conform(value: &mut Value, schema: &'static Value) -> (bool, Vec<FieldViolation>) {
    let mut outcome = (false, Vec::new());
    walk(value, &[schema], "", &mut outcome);
    outcome
}

fn walk(
    value: &mut Value,
    schemas: &[&'static Value],
    at: &str,
    outcome: &mut (bool, Vec<FieldViolation>),
) {
    let mut all = Vec::new();
    for schema in schemas {
        parts(schema, &mut all);
    }
    match value {
        Value::String(text) => {
            let max = all.iter().filter_map(|s| s["maxLength"].as_u64()).min();
            let length = text.chars().count() as u64;
            if let Some(max) = max.filter(|&max| length > max) {
                let description = format!("{at} must be at most {max} characters, got {length}");
                outcome.1.push(violation(at, &description, "MAX_LENGTH"));
            }
        }
        Value::Object(map) => {
            let declared = |schema: &&'static Value, key: &str| schema["properties"].get(key);
            let join = |key: &str| match at {
                "" => key.to_owned(),
                _ => format!("{at}.{key}"),
            };
            if all.iter().any(|s| s["additionalProperties"] == false) {
                // A closed object (a participant ID): an undeclared field is refused.
                let unknown = map
                    .keys()
                    .filter(|k| !all.iter().any(|s| declared(s, k).is_some()));
                for key in unknown {
                    let field = join(key);
                    let description = format!("{field} is not a field of {}", at_or_body(at));
                    outcome
                        .1
                        .push(violation(&field, &description, "FIELD_NOT_ALLOWED"));
                }
            } else if all.iter().any(|s| s["properties"].is_object()) {
                let before = map.len();
                map.retain(|key, _| all.iter().any(|s| declared(s, key).is_some()));
                outcome.0 |= map.len() < before;
            }
            for (key, value) in map.iter_mut() {
                let inner: Vec<_> = all.iter().filter_map(|s| declared(s, key)).collect();
                walk(value, &inner, &join(key), outcome);
            }
        }
        Value::Array(items) => {
            let inner: Vec<_> = all.iter().filter_map(|s| s.get("items")).collect();
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, &inner, &format!("{at}[{i}]"), outcome);
            }
        }
        _ => {}
    }
}

fn at_or_body(at: &str) -> &str {
    if at.is_empty() {
        "the body"
    } else {
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_spec_is_read_and_its_request_bodies_conformed() {
        let operations = operations();
        let create = operations.iter().find(|o| o.id == "createContact").unwrap();
        assert_eq!(
            (create.path, &create.method),
            ("/contacts/v4/contacts", &Method::POST)
        );
        assert!(!create.open);
        let token = operations
            .iter()
            .find(|o| o.id == "createAccessToken")
            .unwrap();
        assert!(token.open, "the token call needs no credentials");

        let mut body = json!({"info": {"name": {"first": "A", "x": 1}, "y": [2]}, "z": null});
        let (dropped, violations) = conform(&mut body, create.body.unwrap());
        assert!(dropped && violations.is_empty());
        assert_eq!(body, json!({"info": {"name": {"first": "A"}}}));
        let mut unchanged = body.clone();
        assert_eq!(
            conform(&mut unchanged, create.body.unwrap()),
            (false, vec![])
        );

        let conversation = operations
            .iter()
            .find(|o| o.id == "getOrCreateConversation");
        let schema = conversation.unwrap().body.unwrap();
        let mut body = json!({"participantId": {"memberId": "m", "x": 1}, "y": 2});
        let (dropped, violations) = conform(&mut body, schema);
        assert!(dropped, "an unknown field of an open object is dropped");
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].field.as_deref(), Some("participantId.x"));
        assert_eq!(
            violations[0].violated_rule.as_deref(),
            Some("FIELD_NOT_ALLOWED")
        );

        let query = operations.iter().find(|o| o.id == "queryContacts").unwrap();
        let filter = json!({"info.name.first": {"$eq": "A"}});
        let mut body = json!({"search": "s".repeat(101), "query": {"filter": filter}});
        let (dropped, violations) = conform(&mut body, query.body.unwrap());
        assert!(!dropped, "a filter is free-form: {body}");
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].field.as_deref(), Some("search"));
        assert_eq!(violations[0].violated_rule.as_deref(), Some("MAX_LENGTH"));
    }
}
