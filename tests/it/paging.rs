//! `Client::list_all_messages`: follows the cursor with the same visibility to the end, fetching
//! a page only when the consumer wants more.

use futures_util::{StreamExt as _, TryStreamExt as _};
use serde_json::{json, Value};
use wix_inbox::{types::MessageVisibility, ErrorKind, RetryPolicy};

use crate::harness::{json, Server};

const PAGE: usize = 3;
const TOTAL: usize = 8;

/// Messages 1..=TOTAL in pages of PAGE; the cursor of the page starting at `i` is `cur-i`.
fn page(cursor: Option<&str>) -> Value {
    let start: usize = cursor.map_or(0, |c| c.trim_start_matches("cur-").parse().unwrap());
    let end = (start + PAGE).min(TOTAL);
    let messages: Vec<Value> = (start..end)
        .map(|i| json!({"id": (i + 1).to_string(), "sequence": (i + 1).to_string()}))
        .collect();
    let next = (end < TOTAL).then(|| format!("cur-{end}"));
    json!({"messages": messages, "pagingMetadata": {"count": messages.len(), "cursors": {"next": next}}})
}

/// The `paging.cursor` of each request, in order.
fn cursors(seen: &[crate::harness::Seen]) -> Vec<Option<String>> {
    seen.iter()
        .map(|s| s.query_value("paging.cursor"))
        .collect()
}

async fn paged_server() -> Server {
    Server::start(|seen, _| async move {
        json(200, page(seen.query_value("paging.cursor").as_deref()), &[])
    })
    .await
}

#[tokio::test]
async fn every_page_is_followed_with_the_same_visibility() {
    let server = paged_server().await;
    let messages: Vec<_> = server
        .client()
        .list_all_messages("conv-1", MessageVisibility::Business)
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<_> = messages.iter().map(|m| m.id.clone().unwrap()).collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5", "6", "7", "8"]);
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        cursors(&seen),
        [None, Some("cur-3".into()), Some("cur-6".into())]
    );
    for s in &seen {
        assert_eq!(s.path, "/inbox/v2/messages");
        assert_eq!(s.query_value("conversationId").as_deref(), Some("conv-1"));
        assert_eq!(s.query_value("visibility").as_deref(), Some("BUSINESS"));
        assert_eq!(s.query_value("sorting.order"), None);
    }
}

#[tokio::test]
async fn a_page_is_fetched_only_when_the_consumer_wants_more() {
    let server = paged_server().await;
    let mut stream = Box::pin(
        server
            .client()
            .list_all_messages("conv-1", MessageVisibility::BusinessAndParticipant),
    );
    assert!(server.seen().is_empty(), "nothing before the first poll");
    for _ in 0..PAGE {
        stream.next().await.unwrap().unwrap();
    }
    assert_eq!(server.seen().len(), 1);
    stream.next().await.unwrap().unwrap();
    assert_eq!(server.seen().len(), 2);
    drop(stream);
    assert_eq!(server.seen().len(), 2, "stopping fetches nothing more");

    let first_four: Vec<_> = server
        .client()
        .list_all_messages("conv-1", MessageVisibility::Business)
        .take(4)
        .collect()
        .await;
    assert_eq!(first_four.len(), 4);
    assert_eq!(server.seen().len(), 4, "two more pages");
}

