//! One page of a query or list of the fake's contacts or members: the order (`createdDate`
//! only), offset paging with Wix's `pagingMetadata`, and the projections of fields and
//! fieldsets. What the fake does not do is refused ([`Refusal`], Wix's 400).

use serde::{de::DeserializeOwned, Serialize};
use serde_json::{Map, Value};

use super::query::{Filter, Refusal};
use wix_inbox::types::{PagingMetadata, SortOrder, Sorting};
use wix_inbox::wire::Int32;

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
