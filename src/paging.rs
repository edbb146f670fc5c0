//! Every message of a conversation, as one stream over List Messages' pages.
//!
//! Wix pages messages with a cursor: each page's `pagingMetadata.cursors.next` asks for the next
//! one, with the same visibility and sorting as the first request. The stream asks for a page
//! only when its consumer wants a message and none is left of the last page, and ends after the
//! last page (one without a `next` cursor, or one whose cursor was already followed) or after the
//! first error, which it yields.
//!
//! A server that keeps answering with new cursors would page forever. Two bounds stop it, each
//! with an [`ErrorKind::Paging`](crate::ErrorKind::Paging) error that says which:
//! [`max_empty_pages`](MessageStream::max_empty_pages), the pages in a row without a message
//! (10 by default), and [`max_pages`](MessageStream::max_pages), the pages in all (no bound by
//! default).
//!
//! Two ways in: [`Client::list_all_messages`], which owns what it needs (the stream can be moved
//! to a task), and [`stream`](crate::builder::ListMessages::stream) on a List Messages request,
//! which keeps every parameter of the request (sorting, page size) for every page.

use std::{
    collections::{HashSet, VecDeque},
    fmt,
    pin::Pin,
    task::{ready, Context, Poll},
};

use futures_core::Stream;
use futures_util::future::BoxFuture;

use crate::{builder, types, Client, Error};

/// The default of [`MessageStream::max_empty_pages`].
pub const DEFAULT_MAX_EMPTY_PAGES: u32 = 10;

impl Client {
    /// All messages of a conversation with `visibility`, in Wix's default order (most recent
    /// first), fetched a page at a time as the stream is consumed.
    ///
    /// ```no_run
    /// use futures_util::TryStreamExt as _;
    /// use wix_inbox::types::MessageVisibility;
    ///
    /// # async fn run(client: wix_inbox::Client) -> Result<(), wix_inbox::Error> {
    /// let mut messages = client.list_all_messages("6202c3bb", MessageVisibility::Business);
    /// while let Some(message) = messages.try_next().await? {
    ///     println!("{:?}", message.content);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_all_messages(
        &self,
        conversation_id: impl Into<String>,
        visibility: types::MessageVisibility,
    ) -> MessageStream<'static> {
        let client = self.clone();
        let conversation_id = conversation_id.into();
        MessageStream::new(Box::new(move |cursor| {
            let (client, conversation_id, visibility) =
                (client.clone(), conversation_id.clone(), visibility.clone());
            Box::pin(async move {
                let mut request = client
                    .list_messages()
                    .conversation_id(conversation_id)
                    .visibility(visibility);
                if let Some(cursor) = cursor {
                    request = request.paging_cursor(cursor);
                }
                request.send().await.map(|page| page.into_inner())
            })
        }))
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
    ///     .max_pages(50)
    ///     .try_collect()
    ///     .await?;
    /// # let _ = oldest_first;
    /// # Ok(()) }
    /// ```
    pub fn stream(self) -> MessageStream<'a> {
        MessageStream::new(Box::new(move |cursor| {
            let mut request = self.clone();
            if let Some(cursor) = cursor {
                request = request.paging_cursor(cursor);
            }
            Box::pin(async move { request.send().await.map(|page| page.into_inner()) })
        }))
    }
}

/// Gets the page after a cursor (`None` for the first page).
type Fetch<'a> = Box<
    dyn FnMut(Option<String>) -> BoxFuture<'a, Result<types::ListMessagesResponse, Error>>
        + Send
        + 'a,
>;

