//! The matches of a lookup, page after page (see the [module](super)).

use std::{
    collections::HashSet,
    fmt,
    pin::Pin,
    task::{Context, Poll},
};

use futures_core::Stream;
use futures_util::{
    future::BoxFuture,
    stream::{self, BoxStream},
    StreamExt as _, TryStreamExt as _,
};
use serde_json::{Map, Value};

use crate::{types, wire::Int32, Client, Error};

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::types::Contact {}
    impl Sealed for crate::types::Member {}
}

/// What a lookup finds: a [`Contact`](types::Contact) (Query Contacts) or a
/// [`Member`](types::Member) (Query Members). Sealed: the crate implements it for these two.
pub trait Record: sealed::Sealed + Sized + Send + Unpin + 'static {
    /// The fieldsets its query takes ([`ContactFieldSet`](types::ContactFieldSet),
    /// [`MemberFieldSet`](types::MemberFieldSet)).
    type FieldSet: Clone + fmt::Debug + Send + Sync + Unpin + 'static;

    /// The record's ID (a contact ID, a member ID).
    fn id(&self) -> Option<&str>;

    #[doc(hidden)]
    /// What the records are called in messages.
    const NAME: &'static str;
    #[doc(hidden)]
    /// The operation that pages through them, as its `Client` method is named (the name an
    /// [`Error`] gives it).
    const OPERATION: &'static str;
    #[doc(hidden)]
    /// The largest page the query returns.
    const MAX_PAGE: u32;
    #[doc(hidden)]
    /// The fieldsets a lookup asks for unless told otherwise.
    fn default_fieldsets() -> Vec<Self::FieldSet>;
    #[doc(hidden)]
    /// One page: the records at `offset`, at most `limit` of them.
    fn page(query: PageQuery<Self>) -> BoxFuture<'static, Result<Page<Self>, Error>>;
}

#[doc(hidden)]
/// One page of records, and Wix's count of all matches when it gives one.
pub struct Page<T> {
    records: Vec<T>,
    total: Option<u32>,
}

#[doc(hidden)]
/// The request for one page.
pub struct PageQuery<T: Record> {
    client: Client,
    filter: Map<String, Value>,
    fieldsets: Vec<T::FieldSet>,
    offset: u32,
    limit: u32,
}

impl<T: Record> PageQuery<T> {
    fn paging(&self) -> types::Paging {
        let int = |n: u32| Some(Int32(i32::try_from(n).unwrap_or(i32::MAX)));
        types::Paging {
            limit: int(self.limit),
            offset: int(self.offset),
        }
    }

    /// Oldest first: a record created while the lookup pages comes on a later page, instead of
    /// shifting the ones not read yet.
    fn oldest_first() -> Vec<types::Sorting> {
        vec![types::Sorting {
            field_name: Some("createdDate".into()),
            order: Some(types::SortOrder::Asc),
        }]
    }
}

/// Wix's count of all matches, unless it says it could not count them.
fn total(metadata: Option<&types::PagingMetadata>) -> Option<u32> {
    let metadata = metadata?;
    if metadata.too_many_to_count == Some(true) {
        return None;
    }
    metadata.total.and_then(|t| u32::try_from(t.get()).ok())
}

impl Record for types::Contact {
    type FieldSet = types::ContactFieldSet;
    const NAME: &'static str = "contacts";
    const OPERATION: &'static str = "query_contacts";
    const MAX_PAGE: u32 = 1000;

    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    fn default_fieldsets() -> Vec<types::ContactFieldSet> {
        vec![types::ContactFieldSet::CommunicationDetails]
    }

    fn page(q: PageQuery<Self>) -> BoxFuture<'static, Result<Page<Self>, Error>> {
        let body = types::QueryContactsRequest {
            query: Some(types::ContactQuery {
                paging: Some(q.paging()),
                sort: PageQuery::<Self>::oldest_first(),
                filter: q.filter,
                fieldsets: q.fieldsets,
                fields: Vec::new(),
            }),
            search: None,
        };
        let client = q.client;
        Box::pin(async move {
            let page = client
                .query_contacts()
                .body(body)
                .send()
                .await?
                .into_inner();
            let total = total(page.paging_metadata.as_ref());
            Ok(Page {
                records: page.contacts,
                total,
            })
        })
    }
}

impl Record for types::Member {
    type FieldSet = types::MemberFieldSet;
    const NAME: &'static str = "members";
    const OPERATION: &'static str = "query_members";
    const MAX_PAGE: u32 = 100;

    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    fn default_fieldsets() -> Vec<types::MemberFieldSet> {
        vec![types::MemberFieldSet::Full]
    }

    fn page(q: PageQuery<Self>) -> BoxFuture<'static, Result<Page<Self>, Error>> {
        let body = types::QueryMembersRequest {
            query: Some(types::MemberQuery {
                paging: Some(q.paging()),
                sorting: PageQuery::<Self>::oldest_first(),
                filter: q.filter,
            }),
            fieldsets: q.fieldsets,
        };
        let client = q.client;
        Box::pin(async move {
            let page = client.query_members().body(body).send().await?.into_inner();
            let total = total(page.metadata.as_ref());
            Ok(Page {
                records: page.members,
                total,
            })
        })
    }
}

/// Whether a lookup found no record, one, or several: several is never taken to mean the
/// first.
#[derive(Clone, Debug, PartialEq)]
pub enum Found<T> {
    /// No record matched.
    None,
    /// Exactly one record matched.
    One(T),
    /// More than one record matched: all of them, oldest first.
    Several(Vec<T>),
}

