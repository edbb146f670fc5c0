//! Broken, hostile or unreachable token endpoints: typed token errors that never quote the token.

use super::*;

/// A server whose token endpoint answers `token_answer`; the API accepts any token.
async fn token_server(token_answer: serde_json::Value) -> Server {
    Server::start(move |seen, _| {
        let token_answer = token_answer.clone();
        async move {
            if seen.path == "/oauth2/token" {
                return json(200, token_answer, &[("x-wix-request-id", "tok-req")]);
            }
            json(200, conversation("conv-1"), &[])
        }
    })
    .await
}

pub(super) fn app_client(url: &str) -> Client {
    Client::builder()
        .base_url(url)
        .app(wix_inbox::AppCredentials {
            app_id: "app-1".into(),
            app_secret: "secret-1".into(),
            instance_id: "inst-1".into(),
        })
        .retry(quick_retries())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_token_answer_that_is_not_the_json_expected_is_a_token_error() {
    let server = token_server(json!({"accessToken": "camel-case-is-wrong"})).await;
    let e = get_conversation(&app_client(&server.url), "conv-1")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Token);
    assert_eq!(e.request_id(), Some("tok-req"));
    let text = e.to_string();
    assert!(text.contains("not the JSON expected"), "{text}");
    assert!(!text.contains("camel-case-is-wrong"), "{text}");
    assert_eq!(server.count("/inbox/v2/conversations/conv-1"), 0);
}

#[tokio::test]
async fn a_token_that_cannot_be_a_header_is_a_token_error_that_does_not_quote_it() {
    let server =
        token_server(json!({"access_token": "tok\nsecret-part", "expires_in": 3600})).await;
    let e = get_conversation(&app_client(&server.url), "conv-1")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Token);
    let text = format!("{e} {e:?}");
    assert!(text.contains("not a valid HTTP header value"), "{text}");
    assert!(!text.contains("secret-part"), "{text}");
}

#[tokio::test]
async fn a_token_without_expires_in_lives_long_enough_to_be_reused() {
    let server = token_server(json!({"access_token": "tok-1", "token_type": "Bearer"})).await;
    let client = app_client(&server.url);
    for _ in 0..3 {
        get_conversation(&client, "conv-1").await.unwrap();
    }
    assert_eq!(server.count("/oauth2/token"), 1);
    let api_calls: Vec<_> = server
        .seen()
        .into_iter()
        .filter(|s| s.path != "/oauth2/token")
        .collect();
    assert_eq!(api_calls.len(), 3);
    assert!(api_calls
        .iter()
        .all(|s| s.header("authorization") == Some("tok-1")));
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_a_connect_error_that_names_the_token() {
    // A bound socket that never listens: connections to it are refused, and the port stays
    // reserved while the socket lives.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}", socket.local_addr().unwrap());
    let e = get_conversation(&app_client(&url), "conv-1")
        .await
        .unwrap_err();
    drop(socket);
    assert_eq!(e.kind(), ErrorKind::Connect, "{e:?}");
    assert!(e.to_string().contains("app access token"), "{e}");
    assert!(!e.to_string().contains("secret-1"), "{e}");
}

#[tokio::test]
async fn errors_never_quote_the_token() {
    const TOKEN: &str = "tok-0123456789-never-printed";
    let long = format!("{TOKEN}{}", "t".repeat(70 * 1024));
    for answer in [
        // Not the JSON expected (a number where the lifetime goes).
        json!({"access_token": TOKEN, "expires_in": {"seconds": 10}}),
        // Not a header value.
        json!({"access_token": format!("{TOKEN}\n"), "expires_in": 3600}),
        // Over the token endpoint's 64 KiB.
        json!({"access_token": long, "expires_in": 3600}),
    ] {
        let server = token_server(answer.clone()).await;
        let e = get_conversation(&app_client(&server.url), "conv-1")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Token, "{answer}: {e:?}");
        assert_eq!(e.status().map(|s| s.as_u16()), Some(200));
        let text = format!("{} {e:?}", chain(&e));
        assert!(!text.contains(TOKEN), "{text}");
        assert!(!text.contains("0123456789"), "{text}");
        assert_eq!(server.count("/inbox/v2/conversations/conv-1"), 0);
    }
}
