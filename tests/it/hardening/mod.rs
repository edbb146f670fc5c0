//! Hostile or broken answers and arguments: each gives a typed error, never a panic, never a
//! printed secret, and never unbounded memory.

use std::time::Duration;

use serde_json::json;
use wix_inbox::{types, Client, ErrorKind, RetryPolicy};

use crate::harness::{conversation, get_conversation, json, quick_retries, raw, Server};

mod compressed;
mod tokens;

use tokens::app_client;

/// A conversation answer padded with an unknown field to about `bytes` bytes.
fn big_conversation(bytes: usize) -> serde_json::Value {
    let mut answer = conversation("conv-1");
    answer["padding"] = json!("x".repeat(bytes));
    answer
}

#[tokio::test]
async fn an_answer_over_the_limit_is_a_typed_error() {
    let server = Server::start(|_, _| async {
        json(
            200,
            big_conversation(4096),
            &[("x-wix-request-id", "big-1")],
        )
    })
    .await;
    let client = server.builder().max_response_size(1024).build().unwrap();
    let e = get_conversation(&client, "conv-1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge, "{e:?}");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(200));
    assert_eq!(e.request_id(), Some("big-1"));
    assert_eq!(e.attempts(), 1);
    assert_eq!(server.seen().len(), 1);
    let text = e.to_string();
    assert!(text.contains("too large"), "{text}");
    assert!(text.contains("1024 bytes"), "{text}");

    // An answer that asks to be retried is retried, and the error keeps what its status said.
    let busy =
        Server::start(|_, _| async { json(503, big_conversation(4096), &[("retry-after", "0")]) })
            .await;
    let client = busy.builder().max_response_size(1024).build().unwrap();
    let e = get_conversation(&client, "conv-1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge, "{e:?}");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(e.attempts(), 3);
    assert_eq!(busy.seen().len(), 3);
    assert!(e.is_retryable());
    assert_eq!(e.retry_after(), Some(Duration::ZERO));

    // The same answer within a larger limit is read.
    let roomy = server.builder().max_response_size(8192).build().unwrap();
    let found = get_conversation(&roomy, "conv-1").await.unwrap();
    assert_eq!(
        found.conversation.as_ref().unwrap().id.as_deref(),
        Some("conv-1")
    );
}

/// Send Message with a one-line reply to `conv-1`.
async fn send_hi(client: &Client) -> Result<types::SendMessageResponse, wix_inbox::Error> {
    client
        .send_message()
        .body(types::SendMessageRequest::new(
            "conv-1",
            types::Message::reply("hi"),
        ))
        .send()
        .await
        .map(|answer| answer.into_inner())
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_the_body_arrives() {
    // Declares 100 MB, sends one byte and stalls: waiting for the body would end in a timeout.
    let url = stalling_after(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
          content-length: 100000000\r\n\r\n{"
            .to_vec(),
    )
    .await;
    let e = get_conversation(&kib_client(&url), "conv-1")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge, "{e:?}");
}

/// A server that reads one request, answers `bytes` and then stalls for 30 s (never ending
/// the response).
async fn stalling_after(bytes: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request).await;
        stream.write_all(&bytes).await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    url
}

/// A client of `url` that reads at most 1 KiB of a response, waits 20 s and never retries.
fn kib_client(url: &str) -> Client {
    Client::builder()
        .base_url(url)
        .no_auth()
        .max_response_size(1024)
        .timeout(Duration::from_secs(20))
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_send_whose_answer_cannot_be_read_says_the_message_was_sent() {
    let server = Server::start(|_, _| async { raw(200, "<html>ok</html>", &[]) }).await;
    let e = send_hi(&server.client()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode, "{e:?}");
    assert!(e.maybe_delivered());
    assert!(e.hint().unwrap().contains("was sent"), "{e}");
}

/// The error as a reporter that walks the chain prints it (`anyhow`'s `{:#}`): each text once.
pub(crate) fn chain(e: &wix_inbox::Error) -> String {
    let mut out = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

#[tokio::test]
async fn a_cause_quoting_the_answer_is_printed_cut_short() {
    let long = "x".repeat(5000);
    let answer = json!({"conversation": long});
    let server = Server::start(move |_, _| {
        let answer = answer.clone();
        async move { json(200, answer, &[]) }
    })
    .await;
    let e = get_conversation(&server.client(), "conv-1")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode, "{e:?}");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(200));
    let text = chain(&e);
    assert!(
        !text.contains(&long[..400]),
        "the answer is not printed as is: {text}"
    );
    assert!(text.contains("xxxx"), "but its start is: {text}");
    assert!(
        text.chars().count() < 1200,
        "{} chars",
        text.chars().count()
    );
}

#[tokio::test]
async fn a_too_large_answer_to_a_send_says_the_message_was_sent() {
    let server = Server::start(|_, _| async { json(200, big_conversation(4096), &[]) }).await;
    let client = server.builder().max_response_size(1024).build().unwrap();
    let e = send_hi(&client).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge);
    assert!(e.maybe_delivered());
    assert!(e.hint().unwrap().contains("was sent"), "{e}");
    assert_eq!(server.seen().len(), 1, "never sent twice");
}

#[tokio::test]
async fn a_token_answer_over_64_kib_is_a_token_error() {
    let server = Server::start(|seen, _| async move {
        if seen.path == "/oauth2/token" {
            let token = "t".repeat(70 * 1024);
            return json(200, json!({"access_token": token, "expires_in": 3600}), &[]);
        }
        json(200, conversation("conv-1"), &[])
    })
    .await;
    let client = Client::builder()
        .base_url(&server.url)
        .app(wix_inbox::AppCredentials {
            app_id: "app-1".into(),
            app_secret: "secret-1".into(),
            instance_id: "inst-1".into(),
        })
        .retry(quick_retries())
        .build()
        .unwrap();
    let e = get_conversation(&client, "conv-1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Token, "{e:?}");
    let text = e.to_string();
    assert!(text.contains("larger than 65536 bytes"), "{text}");
    assert!(!text.contains("tttttttt"), "the token is never quoted");
    assert_eq!(server.count("/inbox/v2/conversations/conv-1"), 0);
}

#[tokio::test]
async fn a_retry_after_too_long_for_the_clock_does_not_panic() {
    let server = Server::start(|_, n| async move {
        let wait = if n == 0 { "0" } else { "18446744073709551615" };
        json(503, json!({}), &[("retry-after", wait)])
    })
    .await;
    let client = server
        .builder()
        .retry(
            RetryPolicy::default()
                .max_attempts(5)
                .max_retry_after(Duration::MAX),
        )
        .build()
        .unwrap();
    let e = get_conversation(&client, "conv-1").await.unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(
        e.attempts(),
        2,
        "the second wait is past max_elapsed: give up"
    );
}

#[tokio::test]
async fn server_text_is_printed_cut_and_without_control_characters() {
    let server = Server::start(|_, _| async {
        json(
            400,
            json!({
                "message": format!("\u{1b}[2J\u{1b}[31mfake\nerror: all good{}", "x".repeat(5000)),
                "details": {"validationError": {"fieldViolations": [
                    {"field": "a\rb", "description": "bad\u{7}", "violatedRule": "FORMAT"}
                ]}}
            }),
            &[],
        )
    })
    .await;
    let e = get_conversation(&server.client(), "conv-1")
        .await
        .unwrap_err();
    // Wix's words are kept as sent for programs...
    assert!(e.message().unwrap().starts_with('\u{1b}'));
    // ...and printed tamed for people.
    let text = e.to_string();
    assert!(!text.chars().any(char::is_control), "{text:?}");
    assert!(text.contains("fake"), "{text}");
    assert!(
        text.chars().count() < 1000,
        "{} chars",
        text.chars().count()
    );
}

#[tokio::test]
async fn ids_never_reach_another_endpoint() {
    let server = Server::start(|_, _| async { json(200, conversation("conv-1"), &[]) }).await;
    let client = server.client();
    for id in ["", ".", ".."] {
        let e = get_conversation(&client, id).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{id:?}: {e:?}");
        assert_eq!(e.operation(), Some("get_conversation"));
        assert!(e.to_string().contains("must not be empty"), "{e}");
    }
    assert!(server.seen().is_empty(), "{:?}", server.seen());
    // Anything else stays inside the one path segment: dots are only characters, and the
    // separators a URL parser knows (`/`, and `\` for http) are escaped.
    for (id, path) in [
        ("a..b", "/inbox/v2/conversations/a..b"),
        ("..\\messages", "/inbox/v2/conversations/..%5Cmessages"),
        (
            "\\..\\..\\messages",
            "/inbox/v2/conversations/%5C..%5C..%5Cmessages",
        ),
        ("../messages", "/inbox/v2/conversations/..%2Fmessages"),
        ("a?b#c", "/inbox/v2/conversations/a%3Fb%23c"),
        ("%2e%2e", "/inbox/v2/conversations/%252e%252e"),
    ] {
        get_conversation(&client, id).await.unwrap();
        assert_eq!(server.seen().last().unwrap().path, path, "{id:?}");
    }
}

#[tokio::test]
async fn a_base_url_whose_path_has_an_empty_segment_still_works() {
    let server = Server::start(|_, _| async { json(200, conversation("conv-1"), &[]) }).await;
    let client = server
        .builder()
        .base_url(format!("{}/gateway//wix", server.url))
        .build()
        .unwrap();
    get_conversation(&client, "conv-1").await.unwrap();
    assert_eq!(
        server.seen()[0].path,
        "/gateway//wix/inbox/v2/conversations/conv-1"
    );
}

#[test]
fn a_base_url_with_credentials_is_refused_without_quoting_them() {
    for url in [
        "http://user:hunter2@127.0.0.1:1",
        "https://user@wix.example",
        "ftp://u:hunter2@x",
        "not a url but has user:hunter2@",
    ] {
        let e = Client::builder()
            .base_url(url)
            .no_auth()
            .build()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{url}");
        let text = format!("{e} {e:?}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}

#[tokio::test]
async fn list_messages_without_the_required_visibility_is_refused_before_sending() {
    let server = Server::start(|_, _| async { json(200, json!({"messages": []}), &[]) }).await;
    let e = server
        .client()
        .list_messages()
        .conversation_id("conv-1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e:?}");
    assert!(e.to_string().contains("visibility"), "{e}");
    assert!(server.seen().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_send_that_times_out_after_reaching_the_server_is_not_repeated() {
    use crate::client_retry::{advance_until, hold_clock, server_on_its_own_runtime, until};
    let server = server_on_its_own_runtime(|_, _| async {
        std::future::pending::<()>().await;
        json(200, json!({}), &[])
    });
    let _clock = hold_clock();
    let client = server
        .builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let call = tokio::spawn(async move { send_hi(&client).await });
    until("the send", || server.seen().len() == 1).await;
    let waited = advance_until("the timeout", || call.is_finished()).await;
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_millis(800),
        "{waited:?}"
    );
    let e = call.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e:?}");
    assert_eq!(e.attempts(), 1);
    assert!(e.maybe_delivered());
    assert!(e.hint().unwrap().contains("may have been sent"), "{e}");
    assert_eq!(server.seen().len(), 1, "the message was not sent again");
}

#[tokio::test]
async fn a_chunked_answer_over_the_limit_is_too_large_and_not_read_to_its_end() {
    // No Content-Length: a chunked body that never ends. Only counting the bytes stops it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                    transfer-encoding: chunked\r\nx-wix-request-id: chunky\r\n\r\n";
        stream.write_all(head.as_bytes()).await.unwrap();
        let chunk = format!("400\r\n{}\r\n", " ".repeat(0x400));
        // Until the client hangs up.
        while stream.write_all(chunk.as_bytes()).await.is_ok() {}
    });
    let client = Client::builder()
        .base_url(&url)
        .no_auth()
        .max_response_size(4096)
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap();
    let e = tokio::time::timeout(Duration::from_secs(10), get_conversation(&client, "conv-1"))
        .await
        .expect("the body was read past the limit")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge, "{e:?}");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(200));
    assert_eq!(e.request_id(), Some("chunky"));
    assert!(e.to_string().contains("4096 bytes"), "{e}");
}

/// A server that records every request and answers 200 `{}`: where a redirect points.
async fn elsewhere() -> Server {
    Server::start(|_, _| async { json(200, json!({}), &[]) }).await
}

#[tokio::test]
async fn a_token_endpoint_redirect_is_not_followed_and_the_secret_stays_home() {
    let other = elsewhere().await;
    let location = format!("{}/oauth2/token?leak=query-part", other.url);
    let server = Server::start(move |seen, _| {
        let location = location.clone();
        async move {
            if seen.path == "/oauth2/token" {
                return raw(307, "", &[("location", location.as_str())]);
            }
            json(200, conversation("conv-1"), &[])
        }
    })
    .await;
    let e = get_conversation(&app_client(&server.url), "conv-1")
        .await
        .unwrap_err();
    assert!(other.seen().is_empty(), "{:?}", other.seen());
    assert_eq!(server.count("/oauth2/token"), 1);
    assert_eq!(server.count("/inbox/v2/conversations/conv-1"), 0);
    assert_eq!(e.kind(), ErrorKind::Redirect, "{e:?}");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(307));
    let host = other.url.trim_start_matches("http://");
    let text = format!("{} {e:?}", chain(&e));
    assert!(text.contains(host), "names where it points: {text}");
    assert!(
        !text.contains("query-part") && !text.contains("leak"),
        "{text}"
    );
    assert!(!text.contains("secret-1"), "{text}");
}