/// The records a lookup matches: a [`Stream`] of `Result<T, Error>`, oldest first, each record
/// once; see the [module](super).
///
/// Made by [`Client::contacts_by_email`], [`Client::contacts_by_phone`],
/// [`Client::members_by_login_email`], [`Client::contacts_matching`] and
/// [`Client::members_matching`]. Nothing is sent until it is polled; a setter starts the lookup
/// over.
#[must_use = "a lookup does nothing unless polled"]
pub struct Matches<T: Record> {
    client: Client,
    filter: Map<String, Value>,
    fieldsets: Vec<T::FieldSet>,
    page_size: u32,
    max_pages: Option<u32>,
    stream: Option<BoxStream<'static, Result<T, Error>>>,
}

impl<T: Record> Matches<T> {
    pub(super) fn new(client: Client, filter: Map<String, Value>) -> Self {
        Self {
            client,
            filter,
            fieldsets: T::default_fieldsets(),
            page_size: T::MAX_PAGE,
            max_pages: None,
            stream: None,
        }
    }

    /// The fieldsets to ask for (by default `COMMUNICATION_DETAILS` for contacts, `FULL` for
    /// members); empty leaves the choice to Wix (contacts `FULL`, members `PUBLIC`).
    pub fn fieldsets(mut self, fieldsets: Vec<T::FieldSet>) -> Self {
        self.fieldsets = fieldsets;
        self.stream = None;
        self
    }

    /// Records asked for per page: between 1 and the largest page the query returns (1,000
    /// contacts, 100 members), which is the default.
    pub fn page_size(mut self, records: u32) -> Self {
        self.page_size = records.clamp(1, T::MAX_PAGE);
        self.stream = None;
        self
    }

    /// Ends the lookup with an [`ErrorKind::Paging`](crate::ErrorKind::Paging) error when this
    /// many pages were read and more may follow (no bound by default; at least 1).
    pub fn max_pages(mut self, pages: u32) -> Self {
        self.max_pages = Some(pages.max(1));
        self.stream = None;
        self
    }

    /// Every record, oldest first: the first error ends the lookup and is returned.
    pub async fn all(self) -> Result<Vec<T>, Error> {
        self.try_collect().await
    }

    /// Whether no record, one or several matched (reading every page to know).
    pub async fn found(self) -> Result<Found<T>, Error> {
        let mut all = self.all().await?;
        Ok(match all.len() {
            0 => Found::None,
            1 => Found::One(all.remove(0)),
            _ => Found::Several(all),
        })
    }

    fn start(&self) -> BoxStream<'static, Result<T, Error>> {
        let state = Pager::<T> {
            client: self.client.clone(),
            filter: self.filter.clone(),
            fieldsets: self.fieldsets.clone(),
            limit: self.page_size,
            max_pages: self.max_pages,
            offset: 0,
            pages: 0,
            seen: HashSet::new(),
            done: false,
        };
        stream::try_unfold(state, Pager::next)
            .map_ok(|records| stream::iter(records.into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }
}

/// Where a lookup is: what it asks, how far it got, what it yielded.
struct Pager<T: Record> {
    client: Client,
    filter: Map<String, Value>,
    fieldsets: Vec<T::FieldSet>,
    limit: u32,
    max_pages: Option<u32>,
    offset: u32,
    pages: u32,
    /// The IDs yielded so far.
    seen: HashSet<String>,
    done: bool,
}

impl<T: Record> Pager<T> {
    /// The next page's records not yielded before, and the state after it; `None` at the end.
    async fn next(mut self) -> Result<Option<(Vec<T>, Self)>, Error> {
        if self.done {
            return Ok(None);
        }
        if self.max_pages.is_some_and(|max| self.pages >= max) {
            return Err(Error::paging(
                T::OPERATION,
                format!(
                    "stopped after {} pages of {} (the lookup's max_pages), and more may follow",
                    self.pages,
                    T::NAME
                ),
            ));
        }
        self.pages += 1;
        let query = PageQuery {
            client: self.client.clone(),
            filter: self.filter.clone(),
            fieldsets: self.fieldsets.clone(),
            offset: self.offset,
            limit: self.limit,
        };
        let Page { records, total } = T::page(query).await?;
        let count = u32::try_from(records.len()).unwrap_or(u32::MAX);
        let asked_at = self.offset;
        self.offset = self.offset.saturating_add(count);
        self.done = count == 0
            || match total {
                Some(total) => self.offset >= total,
                None => count < self.limit,
            };
        let new: Vec<T> = records
            .into_iter()
            .filter(|record| record.id().is_none_or(|id| self.seen.insert(id.to_owned())))
            .collect();
        if new.is_empty() && !self.done {
            return Err(Error::paging(
                T::OPERATION,
                format!(
                "Wix answered the page of {} at offset {asked_at} with {count} already read: it \
                 does not move on",
                T::NAME
            ),
            ));
        }
        Ok(Some((new, self)))
    }
}

impl<T: Record> Stream for Matches<T> {
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.stream.is_none() {
            this.stream = Some(this.start());
        }
        this.stream
            .as_mut()
            .map_or(Poll::Ready(None), |s| s.poll_next_unpin(cx))
    }
}

impl<T: Record> fmt::Debug for Matches<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Matches")
            .field("of", &T::NAME)
            .field("filter", &self.filter)
            .field("fieldsets", &self.fieldsets)
            .field("page_size", &self.page_size)
            .field("max_pages", &self.max_pages)
            .field("started", &self.stream.is_some())
            .finish()
    }
}
