//! Every message of a conversation, as one stream over List Messages' pages.
//!
//! Wix pages messages with a cursor: each page's `pagingMetadata.cursors.next` asks for the next
//! one, with the same visibility and sorting as the first request. The stream asks for a page
//! only when its consumer wants a message and none is left of the last page, and ends after the
//! last page (one without a `next` cursor) or after the first error, which it yields.

use std::collections::{HashSet, VecDeque};

use futures_core::Stream;

use crate::{types, Client, Error};

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
        let pages = Pages {
            client: self.clone(),
            conversation_id: conversation_id.into(),
            visibility,
            cursor: None,
            seen: HashSet::new(),
            messages: VecDeque::new(),
            last_page_read: false,
        };
        futures_util::stream::unfold(pages, Pages::next)
    }
}

struct Pages {
    client: Client,
    conversation_id: String,
    visibility: types::MessageVisibility,
    /// The cursor of the next page; `None` before the first.
    cursor: Option<String>,
    /// Every cursor asked for so far.
    seen: HashSet<String>,
    /// What is left of the last page.
    messages: VecDeque<types::Message>,
    last_page_read: bool,
}

impl Pages {
    async fn next(mut self) -> Option<(Result<types::Message, Error>, Self)> {
        loop {
            if let Some(message) = self.messages.pop_front() {
                return Some((Ok(message), self));
            }
            if self.last_page_read {
                return None;
            }
            let mut request = self
                .client
                .list_messages()
                .conversation_id(self.conversation_id.as_str())
                .visibility(self.visibility.clone());
            if let Some(cursor) = &self.cursor {
                request = request.paging_cursor(cursor.as_str());
            }
            let page = match request.send().await {
                Ok(page) => page.into_inner(),
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
