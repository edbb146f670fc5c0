//! A query string held to the operation's query parameters in the spec, before the route reads
//! it: a required parameter given, an integer an integer within its `minimum`, `maximum` and
//! `int32`, an enum's value one of its values (less those a `not` excludes), a `uuid` a GUID,
//! each item of an array alike. What the spec declares is what is checked: the fake knows no
//! parameter's rules by hand, so a value the spec refuses is never served (schemathesis ST201)
//! and one it allows is never refused here.

use serde_json::Value;

use super::errors::max_violation;
use super::spec::QueryParameter;
use crate::violation;
use wix_inbox::types::FieldViolation;

/// The violations of `pairs` (a query string's, in order) against `declared`; parameters the
/// spec does not declare are the route's to ignore.
pub(super) fn check(
    pairs: &[(String, String)],
    declared: &[QueryParameter],
) -> Vec<FieldViolation> {
    let mut violations = Vec::new();
    for parameter in declared {
        let name = parameter.name;
        let given: Vec<&str> = pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        if given.is_empty() {
            if parameter.required {
                let description = match allowed(&parameter.schemas) {
                    Some(values) => format!("{name} is required: {}", one_of(&values)),
                    None => format!("{name} is required"),
                };
                violations.push(violation(name, &description, "REQUIRED_FIELD"));
            }
            continue;
        }
        match &parameter.items {
            Some(items) => {
                let values = given.iter().flat_map(|v| v.split(','));
                violations.extend(values.filter_map(|v| check_value(name, v, items)));
            }
            None => {
                let schemas = &parameter.schemas;
                violations.extend(given.iter().filter_map(|v| check_value(name, v, schemas)));
            }
        }
    }
    violations
}

/// The first rule of `schemas` (resolved, all holding) that `value` breaks.
fn check_value(name: &str, value: &str, schemas: &[&'static Value]) -> Option<FieldViolation> {
    let has = |key: &str, wanted: &str| schemas.iter().any(|s| s[key] == wanted);
    if has("type", "integer") {
        let Ok(n) = value.parse::<i64>() else {
            let description = format!("{name} must be an integer, got {value:?}");
            return Some(violation(name, &description, "FORMAT"));
        };
        if has("format", "int32") && i32::try_from(n).is_err() {
            let description = format!("{name} must be a 32-bit integer, got {n}");
            return Some(violation(name, &description, "FORMAT"));
        }
        if let Some(min) = schemas.iter().filter_map(|s| s["minimum"].as_i64()).max() {
            if n < min {
                let description = format!("{name} must be at least {min}, got {n}");
                return Some(violation(name, &description, "MIN"));
            }
        }
        if let Some(max) = schemas.iter().filter_map(|s| s["maximum"].as_i64()).min() {
            if n > max {
                let description = format!("{name} must be at most {max}, got {n}");
                return Some(max_violation(name, &description, max));
            }
        }
    }
    if has("format", "uuid") && !(value.len() == 36 && uuid::Uuid::try_parse(value).is_ok()) {
        let description = format!("{name} must be a GUID, got {value:?}");
        return Some(violation(name, &description, "FORMAT"));
    }
    if let Some(values) = allowed(schemas) {
        if !values.contains(&value) {
            let description = format!("{name} must be {}, got {value:?}", one_of(&values));
            return Some(violation(name, &description, "INVALID_ENUM_VALUE"));
        }
    }
    None
}

/// The values an enum allows: those every `enum` of `schemas` lists, less those of a `not`'s
/// `enum`; `None` when no schema is an enum.
fn allowed(schemas: &[&'static Value]) -> Option<Vec<&'static str>> {
    let mut enums = schemas.iter().filter_map(|s| s["enum"].as_array());
    let first = enums.next()?;
    let rest: Vec<_> = enums.collect();
    let excluded: Vec<&Value> = schemas
        .iter()
        .filter_map(|s| s["not"]["enum"].as_array())
        .flatten()
        .collect();
    let values = first
        .iter()
        .filter(|v| rest.iter().all(|e| e.contains(v)) && !excluded.contains(v))
        .filter_map(Value::as_str)
        .collect();
    Some(values)
}

/// `A`, `A or B`, `A, B or C`.
fn one_of(values: &[&str]) -> String {
    match values {
        [] => "nothing".to_owned(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::spec::operations;
    use super::*;

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn rules(id: &str, query: &[(&str, &str)]) -> Vec<(String, String)> {
        let operation = operations().into_iter().find(|o| o.id == id).unwrap();
        check(&pairs(query), &operation.query)
            .into_iter()
            .map(|v| (v.field.unwrap(), v.violated_rule.unwrap()))
            .collect()
    }

    fn one(field: &str, rule: &str) -> Vec<(String, String)> {
        vec![(field.to_owned(), rule.to_owned())]
    }

    #[test]
    fn query_strings_are_held_to_the_spec() {
        let id = "0f0e0d0c-0b0a-4909-8807-060504030201";
        let list = |extra: &[(&'static str, &'static str)]| {
            let mut query = vec![("conversationId", id), ("visibility", "BUSINESS")];
            query.extend_from_slice(extra);
            rules(
                "listMessages",
                &query.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(),
            )
        };
        assert_eq!(list(&[]), vec![]);
        assert_eq!(
            list(&[("sorting.order", "ASC"), ("paging.limit", "100")]),
            vec![]
        );
        assert_eq!(
            list(&[("sorting.order", "")]),
            one("sorting.order", "INVALID_ENUM_VALUE")
        );
        assert_eq!(
            list(&[("sorting.fieldName", "")]),
            one("sorting.fieldName", "INVALID_ENUM_VALUE")
        );
        assert_eq!(list(&[("paging.limit", "0")]), one("paging.limit", "MIN"));
        assert_eq!(list(&[("paging.limit", "101")]), one("paging.limit", "MAX"));
        assert_eq!(list(&[("paging.limit", "")]), one("paging.limit", "FORMAT"));
        assert_eq!(
            list(&[("paging.limit", "4294967296")]),
            one("paging.limit", "FORMAT")
        );
        assert_eq!(
            list(&[("paging.cursor", "")]),
            vec![],
            "a string may be empty"
        );
        assert_eq!(
            rules(
                "listMessages",
                &[
                    ("conversationId", "c"),
                    ("visibility", "UNKNOWN_VISIBILITY")
                ]
            ),
            vec![
                ("conversationId".to_owned(), "FORMAT".to_owned()),
                ("visibility".to_owned(), "INVALID_ENUM_VALUE".to_owned())
            ],
            "a value the spec's `not` excludes is refused"
        );
        assert_eq!(
            rules("listMessages", &[("conversationId", id)]),
            one("visibility", "REQUIRED_FIELD")
        );
        assert_eq!(
            rules("listMembers", &[("fieldsets", "PUBLIC,FULL")]),
            vec![]
        );
        assert_eq!(
            rules("listMembers", &[("fieldsets", "PUBLIC,")]),
            one("fieldsets", "INVALID_ENUM_VALUE")
        );
        assert_eq!(
            rules("listContacts", &[("fields", ""), ("unknown", "x")]),
            vec![]
        );
        assert_eq!(
            rules("listContacts", &[("paging.offset", "-1")]),
            one("paging.offset", "MIN")
        );
    }

    #[test]
    fn enums_are_named_as_the_spec_lists_them() {
        assert_eq!(one_of(&["ASC", "DESC"]), "ASC or DESC");
        assert_eq!(one_of(&["A", "B", "C"]), "A, B or C");
    }
}