/// The messages of a conversation, page after page: a [`Stream`] of
/// `Result<Message, Error>`; see the [module](self).
///
/// Made by [`Client::list_all_messages`] and [`ListMessages::stream`](builder::ListMessages::stream).
#[must_use = "a stream does nothing unless polled"]
pub struct MessageStream<'a> {
    fetch: Fetch<'a>,
    /// The page being fetched.
    page: Option<BoxFuture<'a, Result<types::ListMessagesResponse, Error>>>,
    /// The cursor of the next page; `None` before the first.
    cursor: Option<String>,
    /// Every cursor asked for so far.
    seen: HashSet<String>,
    /// What is left of the last page.
    messages: VecDeque<types::Message>,
    last_page_read: bool,
    pages: u32,
    empty_run: u32,
    max_pages: Option<u32>,
    max_empty_pages: u32,
}

impl<'a> MessageStream<'a> {
    fn new(fetch: Fetch<'a>) -> Self {
        Self {
            fetch,
            page: None,
            cursor: None,
            seen: HashSet::new(),
            messages: VecDeque::new(),
            last_page_read: false,
            pages: 0,
            empty_run: 0,
            max_pages: None,
            max_empty_pages: DEFAULT_MAX_EMPTY_PAGES,
        }
    }

    /// Ends the stream with an [`ErrorKind::Paging`](crate::ErrorKind::Paging) error after this
    /// many pages in a row without a message, each with a cursor to another page (10 by
    /// default; at least 1).
    pub fn max_empty_pages(mut self, pages: u32) -> Self {
        self.max_empty_pages = pages.max(1);
        self
    }

    /// Ends the stream with an [`ErrorKind::Paging`](crate::ErrorKind::Paging) error when this
    /// many pages were read and Wix names another (no bound by default; at least 1).
    pub fn max_pages(mut self, pages: u32) -> Self {
        self.max_pages = Some(pages.max(1));
        self
    }

    /// Ends the stream with the error that says why it stopped early.
    fn give_up(&mut self, why: String) -> Poll<Option<Result<types::Message, Error>>> {
        self.last_page_read = true;
        Poll::Ready(Some(Err(Error::paging("list_messages", why))))
    }
}

impl Stream for MessageStream<'_> {
    type Item = Result<types::Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(message) = this.messages.pop_front() {
                return Poll::Ready(Some(Ok(message)));
            }
            if this.last_page_read {
                return Poll::Ready(None);
            }
            let fetching = match &mut this.page {
                Some(fetching) => fetching,
                None => {
                    if this.max_pages.is_some_and(|max| this.pages >= max) {
                        let why = format!(
                            "stopped after {} pages (the stream's max_pages), and Wix names \
                             another",
                            this.pages
                        );
                        return this.give_up(why);
                    }
                    this.pages += 1;
                    this.page.insert((this.fetch)(this.cursor.clone()))
                }
            };
            let page = ready!(fetching.as_mut().poll(cx));
            this.page = None;
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    this.last_page_read = true;
                    return Poll::Ready(Some(Err(e)));
                }
            };
            let next = page
                .paging_metadata
                .and_then(|m| m.cursors)
                .and_then(|c| c.next)
                .filter(|next| !next.is_empty());
            // A cursor asked for before (one that does not move, or a cycle) would page forever:
            // every page it leads to has been read.
            if let Some(cursor) = this.cursor.take() {
                this.seen.insert(cursor);
            }
            this.last_page_read = next.as_ref().is_none_or(|next| this.seen.contains(next));
            this.cursor = next;
            if page.messages.is_empty() {
                this.empty_run += 1;
                if !this.last_page_read && this.empty_run >= this.max_empty_pages {
                    let why = format!(
                        "stopped after {} empty pages in a row, each with a new cursor (the \
                         stream's max_empty_pages)",
                        this.empty_run
                    );
                    return this.give_up(why);
                }
            } else {
                this.empty_run = 0;
            }
            this.messages.extend(page.messages);
        }
    }
}

impl fmt::Debug for MessageStream<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageStream")
            .field("pages", &self.pages)
            .field("cursor", &self.cursor)
            .field("buffered", &self.messages.len())
            .field("ended", &self.last_page_read)
            .field("max_pages", &self.max_pages)
            .field("max_empty_pages", &self.max_empty_pages)
            .finish()
    }
}
