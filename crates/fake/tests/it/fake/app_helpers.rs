//! The fake's helpers for an app's tests, and every operation of the spec served or refused.

use super::*;

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
