//! Construction and credentials: API key headers, app tokens (cached, one renewal for many
//! callers, renewed on 401 and before expiry), token endpoint failures, bad configuration.

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    sync::Arc,
    time::Duration,
};

use axum::response::Response;
use futures_util::future::BoxFuture;
use serde_json::json;
use wix_inbox::{Client, ErrorKind};

use crate::harness::{conversation, json, raw, Seen, Server};

const TOKEN_PATH: &str = "/oauth2/token";
const GET_PATH: &str = "/inbox/v2/conversations/conv-1";

/// A handler with a token endpoint that hands out `tok-1`, `tok-2`, ... (after `delay`, living
/// `expires_in` seconds) and an API that accepts only the newest token.
fn app_handler(
    delay: Duration,
    expires_in: u64,
) -> impl Fn(Seen, usize) -> BoxFuture<'static, Response> + Send + Sync + 'static {
    let issued = Arc::new(AtomicUsize::new(0));
    move |seen, _| {
        let issued = issued.clone();
        Box::pin(async move {
            if seen.path == TOKEN_PATH {
                tokio::time::sleep(delay).await;
                let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
                return json(
                    200,
                    json!({"access_token": format!("tok-{n}"), "token_type": "Bearer", "expires_in": expires_in}),
                    &[],
                );
            }
            let newest = format!("tok-{}", issued.load(Ordering::SeqCst));
            if seen.header("authorization") != Some(newest.as_str()) {
                return json(401, json!({"message": "invalid token"}), &[]);
            }
            json(200, conversation("conv-1"), &[])
        })
    }
}

/// A server on `app_handler`.
async fn app_server(delay: Duration, expires_in: u64) -> Server {
    Server::start(app_handler(delay, expires_in)).await
}

fn app_client(server: &Server) -> Client {
    Client::builder()
        .base_url(&server.url)
        .app(wix_inbox::AppCredentials {
            app_id: "app-1".into(),
            app_secret: "app-secret-xyz".into(),
            instance_id: "inst-1".into(),
        })
        .retry(crate::harness::quick_retries())
        .build()
        .unwrap()
}

async fn get(client: &Client) -> Result<(), wix_inbox::Error> {
    crate::harness::get_conversation(client, "conv-1")
        .await
        .map(drop)
}

#[tokio::test]
async fn api_key_sends_the_key_raw_and_the_site_and_no_api_version() {
    let server = Server::start(|_, _| async { json(200, conversation("conv-1"), &[]) }).await;
    get(&server.client()).await.unwrap();
    let seen = &server.seen()[0];
    assert_eq!(seen.header("authorization"), Some("test-key"));
    assert_eq!(seen.header("wix-site-id"), Some("site-1"));
    assert_eq!(seen.header("api-version"), None);
    assert_eq!(seen.header("wix-account-id"), None);
    let agent = seen.header("user-agent").unwrap();
    assert_eq!(agent, concat!("wix-inbox/", env!("CARGO_PKG_VERSION")));
}

