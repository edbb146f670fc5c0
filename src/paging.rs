//! Every message of a conversation, as one stream over List Messages' pages.
//!
//! Wix pages messages with a cursor: each page's `pagingMetadata.cursors.next` asks for the next
//! one, with the same visibility and sorting as the first request. The stream asks for a page
//! only when its consumer wants a message and none is left of the last page, and ends after the
//! last page (one without a `next` cursor, or one whose cursor was already followed) or after the
//! first error, which it yields.
//!
//! Two ways in: [`Client::list_all_messages`], which owns what it needs (the stream can be moved
//! to a task), and [`stream`](crate::builder::ListMessages::stream) on a List Messages request,
//! which keeps every parameter of the request (sorting, page size) for every page.

use std::collections::{HashSet, VecDeque};
use std::future::Future;

use futures_core::Stream;

use crate::{builder, types, Client, Error};

impl Client {
    /// All messages of a conversation with `visibility`, in Wix's default order (most recent
    /// first), fetched a page at a time as the stream is consumed.
    ///
    /// ```no_run
    /// use futures_util::TryStreamExt as _;
    /// use wix_inbox::types::MessageVisibility;
    ///
    /// # async fn run(client: wix_inbox::Client) -> Result<(), wix_inbox::Error> {
    /// let messages = client.list_all_messages("6202c3bb", MessageVisibility::Business);
    /// futures_util::pin_mut!(messages);
    /// while let Some(message) = messages.try_next().await? {
    ///     println!("{:?}", message.content);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_all_messages(
        &self,
        conversation_id: impl Into<String>,
        visibility: types::MessageVisibility,
    ) -> impl Stream<Item = Result<types::Message, Error>> + Send + 'static {
        let client = self.clone();
        let conversation_id = conversation_id.into();
        pages(move |cursor| {
            let (client, conversation_id, visibility) =
                (client.clone(), conversation_id.clone(), visibility.clone());
            async move {
                let mut request = client
                    .list_messages()
                    .conversation_id(conversation_id)
                    .visibility(visibility);
                if let Some(cursor) = cursor {
                    request = request.paging_cursor(cursor);
                }
                request.send().await.map(|page| page.into_inner())
            }
        })
    }
}

impl<'a> builder::ListMessages<'a> {
    /// Every message this request matches, page after page, with its visibility, sorting and
    /// page size kept for every page (the stream sets `paging.cursor` itself).
    ///
    /// ```no_run
    /// use futures_util::TryStreamExt as _;
    /// use wix_inbox::types::{MessageVisibility, SortOrder};
    ///
    /// # async fn run(client: wix_inbox::Client) -> Result<(), wix_inbox::Error> {
    /// let oldest_first: Vec<_> = client
    ///     .list_messages()
    ///     .conversation_id("6202c3bb")
    ///     .visibility(MessageVisibility::BusinessAndParticipant)
    ///     .sorting_order(SortOrder::Asc)
    ///     .paging_limit(std::num::NonZeroU32::new(100).unwrap())
    ///     .stream()
    ///     .try_collect()
    ///     .await?;
    /// # let _ = oldest_first;
    /// # Ok(()) }
    /// ```
    pub fn stream(self) -> impl Stream<Item = Result<types::Message, Error>> + Send + 'a {
        pages(move |cursor| {
            let mut request = self.clone();
            if let Some(cursor) = cursor {
                request = request.paging_cursor(cursor);
            }
            async move { request.send().await.map(|page| page.into_inner()) }
        })
    }
}

/// The messages of the pages `fetch` gets: `fetch(None)` for the first page, then
/// `fetch(Some(next cursor))`.
fn pages<F, Fut>(fetch: F) -> impl Stream<Item = Result<types::Message, Error>> + Send
where
    F: FnMut(Option<String>) -> Fut + Send,
    Fut: Future<Output = Result<types::ListMessagesResponse, Error>> + Send,
{
    let state = Pages {
        fetch,
        cursor: None,
        seen: HashSet::new(),
        messages: VecDeque::new(),
        last_page_read: false,
    };
    futures_util::stream::unfold(state, Pages::next)
}

struct Pages<F> {
    fetch: F,
    /// The cursor of the next page; `None` before the first.
    cursor: Option<String>,
    /// Every cursor asked for so far.
    seen: HashSet<String>,
    /// What is left of the last page.
    messages: VecDeque<types::Message>,
    last_page_read: bool,
}

impl<F, Fut> Pages<F>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<types::ListMessagesResponse, Error>>,
{
    async fn next(mut self) -> Option<(Result<types::Message, Error>, Self)> {
        loop {
            if let Some(message) = self.messages.pop_front() {
                return Some((Ok(message), self));
            }
            if self.last_page_read {
                return None;
            }
            let page = match (self.fetch)(self.cursor.clone()).await {
                Ok(page) => page,
                Err(e) => {
                    self.last_page_read = true;
                    return Some((Err(e), self));
                }
            };
            let next = page
                .paging_metadata
                .and_then(|m| m.cursors)
                .and_then(|c| c.next)
                .filter(|next| !next.is_empty());
            // A cursor asked for before (one that does not move, or a cycle) would page forever:
            // every page it leads to has been read.
            if let Some(cursor) = self.cursor.take() {
                self.seen.insert(cursor);
            }
            self.last_page_read = next.as_ref().is_none_or(|next| self.seen.contains(next));
            self.cursor = next;
            self.messages.extend(page.messages);
        }
    }
}
