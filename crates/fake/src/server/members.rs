//! Members v1: Query Members, List Members, Get Member, over the site's members in
//! [`directory`](crate::directory), shaped by their fieldsets as Wix shapes them.

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use super::errors::ApiError;
use super::oauth::authenticate;
use super::params::{body, paging, Params};
use super::Shared;
use crate::listing;
use crate::query::{Filter, MEMBER_FIELDS};
use wix_inbox::types::{
    GetMemberResponse, ListMembersResponse, Member, MemberFieldSet, MemberQuery, PagingMetadata,
    QueryMembersRequest, QueryMembersResponse,
};

/// Members a page holds unless told, and at most (Wix: 100).
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 100;

/// What the fieldsets asked for return, the widest of them (`PUBLIC` when none).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Shape {
    /// `id`, `profile` and the dates; the statuses `UNKNOWN`.
    Public,
    /// `PUBLIC`, plus `contactId`, `privacyStatus` and `activityStatus`.
    Extended,
    /// Every field (`loginEmail`, `contact` included).
    Full,
}

impl Shape {
    fn of(fieldsets: &[MemberFieldSet]) -> Result<Shape, ApiError> {
        let mut widest = Shape::Public;
        for fieldset in fieldsets {
            let shape = match fieldset {
                MemberFieldSet::Public => Shape::Public,
                MemberFieldSet::Extended => Shape::Extended,
                MemberFieldSet::Full => Shape::Full,
                other => {
                    return Err(ApiError::one(
                        "fieldsets",
                        &format!("unknown fieldset {:?}", other.as_str()),
                        "INVALID_ENUM_VALUE",
                    ))
                }
            };
            widest = widest.max(shape);
        }
        Ok(widest)
    }

    /// The member (as JSON, `FULL`) as this shape returns it.
    fn apply(self, member: Value) -> Value {
        if self == Shape::Full {
            return member;
        }
        let mut paths = vec!["id", "profile", "createdDate", "updatedDate"];
        if self == Shape::Extended {
            paths.extend(["contactId", "privacyStatus", "activityStatus"]);
        }
        let paths: Vec<String> = paths.into_iter().map(str::to_owned).collect();
        let mut shaped = listing::project(member, Some(&paths));
        if let Value::Object(map) = &mut shaped {
            for status in ["status", "privacyStatus", "activityStatus"] {
                map.entry(status)
                    .or_insert_with(|| Value::String("UNKNOWN".into()));
            }
        }
        shaped
    }
}

/// The page `q` asks for, shaped by `fieldsets`, and its paging metadata; `places` says where
/// the sort and paging are in the request, for the field violations.
fn select(
    inner: &Shared,
    instance: usize,
    q: &MemberQuery,
    fieldsets: &[MemberFieldSet],
    (sort, paging_at): (&str, &str),
) -> Result<(Vec<Member>, PagingMetadata), ApiError> {
    let filter = Filter::parse(&q.filter, MEMBER_FIELDS).map_err(ApiError::refused)?;
    let descending = listing::descending(&q.sorting, sort).map_err(ApiError::refused)?;
    let window = paging(q.paging.as_ref(), paging_at, DEFAULT_LIMIT, MAX_LIMIT)?;
    let shape = Shape::of(fieldsets)?;
    let state = inner.state();
    Ok(listing::page(
        state.directory.members(instance),
        &filter,
        descending,
        window,
        |v| shape.apply(v),
    ))
}

pub(super) async fn query_members(
    State(inner): State<Shared>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<QueryMembersResponse>, ApiError> {
    let (_, instance) = authenticate(&inner, &headers)?;
    let request: QueryMembersRequest = body(&bytes)?;
    let q = request.query.unwrap_or_default();
    let places = ("query.sorting", "query.paging.");
    let (members, metadata) = select(&inner, instance, &q, &request.fieldsets, places)?;
    Ok(Json(QueryMembersResponse {
        members,
        metadata: Some(metadata),
        ..Default::default()
    }))
}

/// List Members: Query Members without a filter, oldest first, from the query string.
pub(super) async fn list_members(
    State(inner): State<Shared>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<ListMembersResponse>, ApiError> {
    let (_, instance) = authenticate(&inner, &headers)?;
    let params = Params::read(query)?;
    let q = MemberQuery {
        paging: Some(params.paging()?),
        sorting: Vec::new(),
        filter: Default::default(),
    };
    let fieldsets = params.enums("fieldsets");
    let (members, metadata) = select(&inner, instance, &q, &fieldsets, ("sort", "paging."))?;
    Ok(Json(ListMembersResponse {
        members,
        metadata: Some(metadata),
        ..Default::default()
    }))
}

pub(super) async fn get_member(
    State(inner): State<Shared>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<GetMemberResponse>, ApiError> {
    let (_, instance) = authenticate(&inner, &headers)?;
    let Path(id) = path.map_err(|e| ApiError::one("memberId", &e.body_text(), "FORMAT"))?;
    let shape = Shape::of(&Params::read(query)?.enums("fieldsets"))?;
    let Some(member) = inner.state().directory.get_member(instance, &id) else {
        return Err(ApiError::not_found(
            "MEMBER_NOT_FOUND",
            &format!("Member {id}"),
        ));
    };
    let member = listing::shaped(&member, |v| shape.apply(v));
    Ok(Json(GetMemberResponse {
        member,
        ..Default::default()
    }))
}