#[tokio::test]
async fn user_agent_names_the_product_then_the_crate() {
    let server = Server::start(|_, _| async { json(200, conversation("conv-1"), &[]) }).await;
    get(&server.builder().user_agent("my-app/1.2").build().unwrap())
        .await
        .unwrap();
    let agent = server.seen()[0].header("user-agent").unwrap().to_string();
    assert_eq!(
        agent,
        concat!("my-app/1.2 wix-inbox/", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn app_gets_a_token_sends_it_raw_and_reuses_it() {
    let server = app_server(Duration::ZERO, 14_400).await;
    let client = app_client(&server);
    for _ in 0..3 {
        get(&client).await.unwrap();
    }
    assert_eq!(server.count(TOKEN_PATH), 1);
    let seen = server.seen();
    let token_request = seen.iter().find(|s| s.path == TOKEN_PATH).unwrap();
    assert_eq!(token_request.method, "POST");
    assert_eq!(
        token_request.json(),
        json!({"grant_type": "client_credentials", "client_id": "app-1",
               "client_secret": "app-secret-xyz", "instance_id": "inst-1"})
    );
    for call in seen.iter().filter(|s| s.path == GET_PATH) {
        assert_eq!(call.header("authorization"), Some("tok-1"));
        assert_eq!(call.header("wix-site-id"), None);
        assert_eq!(call.header("api-version"), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_callers_cause_one_token_request() {
    let server = app_server(Duration::from_millis(100), 14_400).await;
    let client = app_client(&server);
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { get(&client).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(server.count(TOKEN_PATH), 1);
    assert_eq!(server.count(GET_PATH), 50);
}

#[tokio::test]
async fn a_401_gets_one_new_token_and_one_retry() {
    let server = app_server(Duration::ZERO, 14_400).await;
    let client = app_client(&server);
    get(&client).await.unwrap();
    // Another holder of the app's credentials gets a token: ours is now refused.
    let other = app_client(&server);
    get(&other).await.unwrap();
    get(&client).await.unwrap();
    // Ours: token 1, refused once, token 3.
    assert_eq!(server.count(TOKEN_PATH), 3);
    let auths: Vec<_> = server
        .seen()
        .iter()
        .filter(|s| s.path == GET_PATH)
        .map(|s| s.header("authorization").unwrap().to_string())
        .collect();
    assert_eq!(auths, ["tok-1", "tok-2", "tok-1", "tok-3"]);
}

#[tokio::test]
async fn a_401_after_a_new_token_is_returned_not_retried_again() {
    let server = Server::start(|seen, _| async move {
        if seen.path == TOKEN_PATH {
            return json(
                200,
                json!({"access_token": "tok", "expires_in": 14400}),
                &[],
            );
        }
        json(
            401,
            json!({"message": "no"}),
            &[("x-wix-request-id", "r-401")],
        )
    })
    .await;
    let e = get(&app_client(&server)).await.unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(e.attempts(), 2);
    assert!(e.is_auth());
    assert_eq!(server.count(GET_PATH), 2);
    assert_eq!(server.count(TOKEN_PATH), 2);
}

#[tokio::test(start_paused = true)]
async fn the_token_is_renewed_shortly_before_it_expires() {
    let server = crate::client_retry::server_on_its_own_runtime(app_handler(Duration::ZERO, 100));
    let _clock = crate::client_retry::hold_clock();
    let client = app_client(&server);
    get(&client).await.unwrap();
    get(&client).await.unwrap();
    assert_eq!(server.count(TOKEN_PATH), 1);
    // A 100 s token is renewed 10 s before it expires, before Wix would refuse it.
    tokio::time::advance(Duration::from_millis(89_999)).await;
    get(&client).await.unwrap();
    assert_eq!(server.count(TOKEN_PATH), 1, "still fresh");
    tokio::time::advance(Duration::from_millis(1)).await;
    get(&client).await.unwrap();
    assert_eq!(server.count(TOKEN_PATH), 2);
    assert_eq!(server.count(GET_PATH), 4, "no call was refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_waiting_for_a_token_share_one_attempt_sequence() {
    // The token endpoint is down: the first caller's attempts are every caller's attempts.
    let server = Server::start(|seen, _| async move {
        if seen.path == TOKEN_PATH {
            tokio::time::sleep(Duration::from_millis(50)).await;
            return json(503, json!({}), &[("x-wix-request-id", "tok-503")]);
        }
        json(200, conversation("conv-1"), &[])
    })
    .await;
    let client = app_client(&server);
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { get(&client).await })
        })
        .collect();
    for call in calls {
        let e = call.await.unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Token, "{e:?}");
        assert_eq!(e.status().map(|s| s.as_u16()), Some(503));
        assert_eq!(e.attempts(), 3);
        assert_eq!(e.request_id(), Some("tok-503"));
    }
    assert_eq!(
        server.count(TOKEN_PATH),
        3,
        "the policy's 3 attempts, not 3 per caller"
    );
    assert_eq!(server.count(GET_PATH), 0);
    // A failure is shared only with the callers that waited for it: a later call tries again.
    get(&client).await.unwrap_err();
    assert_eq!(server.count(TOKEN_PATH), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_refused_with_a_401_fetch_one_token() {
    let server = app_server(Duration::from_millis(50), 14_400).await;
    let client = app_client(&server);
    get(&client).await.unwrap();
    // Another holder of the app's credentials gets a token: every caller's `tok-1` is refused.
    get(&app_client(&server)).await.unwrap();
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { get(&client).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    // Ours, the other client's, and one renewal for the 20 callers.
    assert_eq!(server.count(TOKEN_PATH), 3);
    let refused = server
        .seen()
        .iter()
        .filter(|s| s.path == GET_PATH && s.header("authorization") == Some("tok-1"))
        .count();
    assert!(refused >= 2, "the callers were refused: {refused}");
}

#[tokio::test]
async fn a_token_endpoint_failure_is_a_typed_error_with_the_request_id() {
    let server = Server::start(|_, _| async {
        json(
            400,
            json!({"message": "invalid client credentials"}),
            &[("x-wix-request-id", "tok-req-7")],
        )
    })
    .await;
    let e = get(&app_client(&server)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Token);
    assert_eq!(e.status().map(|s| s.as_u16()), Some(400));
    assert_eq!(e.request_id(), Some("tok-req-7"));
    assert_eq!(e.message(), Some("invalid client credentials"));
    assert!(e.is_auth());
    let text = e.to_string();
    assert!(text.contains("tok-req-7"), "{text}");
    assert!(
        e.hint().unwrap().contains("app secret"),
        "says what to check: {:?}",
        e.hint()
    );
    assert!(!text.contains("app-secret-xyz"));
    assert_eq!(server.count(GET_PATH), 0);
}

#[tokio::test]
async fn a_token_endpoint_503_is_retried() {
    let server = Server::start(|seen, n| async move {
        if seen.path == TOKEN_PATH && n == 0 {
            return json(503, json!({}), &[]);
        }
        if seen.path == TOKEN_PATH {
            return json(
                200,
                json!({"access_token": "tok-1", "expires_in": 14400}),
                &[],
            );
        }
        json(200, conversation("conv-1"), &[])
    })
    .await;
    get(&app_client(&server)).await.unwrap();
    assert_eq!(server.count(TOKEN_PATH), 2);
}

#[test]
fn bad_configuration_is_a_config_error_that_says_what_to_do() {
    let cases = [
        (Client::builder(), "no credentials"),
        (Client::builder().api_key("k"), ".site_id"),
        (
            Client::builder().api_key("k").site_id(""),
            "must not be empty",
        ),
        (
            Client::builder()
                .api_key("k")
                .site_id("s")
                .app(wix_inbox::AppCredentials {
                    app_id: "a".into(),
                    app_secret: "b".into(),
                    instance_id: "c".into(),
                }),
            "more than one",
        ),
        (
            Client::builder().app(wix_inbox::AppCredentials {
                app_id: "a".into(),
                app_secret: "".into(),
                instance_id: "c".into(),
            }),
            "must not be empty",
        ),
        (
            Client::builder()
                .app(wix_inbox::AppCredentials {
                    app_id: "a".into(),
                    app_secret: "b".into(),
                    instance_id: "c".into(),
                })
                .site_id("s"),
            "site ID goes with an API key",
        ),
        (
            Client::builder().no_auth().base_url("not a url"),
            "not a URL",
        ),
        (
            Client::builder().no_auth().base_url("ftp://example.com"),
            "http or https",
        ),
        (
            Client::builder().api_key("bad\nkey").site_id("s"),
            "not a valid HTTP header",
        ),
    ];
    for (builder, says) in cases {
        let e = builder.build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains(says), "{e}");
    }
    let ok = Client::builder()
        .api_key("k")
        .site_id("s")
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(1))
        .build();
    assert!(ok.is_ok());
}

#[tokio::test]
async fn a_trailing_slash_of_the_base_url_is_ignored() {
    let server = Server::start(|_, _| async { json(200, conversation("conv-1"), &[]) }).await;
    let client = server
        .builder()
        .base_url(format!("{}/", server.url))
        .build()
        .unwrap();
    get(&client).await.unwrap();
    assert_eq!(server.seen()[0].path, GET_PATH);
}

#[test]
fn operation_futures_are_send() {
    fn assert_send<T: Send>(_: T) {}
    let client = Client::builder().no_auth().build().unwrap();
    assert_send(client.get_conversation().conversation_id("c").send());
    assert_send(
        client
            .send_message()
            .body(wix_inbox::types::SendMessageRequest::new(
                "c",
                wix_inbox::types::Message::reply("hi"),
            ))
            .send(),
    );
    assert_send(
        client
            .get_or_create_conversation()
            .body(wix_inbox::types::GetOrCreateConversationRequest {
                participant_id: wix_inbox::types::ParticipantId::ContactId("c-1".into()),
            })
            .send(),
    );
    assert_send(
        client
            .list_messages()
            .conversation_id("c")
            .visibility(wix_inbox::types::MessageVisibility::Business)
            .send(),
    );
    assert_send(
        client
            .list_messages()
            .conversation_id("c")
            .visibility(wix_inbox::types::MessageVisibility::Business)
            .stream(),
    );
    assert_send(client.list_all_messages("c", wix_inbox::types::MessageVisibility::Business));
}

#[tokio::test]
async fn the_latest_x_wix_consistent_is_sent_on_every_later_request_of_the_client() {
    // Each response carries a new value; request n should carry the value of response n - 1.
    let server = Server::start(|_, n| async move {
        let value = format!("consistent-{n}");
        json(
            200,
            conversation("conv-1"),
            &[("x-wix-consistent", value.as_str())],
        )
    })
    .await;
    let client = server.client();
    let clone = client.clone();
    for _ in 0..3 {
        get(&client).await.unwrap();
    }
    get(&clone).await.unwrap();
    // Another client (another site or instance) never sees this client's value.
    let other = server.client();
    get(&other).await.unwrap();
    let sent: Vec<_> = server
        .seen()
        .iter()
        .map(|s| s.header("x-wix-consistent").map(str::to_string))
        .collect();
    assert_eq!(
        sent,
        [
            None,
            Some("consistent-0".into()),
            Some("consistent-1".into()),
            Some("consistent-2".into()),
            None,
        ]
    );
    // An error response's value counts too.
    let failing = Server::start(|_, n| async move {
        let value = format!("after-error-{n}");
        let status = if n == 0 { 404 } else { 200 };
        json(
            status,
            conversation("conv-1"),
            &[("x-wix-consistent", value.as_str())],
        )
    })
    .await;
    let client = failing.client();
    get(&client).await.unwrap_err();
    get(&client).await.unwrap();
    assert_eq!(
        failing.seen()[1].header("x-wix-consistent"),
        Some("after-error-0")
    );
}

#[tokio::test]
async fn a_token_endpoint_error_that_is_not_json_is_quoted_and_an_empty_one_is_not() {
    let server = Server::start(|seen, _| async move {
        if seen.path == TOKEN_PATH {
            raw(400, "", &[])
        } else {
            json(200, conversation("conv-1"), &[])
        }
    })
    .await;
    let e = get(&app_client(&server)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Token, "{e:?}");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(400));
    assert!(!e.to_string().contains("not JSON"), "{e}");
    assert_eq!(e.message(), None, "{e:?}");

    let proxy = Server::start(|seen, _| async move {
        if seen.path == TOKEN_PATH {
            raw(400, "\n  Bad request, says the proxy\n<html>", &[])
        } else {
            json(200, conversation("conv-1"), &[])
        }
    })
    .await;
    let e = get(&app_client(&proxy)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Token, "{e:?}");
    assert_eq!(
        e.message(),
        Some("the body is not JSON: Bad request, says the proxy"),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_token_without_a_positive_expires_in_lives_the_default_lifetime() {
    let server = app_server(Duration::ZERO, 0).await;
    let client = app_client(&server);
    get(&client).await.unwrap();
    get(&client).await.unwrap();
    assert_eq!(
        server.count(TOKEN_PATH),
        1,
        "`expires_in: 0` is no lifetime at all: the default one is used"
    );
}
