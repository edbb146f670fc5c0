//! Wix's API Query Language, as far as the fake speaks it: filters, sorting, offset paging and
//! projections over the records of [`directory`](super::directory), read as their JSON (the
//! shape Wix returns). What it does not speak is refused with the field violation Wix's 400
//! names ([`Refusal`]), never answered with a silent empty list.
//!
//! Filters: a map of conditions, all of which must hold; a condition is a value (equality) or
//! an object of `$eq`, `$ne`, `$in` (an array); `$and` and `$or` take arrays of filters, `$not`
//! a filter. Fields are those of [`CONTACT_FIELDS`] and [`MEMBER_FIELDS`]; email addresses
//! compare ignoring case.

use serde::{de::DeserializeOwned, Serialize};
use serde_json::{Map, Value};

use crate::types::{PagingMetadata, SortOrder, Sorting};
use crate::wire::Int32;

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

/// Whether a query's order is descending: the fake sorts by `createdDate` only, ascending
/// unless `DESC` (Wix's default for Query Contacts). `field` names the request's sort in a
/// refusal.
pub(crate) fn descending(sorting: &[Sorting], field: &str) -> Result<bool, Refusal> {
    let refuse = |description: String| Refusal {
        field: field.to_owned(),
        description,
        rule: "INVALID_SORT",
    };
    match sorting {
        [] => Ok(false),
        [sort] => match sort.field_name.as_deref().unwrap_or("createdDate") {
            "createdDate" => Ok(matches!(sort.order, Some(SortOrder::Desc))),
            other => Err(refuse(format!(
                "sorting by {other:?} is not supported (the fake sorts by createdDate)"
            ))),
        },
        _ => Err(refuse("sort by one field at most".into())),
    }
}

/// The offset and limit of a page: `limit` between 1 and `max` (`default` when absent or 0),
/// `offset` 0 or more.
pub(crate) fn paging(
    prefix: &str,
    limit: Option<i64>,
    offset: Option<i64>,
    default: usize,
    max: usize,
) -> Result<(usize, usize), Refusal> {
    let refuse = |name: &str, description: String, rule| Refusal {
        field: format!("{prefix}{name}"),
        description,
        rule,
    };
    let limit = match limit {
        None | Some(0) => default,
        Some(n) if n < 0 => {
            return Err(refuse(
                "limit",
                format!("limit must be positive, got {n}"),
                "MIN",
            ))
        }
        Some(n) => match usize::try_from(n) {
            Ok(n) if n <= max => n,
            _ => {
                return Err(refuse(
                    "limit",
                    format!("limit must be at most {max}, got {n}"),
                    "MAX",
                ))
            }
        },
    };
    let offset = match offset {
        None => 0,
        Some(n) => usize::try_from(n).map_err(|_| {
            refuse(
                "offset",
                format!("offset must not be negative, got {n}"),
                "MIN",
            )
        })?,
    };
    Ok((offset, limit))
}

/// The record with only the fields at `paths` (dotted, as in a projection); `None` keeps it
/// whole.
pub(crate) fn project(record: Value, paths: Option<&[String]>) -> Value {
    let Some(paths) = paths else {
        return record;
    };
    let mut out = Value::Object(Map::new());
    for path in paths {
        let steps: Vec<&str> = path.split('.').collect();
        let mut from = &record;
        let mut found = true;
        for step in &steps {
            match from.get(step) {
                Some(next) => from = next,
                None => {
                    found = false;
                    break;
                }
            }
        }
        if !found {
            continue;
        }
        let mut to = &mut out;
        for (i, step) in steps.iter().enumerate() {
            let map = match to {
                Value::Object(map) => map,
                _ => break,
            };
            to = if i + 1 == steps.len() {
                map.insert((*step).to_owned(), from.clone());
                break;
            } else {
                map.entry(*step)
                    .or_insert_with(|| Value::Object(Map::new()))
            };
        }
    }
    out
}

/// `record` reshaped as JSON by `shape` (a projection, a fieldset).
pub(crate) fn shaped<T: Serialize + DeserializeOwned>(
    record: &T,
    shape: impl Fn(Value) -> Value,
) -> Option<T> {
    let value = serde_json::to_value(record).ok()?;
    serde_json::from_value(shape(value)).ok()
}

/// One page of `records` (given oldest first): those that pass `filter`, in the order asked,
/// from `offset`, at most `limit`, each shaped by `shape` (a projection); and the metadata Wix
/// gives with it (`count`, `offset`, `total`).
pub(crate) fn page<'r, T>(
    records: impl Iterator<Item = &'r T>,
    filter: &Filter<'_>,
    descending: bool,
    (offset, limit): (usize, usize),
    shape: impl Fn(Value) -> Value,
) -> (Vec<T>, PagingMetadata)
where
    T: Serialize + DeserializeOwned + 'r,
{
    let mut passed: Vec<&T> = records
        .filter(|r| serde_json::to_value(r).is_ok_and(|v| filter.matches(&v)))
        .collect();
    if descending {
        passed.reverse();
    }
    let total = passed.len();
    let records: Vec<T> = passed
        .into_iter()
        .skip(offset)
        .take(limit)
        .filter_map(|r| shaped(r, &shape))
        .collect();
    let int = |n: usize| Some(Int32(i32::try_from(n).unwrap_or(i32::MAX)));
    let metadata = PagingMetadata {
        count: int(records.len()),
        offset: int(offset),
        total: int(total),
        too_many_to_count: Some(false),
        ..Default::default()
    };
    (records, metadata)
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

    #[test]
    fn paging_has_defaults_and_bounds() {
        assert_eq!(paging("p.", None, None, 50, 1000), Ok((0, 50)));
        assert_eq!(paging("p.", Some(0), Some(7), 50, 1000), Ok((7, 50)));
        assert_eq!(
            paging("p.", Some(1001), None, 50, 1000).unwrap_err().rule,
            "MAX"
        );
        assert_eq!(
            paging("p.", Some(5), Some(-1), 50, 1000).unwrap_err().field,
            "p.offset"
        );
    }

    #[test]
    fn projection_keeps_the_paths_asked_for() {
        let record =
            json!({"id": "c", "revision": 1, "info": {"name": {"first": "J"}, "emails": {}}});
        let paths = [
            "id".to_owned(),
            "info.name".to_owned(),
            "missing.x".to_owned(),
        ];
        assert_eq!(
            project(record.clone(), Some(&paths)),
            json!({"id": "c", "info": {"name": {"first": "J"}}})
        );
        assert_eq!(project(record.clone(), None), record);
    }
}
