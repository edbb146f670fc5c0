//! The query string of the Contacts and Members GET routes: single values, lists (repeated,
//! as the client sends them, or comma-separated) and offset paging; and the JSON body of their
//! POST routes, read as its generated request type.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::errors::{parse_json, ApiError};
use crate::listing;
use wix_inbox::types::Paging;
use wix_inbox::wire::Int32;

/// The pairs of a query string.
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    pub(super) fn read(
        query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    ) -> Result<Params, ApiError> {
        let Query(pairs) = query.map_err(|e| ApiError::one("query", &e.body_text(), "FORMAT"))?;
        Ok(Params(pairs))
    }

    /// The last value of `name`.
    pub(super) fn one(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, repeated or comma-separated.
    pub(super) fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Every value of `name`, as an enum of the spec (an unknown value is kept as `Other`).
    pub(super) fn enums<T: for<'s> From<&'s str>>(&self, name: &str) -> Vec<T> {
        self.list(name)
            .iter()
            .map(|v| T::from(v.as_str()))
            .collect()
    }

    /// `name` as an integer, if given.
    fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.one(name) {
            None | Some("") => Ok(None),
            Some(raw) => raw.parse().map(Some).map_err(|_| {
                ApiError::one(
                    name,
                    &format!("{name} must be an integer, got {raw:?}"),
                    "FORMAT",
                )
            }),
        }
    }

    /// `paging.limit` and `paging.offset`, as a query's paging (checked by [`paging`]).
    pub(super) fn paging(&self) -> Result<Paging, ApiError> {
        // Out of range saturates, and is refused by the check as too large or negative.
        let int =
            |n: i64| Int32(i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX }));
        Ok(Paging {
            limit: self.int("paging.limit")?.map(int),
            offset: self.int("paging.offset")?.map(int),
        })
    }
}

/// A POST body as its request type: 400 for JSON that is not an object or does not fit.
pub(super) fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    let map = parse_json(bytes)?;
    serde_json::from_value(Value::Object(map))
        .map_err(|e| ApiError::one("body", &format!("Invalid request: {e}"), "FORMAT"))
}

/// The offset and limit of a query's paging, checked ([`listing::paging`]); `prefix` is where
/// the paging is in the request (`query.paging.` in a body, `paging.` in a query string).
pub(super) fn paging(
    paging: Option<&Paging>,
    prefix: &str,
    default: usize,
    max: usize,
) -> Result<(usize, usize), ApiError> {
    let limit = paging.and_then(|p| p.limit).map(|n| i64::from(n.get()));
    let offset = paging.and_then(|p| p.offset).map(|n| i64::from(n.get()));
    listing::paging(prefix, limit, offset, default, max).map_err(ApiError::refused)
}
