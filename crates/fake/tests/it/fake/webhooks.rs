//! The fake's signed webhooks with redelivery, and injected faults.

use super::*;

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
