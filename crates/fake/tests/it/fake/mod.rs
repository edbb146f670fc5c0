//! The fake Inbox, driven through the generated client (and raw HTTP where the client cannot
//! send what is tested): auth, the four operations, paging, errors, the participant lifecycle,
//! signed webhooks with redelivery, faults, concurrency.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::IntoResponse as _;
use serde_json::{json, Value};
use wix_inbox::types::{
    self, ConversationsMerged, DomainEvent, ErrorResponse, GetOrCreateConversationRequest,
    IdentityType, Message, MessageDirection, MessageSentToBusiness, MessageSentToParticipant,
    MessageVisibility, OverrideSenderOptions, ParticipantId, SendMessageRequest, SortOrder,
    WebhookEnvelope, WebhookIdentity, WebhookPayload,
};
use wix_inbox::webhooks::axum::ServeOptions;
use wix_inbox::webhooks::test_signer::TestSigner;
use wix_inbox::webhooks::{InboxEvent, WebhookError, WebhookVerifier};
use wix_inbox::{AppCredentials, RetryPolicy};
use wix_inbox_fake::{FakeInbox, Fault};

use crate::harness::{http_client, Server};

mod app_helpers;
mod client;
mod conversations;
mod lifecycle;
mod webhooks;

// ---------------------------------------------------------------------------------------------
// Helpers

/// A client of the fake that does not retry: the fake's answers are seen as they are.
fn client(fake: &FakeInbox) -> wix_inbox::Client {
    fake.client_builder()
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap()
}

fn visitor(id: &str) -> ParticipantId {
    ParticipantId::AnonymousVisitorId(id.into())
}

async fn get_or_create(
    client: &wix_inbox::Client,
    participant: ParticipantId,
) -> types::GetOrCreateConversationResponse {
    client
        .get_or_create_conversation()
        .body(GetOrCreateConversationRequest {
            participant_id: participant,
        })
        .send()
        .await
        .unwrap()
        .into_inner()
}

async fn conversation_id(client: &wix_inbox::Client, participant: ParticipantId) -> String {
    get_or_create(client, participant)
        .await
        .conversation
        .unwrap()
        .id
        .unwrap()
}

fn send_request(conversation_id: &str, text: &str) -> SendMessageRequest {
    SendMessageRequest::new(conversation_id, Message::reply(text))
}

/// The fake's app credentials as the generated token request.
fn token_request(fake: &FakeInbox) -> types::OAuthTokenRequest {
    types::OAuthTokenRequest {
        grant_type: "client_credentials".into(),
        client_id: fake.app_id().into(),
        client_secret: fake.app_secret().into(),
        instance_id: fake.instance_id().into(),
    }
}

async fn send(client: &wix_inbox::Client, request: SendMessageRequest) -> Message {
    client
        .send_message()
        .body(request)
        .send()
        .await
        .unwrap()
        .into_inner()
        .message
        .unwrap()
}

fn text_of(m: &Message) -> String {
    m.content.as_ref().unwrap().basic.as_ref().unwrap().items[0]
        .text
        .clone()
        .unwrap()
}

fn seq(m: &Message) -> i64 {
    m.sequence.as_deref().unwrap().parse().unwrap()
}

/// The status and Wix error body of a failed call.
fn wix_error<T: std::fmt::Debug>(result: Result<T, wix_inbox::Error>) -> (u16, ErrorResponse) {
    let e = result.unwrap_err();
    match (e.status(), e.response()) {
        (Some(status), Some(answer)) => (status.as_u16(), answer.clone()),
        _ => panic!("expected a Wix error response, got {e:?}"),
    }
}

fn code(e: &ErrorResponse) -> &str {
    e.details
        .as_ref()
        .and_then(|d| d.application_error.as_ref())
        .and_then(|a| a.code.as_ref())
        .map_or("", |c| c.as_str())
}

