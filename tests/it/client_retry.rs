//! Retries: what is retried, how often, how long the client waits, and that a send is never
//! duplicated.

use std::{future::Future, time::Duration};

use axum::response::Response;
use serde_json::json;
use tokio::time::{advance, Instant};
use wix_inbox::{types, Client, ErrorKind, RetryPolicy};

use crate::harness::{conversation, json, raw_server, refused_url, Misbehave, Seen, Server};

const GET_PATH: &str = "/inbox/v2/conversations/conv-1";
const SEND_PATH: &str = "/inbox/v2/messages";

async fn get(client: &Client) -> Result<types::GetConversationResponse, wix_inbox::Error> {
    crate::harness::get_conversation(client, "conv-1")
        .await
        .map(|r| r.into_inner())
}

async fn send(client: &Client) -> Result<types::SendMessageResponse, wix_inbox::Error> {
    let message = types::Message {
        content: Some(types::MessageContent {
            basic: Some(types::BasicMessagePayload {
                items: vec![types::BasicMessageData {
                    text: Some("Hello".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }),
        visibility: Some(types::MessageVisibility::BusinessAndParticipant),
        direction: Some(types::MessageDirection::BusinessToParticipant),
        ..Default::default()
    };
    client
        .send_message()
        .body(types::SendMessageRequest::new("conv-1", message))
        .send()
        .await
        .map(|r| r.into_inner())
}

fn raw_client(url: &str) -> Client {
    Client::builder()
        .base_url(url)
        .no_auth()
        .retry(crate::harness::quick_retries())
        .build()
        .unwrap()
}

/// A recording server on its own thread and runtime, on the real clock: for tests whose client
/// runs on tokio's paused clock.
pub(crate) fn server_on_its_own_runtime<F, Fut>(handler: F) -> Server
where
    F: Fn(Seen, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            tx.send(Server::start(handler).await).unwrap();
            std::future::pending::<()>().await
        })
    });
    rx.recv().unwrap()
}

/// Keeps tokio's paused clock from jumping to the next timer while the runtime waits for a
/// server (tokio does not auto-advance while a blocking task runs): time then moves only when
/// the test calls `advance`. Drop it to let the blocking task end.
pub(crate) struct HeldClock(#[allow(dead_code)] std::sync::mpsc::Sender<()>);

pub(crate) fn hold_clock() -> HeldClock {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    tokio::task::spawn_blocking(move || {
        let _ = rx.recv();
    });
    HeldClock(tx)
}

/// Waits (on the real clock, at most 10 s) until `done` holds.
pub(crate) async fn until(what: &str, done: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "waited 10 s for {what}"
        );
        // A blocking sleep: it keeps the paused clock still too.
        tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(2)))
            .await
            .unwrap();
    }
}

/// Moves the paused clock on in steps of 10 ms, letting the client run a few real milliseconds
/// after each, until `done` holds; returns how far the clock moved. (A single `advance` could
/// come before the client has started the wait it is meant to end.)
pub(crate) async fn advance_until(what: &str, done: impl Fn() -> bool) -> Duration {
    let started = Instant::now();
    let real = std::time::Instant::now();
    while !done() {
        assert!(
            real.elapsed() < Duration::from_secs(20),
            "waited 20 s for {what}"
        );
        advance(Duration::from_millis(10)).await;
        tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(1)))
            .await
            .unwrap();
    }
    started.elapsed()
}

/// Lets the client run for a few real milliseconds without moving the paused clock.
pub(crate) async fn settle() {
    tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(50)))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_429_then_200_succeeds() {
    let server = Server::start(|_, n| async move {
        match n {
            0 => json(429, json!({"message": "slow down"}), &[]),
            _ => json(200, conversation("conv-1"), &[]),
        }
    })
    .await;
    let r = get(&server.client()).await.unwrap();
    assert_eq!(r.conversation.unwrap().id.as_deref(), Some("conv-1"));
    assert_eq!(server.count(GET_PATH), 2);
}

