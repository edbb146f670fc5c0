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

    /// Every value of `name`, as an enum of the spec (an unknown value, an empty one too, is
    /// kept as `Other`, which the route refuses).
    pub(super) fn enums<T: for<'s> From<&'s str>>(&self, name: &str) -> Vec<T> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(T::from)
            .collect()
    }

    /// `name` as an integer, if given (given empty, it is not an integer: refused).
    fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.one(name) {
            None => Ok(None),
            Some(raw) => raw.parse().map(Some).map_err(|_| {
                ApiError::one(
                    name,
                    &format!("{name} must be an integer, got {raw:?}"),
                    "FORMAT",
                )
            }),
        }
    }

    /// `paging.limit` and `paging.offset`, as a query's paging (checked by [`paging`]); a
    /// value beyond an int32 is refused, as Wix refuses it.
    pub(super) fn paging(&self) -> Result<Paging, ApiError> {
        let int32 = |name: &str| match self.int(name)? {
            None => Ok(None),
            // A query string's limit is at least 1 (a body's 0 means the default).
            Some(0) if name == "paging.limit" => Err(ApiError::one(
                name,
                "paging.limit must be at least 1",
                "MIN",
            )),
            Some(n) => i32::try_from(n).map(|n| Some(Int32(n))).map_err(|_| {
                ApiError::one(
                    name,
                    &format!("{name} must be a 32-bit integer, got {n}"),
                    "FORMAT",
                )
            }),
        };
        Ok(Paging {
            limit: int32("paging.limit")?,
            offset: int32("paging.offset")?,
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
