//! Contacts v4: Query Contacts, List Contacts, Get Contact, Create Contact, over the site's
//! contacts in [`directory`](crate::directory).

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::Value;

use super::errors::ApiError;
use super::oauth::authenticate;
use super::params::{body, paging, Params};
use super::Shared;
use crate::listing;
use crate::query::{Filter, CONTACT_FIELDS};
use wix_inbox::types::{
    Contact, ContactFieldSet, ContactQuery, CreateContactRequest, CreateContactResponse,
    GetContactResponse, ListContactsResponse, PagingMetadata, QueryContactsRequest,
    QueryContactsResponse, SortOrder, Sorting,
};

/// Contacts a page holds unless told (Wix: 50), and at most (1,000).
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 1000;

/// The fields a fieldset returns (besides `id` and `revision`, always returned); `None` for
/// `FULL`, every field.
fn fieldset_paths(fieldset: &ContactFieldSet) -> Result<Option<&'static [&'static str]>, ApiError> {
    Ok(match fieldset {
        ContactFieldSet::Full => None,
        ContactFieldSet::Basic => Some(&["primaryInfo", "info.name"]),
        ContactFieldSet::CommunicationDetails => Some(&[
            "primaryInfo",
            "info.name",
            "info.emails",
            "info.phones",
            "info.addresses",
        ]),
        ContactFieldSet::Extended => Some(&["primaryInfo", "info.name", "info.extendedFields"]),
        other => {
            return Err(ApiError::one(
                "fieldsets",
                &format!("unknown fieldset {:?}", other.as_str()),
                "INVALID_ENUM_VALUE",
            ))
        }
    })
}

/// The projection of `fieldsets` and `fields` (their union; `FULL` when both are empty):
/// `None` for every field.
fn projection(
    fieldsets: &[ContactFieldSet],
    fields: &[String],
) -> Result<Option<Vec<String>>, ApiError> {
    if fieldsets.is_empty() && fields.is_empty() {
        return Ok(None);
    }
    let mut paths: Vec<String> = vec!["id".into(), "revision".into()];
    for fieldset in fieldsets {
        match fieldset_paths(fieldset)? {
            None => return Ok(None),
            Some(more) => paths.extend(more.iter().map(|p| (*p).to_owned())),
        }
    }
    paths.extend(fields.iter().cloned());
    Ok(Some(paths))
}

// ---------------------------------------------------------------------------------------------
// Query Contacts and List Contacts

/// Where a query's sort and paging are in the request, for the field violations.
type Places = (&'static str, &'static str);

/// The page `q` asks for (with Query Contacts' `search`), and its paging metadata.
fn select(
    inner: &Shared,
    instance: usize,
    q: &ContactQuery,
    search: Option<&str>,
    (sort, paging_at): Places,
) -> Result<(Vec<Contact>, PagingMetadata), ApiError> {
    let mut filter = Filter::parse(&q.filter, CONTACT_FIELDS).map_err(ApiError::refused)?;
    if let Some(text) = search.filter(|s| !s.is_empty()) {
        let names = [
            "info.name.first",
            "info.name.last",
            "info.emails.email",
            "info.phones.phone",
        ];
        filter = Filter::All(vec![filter, Filter::search(text, CONTACT_FIELDS, &names)]);
    }
    let descending = listing::descending(&q.sort, sort).map_err(ApiError::refused)?;
    let window = paging(q.paging.as_ref(), paging_at, DEFAULT_LIMIT, MAX_LIMIT)?;
    let paths = projection(&q.fieldsets, &q.fields)?;
    let state = inner.state();
    Ok(listing::page(
        state.directory.contacts(instance),
        &filter,
        descending,
        window,
        |v| listing::project(v, paths.as_deref()),
    ))
}

pub(super) async fn query_contacts(
    State(inner): State<Shared>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<QueryContactsResponse>, ApiError> {
    let (_, instance) = authenticate(&inner, &headers)?;
    let request: QueryContactsRequest = body(&bytes)?;
    let q = request.query.unwrap_or_default();
    let places = ("query.sort", "query.paging.");
    let (contacts, metadata) = select(&inner, instance, &q, request.search.as_deref(), places)?;
    Ok(Json(QueryContactsResponse {
        contacts,
        paging_metadata: Some(metadata),
        ..Default::default()
    }))
}

/// List Contacts: Query Contacts without a filter, from the query string.
pub(super) async fn list_contacts(
    State(inner): State<Shared>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<ListContactsResponse>, ApiError> {
    let (_, instance) = authenticate(&inner, &headers)?;
    let params = Params::read(query)?;
    let q = ContactQuery {
        sort: vec![Sorting {
            field_name: params.one("sort.fieldName").map(str::to_owned),
            order: params.one("sort.order").map(SortOrder::from),
        }],
        paging: Some(params.paging()?),
        fields: params.list("fields"),
        fieldsets: params.enums("fieldsets"),
        filter: Default::default(),
    };
    let (contacts, metadata) = select(&inner, instance, &q, None, ("sort", "paging."))?;
    Ok(Json(ListContactsResponse {
        contacts,
        paging_metadata: Some(metadata),
        ..Default::default()
    }))
}

// ---------------------------------------------------------------------------------------------
// Get Contact

pub(super) async fn get_contact(
    State(inner): State<Shared>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<GetContactResponse>, ApiError> {
    let (_, instance) = authenticate(&inner, &headers)?;
    let Path(id) = path.map_err(|e| ApiError::one("contactId", &e.body_text(), "FORMAT"))?;
    let params = Params::read(query)?;
    let paths = projection(&params.enums("fieldsets"), &params.list("fields"))?;
    let found = inner.state().directory.get_contact(instance, &id);
    let Some((contact, response_type)) = found else {
        return Err(ApiError::not_found(
            "CONTACT_NOT_FOUND",
            &format!("Contact {id}"),
        ));
    };
    let contact = listing::shaped(&contact, |v| listing::project(v, paths.as_deref()));
    Ok(Json(GetContactResponse {
        contact,
        response_type: Some(response_type),
        ..Default::default()
    }))
}

// ---------------------------------------------------------------------------------------------
// Create Contact

pub(super) async fn create_contact(
    State(inner): State<Shared>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<CreateContactResponse>, ApiError> {
    let (_, instance) = authenticate(&inner, &headers)?;
    let request: CreateContactRequest = body(&bytes)?;
    let info = request.info;
    let has_name = info
        .name
        .as_ref()
        .is_some_and(|n| n.first.is_some() || n.last.is_some());
    let has_email = info.emails.as_ref().is_some_and(|e| !e.items.is_empty());
    let has_phone = info.phones.as_ref().is_some_and(|p| !p.items.is_empty());
    if !(has_name || has_email || has_phone) {
        return Err(ApiError::one(
            "info",
            "A contact needs a name, a phone number or an email address",
            "REQUIRED_FIELD",
        ));
    }
    let mut state = inner.state();
    if request.allow_duplicates != Some(true) {
        if let Some(duplicate) = state.directory.duplicate_of(instance, &info) {
            return Err(ApiError::application(
                StatusCode::CONFLICT,
                "CONTACT_ALREADY_EXISTS",
                "Cannot create contact: a contact with this email (or phone) already exists \
                 (set allowDuplicates to create it anyway)",
            )
            .with_data("duplicateContactId", Value::String(duplicate)));
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    let contact = state.directory.upsert_contact(instance, &id, info);
    Ok(Json(CreateContactResponse {
        contact: Some(contact),
        ..Default::default()
    }))
}