#[tokio::test]
async fn a_503_until_attempts_run_out_says_how_many_tries() {
    let server = Server::start(|_, n| async move {
        let id = format!("req-{n}");
        json(503, json!({}), &[("x-wix-request-id", id.as_str())])
    })
    .await;
    let e = get(&server.client()).await.unwrap_err();
    assert_eq!(server.count(GET_PATH), 3);
    assert_eq!(e.kind(), ErrorKind::Api);
    assert_eq!(e.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(e.attempts(), 3);
    assert_eq!(e.request_id(), Some("req-2"), "the last attempt's");
    assert!(e.is_retryable());
    let text = e.to_string();
    assert!(text.contains("after 3 attempts"), "{text}");
    assert!(e.hint().unwrap().contains("try again later"), "{e}");
}

#[tokio::test]
async fn max_attempts_and_disabled_retries_are_honoured() {
    let server = Server::start(|_, _| async { json(504, json!({}), &[]) }).await;
    let five = server
        .builder()
        .retry(crate::harness::quick_retries().max_attempts(5))
        .build()
        .unwrap();
    assert_eq!(get(&five).await.unwrap_err().attempts(), 5);
    let once = server
        .builder()
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap();
    assert_eq!(get(&once).await.unwrap_err().attempts(), 1);
    assert_eq!(server.count(GET_PATH), 6);
}

#[tokio::test(start_paused = true)]
async fn the_total_time_bounds_the_retries() {
    // Every response asks to wait 1 s. Attempt 1 at 0 s, attempt 2 at 1 s, attempt 3 at 2 s; a
    // fourth would start at 3 s, past the 2.5 s allowed: only `max_elapsed` stops at 3 of 100.
    let server =
        server_on_its_own_runtime(|_, _| async { json(503, json!({}), &[("retry-after", "1")]) });
    let _clock = hold_clock();
    let policy = RetryPolicy::default()
        .max_attempts(100)
        .max_elapsed(Duration::from_millis(2500));
    let client = server.builder().retry(policy).build().unwrap();
    let call = tokio::spawn(async move { get(&client).await });
    until("the first attempt", || server.count(GET_PATH) == 1).await;
    let took = advance_until("the end", || call.is_finished()).await;
    let e = call.await.unwrap().unwrap_err();
    assert_eq!(e.attempts(), 3);
    assert_eq!(server.count(GET_PATH), 3);
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_millis(2500),
        "no wait after the last: {took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured() {
    let server = server_on_its_own_runtime(|_, n| async move {
        match n {
            0 => json(429, json!({}), &[("retry-after", "1")]),
            _ => json(200, conversation("conv-1"), &[]),
        }
    });
    let _clock = hold_clock();
    let client = server.client();
    let call = tokio::spawn(async move { get(&client).await });
    until("the first attempt", || server.count(GET_PATH) == 1).await;
    settle().await;
    let waited = advance_until("the retry", || server.count(GET_PATH) == 2).await;
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_millis(1500),
        "{waited:?}"
    );
    call.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_bound_gives_up_at_once_and_tells_it() {
    let server = server_on_its_own_runtime(|_, _| async {
        json(429, json!({}), &[("retry-after", "3600")])
    });
    // The clock moves only if the test moves it: a client that waited would never return.
    let _clock = hold_clock();
    let started = Instant::now();
    let e = get(&server.client()).await.unwrap_err();
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(e.attempts(), 1);
    assert!(e.is_rate_limited());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(3600)));
    assert!(e.to_string().contains("wait 3600s"), "{e}");
}

#[tokio::test]
async fn a_400_is_not_retried() {
    let server = Server::start(|_, _| async { json(400, json!({"message": "bad"}), &[]) }).await;
    let e = get(&server.client()).await.unwrap_err();
    assert_eq!(e.attempts(), 1);
    assert!(!e.is_retryable());
    assert_eq!(server.count(GET_PATH), 1);
}