#[tokio::test]
async fn an_error_ends_the_stream_after_it_is_yielded() {
    let server = Server::start(|seen, _| async move {
        match seen.query_value("paging.cursor") {
            None => json(200, page(None), &[]),
            Some(_) => json(
                404,
                json!({"details": {"applicationError": {"code": "CONVERSATION_NOT_FOUND"}}}),
                &[],
            ),
        }
    })
    .await;
    let client = server
        .builder()
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap();
    let items: Vec<_> = client
        .list_all_messages("conv-1", MessageVisibility::Business)
        .collect()
        .await;
    assert_eq!(items.len(), PAGE + 1);
    let e = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Api);
    assert!(e.is_not_found());
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn an_empty_conversation_is_an_empty_stream() {
    let server = Server::start(|_, _| async { json(200, json!({}), &[]) }).await;
    let items: Vec<_> = server
        .client()
        .list_all_messages("conv-1", MessageVisibility::Business)
        .collect()
        .await;
    assert!(items.is_empty());
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn a_cursor_that_does_not_move_ends_the_stream() {
    let server = Server::start(|_, _| async {
        json(
            200,
            json!({"messages": [{"id": "1"}], "pagingMetadata": {"cursors": {"next": "same"}}}),
            &[],
        )
    })
    .await;
    let items: Vec<_> = within(
        server
            .client()
            .list_all_messages("conv-1", MessageVisibility::Business)
            .collect(),
    )
    .await;
    assert_eq!(items.len(), 2);
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn cursors_that_cycle_end_the_stream() {
    // A → B → A: the pages behind A and B are read once each, then the stream ends.
    let server = Server::start(|seen, _| async move {
        let (id, next) = match seen.query_value("paging.cursor").as_deref() {
            None => ("0", "A"),
            Some("A") => ("1", "B"),
            Some(_) => ("2", "A"),
        };
        json(
            200,
            json!({"messages": [{"id": id}], "pagingMetadata": {"cursors": {"next": next}}}),
            &[],
        )
    })
    .await;
    let ids: Vec<_> = within(
        server
            .client()
            .list_all_messages("conv-1", MessageVisibility::Business)
            .map_ok(|m| m.id.unwrap_or_default())
            .try_collect(),
    )
    .await
    .unwrap();
    assert_eq!(ids, ["0", "1", "2"]);
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn a_request_streamed_keeps_its_sorting_and_page_size_on_every_page() {
    let server = paged_server().await;
    let client = server.client();
    let ids: Vec<_> = client
        .list_messages()
        .conversation_id("conv-1")
        .visibility(MessageVisibility::BusinessAndParticipant)
        .sorting_order(wix_inbox::types::SortOrder::Asc)
        .paging_limit(std::num::NonZeroU32::new(PAGE as u32).unwrap())
        .stream()
        .map_ok(|m| m.id.unwrap())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids, ["1", "2", "3", "4", "5", "6", "7", "8"]);
    let seen = server.seen();
    assert_eq!(
        cursors(&seen),
        [None, Some("cur-3".into()), Some("cur-6".into())]
    );
    for s in &seen {
        assert_eq!(s.query_value("conversationId").as_deref(), Some("conv-1"));
        assert_eq!(
            s.query_value("visibility").as_deref(),
            Some("BUSINESS_AND_PARTICIPANT")
        );
        assert_eq!(s.query_value("sorting.order").as_deref(), Some("ASC"));
        assert_eq!(s.query_value("paging.limit").as_deref(), Some("3"));
    }
}

#[tokio::test]
async fn a_streamed_request_missing_a_required_parameter_yields_that_error_once() {
    let server = paged_server().await;
    let client = server.client();
    let items: Vec<_> = client
        .list_messages()
        .conversation_id("conv-1")
        .stream()
        .collect()
        .await;
    assert_eq!(items.len(), 1);
    let e = items.into_iter().next().unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    assert!(server.seen().is_empty());
}

/// A server whose every page is empty and names a cursor never seen before.
async fn endless_empty_pages() -> Server {
    Server::start(|_, n| async move {
        json(
            200,
            json!({"messages": [], "pagingMetadata": {"cursors": {"next": format!("new-{n}")}}}),
            &[],
        )
    })
    .await
}

/// What `work` gives, or a failure if it takes more than 10 s (a pager that never ends).
async fn within<F: std::future::Future>(work: F) -> F::Output {
    tokio::time::timeout(std::time::Duration::from_secs(10), work)
        .await
        .expect("the pager did not end within 10 s")
}

/// The stream's next item, or a failure if it takes more than 10 s (a pager that never ends).
async fn next_within<S: futures_util::Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
        .await
        .expect("the pager did not answer within 10 s")
}

#[tokio::test]
async fn empty_pages_with_ever_new_cursors_end_in_a_paging_error() {
    let server = endless_empty_pages().await;
    let mut stream = server
        .client()
        .list_all_messages("conv-1", MessageVisibility::Business);
    assert_eq!(
        format!("{stream:?}"),
        "MessageStream { pages: 0, cursor: None, buffered: 0, ended: false, max_pages: None, \
         max_empty_pages: 10 }"
    );
    let e = next_within(&mut stream).await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Paging, "{e:?}");
    assert_eq!(e.operation(), Some("list_messages"));
    let text = e.to_string();
    assert!(text.contains("10 empty pages"), "{text}");
    assert!(!e.is_retryable());
    assert_eq!(server.seen().len(), 10, "the default run of empty pages");
    assert!(next_within(&mut stream).await.is_none(), "the stream ends");
    assert_eq!(server.seen().len(), 10);
}

#[tokio::test]
async fn the_run_of_empty_pages_is_configurable_and_counts_only_a_run() {
    let server = endless_empty_pages().await;
    let mut stream = server
        .client()
        .list_all_messages("conv-1", MessageVisibility::Business)
        .max_empty_pages(2);
    let e = next_within(&mut stream).await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Paging);
    assert!(e.to_string().contains("2 empty pages"), "{e}");
    assert_eq!(server.seen().len(), 2);

    // Empty pages between pages with messages are no run: 40 pages, every other one empty.
    let gappy = Server::start(|_, n| async move {
        let messages: Vec<Value> = if n % 2 == 0 {
            vec![]
        } else {
            vec![json!({"id": n.to_string()})]
        };
        let next = (n < 39).then(|| format!("c-{n}"));
        json(
            200,
            json!({"messages": messages, "pagingMetadata": {"cursors": {"next": next}}}),
            &[],
        )
    })
    .await;
    let ids: Vec<_> = gappy
        .client()
        .list_all_messages("conv-1", MessageVisibility::Business)
        .max_empty_pages(2)
        .map_ok(|m| m.id.unwrap())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids.len(), 20);
    assert_eq!(gappy.seen().len(), 40);
}

#[tokio::test]
async fn a_page_budget_ends_the_stream_with_a_paging_error() {
    // Every page has a message and a new cursor: only a budget ends it.
    let server = Server::start(|_, n| async move {
        json(
            200,
            json!({"messages": [{"id": n.to_string()}],
                   "pagingMetadata": {"cursors": {"next": format!("c-{n}")}}}),
            &[],
        )
    })
    .await;
    let client = server.client();
    let items: Vec<_> = within(
        client
            .list_messages()
            .conversation_id("conv-1")
            .visibility(MessageVisibility::Business)
            .stream()
            .max_pages(5)
            .collect(),
    )
    .await;
    assert_eq!(items.len(), 6);
    let ids: Vec<_> = items[..5]
        .iter()
        .map(|m| m.as_ref().unwrap().id.clone().unwrap())
        .collect();
    assert_eq!(ids, ["0", "1", "2", "3", "4"]);
    let e = items[5].as_ref().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Paging);
    assert!(e.to_string().contains("5 pages"), "{e}");
    assert_eq!(server.seen().len(), 5);

    // A budget the pages fit in ends the stream as usual.
    let paged = paged_server().await;
    let all: Vec<_> = paged
        .client()
        .list_all_messages("conv-1", MessageVisibility::Business)
        .max_pages(3)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), TOTAL);
}
