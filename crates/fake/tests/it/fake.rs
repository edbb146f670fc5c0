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

// ---------------------------------------------------------------------------------------------
// Conversations

#[tokio::test]
async fn get_or_create_is_idempotent_per_participant() {
    let fake = FakeInbox::start().await.unwrap();
    let client = client(&fake);
    let first = get_or_create(&client, visitor("v1")).await;
    assert_eq!(first.new_conversation, Some(true));
    let conversation = first.conversation.unwrap();
    let id = conversation.id.clone().unwrap();
    assert!(is_guid(&id), "{id}");
    assert_eq!(
        conversation
            .participant
            .unwrap()
            .anonymous_visitor_id
            .as_deref(),
        Some("v1")
    );

    let second = get_or_create(&client, visitor("v1")).await;
    assert_eq!(second.new_conversation, Some(false));
    assert_eq!(
        second.conversation.unwrap().id.as_deref(),
        Some(id.as_str())
    );

    let other = get_or_create(&client, ParticipantId::MemberId("m1".into())).await;
    assert_eq!(other.new_conversation, Some(true));
    assert_ne!(other.conversation.unwrap().id.unwrap(), id);

    let got = client
        .get_conversation()
        .conversation_id(&id)
        .send()
        .await
        .unwrap()
        .into_inner()
        .conversation
        .unwrap();
    assert_eq!(got.id.as_deref(), Some(id.as_str()));
    assert_eq!(fake.conversations().len(), 2);
}

#[tokio::test]
async fn unknown_conversation_is_404_and_a_malformed_id_400() {
    let fake = FakeInbox::start().await.unwrap();
    let client = client(&fake);
    let (status, error) = wix_error(
        client
            .get_conversation()
            .conversation_id("6202c3bb-f263-3c16-8c90-d6387d9ed420")
            .send()
            .await,
    );
    assert_eq!(status, 404);
    assert_eq!(code(&error), "CONVERSATION_NOT_FOUND");

    let (status, error) = wix_error(
        client
            .get_conversation()
            .conversation_id("nope")
            .send()
            .await,
    );
    assert_eq!(status, 400);
    assert_eq!(
        violations(&error),
        [("conversationId".to_string(), "FORMAT".to_string())]
    );

    let (status, error) = wix_error(
        client
            .list_messages()
            .conversation_id("6202c3bb-f263-3c16-8c90-d6387d9ed420")
            .visibility(MessageVisibility::Business)
            .send()
            .await,
    );
    assert_eq!((status, code(&error)), (404, "CONVERSATION_NOT_FOUND"));
    let (status, error) = wix_error(
        client
            .send_message()
            .body(send_request("6202c3bb-f263-3c16-8c90-d6387d9ed420", "hi"))
            .send()
            .await,
    );
    assert_eq!((status, code(&error)), (404, "CONVERSATION_NOT_FOUND"));
}