#[tokio::test]
async fn a_connection_reset_mid_answer_is_retried_for_a_get() {
    let (url, requests) = raw_server(vec![Misbehave::ResetMidAnswer, Misbehave::Answer]).await;
    let r = get(&raw_client(&url)).await.unwrap();
    assert_eq!(r.conversation.unwrap().id.as_deref(), Some("conv-1"));
    assert_eq!(requests.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_truncated_body_is_retried_then_reported() {
    let (url, requests) = raw_server(vec![Misbehave::Truncate]).await;
    let e = get(&raw_client(&url)).await.unwrap_err();
    assert_eq!(requests.lock().unwrap().len(), 3);
    assert_eq!(e.kind(), ErrorKind::Transport);
    assert_eq!(e.attempts(), 3);
    assert!(e.is_retryable());
    assert!(e.to_string().contains("connection broke"), "{e}");
}

#[tokio::test]
async fn a_refused_connection_is_retried_even_for_a_send() {
    let refused = refused_url();
    let e = send(&raw_client(&refused.url)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect);
    assert_eq!(e.attempts(), 3);
    assert!(!e.maybe_delivered());
    assert!(e.to_string().contains("could not connect"), "{e}");
}

#[tokio::test]
async fn a_send_answered_503_after_the_server_recorded_it_is_not_repeated() {
    let server =
        Server::start(|_, _| async { json(503, json!({}), &[("x-wix-request-id", "send-1")]) })
            .await;
    let e = send(&server.client()).await.unwrap_err();
    assert_eq!(
        server.count(SEND_PATH),
        1,
        "exactly one message on the server"
    );
    assert_eq!(e.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(e.attempts(), 1);
    assert_eq!(e.operation(), Some("send_message"));
    assert_eq!(e.request_id(), Some("send-1"));
}

#[tokio::test]
async fn a_send_whose_connection_breaks_is_not_repeated() {
    for plan in [
        Misbehave::ResetMidAnswer,
        Misbehave::CloseSilently,
        Misbehave::Truncate,
    ] {
        let (url, requests) = raw_server(vec![plan, Misbehave::Answer]).await;
        let e = send(&raw_client(&url)).await.unwrap_err();
        assert_eq!(requests.lock().unwrap().len(), 1, "{plan:?}");
        assert_eq!(e.attempts(), 1);
        assert!(e.maybe_delivered(), "{plan:?}: {e:?}");
        assert!(
            e.hint().unwrap().contains("may have been sent"),
            "{plan:?}: {e}"
        );
    }
}

#[tokio::test]
async fn a_get_or_create_is_retried() {
    let server = Server::start(|_, n| async move {
        match n {
            0 => json(503, json!({}), &[]),
            _ => json(
                200,
                json!({"conversation": {"id": "c"}, "newConversation": false}),
                &[],
            ),
        }
    })
    .await;
    let r = server
        .client()
        .get_or_create_conversation()
        .body(types::GetOrCreateConversationRequest {
            participant_id: types::ParticipantId::ContactId("c-1".into()),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(r.new_conversation, Some(false));
    assert_eq!(server.count("/inbox/v2/conversations"), 2);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_is_retried_for_a_get() {
    // The first request is never answered; the second is.
    let server = server_on_its_own_runtime(|_, n| async move {
        if n == 0 {
            std::future::pending::<()>().await;
        }
        json(200, conversation("conv-1"), &[])
    });
    let _clock = hold_clock();
    let client = server
        .builder()
        .timeout(Duration::from_millis(300))
        .retry(RetryPolicy::default().initial_backoff(Duration::ZERO))
        .build()
        .unwrap();
    let call = tokio::spawn(async move { get(&client).await });
    until("the first attempt", || server.count(GET_PATH) == 1).await;
    let waited = advance_until("the retry", || server.count(GET_PATH) == 2).await;
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_millis(800),
        "{waited:?}"
    );
    call.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn retry_after_as_an_http_date_is_honoured() {
    let server = server_on_its_own_runtime(|_, n| async move {
        match n {
            0 => {
                // Two seconds from the moment of the response (whole seconds: the wait is 1-2 s).
                let at =
                    httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2));
                json(503, json!({}), &[("retry-after", at.as_str())])
            }
            _ => json(200, conversation("conv-1"), &[]),
        }
    });
    let _clock = hold_clock();
    let client = server.client();
    let call = tokio::spawn(async move { get(&client).await });
    until("the first attempt", || server.count(GET_PATH) == 1).await;
    settle().await;
    let waited = advance_until("the retry", || server.count(GET_PATH) == 2).await;
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_millis(2500),
        "{waited:?}"
    );
    call.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_502_is_retried_for_a_get_but_never_for_a_send() {
    let server = Server::start(|seen, n| async move {
        match (seen.method.as_str(), n) {
            ("GET", 0) => json(502, json!({}), &[]),
            ("GET", _) => json(200, conversation("conv-1"), &[]),
            _ => json(502, json!({}), &[]),
        }
    })
    .await;
    let client = server.client();
    get(&client).await.unwrap();
    assert_eq!(server.count(GET_PATH), 2);
    let e = send(&client).await.unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(502));
    assert_eq!(e.attempts(), 1);
    assert!(e.is_retryable());
    assert_eq!(server.count(SEND_PATH), 1, "a message is never sent twice");
}