#[tokio::test]
async fn a_redirected_send_is_an_error_and_the_other_server_gets_nothing() {
    let other = elsewhere().await;
    let location = format!("{}/inbox/v2/messages?token=abc", other.url);
    let server = Server::start(move |_, _| {
        let location = location.clone();
        async move { raw(307, "", &[("location", location.as_str())]) }
    })
    .await;
    let e = send_hi(&server.client()).await.unwrap_err();
    assert!(other.seen().is_empty(), "{:?}", other.seen());
    assert_eq!(server.seen().len(), 1);
    assert_eq!(e.kind(), ErrorKind::Redirect, "{e:?}");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(307));
    assert_eq!(e.attempts(), 1);
    assert!(!e.maybe_delivered());
    let text = chain(&e);
    assert!(
        text.contains(other.url.trim_start_matches("http://")),
        "{text}"
    );
    assert!(!text.contains("token=abc"), "{text}");
    // A relative Location names the server's own host.
    let same = Server::start(|_, _| async { raw(301, "", &[("location", "/moved?x=1")]) }).await;
    let e = get_conversation(&same.client(), "conv-1")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Redirect, "{e:?}");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(301));
    assert!(
        e.to_string()
            .contains(same.url.trim_start_matches("http://")),
        "{e}"
    );
    assert!(!e.to_string().contains("x=1"), "{e}");
    assert_eq!(same.seen().len(), 1, "not followed, not retried");
}

#[tokio::test]
async fn direction_and_separator_characters_from_wix_are_replaced() {
    let tricky = ["\u{202E}", "\u{2028}", "\u{2029}", "\u{200B}", "\u{061C}"];
    let message = format!(
        "a{}b{}c{}d{}e{}f",
        tricky[0], tricky[1], tricky[2], tricky[3], tricky[4]
    );
    let server = Server::start(move |_, _| {
        let message = message.clone();
        async move { json(400, json!({"message": message}), &[]) }
    })
    .await;
    let e = get_conversation(&server.client(), "conv-1")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Api);
    let text = e.to_string();
    for c in tricky {
        assert!(
            !text.contains(c),
            "{:?} in {text:?}",
            c.escape_unicode().to_string()
        );
    }
    assert!(
        text.contains("a\u{fffd}b\u{fffd}c\u{fffd}d\u{fffd}e\u{fffd}f"),
        "{text:?}"
    );
}