#[tokio::test]
async fn bad_input_gets_validation_errors_with_field_violations() {
    let fake = FakeInbox::start().await.unwrap();
    let conversation = conversation_id(&client(&fake), visitor("v")).await;
    let post = |path: &str, body: &'static str| {
        raw(&fake, reqwest::Method::POST, path)
            .header("content-type", "application/json")
            .body(body)
    };
    let field = |f: &str, r: &str| (f.to_string(), r.to_string());

    let (status, e) = error_body(
        post("/inbox/v2/messages", "{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(violations(&e), [field("body", "FORMAT")]);
    assert!(e.message.unwrap().contains("Invalid JSON"));

    let (status, e) = error_body(post("/inbox/v2/messages", "{}").send().await.unwrap()).await;
    assert_eq!(status, 400);
    assert_eq!(
        violations(&e),
        [
            field("conversationId", "REQUIRED_FIELD"),
            field("message", "REQUIRED_FIELD")
        ]
    );

    let (status, e) = error_body(
        post("/inbox/v2/conversations", r#"{"participantId": {}}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(violations(&e), [field("participantId", "ONE_OF")]);
    let (_, e) = error_body(post("/inbox/v2/conversations", "[]").send().await.unwrap()).await;
    assert_eq!(violations(&e), [field("body", "FORMAT")]);
    let (_, e) = error_body(post("/inbox/v2/conversations", "{}").send().await.unwrap()).await;
    assert_eq!(violations(&e), [field("participantId", "REQUIRED_FIELD")]);

    // A message without content, direction or visibility.
    let response = raw(&fake, reqwest::Method::POST, "/inbox/v2/messages")
        .json(&json!({"conversationId": conversation, "message": {}, "sendAs": "SOMEONE"}))
        .send()
        .await
        .unwrap();
    let (status, e) = error_body(response).await;
    assert_eq!(status, 400);
    assert_eq!(
        violations(&e),
        [
            field("message.content", "REQUIRED_FIELD"),
            field("message.direction", "REQUIRED_FIELD"),
            field("message.visibility", "REQUIRED_FIELD"),
            field("sendAs", "INVALID_ENUM_VALUE"),
        ]
    );

    // List Messages: no conversationId, no visibility, a bad limit, sort order and cursor.
    let (status, e) = error_body(
        raw(
            &fake,
            reqwest::Method::GET,
            "/inbox/v2/messages?paging.limit=ten&sorting.order=UP&sorting.fieldName=title",
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        violations(&e),
        [
            field("conversationId", "REQUIRED_FIELD"),
            field("visibility", "REQUIRED_FIELD"),
            field("paging.limit", "FORMAT"),
            field("sorting.fieldName", "INVALID_ENUM_VALUE"),
            field("sorting.order", "INVALID_ENUM_VALUE"),
        ]
    );
    let (_, e) = error_body(
        raw(
            &fake,
            reqwest::Method::GET,
            &format!(
                "/inbox/v2/messages?conversationId={conversation}&visibility=BUSINESS&paging.cursor=zz"
            ),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(violations(&e), [field("paging.cursor", "FORMAT")]);

    // Unknown endpoints are a JSON 404 too.
    let response = raw(&fake, reqwest::Method::GET, "/inbox/v3/nothing")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn limit_over_100_is_a_max_violation() {
    let fake = FakeInbox::start().await.unwrap();
    let client = client(&fake);
    let conversation = conversation_id(&client, visitor("v")).await;
    let (status, e) = wix_error(
        client
            .list_messages()
            .conversation_id(&conversation)
            .visibility(MessageVisibility::Business)
            .paging_limit(NonZeroU32::new(101).unwrap())
            .send()
            .await,
    );
    assert_eq!(status, 400);
    let violation = &e
        .details
        .unwrap()
        .validation_error
        .unwrap()
        .field_violations[0];
    assert_eq!(violation.field.as_deref(), Some("paging.limit"));
    assert_eq!(violation.violated_rule.as_deref(), Some("MAX"));
    assert_eq!(violation.data["threshold"], 100);
    // 100 is fine.
    client
        .list_messages()
        .conversation_id(&conversation)
        .visibility(MessageVisibility::Business)
        .paging_limit(NonZeroU32::new(100).unwrap())
        .send()
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Messages

#[tokio::test]
async fn send_message_stores_with_sequence_date_id_and_sender() {
    let fake = FakeInbox::start().await.unwrap();
    let client = client(&fake);
    let conversation = conversation_id(&client, visitor("v")).await;
    let before = chrono::Utc::now();
    let first = send(&client, send_request(&conversation, "one")).await;
    let second = send(&client, send_request(&conversation, "two")).await;
    assert!(seq(&second) > seq(&first));
    assert_eq!(
        first.id, first.sequence,
        "message IDs are numeric, as Wix's"
    );
    assert!(first.created_date.unwrap() >= before - chrono::Duration::seconds(1));
    assert_eq!(
        first.sender.as_ref().unwrap().wix_user_id.as_deref(),
        Some(fake.business_user_id())
    );
    assert_eq!(
        first.content.as_ref().unwrap().preview_text.as_deref(),
        Some("one")
    );

    let mut as_participant = send_request(&conversation, "from the visitor, via the app");
    as_participant.send_as = Some(OverrideSenderOptions::Participant);
    as_participant.message.direction = Some(MessageDirection::ParticipantToBusiness);
    let third = send(&client, as_participant).await;
    assert_eq!(
        third.sender.unwrap().anonymous_visitor_id.as_deref(),
        Some("v")
    );

    let stored = fake.messages(&conversation);
    assert_eq!(
        stored.iter().map(text_of).collect::<Vec<_>>(),
        ["one", "two", "from the visitor, via the app"]
    );
}

#[tokio::test]
async fn list_messages_pages_with_cursors_desc_by_default() {
    let fake = FakeInbox::start().await.unwrap();
    let client = client(&fake);
    let conversation = conversation_id(&client, visitor("v")).await;
    for i in 0..65 {
        send(&client, send_request(&conversation, &format!("m{i}"))).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut sizes = Vec::new();
    loop {
        let mut request = client
            .list_messages()
            .conversation_id(&conversation)
            .visibility(MessageVisibility::BusinessAndParticipant);
        if let Some(c) = &cursor {
            request = request.paging_cursor(c);
        }
        let page = request.send().await.unwrap().into_inner();
        let meta = page.paging_metadata.unwrap();
        assert_eq!(meta.count.unwrap().get() as usize, page.messages.len());
        sizes.push(page.messages.len());
        seen.extend(page.messages);
        match meta.cursors.and_then(|c| c.next) {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(sizes, [30, 30, 5]);
    let texts: Vec<String> = seen.iter().map(text_of).collect();
    let expected: Vec<String> = (0..65).rev().map(|i| format!("m{i}")).collect();
    assert_eq!(texts, expected, "newest first, none twice, none missing");

    // ASC on request, with a limit; the cursor keeps the order.
    let page = client
        .list_messages()
        .conversation_id(&conversation)
        .visibility(MessageVisibility::BusinessAndParticipant)
        .sorting_field_name("sequence")
        .sorting_order(SortOrder::Asc)
        .paging_limit(NonZeroU32::new(64).unwrap())
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(text_of(&page.messages[0]), "m0");
    assert_eq!(page.messages.len(), 64);
    let next = page.paging_metadata.unwrap().cursors.unwrap().next.unwrap();
    let last = client
        .list_messages()
        .conversation_id(&conversation)
        .visibility(MessageVisibility::BusinessAndParticipant)
        .paging_cursor(next)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        last.messages.iter().map(text_of).collect::<Vec<_>>(),
        ["m64"]
    );
    assert_eq!(last.paging_metadata.unwrap().cursors.unwrap().next, None);
}

#[tokio::test]
async fn business_and_participant_hides_business_only_messages() {
    let fake = FakeInbox::start().await.unwrap();
    let client = client(&fake);
    let conversation = conversation_id(&client, visitor("v")).await;
    send(&client, send_request(&conversation, "public")).await;
    let mut note = send_request(&conversation, "internal note");
    note.message.visibility = Some(MessageVisibility::Business);
    send(&client, note).await;
    let list = |visibility| {
        client
            .list_messages()
            .conversation_id(&conversation)
            .visibility(visibility)
            .send()
    };
    let both = list(MessageVisibility::BusinessAndParticipant)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        both.messages.iter().map(text_of).collect::<Vec<_>>(),
        ["public"]
    );
    let business = list(MessageVisibility::Business)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        business.messages.iter().map(text_of).collect::<Vec<_>>(),
        ["internal note", "public"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_get_unique_increasing_sequences() {
    let fake = FakeInbox::start().await.unwrap();
    let client = Arc::new(client(&fake));
    let conversation = conversation_id(&client, visitor("v")).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..60 {
        let client = client.clone();
        let conversation = conversation.clone();
        tasks.spawn(
            async move { send(&client, send_request(&conversation, &format!("c{i}"))).await },
        );
    }
    let mut sequences = Vec::new();
    while let Some(message) = tasks.join_next().await {
        sequences.push(seq(&message.unwrap()));
    }
    sequences.sort();
    sequences.dedup();
    assert_eq!(sequences.len(), 60, "sequences are unique");
    let stored: Vec<i64> = fake.messages(&conversation).iter().map(seq).collect();
    assert_eq!(stored, sequences, "stored in increasing sequence order");
}

// ---------------------------------------------------------------------------------------------
// The participant lifecycle

#[tokio::test]
async fn visitor_to_contact_to_member_merges_conversations() {
    let fake = FakeInbox::start().await.unwrap();
    let client = client(&fake);
    let written = fake.visitor_writes("v", "hello");
    let visitor_conversation = written.conversation_id.clone().unwrap();
    assert_eq!(
        written
            .message
            .as_ref()
            .unwrap()
            .sender
            .as_ref()
            .unwrap()
            .anonymous_visitor_id
            .as_deref(),
        Some("v")
    );
    send(
        &client,
        send_request(&visitor_conversation, "hi, how can we help?"),
    )
    .await;

    let merged = fake.visitor_becomes_contact("v", "c").unwrap();
    assert_eq!(
        merged.old_conversation_ids,
        std::slice::from_ref(&visitor_conversation)
    );
    let contact_conversation = merged.target_conversation_id.clone().unwrap();
    assert_ne!(contact_conversation, visitor_conversation);
    assert!(is_guid(&contact_conversation));
    assert_eq!(
        fake.messages(&contact_conversation)
            .iter()
            .map(text_of)
            .collect::<Vec<_>>(),
        ["hello", "hi, how can we help?"]
    );
    assert_eq!(
        fake.merged_into(&visitor_conversation),
        Some(contact_conversation.clone())
    );

    // Get Or Create with the old visitor ID, or the new contact ID, leads to the new one.
    for participant in [visitor("v"), ParticipantId::ContactId("c".into())] {
        let found = get_or_create(&client, participant).await;
        assert_eq!(found.new_conversation, Some(false));
        let conversation = found.conversation.unwrap();
        assert_eq!(
            conversation.id.as_deref(),
            Some(contact_conversation.as_str())
        );
        assert_eq!(
            conversation.participant.unwrap().contact_id.as_deref(),
            Some("c")
        );
    }
    // The old ID is gone.
    let (status, error) = wix_error(
        client
            .get_conversation()
            .conversation_id(&visitor_conversation)
            .send()
            .await,
    );
    assert_eq!((status, code(&error)), (404, "CONVERSATION_NOT_FOUND"));

    // The visitor, now a contact, writes into the contact's conversation as the contact.
    let later = fake.visitor_writes("v", "I left my email");
    assert_eq!(
        later.conversation_id.as_deref(),
        Some(contact_conversation.as_str())
    );
    assert_eq!(
        later.message.unwrap().sender.unwrap().contact_id.as_deref(),
        Some("c")
    );

    let merged = fake.contact_becomes_member("c", "m").unwrap();
    assert_eq!(
        merged.old_conversation_ids,
        std::slice::from_ref(&contact_conversation)
    );
    let member_conversation = merged.target_conversation_id.unwrap();
    let found = get_or_create(&client, ParticipantId::MemberId("m".into())).await;
    let participant = found.conversation.unwrap().participant.unwrap();
    assert_eq!(participant.member_id.as_deref(), Some("m"));
    assert_eq!(participant.contact_id.as_deref(), Some("c"));
    let page = client
        .list_messages()
        .conversation_id(&member_conversation)
        .visibility(MessageVisibility::Business)
        .sorting_order(SortOrder::Asc)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        page.messages.iter().map(text_of).collect::<Vec<_>>(),
        ["hello", "hi, how can we help?", "I left my email"]
    );

    let merges: Vec<ConversationsMerged> = fake
        .events()
        .iter()
        .filter(|e| e.event_type == "wix.crm.inbox.v2.conversation_conversations_merged")
        .map(|e| body(&e.domain_event))
        .collect();
    assert_eq!(merges.len(), 2);
    assert_eq!(
        merges[1].target_conversation_id.as_deref(),
        Some(member_conversation.as_str())
    );
}

#[tokio::test]
async fn visitor_can_become_member_directly_and_merges_keep_chronological_order() {
    let fake = FakeInbox::start().await.unwrap();
    let client = client(&fake);
    fake.visitor_writes("v", "1 visitor");
    // The app had already started a conversation with the member.
    let member_conversation = conversation_id(&client, ParticipantId::MemberId("m".into())).await;
    send(
        &client,
        send_request(&member_conversation, "2 to the member"),
    )
    .await;
    fake.visitor_writes("v", "3 visitor again");

    let merged = fake.visitor_becomes_member("v", "c", "m").unwrap();
    let target = merged.target_conversation_id.unwrap();
    assert_eq!(merged.old_conversation_ids.len(), 1);
    assert_eq!(
        target, member_conversation,
        "merged into the member's conversation"
    );
    assert_eq!(
        fake.messages(&target)
            .iter()
            .map(text_of)
            .collect::<Vec<_>>(),
        ["1 visitor", "2 to the member", "3 visitor again"]
    );
    // Nothing to merge: no event, no conversation.
    assert!(fake.visitor_becomes_contact("quiet", "c2").is_none());
    assert_eq!(
        fake.current_conversation_id(&ParticipantId::ContactId("c2".into())),
        None
    );
}

#[tokio::test]
async fn odd_requests_get_answers_not_panics() {
    let fake = FakeInbox::start().await.unwrap();
    let conversation = conversation_id(&client(&fake), visitor("v")).await;
    let cases: Vec<(reqwest::Method, String, &str)> = vec![
        (reqwest::Method::GET, "/inbox/v2/messages?paging.limit=-1".into(), ""),
        (
            reqwest::Method::GET,
            format!("/inbox/v2/messages?conversationId={conversation}&visibility=BUSINESS&paging.limit=99999999999999999999999"),
            "",
        ),
        (
            reqwest::Method::GET,
            format!("/inbox/v2/messages?conversationId={conversation}&visibility=NOBODY"),
            "",
        ),
        (reqwest::Method::GET, "/inbox/v2/messages?%zz=%ff".into(), ""),
        (reqwest::Method::GET, "/inbox/v2/conversations/%ff%fe".into(), ""),
        (reqwest::Method::DELETE, "/inbox/v2/messages".into(), ""),
        (reqwest::Method::POST, "/inbox/v2/messages".into(), "\u{0}"),
        (reqwest::Method::POST, "/inbox/v2/messages".into(), r#"{"conversationId": 7, "message": []}"#),
        (
            reqwest::Method::POST,
            "/inbox/v2/conversations".into(),
            r#"{"participantId": {"contactId": "a", "memberId": "b"}}"#,
        ),
        (reqwest::Method::POST, "/inbox/v2/conversations".into(), r#"{"participantId": {"memberId": 5}}"#),
        (reqwest::Method::POST, "/oauth2/token".into(), r#"{"grant_type": "password"}"#),
    ];
    for (method, path, body) in cases {
        let response = raw(&fake, method.clone(), &path)
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: no answer: {e}"));
        let status = response.status().as_u16();
        let allow = response.headers().get("allow").cloned();
        assert!((400..500).contains(&status), "{method} {path}: {status}");
        // A method the spec has no operation for on this path: 405 with the spec's methods.
        if method == reqwest::Method::DELETE {
            assert_eq!(status, 405, "{method} {path}");
            assert_eq!(allow.unwrap(), "GET, POST", "{method} {path}");
        }
    }
    // Still serving.
    get_or_create(&client(&fake), visitor("v")).await;
}

// ---------------------------------------------------------------------------------------------
// Webhooks

#[tokio::test]
async fn webhooks_are_signed_as_wix_signs_them() {
    let fake = FakeInbox::start().await.unwrap();
    let receiver = receiver(vec![]).await;
    fake.add_webhook_receiver(&receiver.url);
    let client = client(&fake);

    let written = fake.member_writes("m", "hi there");
    fake.settle().await;
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1);
    let d = verify(&fake, &bodies[0]);
    assert_eq!(
        d.envelope.event_type.as_deref(),
        Some("wix.crm.inbox.v2.message_message_sent_to_business")
    );
    assert_eq!(d.envelope.instance_id.as_deref(), Some(fake.instance_id()));
    assert_eq!(
        d.envelope.account_info.unwrap().site_id.as_deref(),
        Some(fake.site_id())
    );
    assert_eq!(d.identity.identity_type, Some(IdentityType::Member));
    assert_eq!(d.identity.member_id.as_deref(), Some("m"));
    assert_eq!(
        d.event.entity_fqdn.as_deref(),
        Some("wix.crm.inbox.v2.message")
    );
    assert_eq!(d.event.slug.as_deref(), Some("message_sent_to_business"));
    assert!(is_guid(d.event.id.as_deref().unwrap()));
    assert!(d.event.event_time.is_some());
    let sent: MessageSentToBusiness = body(&d.event);
    assert_eq!(sent, written);
    assert_eq!(d.typed, InboxEvent::MessageSentToBusiness(written.clone()));
    assert_eq!(d.event.entity_id, sent.message.unwrap().id);

    // A business message through the API: Message Sent To Participant.
    let conversation = written.conversation_id.unwrap();
    let reply = send(&client, send_request(&conversation, "hello member")).await;
    fake.settle().await;
    let d = verify(&fake, &receiver.bodies()[1]);
    assert_eq!(
        d.envelope.event_type.as_deref(),
        Some("wix.crm.inbox.v2.message_message_sent_to_participant")
    );
    assert_eq!(d.event.slug.as_deref(), Some("message_sent_to_participant"));
    assert_eq!(d.identity.identity_type, Some(IdentityType::WixUser));
    let sent: MessageSentToParticipant = body(&d.event);
    assert_eq!(sent.conversation_id.as_deref(), Some(conversation.as_str()));
    assert_eq!(sent.message.unwrap(), reply);

    // A merge: Conversations Merged.
    fake.visitor_writes("v", "x");
    let merged = fake.visitor_becomes_contact("v", "c").unwrap();
    fake.settle().await;
    let d = verify(&fake, receiver.bodies().last().unwrap());
    assert_eq!(
        d.envelope.event_type.as_deref(),
        Some("wix.crm.inbox.v2.conversation_conversations_merged")
    );
    assert_eq!(
        d.event.entity_fqdn.as_deref(),
        Some("wix.crm.inbox.v2.conversation")
    );
    assert_eq!(d.event.slug.as_deref(), Some("conversations_merged"));
    assert_eq!(body::<ConversationsMerged>(&d.event), merged);
    assert_eq!(d.typed, InboxEvent::ConversationsMerged(merged));

    // Every receiver gets every event; the record says so.
    assert_eq!(fake.events().len(), 4);
    assert!(fake
        .deliveries()
        .iter()
        .all(|d| d.delivered && d.attempts.len() == 1));
    // The recorded JWT is the one delivered first.
    assert_eq!(fake.events()[0].jwt, receiver.bodies()[0]);
}

#[tokio::test]
async fn webhooks_are_redelivered_with_the_same_event_id_until_200() {
    let fake = FakeInbox::builder()
        .webhook_attempts(4)
        .webhook_backoff(Duration::from_millis(10))
        .start()
        .await
        .unwrap();
    let flaky = receiver(vec![500, 503]).await;
    let broken = receiver(vec![500; 10]).await;
    fake.add_webhook_receiver(&flaky.url);
    fake.add_webhook_receiver(&broken.url);
    fake.visitor_writes("v", "anyone there?");
    fake.settle().await;

    let ids = |r: &Receiver| -> Vec<String> {
        r.bodies()
            .iter()
            .map(|b| verify(&fake, b).event.id.unwrap())
            .collect()
    };
    let flaky_ids = ids(&flaky);
    assert_eq!(flaky_ids.len(), 3, "two failures, then 200");
    assert!(flaky_ids.iter().all(|id| *id == flaky_ids[0]));
    let broken_ids = ids(&broken);
    assert_eq!(broken_ids.len(), 4, "bounded attempts");
    assert!(broken_ids.iter().all(|id| *id == flaky_ids[0]));

    let deliveries = fake.deliveries();
    let flaky_delivery = deliveries.iter().find(|d| d.receiver == flaky.url).unwrap();
    assert!(flaky_delivery.delivered && flaky_delivery.finished);
    assert_eq!(
        flaky_delivery
            .attempts
            .iter()
            .map(|a| a.status)
            .collect::<Vec<_>>(),
        [Some(500), Some(503), Some(200)]
    );
    let broken_delivery = deliveries
        .iter()
        .find(|d| d.receiver == broken.url)
        .unwrap();
    assert!(!broken_delivery.delivered && broken_delivery.finished);
}

#[tokio::test]
async fn an_unreachable_or_slow_receiver_counts_as_a_failed_attempt() {
    let fake = FakeInbox::builder()
        .webhook_attempts(2)
        .webhook_backoff(Duration::from_millis(5))
        .webhook_timeout(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    // Nothing listens here (the port stays reserved while `refused` lives).
    let refused = crate::harness::refused_url();
    fake.add_webhook_receiver(format!("{}/hooks", refused.url));
    // This one answers too late.
    let slow = Server::start(|_, _| async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        crate::harness::raw(200, "ok", &[])
    })
    .await;
    fake.add_webhook_receiver(format!("{}/", slow.url));

    fake.visitor_writes("v", "hello?");
    fake.settle().await;
    for delivery in fake.deliveries() {
        assert_eq!(delivery.attempts.len(), 2, "{delivery:?}");
        assert!(!delivery.delivered);
        assert!(delivery
            .attempts
            .iter()
            .all(|a| a.status.is_none() && a.error.is_some()));
    }
}

// ---------------------------------------------------------------------------------------------
// Faults

#[tokio::test]
async fn fail_next_answers_429_503_then_serves_again() {
    let fake = FakeInbox::start().await.unwrap();
    let client = client(&fake);
    let conversation = conversation_id(&client, visitor("v")).await;
    let get = || {
        client
            .get_conversation()
            .conversation_id(&conversation)
            .send()
    };

    fake.fail_next(1, Fault::Status(429));
    fake.fail_next(1, Fault::StatusRetryAfter(429, 2));
    fake.fail_next(2, Fault::Status(503));

    let (status, error) = wix_error(get().await);
    assert_eq!(status, 429);
    assert_eq!(code(&error), "TOO_MANY_REQUESTS");

    let response = raw(
        &fake,
        reqwest::Method::GET,
        &format!("/inbox/v2/conversations/{conversation}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");

    // 503 with an empty body, as Wix often sends: the generated client cannot parse it.
    let response = raw(
        &fake,
        reqwest::Method::GET,
        &format!("/inbox/v2/conversations/{conversation}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("retry-after").is_none());
    assert!(response.bytes().await.unwrap().is_empty());
    // Through the client: an API error with the status, although there is no body to read.
    let error = get().await.unwrap_err();
    assert_eq!(error.kind(), wix_inbox::ErrorKind::Api, "{error:?}");
    assert_eq!(error.status(), Some(StatusCode::SERVICE_UNAVAILABLE));

    get().await.unwrap();
    let statuses: Vec<Option<u16>> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            Some(200),
            Some(429),
            Some(429),
            Some(503),
            Some(503),
            Some(200)
        ]
    );
}

#[tokio::test]
async fn fail_next_drop_closes_the_connection_without_an_answer() {
    let fake = FakeInbox::start().await.unwrap();
    fake.fail_next(1, Fault::Drop);
    let url = format!("{}/inbox/v2/conversations", fake.base_url());
    let http = http_client();
    let call = || {
        http.post(&url)
            .header("Authorization", fake.api_key())
            .header("wix-site-id", fake.site_id())
            .json(&json!({"participantId": {"anonymousVisitorId": "v"}}))
            .send()
    };
    let error = call().await.unwrap_err();
    assert!(error.status().is_none(), "no response at all: {error:?}");
    assert!(error.is_request() || error.is_connect(), "{error:?}");
    // The next call is served.
    assert_eq!(call().await.unwrap().status(), 200);
    assert_eq!(fake.requests()[0].status, None);

    // Through the client, a dropped connection is a transport error (with retries disabled).
    fake.fail_next(1, Fault::Drop);
    let error = client(&fake)
        .get_conversation()
        .conversation_id("6202c3bb-f263-3c16-8c90-d6387d9ed420")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), wix_inbox::ErrorKind::Transport, "{error}");
    assert_eq!(error.status(), None);
}

#[tokio::test]
async fn fail_next_delay_answers_late() {
    let fake = FakeInbox::start().await.unwrap();
    fake.fail_next(1, Fault::Delay(Duration::from_millis(300)));
    let request = raw(&fake, reqwest::Method::POST, "/inbox/v2/conversations")
        .json(&json!({"participantId": {"anonymousVisitorId": "v"}}))
        .timeout(Duration::from_millis(50));
    let error = request.send().await.unwrap_err();
    assert!(error.is_timeout());
}

#[tokio::test]
async fn the_token_endpoint_is_spared_by_faults() {
    let fake = FakeInbox::start().await.unwrap();
    fake.fail_next(1, Fault::Status(503));
    let response = http_client()
        .post(format!("{}/oauth2/token", fake.base_url()))
        .json(&token_request(&fake))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = raw(&fake, reqwest::Method::POST, "/inbox/v2/conversations")
        .json(&json!({"participantId": {"anonymousVisitorId": "v"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503, "the fault waited for an Inbox call");
}

#[tokio::test]
async fn a_fake_can_sign_with_its_own_key() {
    let shared = FakeInbox::start().await.unwrap();
    let own = FakeInbox::builder()
        .signer(TestSigner::generate())
        .start()
        .await
        .unwrap();
    assert_eq!(
        shared.public_key_pem(),
        TestSigner::shared().public_key_pem()
    );
    assert_ne!(own.public_key_pem(), shared.public_key_pem());
    own.visitor_writes("v", "hi");
    let jwt = &own.events()[0].jwt;
    verify(&own, jwt);
    // The other key refuses it on its signature, not on anything else.
    let refused = WebhookVerifier::from_public_key(shared.public_key_pem())
        .unwrap()
        .verify(jwt.as_bytes())
        .unwrap_err();
    assert_eq!(refused, WebhookError::BadSignature);
    assert_eq!(refused.status_code(), 401);
}

#[tokio::test]
async fn pressing_a_postback_button_delivers_button_interacted() {
    let fake = FakeInbox::start().await.unwrap();
    let receiver = receiver(vec![]).await;
    fake.add_webhook_receiver(&receiver.url);
    assert!(fake
        .participant_presses_button(&visitor("nobody"), "yes")
        .is_none());
    let written = fake.contact_writes("c", "which size?");
    let pressed = fake
        .participant_presses_button(&ParticipantId::ContactId("c".into()), "size-m")
        .unwrap();
    fake.settle().await;
    let d = verify(&fake, receiver.bodies().last().unwrap());
    assert_eq!(
        d.envelope.event_type.as_deref(),
        Some("wix.crm.inbox.v2.message_button_interacted")
    );
    assert_eq!(d.event.slug.as_deref(), Some("button_interacted"));
    let body: types::ButtonInteracted = body(&d.event);
    assert_eq!(body, pressed);
    assert_eq!(d.typed, InboxEvent::ButtonInteracted(pressed.clone()));
    assert_eq!(body.conversation_id, written.conversation_id);
    assert_eq!(body.app_id.as_deref(), Some(fake.app_id()));
    assert_eq!(body.interaction_id.as_deref(), Some("size-m"));
    assert_eq!(body.interacted_by.unwrap().contact_id.as_deref(), Some("c"));
}

// ---------------------------------------------------------------------------------------------
// The production client against the fake

const UNKNOWN_CONVERSATION: &str = "6202c3bb-f263-3c16-8c90-d6387d9ed420";

#[tokio::test]
async fn the_builder_client_retries_through_injected_faults() {
    let fake = FakeInbox::start().await.unwrap();
    let client = fake
        .client_builder()
        .retry(
            RetryPolicy::default()
                .max_attempts(4)
                .initial_backoff(Duration::from_millis(5)),
        )
        .build()
        .unwrap();
    let conversation = conversation_id(&client, visitor("v")).await;
    fake.fail_next(1, Fault::Status(503));
    fake.fail_next(1, Fault::StatusRetryAfter(429, 0));
    fake.fail_next(1, Fault::Drop);
    let got = crate::harness::get_conversation(&client, &conversation)
        .await
        .unwrap();
    assert_eq!(
        got.conversation.as_ref().unwrap().id.as_deref(),
        Some(conversation.as_str())
    );
    let statuses: Vec<Option<u16>> = fake.requests().iter().skip(1).map(|r| r.status).collect();
    assert_eq!(statuses, [Some(503), Some(429), None, Some(200)]);

    // Out of attempts: the error says what happened and how hard the client tried.
    fake.fail_next(4, Fault::Status(503));
    let error = crate::harness::get_conversation(&client, &conversation)
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(error.attempts(), 4);
    assert!(error.is_retryable());
}

#[tokio::test]
async fn the_builder_client_types_the_fakes_errors() {
    let fake = FakeInbox::start().await.unwrap();
    let client = client(&fake);
    let not_found = crate::harness::get_conversation(&client, UNKNOWN_CONVERSATION)
        .await
        .unwrap_err();
    assert!(not_found.is_not_found(), "{not_found}");
    assert_eq!(not_found.kind(), wix_inbox::ErrorKind::Api);
    assert_eq!(not_found.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(
        not_found.code(),
        Some(&wix_inbox::ErrorCode::ConversationNotFound)
    );
    assert!(not_found.request_id().is_some(), "x-wix-request-id is read");

    let conversation = conversation_id(&client, visitor("v")).await;
    let invalid = client
        .list_messages()
        .conversation_id(&conversation)
        .visibility(MessageVisibility::Business)
        .paging_limit(NonZeroU32::new(500).unwrap())
        .send()
        .await
        .unwrap_err();
    assert!(invalid.is_validation(), "{invalid}");
    assert_eq!(invalid.kind(), wix_inbox::ErrorKind::Api);
    assert_eq!(invalid.status(), Some(StatusCode::BAD_REQUEST));
    assert_eq!(
        invalid.field_violations()[0].field.as_deref(),
        Some("paging.limit")
    );

    let unauthorized = wix_inbox::Client::builder()
        .api_key("wrong")
        .site_id(fake.site_id())
        .base_url(fake.base_url())
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap()
        .get_conversation()
        .conversation_id(&conversation)
        .send()
        .await
        .unwrap_err();
    assert!(unauthorized.is_auth(), "{unauthorized}");
    assert_eq!(unauthorized.kind(), wix_inbox::ErrorKind::Api);
    assert_eq!(unauthorized.status(), Some(StatusCode::UNAUTHORIZED));
}

#[tokio::test]
async fn list_all_messages_streams_every_page_of_the_fake() {
    use futures_util::TryStreamExt as _;
    let fake = FakeInbox::start().await.unwrap();
    let client = client(&fake);
    let conversation = conversation_id(&client, visitor("v")).await;
    for i in 0..65 {
        send(&client, send_request(&conversation, &format!("m{i}"))).await;
    }
    let mut note = send_request(&conversation, "note");
    note.message.visibility = Some(MessageVisibility::Business);
    send(&client, note).await;

    let before = fake.requests().len();
    let public: Vec<Message> = client
        .list_all_messages(&conversation, MessageVisibility::BusinessAndParticipant)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(fake.requests().len() - before, 3, "30 + 30 + 5");
    let texts: Vec<String> = public.iter().map(text_of).collect();
    let expected: Vec<String> = (0..65).rev().map(|i| format!("m{i}")).collect();
    assert_eq!(texts, expected);

    let all: Vec<Message> = client
        .list_all_messages(&conversation, MessageVisibility::Business)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 66);
    assert_eq!(text_of(&all[0]), "note");
}

#[tokio::test]
async fn a_webhook_senders_participant_id_leads_to_the_current_conversation() {
    let fake = FakeInbox::start().await.unwrap();
    let client = client(&fake);
    for (writes, expected) in [
        (fake.visitor_writes("v", "a"), visitor("v")),
        (
            fake.contact_writes("c", "b"),
            ParticipantId::ContactId("c".into()),
        ),
        (
            fake.member_writes("m", "c"),
            ParticipantId::MemberId("m".into()),
        ),
    ] {
        let sender = writes.message.unwrap().sender.unwrap();
        let participant = sender.participant_id().unwrap();
        assert_eq!(participant, expected);
        let found = get_or_create(&client, participant).await;
        assert_eq!(found.new_conversation, Some(false));
        assert_eq!(found.conversation.unwrap().id, writes.conversation_id);
    }
    // After the visitor becomes a member, what they write carries the member ID.
    fake.visitor_becomes_member("v", "c-v", "m-v").unwrap();
    let sender = fake
        .visitor_writes("v", "d")
        .message
        .unwrap()
        .sender
        .unwrap();
    assert_eq!(
        sender.participant_id(),
        Some(ParticipantId::MemberId("m-v".into()))
    );
    assert_eq!(sender.contact_id.as_deref(), Some("c-v"));
}

// ---------------------------------------------------------------------------------------------
// Limits: the request log, slow and held connections

#[tokio::test]
async fn the_request_log_keeps_only_the_latest_requests() {
    let fake = FakeInbox::builder()
        .request_log_capacity(10)
        .start()
        .await
        .unwrap();
    let http = http_client();
    // Unauthenticated requests, each with its own URI: every one is answered 401.
    for i in 0..25 {
        let response = http
            .get(format!("{}/inbox/v2/conversations/c-{i}", fake.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    let uris: Vec<String> = fake.requests().into_iter().map(|r| r.uri).collect();
    let expected: Vec<String> = (15..25)
        .map(|i| format!("/inbox/v2/conversations/c-{i}"))
        .collect();
    assert_eq!(uris, expected, "the latest 10, oldest first");

    // A long URI is kept cut to the limit.
    let long = format!("/inbox/v2/conversations/{}", "x".repeat(20_000));
    let response = http
        .get(format!("{}{long}", fake.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let requests = fake.requests();
    assert_eq!(requests.len(), 10);
    let last = requests.last().unwrap();
    assert_eq!(last.uri.len(), wix_inbox_fake::RecordedRequest::URI_LIMIT);
    assert!(long.starts_with(&last.uri));
    assert_eq!(last.status, Some(401));
}

#[tokio::test]
async fn a_request_log_of_capacity_zero_keeps_nothing() {
    let fake = FakeInbox::builder()
        .request_log_capacity(0)
        .start()
        .await
        .unwrap();
    conversation_id(&client(&fake), visitor("v")).await;
    assert!(fake.requests().is_empty());
}

/// How long the tests below wait for the fake to close a connection before they fail.
const NEVER: Duration = Duration::from_secs(600);

/// Reads until the fake closes the connection (a reset counts too); how long that took (on
/// the test's clock) and what was read. Panics if the connection is still open after [`NEVER`].
async fn time_until_closed(stream: &mut tokio::net::TcpStream) -> (Duration, String) {
    use tokio::io::AsyncReadExt as _;
    let start = tokio::time::Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(NEVER, stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(read.is_ok(), "still open after {NEVER:?}; read {answer:?}");
    (start.elapsed(), answer)
}

/// Whether `elapsed` is the timeout (on the paused clock, it is exact but for scheduling).
fn about(elapsed: Duration, timeout: Duration) -> bool {
    elapsed >= timeout && elapsed < timeout + Duration::from_millis(100)
}

#[tokio::test(start_paused = true)]
async fn silent_slow_and_idle_connections_are_closed_after_the_header_read_timeout() {
    use tokio::io::AsyncWriteExt as _;
    let timeout = Duration::from_secs(3);
    let fake = FakeInbox::builder()
        .serve_options(ServeOptions::new().header_read_timeout(timeout))
        .start()
        .await
        .unwrap();

    // Silent: connects and sends nothing.
    let mut silent = tokio::net::TcpStream::connect(fake.addr()).await.unwrap();
    let (elapsed, answer) = time_until_closed(&mut silent).await;
    assert!(about(elapsed, timeout), "closed after {elapsed:?}");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );

    // Slow: drips its headers, one byte every half second.
    let mut slow = tokio::net::TcpStream::connect(fake.addr()).await.unwrap();
    let (mut read, mut write) = slow.split();
    let drip = async {
        for byte in b"GET /inbox/v2/conversations HTTP/1.1\r\nhost: x\r\n\r\n" {
            if write.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    let closed = async {
        use tokio::io::AsyncReadExt as _;
        let start = tokio::time::Instant::now();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(NEVER, read.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "still open after {NEVER:?}");
        start.elapsed()
    };
    let (_, elapsed) = tokio::join!(drip, closed);
    assert!(about(elapsed, timeout), "closed after {elapsed:?}");

    // Idle: one request answered, then nothing more on the kept-alive connection.
    let mut idle = tokio::net::TcpStream::connect(fake.addr()).await.unwrap();
    idle.write_all(b"GET /inbox/v2/conversations/c HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let (elapsed, answer) = time_until_closed(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(about(elapsed, timeout), "closed after {elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn a_body_that_never_arrives_is_answered_408_at_the_request_timeout() {
    use tokio::io::AsyncWriteExt as _;
    let timeout = Duration::from_secs(4);
    let fake = FakeInbox::builder()
        .serve_options(ServeOptions::new().request_timeout(timeout))
        .start()
        .await
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(fake.addr()).await.unwrap();
    // Announces 1,000 bytes, sends 10.
    let head = format!(
        "POST /inbox/v2/conversations HTTP/1.1\r\nhost: x\r\nauthorization: {}\r\n\
         wix-site-id: {}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n\
         {{\"partici",
        fake.api_key(),
        fake.site_id()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (elapsed, answer) = time_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(about(elapsed, timeout), "answered after {elapsed:?}");
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].status, Some(408));
    assert!(fake.conversations().is_empty());
}

#[tokio::test(start_paused = true)]
async fn held_connections_do_not_stop_a_real_request() {
    let timeout = Duration::from_secs(2);
    let fake = FakeInbox::builder()
        .serve_options(
            ServeOptions::new()
                .max_connections(4)
                .header_read_timeout(timeout),
        )
        .start()
        .await
        .unwrap();
    // Twice the bound of connections that never send anything.
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(tokio::net::TcpStream::connect(fake.addr()).await.unwrap());
    }
    let start = tokio::time::Instant::now();
    let found = tokio::time::timeout(NEVER, get_or_create(&client(&fake), visitor("v")))
        .await
        .expect("the real request was answered");
    let elapsed = start.elapsed();
    assert_eq!(found.new_conversation, Some(true));
    // Connections that never sent anything give way to new ones under pressure (the server's
    // slots): the real request waited for two header-read timeouts at most.
    assert!(
        elapsed <= 2 * timeout + Duration::from_millis(500),
        "answered after {elapsed:?}"
    );
    // Every held connection is closed by the fake, within a header-read timeout of its own.
    for mut stream in held {
        let (elapsed, _) = time_until_closed(&mut stream).await;
        assert!(elapsed <= 2 * timeout, "closed after {elapsed:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers for an app's tests

/// A verifier with the fake's key, as the app under test makes it.
fn app_verifier(fake: &FakeInbox) -> WebhookVerifier {
    WebhookVerifier::from_public_key(fake.public_key_pem()).unwrap()
}

#[tokio::test]
async fn an_apps_router_becomes_a_webhook_receiver_in_one_call() {
    use wix_inbox::webhooks::axum::WebhookReceiver;
    let fake = FakeInbox::start().await.unwrap();
    let (receiver, mut events) = WebhookReceiver::with_channel(app_verifier(&fake), 16);
    let url = fake
        .add_webhook_router("/hooks/wix", receiver.into_router("/hooks/wix"))
        .unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(url.ends_with("/hooks/wix"), "{url}");

    let written = fake.visitor_writes("v", "hi");
    let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("the app got the event")
        .unwrap();
    assert_eq!(event.event, InboxEvent::MessageSentToBusiness(written));
    fake.settle().await;
    let deliveries = fake.deliveries();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].receiver, url);
    assert!(deliveries[0].delivered);
    assert_eq!(deliveries[0].attempts[0].status, Some(200));

    // The app's server stops with the fake.
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/hooks/wix")
        .to_owned();
    tokio::net::TcpStream::connect(&addr).await.unwrap();
    fake.shutdown().await;
    let refused = tokio::net::TcpStream::connect(&addr).await;
    assert!(refused.is_err(), "{refused:?}");
}

#[tokio::test]
async fn wait_until_sees_what_the_app_does_after_it_answered() {
    use wix_inbox::webhooks::axum::WebhookReceiver;
    let fake = FakeInbox::start().await.unwrap();
    // The app answers the webhook at once and replies through the API afterwards, as an app
    // that must answer Wix within 1,250 ms does.
    let api = client(&fake);
    let app = WebhookReceiver::new(app_verifier(&fake), move |event| {
        let InboxEvent::MessageSentToBusiness(sent) = event.event else {
            return;
        };
        let api = api.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let conversation = sent.conversation_id.unwrap();
            let text = sent.message.unwrap().content.unwrap().plain_text().unwrap();
            let reply = format!("Thanks, we got: {text}");
            send(&api, send_request(&conversation, &reply)).await;
        });
    });
    fake.add_webhook_router("/webhooks", app.into_router("/webhooks"))
        .unwrap();

    let conversation = fake.visitor_writes("v", "hello").conversation_id.unwrap();
    fake.wait_until("the app's reply", Duration::from_secs(10), |fake| {
        fake.messages(&conversation).len() == 2
    })
    .await
    .unwrap();
    assert_eq!(
        fake.message_texts(&conversation),
        ["hello", "Thanks, we got: hello"]
    );
}

#[tokio::test(start_paused = true)]
async fn wait_until_wakes_when_the_fakes_state_changes() {
    let fake = Arc::new(FakeInbox::start().await.unwrap());
    let writer = fake.clone();
    // The change comes between two of the 100 ms re-checks: only its notification can wake
    // the wait at that very moment.
    let change = Duration::from_millis(3050);
    tokio::spawn(async move {
        tokio::time::sleep(change).await;
        writer.visitor_writes("v", "late");
    });
    let start = tokio::time::Instant::now();
    fake.wait_until("the visitor's message", Duration::from_secs(10), |fake| {
        fake.current_conversation_id(&visitor("v")).is_some()
    })
    .await
    .unwrap();
    let elapsed = start.elapsed();
    assert!(
        elapsed >= change && elapsed < change + Duration::from_millis(10),
        "{elapsed:?}"
    );

    // A condition that holds already: no wait at all.
    let start = tokio::time::Instant::now();
    fake.wait_until("nothing", Duration::from_secs(10), |_| true)
        .await
        .unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test]
async fn wait_until_fails_naming_what_it_awaited_and_what_the_fake_saw() {
    let fake = FakeInbox::builder()
        .webhook_attempts(1)
        .start()
        .await
        .unwrap();
    // An app whose receiver refuses every delivery (a wrong key, say).
    let refusing = receiver(vec![401]).await;
    fake.add_webhook_receiver(&refusing.url);
    let conversation = fake.visitor_writes("v", "hi").conversation_id.unwrap();
    fake.settle().await;

    let timeout = Duration::from_millis(300);
    let start = Instant::now();
    let error = fake
        .wait_until("the app's reply", timeout, |fake| {
            fake.messages(&conversation).len() == 2
        })
        .await
        .unwrap_err();
    assert!(start.elapsed() >= timeout);
    assert_eq!(error.what, "the app's reply");
    assert_eq!(error.timeout, timeout);
    let text = error.to_string();
    assert!(
        text.starts_with("gave up waiting for the app's reply after 300ms"),
        "{text}"
    );
    assert!(
        text.contains("1 conversations, 1 messages, 1 webhook events"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "wix.crm.inbox.v2.message_message_sent_to_business to {}: answered 401",
            refusing.url
        )),
        "{text}"
    );
}

#[tokio::test]
async fn a_participants_messages_are_read_in_order_across_merges() {
    let fake = FakeInbox::start().await.unwrap();
    let client = client(&fake);
    let first = fake.visitor_writes("v", "1 hello").conversation_id.unwrap();
    send(&client, send_request(&first, "2 hi, who are you?")).await;
    let merged = fake.visitor_becomes_contact("v", "c").unwrap();
    fake.contact_writes("c", "3 it's me");
    let target = merged.target_conversation_id.unwrap();

    let expected = ["1 hello", "2 hi, who are you?", "3 it's me"];
    for participant in [visitor("v"), ParticipantId::ContactId("c".into())] {
        let texts: Vec<String> = fake
            .participant_messages(&participant)
            .iter()
            .map(text_of)
            .collect();
        assert_eq!(texts, expected, "{participant:?}");
    }
    assert_eq!(fake.message_texts(&target), expected);
    // The old conversation's messages moved; nobody's conversation is empty.
    assert!(fake.message_texts(&first).is_empty());
    assert!(fake.participant_messages(&visitor("nobody")).is_empty());
}

/// The spec, found above this crate's directory (the fake's tests may live in a crate of their
/// own inside the workspace).
fn spec_yaml() -> serde_yaml::Value {
    let mut dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    loop {
        let path = dir.join("openapi/inbox-v2.yaml");
        if let Ok(text) = std::fs::read_to_string(&path) {
            return serde_yaml::from_str(&text).unwrap();
        }
        dir = dir.parent().expect("openapi/inbox-v2.yaml above the crate");
    }
}

/// Every operation of the spec is routed by the fake (its routes come from the spec): served, or
/// answered 501 with Wix's error body; what the spec does not declare is answered with Wix's
/// error body too, 404 for a path, 405 for a method on one of its paths.
#[tokio::test]
async fn every_operation_of_the_spec_is_served_or_refused_with_wix_s_error_body() {
    let fake = FakeInbox::start().await.unwrap();
    let spec = spec_yaml();
    let mut operations = 0;
    for (path, item) in spec["paths"].as_mapping().unwrap() {
        // Every path parameter gets an ID (unknown to the fake: a 404 is an answer too).
        let path = path.as_str().unwrap();
        let path: String = path
            .split('/')
            .map(|s| {
                if s.starts_with('{') {
                    "6202c3bb-0000-4000-8000-000000000000"
                } else {
                    s
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for (method, operation) in item.as_mapping().unwrap() {
            let id = operation["operationId"].as_str().unwrap();
            let method = method.as_str().unwrap().to_uppercase();
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let response = raw(&fake, method.clone(), &path)
                .json(&json!({}))
                .send()
                .await;
            let response = response.unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            // An operation of the spec is routed: served, or (not served yet) Wix's 501.
            assert_ne!(status, 405, "{id}: {method} {path} answered 405: {text}");
            if status >= 400 {
                let error: ErrorResponse = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{id}: {status} {text:?} is no Wix error: {e}"));
                assert!(error.message.is_some(), "{id}: {status} {text}");
            }
            operations += 1;
        }
    }
    assert!(operations > 0, "the spec has no operation");

    // A method the spec does not declare on one of its paths: 405, the `Allow` header naming
    // the methods it declares there, and Wix's error body.
    for (method, path, allow) in [
        (reqwest::Method::DELETE, "/contacts/v4/contacts/c-1", "GET"),
        (reqwest::Method::PUT, "/contacts/v4/contacts", "GET, POST"),
        (reqwest::Method::TRACE, "/oauth2/token", "POST"),
        (reqwest::Method::PATCH, "/apps/v1/instance", "GET"),
    ] {
        let response = raw(&fake, method.clone(), path).send().await.unwrap();
        let allowed = response.headers().get("allow").cloned();
        let (status, error) = error_body(response).await;
        assert_eq!(
            (status, code(&error)),
            (405, "METHOD_NOT_ALLOWED"),
            "{method} {path}"
        );
        assert_eq!(allowed.unwrap(), allow, "{method} {path}");
    }
    // A path it does not know: 404, likewise.
    let unknown = raw(&fake, reqwest::Method::GET, "/no/such/api")
        .send()
        .await;
    let (status, error) = error_body(unknown.unwrap()).await;
    assert_eq!((status, code(&error)), (404, "NOT_FOUND"));
}
