//! Wix's API Query Language, as far as the fake speaks it: the filters over the records of
//! [`directory`](super::directory), read as their JSON (the shape Wix returns); the order,
//! paging and projections are [`listing`](super::listing)'s. What it does not speak is refused
//! with the field violation Wix's 400 names ([`Refusal`]), never answered with a silent empty
//! list.
//!
//! Filters: a map of conditions, all of which must hold; a condition is a value (equality) or
//! an object of `$eq`, `$ne`, `$in` (an array); `$and` and `$or` take arrays of filters, `$not`
//! a filter. Fields are those of [`CONTACT_FIELDS`] and [`MEMBER_FIELDS`]; email addresses
//! compare ignoring case.

use serde_json::{Map, Value};

/// A field a filter may name: its name in Wix's filters, and where it is in the record's JSON
/// (`*`: each item of an array).
#[derive(Debug)]
pub(crate) struct Field {
    name: &'static str,
    path: &'static [&'static str],
    fold_case: bool,
}

const fn field(name: &'static str, path: &'static [&'static str]) -> Field {
    Field {
        name,
        path,
        fold_case: false,
    }
}

const fn email(name: &'static str, path: &'static [&'static str]) -> Field {
    Field {
        name,
        path,
        fold_case: true,
    }
}

/// The contact fields the fake filters on.
pub(crate) const CONTACT_FIELDS: &[Field] = &[
    field("id", &["id"]),
    email(
        "info.emails.email",
        &["info", "emails", "items", "*", "email"],
    ),
    field(
        "info.phones.phone",
        &["info", "phones", "items", "*", "phone"],
    ),
    field("info.name.first", &["info", "name", "first"]),
    field("info.name.last", &["info", "name", "last"]),
    email("primaryInfo.email", &["primaryInfo", "email"]),
    field("primaryInfo.phone", &["primaryInfo", "phone"]),
];

/// The member fields the fake filters on.
pub(crate) const MEMBER_FIELDS: &[Field] = &[
    field("id", &["id"]),
    email("loginEmail", &["loginEmail"]),
    field("contactId", &["contactId"]),
    field("profile.nickname", &["profile", "nickname"]),
    field("profile.slug", &["profile", "slug"]),
    field("contact.firstName", &["contact", "firstName"]),
    field("contact.lastName", &["contact", "lastName"]),
    field("status", &["status"]),
    field("privacyStatus", &["privacyStatus"]),
];

/// A query the fake does not run: the field violation of Wix's 400 body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) field: String,
    pub(crate) description: String,
    pub(crate) rule: &'static str,
}

impl Refusal {
    fn filter(description: String) -> Refusal {
        Refusal {
            field: "query.filter".into(),
            description,
            rule: "INVALID_FILTER",
        }
    }
}

/// A filter, checked.
#[derive(Debug)]
pub(crate) enum Filter<'a> {
    All(Vec<Filter<'a>>),
    Any(Vec<Filter<'a>>),
    Not(Box<Filter<'a>>),
    In(&'a Field, Vec<Value>),
    Ne(&'a Field, Value),
}

impl<'a> Filter<'a> {
    /// Checks `filter` against the fields the fake knows.
    pub(crate) fn parse(filter: &Map<String, Value>, fields: &'a [Field]) -> Result<Self, Refusal> {
        let mut all = Vec::new();
        for (key, condition) in filter {
            all.push(match key.as_str() {
                "$and" | "$or" => {
                    let Value::Array(items) = condition else {
                        return Err(Refusal::filter(format!("{key} takes an array of filters")));
                    };
                    let parts = items
                        .iter()
                        .map(|item| match item {
                            Value::Object(map) => Filter::parse(map, fields),
                            _ => Err(Refusal::filter(format!("{key} takes an array of filters"))),
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    if key == "$and" {
                        Filter::All(parts)
                    } else {
                        Filter::Any(parts)
                    }
                }
                "$not" => match condition {
                    Value::Object(map) => Filter::Not(Box::new(Filter::parse(map, fields)?)),
                    _ => return Err(Refusal::filter("$not takes a filter".into())),
                },
                name => {
                    let Some(field) = fields.iter().find(|f| f.name == name) else {
                        let known: Vec<&str> = fields.iter().map(|f| f.name).collect();
                        return Err(Refusal::filter(format!(
                            "filtering by {name:?} is not supported (the fake filters by {})",
                            known.join(", ")
                        )));
                    };
                    Filter::condition(field, condition)?
                }
            });
        }
        Ok(Filter::All(all))
    }

    /// Query Contacts' `search`: an exact match in any of the fields named.
    pub(crate) fn search(text: &str, fields: &'a [Field], names: &[&str]) -> Self {
        let value = Value::String(text.to_owned());
        Filter::Any(
            fields
                .iter()
                .filter(|f| names.contains(&f.name))
                .map(|f| Filter::In(f, vec![value.clone()]))
                .collect(),
        )
    }

    fn condition(field: &'a Field, condition: &Value) -> Result<Self, Refusal> {
        let name = field.name;
        let Value::Object(operators) = condition else {
            return Ok(Filter::In(field, vec![scalar(name, condition)?]));
        };
        let mut all = Vec::new();
        for (operator, operand) in operators {
            all.push(match operator.as_str() {
                "$eq" => Filter::In(field, vec![scalar(name, operand)?]),
                "$ne" => Filter::Ne(field, scalar(name, operand)?),
                "$in" => match operand {
                    Value::Array(values) => Filter::In(
                        field,
                        values
                            .iter()
                            .map(|v| scalar(name, v))
                            .collect::<Result<_, _>>()?,
                    ),
                    _ => {
                        return Err(Refusal::filter(format!(
                            "$in of {name:?} takes an array of values"
                        )))
                    }
                },
                other => {
                    return Err(Refusal::filter(format!(
                        "operator {other:?} on {name:?} is not supported (the fake knows $eq, \
                         $ne, $in)"
                    )))
                }
            });
        }
        if all.is_empty() {
            return Err(Refusal::filter(format!(
                "the condition on {name:?} is empty"
            )));
        }
        Ok(Filter::All(all))
    }

    /// Whether the record (as JSON) passes.
    pub(crate) fn matches(&self, record: &Value) -> bool {
        match self {
            Filter::All(parts) => parts.iter().all(|p| p.matches(record)),
            Filter::Any(parts) => parts.iter().any(|p| p.matches(record)),
            Filter::Not(inner) => !inner.matches(record),
            Filter::In(field, values) => {
                let found = field.values(record);
                found
                    .iter()
                    .any(|have| values.iter().any(|want| field.equal(have, want)))
            }
            Filter::Ne(field, value) => !field.values(record).iter().any(|h| field.equal(h, value)),
        }
    }
}

fn scalar(name: &str, value: &Value) -> Result<Value, Refusal> {
    match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(value.clone()),
        _ => Err(Refusal::filter(format!(
            "the value compared with {name:?} must be a string, number or boolean, got {value}"
        ))),
    }
}

impl Field {
    /// The field's values in `record` (several through an array).
    fn values<'v>(&self, record: &'v Value) -> Vec<&'v Value> {
        let mut current = vec![record];
        for step in self.path {
            current = current
                .into_iter()
                .flat_map(|v| match (*step, v) {
                    ("*", Value::Array(items)) => items.iter().collect::<Vec<_>>(),
                    (key, Value::Object(map)) => map.get(key).into_iter().collect(),
                    _ => Vec::new(),
                })
                .collect();
        }
        current
    }

    fn equal(&self, have: &Value, want: &Value) -> bool {
        match (have, want) {
            (Value::String(a), Value::String(b)) if self.fold_case => a.eq_ignore_ascii_case(b),
            _ => have == want,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(filter: Value) -> Result<Filter<'static>, Refusal> {
        Filter::parse(filter.as_object().unwrap(), CONTACT_FIELDS)
    }

    #[test]
    fn filters_match_through_arrays_and_ignore_the_case_of_emails() {
        let contact = json!({"id": "c", "info": {"emails": {"items": [
            {"email": "a@x.com"}, {"email": "Jane@Example.com"}]}, "phones": {"items": [{"phone": "123"}]}}});
        let yes = [
            json!({"info.emails.email": {"$eq": "jane@example.com"}}),
            json!({"info.emails.email": "a@x.com"}),
            json!({"info.phones.phone": {"$in": ["9", "123"]}}),
            json!({"id": "c", "info.phones.phone": {"$ne": "9"}}),
            json!({"$or": [{"id": "other"}, {"id": {"$eq": "c"}}]}),
            json!({"$not": {"id": "other"}}),
        ];
        for filter in yes {
            assert!(parse(filter.clone()).unwrap().matches(&contact), "{filter}");
        }
        let no = [
            json!({"info.emails.email": {"$eq": "b@x.com"}}),
            json!({"info.phones.phone": {"$in": []}}),
            json!({"id": "c", "info.name.first": "Jane"}),
        ];
        for filter in no {
            assert!(
                !parse(filter.clone()).unwrap().matches(&contact),
                "{filter}"
            );
        }
    }

    #[test]
    fn what_the_fake_does_not_speak_is_refused_naming_it() {
        for (filter, named) in [
            (json!({"info.company": "Wix"}), "info.company"),
            (json!({"id": {"$startsWith": "c"}}), "$startsWith"),
            (json!({"id": {"$in": "c"}}), "$in"),
            (json!({"id": {"$eq": ["c"]}}), "must be a string"),
            (json!({"$and": {"id": "c"}}), "$and"),
        ] {
            let refusal = parse(filter.clone()).unwrap_err();
            assert_eq!(refusal.field, "query.filter");
            assert!(refusal.description.contains(named), "{filter}: {refusal:?}");
        }
    }
}