/// `(field, violatedRule)` of each field violation.
fn violations(e: &ErrorResponse) -> Vec<(String, String)> {
    e.details
        .as_ref()
        .and_then(|d| d.validation_error.as_ref())
        .map(|v| {
            v.field_violations
                .iter()
                .map(|f| {
                    (
                        f.field.clone().unwrap_or_default(),
                        f.violated_rule.clone().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A raw request to the fake with its API key and site.
fn raw(fake: &FakeInbox, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    http_client()
        .request(method, format!("{}{path}", fake.base_url()))
        .header("Authorization", fake.api_key())
        .header("wix-site-id", fake.site_id())
}

async fn error_body(response: reqwest::Response) -> (u16, ErrorResponse) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// A webhook receiver on 127.0.0.1 (the harness's recording server): records each body,
/// answers the given statuses in turn, then 200.
struct Receiver {
    url: String,
    server: Server,
}

async fn receiver(statuses: Vec<u16>) -> Receiver {
    let server = Server::start(move |_, n| {
        let status = statuses.get(n).copied().unwrap_or(200);
        async move { StatusCode::from_u16(status).unwrap().into_response() }
    })
    .await;
    Receiver {
        url: format!("{}/webhooks", server.url),
        server,
    }
}

impl Receiver {
    fn bodies(&self) -> Vec<String> {
        self.server.seen().iter().map(|s| s.text()).collect()
    }
}

/// A webhook body verified with the fake's public key and decoded layer by layer into the
/// generated types, and, independently, by the crate's [`WebhookVerifier`].
struct Decoded {
    envelope: WebhookEnvelope,
    identity: WebhookIdentity,
    event: DomainEvent,
    typed: InboxEvent,
}

fn verify(fake: &FakeInbox, jwt: &str) -> Decoded {
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(fake.public_key_pem().as_bytes()).unwrap();
    let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    let claims = jsonwebtoken::decode::<WebhookPayload>(jwt, &key, &validation)
        .unwrap()
        .claims;
    let iat = claims.iat.unwrap();
    assert!(claims.exp.unwrap() > iat);
    let envelope: WebhookEnvelope = serde_json::from_str(&claims.data).unwrap();
    let identity = serde_json::from_str(envelope.identity.as_deref().unwrap()).unwrap();
    let event: DomainEvent = serde_json::from_str(envelope.data.as_deref().unwrap()).unwrap();
    let verified = WebhookVerifier::from_public_key(fake.public_key_pem())
        .unwrap()
        .verify(jwt.as_bytes())
        .unwrap();
    assert_eq!(Some(&verified.id), event.id.as_ref());
    assert_eq!(verified.instance_id.as_deref(), Some(fake.instance_id()));
    Decoded {
        envelope,
        identity,
        event,
        typed: verified.event,
    }
}

fn body<T: serde::de::DeserializeOwned>(event: &DomainEvent) -> T {
    event
        .action_event
        .as_ref()
        .unwrap()
        .body
        .as_ref()
        .unwrap()
        .parse()
        .unwrap()
}

fn is_guid(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

// ---------------------------------------------------------------------------------------------
// Start-up and auth

#[tokio::test]
async fn start_gives_base_url_credentials_and_public_key() {
    let fake = FakeInbox::start().await.unwrap();
    assert!(fake.base_url().starts_with("http://127.0.0.1:"));
    assert_ne!(fake.addr().port(), 0);
    assert!(!fake.api_key().is_empty());
    assert!(is_guid(fake.site_id()));
    assert!(fake
        .public_key_pem()
        .starts_with("-----BEGIN PUBLIC KEY-----"));
    // The key is usable as an app's webhook key.
    jsonwebtoken::DecodingKey::from_rsa_pem(fake.public_key_pem().as_bytes()).unwrap();
}

/// Runs `start` until it does not fail with `AddrInUse` (a few tries, briefly apart): a port
/// chosen free, or freed by a shutdown, may be taken for a moment by a connection of another
/// test.
async fn retry_on_addr_in_use<F, Fut>(mut start: F) -> FakeInbox
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::io::Result<FakeInbox>>,
{
    let mut tries = 0;
    loop {
        match start().await {
            Ok(fake) => return fake,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && tries < 10 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("starting the fake (after {tries} retries): {e}"),
        }
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn start_on_a_fixed_port_and_with_chosen_credentials() {
    let mut port = 0;
    let fake = retry_on_addr_in_use(|| {
        // Another port on each try: the one chosen may have been taken since.
        port = free_port();
        FakeInbox::builder()
            .port(port)
            .api_key("my-key")
            .site_id("5f0c4b1e-0000-4000-8000-000000000001")
            .start()
    })
    .await;
    assert_eq!(fake.base_url(), format!("http://127.0.0.1:{port}"));
    assert_eq!(fake.api_key(), "my-key");
    conversation_id(&client(&fake), visitor("v")).await;
    fake.shutdown().await;
    // The port is free again once the fake is shut down.
    let again = retry_on_addr_in_use(|| FakeInbox::start_on(port)).await;
    assert_eq!(again.addr().port(), port);
}

#[tokio::test]
async fn calls_without_the_right_key_and_site_are_401() {
    let fake = FakeInbox::start().await.unwrap();
    let url = format!("{}/inbox/v2/conversations", fake.base_url());
    let body = json!({"participantId": {"anonymousVisitorId": "v"}});
    let http = http_client();
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "no Authorization",
            vec![("wix-site-id", fake.site_id().into())],
        ),
        ("no site", vec![("Authorization", fake.api_key().into())]),
        (
            "wrong key",
            vec![
                ("Authorization", "nope".into()),
                ("wix-site-id", fake.site_id().into()),
            ],
        ),
        (
            "wrong site",
            vec![
                ("Authorization", fake.api_key().into()),
                ("wix-site-id", "00000000-0000-4000-8000-000000000000".into()),
            ],
        ),
        (
            "Bearer prefix",
            vec![
                ("Authorization", format!("Bearer {}", fake.api_key())),
                ("wix-site-id", fake.site_id().into()),
            ],
        ),
        (
            "account header",
            vec![
                ("Authorization", fake.api_key().into()),
                ("wix-site-id", fake.site_id().into()),
                ("wix-account-id", "a".into()),
            ],
        ),
    ];
    for (case, headers) in cases {
        let mut request = http.post(&url).json(&body);
        for (k, v) in headers {
            request = request.header(k, v);
        }
        let response = request.send().await.unwrap();
        assert!(response.headers().contains_key("x-wix-request-id"));
        let (status, error) = error_body(response).await;
        assert_eq!(status, 401, "{case}");
        assert_eq!(code(&error), "UNAUTHORIZED", "{case}");
        assert!(error.message.is_some(), "{case}");
    }
    // The generated client with no auth at all gets the error as a typed body.
    let bare = wix_inbox::Client::builder()
        .no_auth()
        .base_url(fake.base_url())
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap();
    let (status, _) = wix_error(
        bare.get_conversation()
            .conversation_id("6202c3bb-f263-3c16-8c90-d6387d9ed420")
            .send()
            .await,
    );
    assert_eq!(status, 401);
}

#[tokio::test]
async fn app_tokens_from_client_credentials_are_accepted_raw() {
    let fake = FakeInbox::builder()
        .app_credentials(AppCredentials {
            app_id: "app-1".into(),
            app_secret: "s3cret".into(),
            instance_id: "inst-1".into(),
        })
        .start()
        .await
        .unwrap();
    let http = http_client();
    let token_url = format!("{}/oauth2/token", fake.base_url());
    let wrong = http
        .post(&token_url)
        .json(
            &json!({"grant_type": "client_credentials", "client_id": "app-1",
                      "client_secret": "nope", "instance_id": "inst-1"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let missing = http
        .post(&token_url)
        .json(&json!({"grant_type": "client_credentials", "client_id": "app-1"}))
        .send()
        .await
        .unwrap();
    let (status, error) = error_body(missing).await;
    assert_eq!(status, 400);
    assert_eq!(
        violations(&error),
        [
            ("client_secret".to_string(), "REQUIRED_FIELD".to_string()),
            ("instance_id".to_string(), "REQUIRED_FIELD".to_string())
        ]
    );

    let token: Value = http
        .post(&token_url)
        .json(&token_request(&fake))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 14400);
    let access_token = token["access_token"].as_str().unwrap().to_owned();

    // The token goes raw in Authorization, with no site header.
    let http = http_client();
    let conversation: types::GetOrCreateConversationResponse = http
        .post(format!("{}/inbox/v2/conversations", fake.base_url()))
        .header("Authorization", &access_token)
        .json(&json!({"participantId": {"anonymousVisitorId": "v"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let conversation = conversation.conversation.unwrap().id.unwrap();
    let sent: types::SendMessageResponse = http
        .post(format!("{}/inbox/v2/messages", fake.base_url()))
        .header("Authorization", &access_token)
        .json(&send_request(&conversation, "from the app"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sent = sent.message.unwrap();
    assert_eq!(sent.sender.unwrap().app_id.as_deref(), Some("app-1"));
    assert_eq!(sent.app_id.as_deref(), Some("app-1"));

    fake.expire_tokens();
    let response = http
        .get(format!(
            "{}/inbox/v2/conversations/{conversation}",
            fake.base_url()
        ))
        .header("Authorization", &access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn the_builder_client_with_app_credentials_gets_and_renews_its_token() {
    let fake = FakeInbox::start().await.unwrap();
    let app = fake.app_client_builder().build().unwrap();
    let conversation = conversation_id(&app, visitor("v")).await;
    let sent = send(&app, send_request(&conversation, "from the app")).await;
    assert_eq!(sent.sender.unwrap().app_id.as_deref(), Some(fake.app_id()));
    // The token is revoked: the client is answered 401, gets a new token and goes on.
    fake.expire_tokens();
    crate::harness::get_conversation(&app, &conversation)
        .await
        .unwrap();
    let tokens = fake
        .requests()
        .iter()
        .filter(|r| r.uri == "/oauth2/token")
        .count();
    assert_eq!(tokens, 2);
}

#[tokio::test]
async fn tokens_expire_after_their_ttl() {
    // The fake sets a token's expiry (issue + TTL) between `asked` and `got`, by the same clock
    // as ours. So a call answered before `asked + ttl` must have found the token valid, and a
    // call sent after `got + ttl` must find it expired, however slow the machine. A first call
    // answered too late proves nothing: that round is repeated with twice the TTL.
    let http = http_client();
    let mut ttl = Duration::from_millis(200);
    for _ in 0..6 {
        let fake = FakeInbox::builder().token_ttl(ttl).start().await.unwrap();
        let asked = Instant::now();
        let token: Value = http
            .post(format!("{}/oauth2/token", fake.base_url()))
            .json(&token_request(&fake))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let got = Instant::now();
        assert_eq!(
            token["expires_in"],
            ttl.as_secs(),
            "whole seconds of {ttl:?}"
        );
        let call = || {
            http.post(format!("{}/inbox/v2/conversations", fake.base_url()))
                .header("Authorization", token["access_token"].as_str().unwrap())
                .json(&json!({"participantId": {"memberId": "m"}}))
                .send()
        };
        let first = call().await.unwrap();
        if Instant::now() >= asked + ttl {
            ttl *= 2;
            continue;
        }
        assert_eq!(first.status(), 200, "a call within the TTL");
        tokio::time::sleep_until((got + ttl).into()).await;
        assert!(Instant::now() >= got + ttl);
        let (status, error) = error_body(call().await.unwrap()).await;
        assert_eq!(status, 401);
        assert!(error.message.unwrap().contains("expired"));
        return;
    }
    panic!(
        "no first call was answered within its token's TTL, up to {:?}",
        ttl / 2
    );
}
