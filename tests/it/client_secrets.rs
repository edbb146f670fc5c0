//! No credential in `Debug`, `Display`, errors or tracing output; the tracing span of a request
//! names the operation, attempt, status and request ID.

use std::{
    fmt::{Debug, Write as _},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
};

use serde_json::json;
use tracing::{
    field::{Field, Visit},
    span, Event, Metadata, Subscriber,
};
use wix_inbox::{Client, RetryPolicy};

use crate::harness::{conversation, json, Server};

const API_KEY: &str = "IST.secret-api-key-0001";
const APP_SECRET: &str = "app-secret-0002";
const ACCESS_TOKEN: &str = "access-token-0003";

/// A client of app `app-1`'s instance `inst-1` with `secret`, retrying nothing.
fn app_client(base_url: &str, secret: &str) -> Client {
    Client::builder()
        .base_url(base_url)
        .app(wix_inbox::AppCredentials {
            app_id: "app-1".into(),
            app_secret: secret.into(),
            instance_id: "inst-1".into(),
        })
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap()
}

fn assert_no_secret(text: &str) {
    for secret in [API_KEY, APP_SECRET, ACCESS_TOKEN] {
        assert!(!text.contains(secret), "{secret} leaked in: {text}");
    }
}

/// Every span, field record and event, as text.
#[derive(Clone, Default)]
struct Capture {
    out: Arc<Mutex<String>>,
    next: Arc<AtomicU64>,
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &span::Attributes<'_>) -> span::Id {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let mut line = format!("\nspan#{id} {}", span.metadata().name());
        span.record(&mut Fields(&mut line));
        self.out.lock().unwrap().push_str(&line);
        span::Id::from_u64(id)
    }

    fn record(&self, span: &span::Id, values: &span::Record<'_>) {
        let mut line = format!("\nrecord#{}", span.into_u64());
        values.record(&mut Fields(&mut line));
        self.out.lock().unwrap().push_str(&line);
    }

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = format!("\nevent {}", event.metadata().target());
        event.record(&mut Fields(&mut line));
        self.out.lock().unwrap().push_str(&line);
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}

async fn app_server() -> Server {
    Server::start(|seen, n| async move {
        if seen.path == "/oauth2/token" {
            return json(
                200,
                json!({"access_token": ACCESS_TOKEN, "expires_in": 14400}),
                &[("x-wix-request-id", "tok-req")],
            );
        }
        match n {
            1 => json(503, json!({}), &[("x-wix-request-id", "req-a")]),
            _ => json(
                200,
                conversation("conv-1"),
                &[("x-wix-request-id", "req-b")],
            ),
        }
    })
    .await
}

#[test]
fn builders_and_clients_do_not_show_secrets() {
    let key = Client::builder().api_key(API_KEY).site_id("site-1");
    let app = Client::builder().app(wix_inbox::AppCredentials {
        app_id: "app-1".into(),
        app_secret: APP_SECRET.into(),
        instance_id: "inst-1".into(),
    });
    assert_no_secret(&format!("{key:?} {app:?}"));
    assert!(
        format!("{app:?}").contains("app-1"),
        "still useful: {app:?}"
    );
    let (key, app) = (key.build().unwrap(), app.build().unwrap());
    let shown = format!("{key:?} {app:?} {key:#?}");
    assert_no_secret(&shown);
    assert!(shown.contains("site-1"), "{shown}");
}

#[tokio::test]
async fn errors_do_not_show_secrets() {
    // A refused API key.
    let server =
        Server::start(|_, _| async { json(401, json!({"message": "bad key"}), &[]) }).await;
    let client = Client::builder()
        .base_url(&server.url)
        .api_key(API_KEY)
        .site_id("s")
        .build()
        .unwrap();
    let e = crate::harness::get_conversation(&client, "c")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), wix_inbox::ErrorKind::Api);
    assert_eq!(e.status().map(|s| s.as_u16()), Some(401));
    assert_no_secret(&format!("{e} {e:?} {e:#}"));
    // A token refused after it was issued, and an unusable token endpoint.
    for token_status in [200, 500] {
        let server = Server::start(move |seen, _| async move {
            if seen.path == "/oauth2/token" {
                return json(
                    token_status,
                    json!({"access_token": ACCESS_TOKEN, "message": "no"}),
                    &[],
                );
            }
            json(401, json!({}), &[])
        })
        .await;
        let client = app_client(&server.url, APP_SECRET);
        let e = crate::harness::get_conversation(&client, "c")
            .await
            .unwrap_err();
        // A token refused after it was issued is the API's 401; an unusable endpoint, a token
        // error with the endpoint's status.
        let (kind, status) = match token_status {
            200 => (wix_inbox::ErrorKind::Api, 401),
            _ => (wix_inbox::ErrorKind::Token, 500),
        };
        assert_eq!(e.kind(), kind, "{e:?}");
        assert_eq!(e.status().map(|s| s.as_u16()), Some(status));
        assert_no_secret(&format!("{e} {e:?}"));
        let plain = client
            .get_conversation()
            .conversation_id("c")
            .send()
            .await
            .unwrap_err();
        assert_eq!(plain.kind(), kind);
        assert_no_secret(&format!("{plain} {plain:?}"));
    }
}

