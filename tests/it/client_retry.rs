//! Retries: what is retried, how often, how long the client waits, and that a send is never
//! duplicated.

use std::time::{Duration, Instant};

use serde_json::json;
use wix_inbox::{types, Client, ErrorKind, RetryPolicy};

use crate::harness::{conversation, json, raw_server, refused_url, Misbehave, Server};

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
    assert!(text.contains("try again later"), "{text}");
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

#[tokio::test]
async fn the_total_time_bounds_the_retries() {
    // Each answer takes at least 400 ms and the backoff waits at most 10 ms: after the first
    // answer (about 400 ms in) a retry fits in the 700 ms; after the second (at least 800 ms in)
    // none does, whatever the jitter. Only `max_elapsed` stops at 2 of the 100 attempts.
    let server = Server::start(|_, _| async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        json(503, json!({}), &[])
    })
    .await;
    let policy = RetryPolicy::default()
        .max_attempts(100)
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(10))
        .max_elapsed(Duration::from_millis(700));
    let client = server.builder().retry(policy).build().unwrap();
    let started = Instant::now();
    let e = get(&client).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(e.attempts(), 2);
    assert_eq!(server.count(GET_PATH), 2);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = Server::start(|_, n| async move {
        match n {
            0 => json(429, json!({}), &[("retry-after", "1")]),
            _ => json(200, conversation("conv-1"), &[]),
        }
    })
    .await;
    let started = Instant::now();
    get(&server.client()).await.unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
}

#[tokio::test]
async fn a_retry_after_beyond_the_bound_gives_up_at_once_and_tells_it() {
    let server =
        Server::start(|_, _| async { json(429, json!({}), &[("retry-after", "3600")]) }).await;
    let started = Instant::now();
    let e = get(&server.client()).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
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
            e.to_string().contains("may have been sent"),
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

#[tokio::test]
async fn a_timeout_is_retried_for_a_get() {
    let server = Server::start(|_, n| async move {
        if n == 0 {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        json(200, conversation("conv-1"), &[])
    })
    .await;
    let client = server
        .builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    get(&client).await.unwrap();
    assert_eq!(server.count(GET_PATH), 2);
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let server = Server::start(|_, n| async move {
        match n {
            0 => {
                // Two seconds from the moment of the answer, not of the test's start.
                let at = (chrono::Utc::now() + chrono::Duration::seconds(2))
                    .format("%a, %d %b %Y %H:%M:%S GMT")
                    .to_string();
                json(503, json!({}), &[("retry-after", at.as_str())])
            }
            _ => json(200, conversation("conv-1"), &[]),
        }
    })
    .await;
    let started = Instant::now();
    get(&server.client()).await.unwrap();
    // Whole seconds: the wait is between 1 and 2 s.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.count(GET_PATH), 2);
}