#[tokio::test]
async fn tracing_names_the_request_and_shows_no_secret() {
    // A second dispatcher, alive for the whole test, registered before the capture. With a
    // single dispatcher, tracing caches the interest of a callsite reached for the first time
    // from the default of the thread that reaches it: another test's thread, with no
    // subscriber, would turn `wix_inbox.request` off for the capture too. With two, the
    // interest is "sometimes" and each call asks its own thread's subscriber.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());

    let server = app_server().await;
    let client = Client::builder()
        .base_url(&server.url)
        .app(wix_inbox::AppCredentials {
            app_id: "app-1".into(),
            app_secret: APP_SECRET.into(),
            instance_id: "inst-1".into(),
        })
        .retry(crate::harness::quick_retries())
        .build()
        .unwrap();
    crate::harness::get_conversation(&client, "conv-1")
        .await
        .unwrap();
    let key_client = Client::builder()
        .base_url(&server.url)
        .api_key(API_KEY)
        .site_id("s")
        .build()
        .unwrap();
    crate::harness::get_conversation(&key_client, "conv-1")
        .await
        .unwrap();

    let out = capture.out.lock().unwrap().clone();
    assert_no_secret(&out);
    for part in [
        "wix_inbox.token attempt=1",
        "wix_inbox.request operation=\"get_conversation\" attempt=1",
        "wix_inbox.request operation=\"get_conversation\" attempt=2",
        "status=503",
        "request_id=\"req-a\"",
        "status=200",
        "request_id=\"req-b\"",
        "retrying",
    ] {
        assert!(out.contains(part), "{part:?} missing from:{out}");
    }
}

#[test]
fn generated_token_types_hide_the_secret_and_the_token_in_debug() {
    let request = wix_inbox::types::OAuthTokenRequest {
        grant_type: "client_credentials".into(),
        client_id: "app".into(),
        client_secret: "the-app-secret".to_string().into(),
        instance_id: "instance".into(),
    };
    let shown = format!("{request:?}");
    assert!(!shown.contains("the-app-secret"), "{shown}");
    assert!(shown.contains("Secret(***)"), "{shown}");
    // On the wire it is the plain secret.
    assert_eq!(
        serde_json::to_value(&request).unwrap()["client_secret"],
        "the-app-secret"
    );
    let response: wix_inbox::types::OAuthTokenResponse =
        serde_json::from_str(r#"{"access_token": "the-token", "expires_in": 14400}"#).unwrap();
    assert!(!format!("{response:?}").contains("the-token"));
    assert_eq!(response.access_token.expose(), "the-token");
}

#[tokio::test]
async fn a_wix_message_that_echoes_a_secret_is_not_printed_as_is() {
    // An API key echoed in the message and in a field violation.
    let server = Server::start(|_, _| async {
        json(
            401,
            json!({"message": format!("the key {API_KEY} is not valid"),
                   "details": {"validationError": {"fieldViolations": [
                       {"field": "authorization", "description": format!("{API_KEY} expired")}]}}}),
            &[("x-wix-request-id", "echo-1")],
        )
    })
    .await;
    let client = Client::builder()
        .base_url(&server.url)
        .api_key(API_KEY)
        .site_id("s")
        .build()
        .unwrap();
    let e = crate::harness::get_conversation(&client, "c")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), wix_inbox::ErrorKind::Api);
    assert_eq!(e.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(e.request_id(), Some("echo-1"));
    let shown = format!(
        "{} {e:?} {:?} {:?}",
        crate::hardening::chain(&e),
        e.message(),
        e.response()
    );
    assert_no_secret(&shown);
    assert!(shown.contains("is not valid"), "the rest is kept: {shown}");

    // An app secret echoed by the token endpoint, and an access token and the app secret echoed
    // by the API.
    let server = Server::start(|seen, _| async move {
        if seen.path == "/oauth2/token" && seen.json()["client_secret"] == "wrong-secret-0004" {
            return json(
                400,
                json!({"message": "client_secret wrong-secret-0004 is unknown"}),
                &[],
            );
        }
        if seen.path == "/oauth2/token" {
            return json(
                200,
                json!({"access_token": ACCESS_TOKEN, "expires_in": 14400}),
                &[],
            );
        }
        json(
            403,
            json!({"message": format!("{ACCESS_TOKEN} lacks a scope (app secret {APP_SECRET})")}),
            &[],
        )
    })
    .await;
    for (secret, status, kind) in [
        ("wrong-secret-0004", 400, wix_inbox::ErrorKind::Token),
        (APP_SECRET, 403, wix_inbox::ErrorKind::Api),
    ] {
        let client = app_client(&server.url, secret);
        let e = crate::harness::get_conversation(&client, "c")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), kind, "{e:?}");
        assert_eq!(e.status().map(|s| s.as_u16()), Some(status));
        let shown = format!("{} {e:?} {:?}", crate::hardening::chain(&e), e.response());
        assert_no_secret(&shown);
        assert!(!shown.contains("wrong-secret-0004"), "{shown}");
    }
}

#[test]
fn a_clients_debug_names_its_credentials_and_hides_them() {
    let key_client = Client::builder()
        .base_url("http://127.0.0.1:9")
        .api_key(API_KEY)
        .site_id("s")
        .build()
        .unwrap();
    let shown = format!("{key_client:?}");
    assert_no_secret(&shown);
    assert!(shown.contains("ApiKey { key: \"<redacted>\" }"), "{shown}");

    let for_app = app_client("http://127.0.0.1:9", APP_SECRET);
    let shown = format!("{for_app:?}");
    assert_no_secret(&shown);
    assert!(shown.contains("App(TokenEndpoint {"), "{shown}");
    assert!(shown.contains("app_id: \"app-1\""), "{shown}");
    assert!(shown.contains("secret: \"<redacted>\""), "{shown}");
    assert!(shown.contains("inst-1"), "the instance is named: {shown}");
}
