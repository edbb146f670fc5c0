//! The fake serving several app instances (the app on several sites): each with its own
//! participants, conversations, messages and tokens; webhooks naming the right instance.

use serde_json::{json, Value};
use wix_inbox::types::{Message, ParticipantId, SendMessageRequest};
use wix_inbox::webhooks::InboxEvent;
use wix_inbox_fake::FakeInbox;

use crate::harness::http_client;

/// An access token of `instance`, straight from the fake's token endpoint.
async fn token(fake: &FakeInbox, instance: &str) -> reqwest::Response {
    http_client()
        .post(format!("{}/oauth2/token", fake.base_url()))
        .json(&json!({
            "grant_type": "client_credentials",
            "client_id": fake.app_id(),
            "client_secret": fake.app_secret(),
            "instance_id": instance,
        }))
        .send()
        .await
        .unwrap()
}

async fn token_of(fake: &FakeInbox, instance: &str) -> String {
    let body: Value = token(fake, instance).await.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn each_instance_has_its_own_participants_conversations_and_messages() {
    let fake = FakeInbox::start().await.unwrap();
    let second = fake.add_instance();
    assert_eq!(
        fake.instance_ids(),
        [fake.instance_id().to_owned(), second.clone()]
    );
    let site_b = fake.instance(&second).unwrap();
    assert_ne!(site_b.site_id(), fake.site_id());
    assert!(fake.instance("no-such-instance").is_none());

    // The same visitor ID on two sites is two people, in two conversations.
    let on_a = fake.visitor_writes("v-1", "hello A");
    let on_b = site_b.visitor_writes("v-1", "hello B");
    assert_ne!(on_a.conversation_id, on_b.conversation_id);
    let visitor = ParticipantId::AnonymousVisitorId("v-1".into());
    assert_eq!(fake.current_conversation_id(&visitor), on_a.conversation_id);
    assert_eq!(
        site_b.current_conversation_id(&visitor),
        on_b.conversation_id
    );
    assert_eq!(site_b.conversations().len(), 1);
    assert_eq!(fake.conversations().len(), 2, "every instance's");

    // A conversion on one site merges nothing on the other.
    let merged = site_b.visitor_becomes_contact("v-1", "c-1").unwrap();
    assert_eq!(
        merged.old_conversation_ids,
        vec![on_b.conversation_id.clone().unwrap()]
    );
    assert_eq!(
        fake.current_conversation_id(&visitor),
        on_a.conversation_id,
        "A's visitor is untouched"
    );
    let texts: Vec<_> = site_b
        .participant_messages(&ParticipantId::ContactId("c-1".into()))
        .iter()
        .filter_map(Message::plain_text)
        .collect();
    assert_eq!(texts, ["hello B"]);

    // Through the API: each instance's client sees its own site.
    let app = fake.app();
    let b = app.instance(&second);
    let found = b
        .get_or_create_conversation()
        .body(wix_inbox::types::GetOrCreateConversationRequest {
            participant_id: ParticipantId::ContactId("c-1".into()),
        })
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.new_conversation, Some(false));
    assert_eq!(found.conversation_id(), merged.target());
    let a = app.instance(fake.instance_id());
    let on_a_site = a
        .get_or_create_conversation()
        .body(wix_inbox::types::GetOrCreateConversationRequest {
            participant_id: ParticipantId::ContactId("c-1".into()),
        })
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        on_a_site.new_conversation,
        Some(true),
        "c-1 is B's contact, not A's"
    );
}

#[tokio::test]
async fn a_token_of_one_instance_is_refused_for_another() {
    let fake = FakeInbox::start().await.unwrap();
    let second = fake.add_instance();
    let site_b = fake.instance(&second).unwrap();
    let b_conversation = site_b
        .visitor_writes("v-1", "on B")
        .conversation_id
        .unwrap();
    let a_token = token_of(&fake, fake.instance_id()).await;
    let http = http_client();
    let get = |token: &str, site: Option<&str>| {
        let mut request = http
            .get(format!(
                "{}/inbox/v2/conversations/{b_conversation}",
                fake.base_url()
            ))
            .header("authorization", token);
        if let Some(site) = site {
            request = request.header("wix-site-id", site);
        }
        request.send()
    };

    // A's token naming B's site: 401 with Wix's body.
    let refused = get(&a_token, Some(site_b.site_id())).await.unwrap();
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["details"]["applicationError"]["code"], "UNAUTHORIZED");
    assert!(
        body["message"].as_str().unwrap().contains("another site"),
        "{body}"
    );
    // A's token for B's conversation: it belongs to another site.
    let refused = get(&a_token, None).await.unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body["details"]["applicationError"]["code"],
        "NOT_OWNED_BY_BUSINESS"
    );
    // B's own token gets it.
    let b_token = token_of(&fake, &second).await;
    assert_eq!(get(&b_token, None).await.unwrap().status(), 200);
    assert_eq!(
        get(&b_token, Some(site_b.site_id()))
            .await
            .unwrap()
            .status(),
        200
    );

    // Through the crate: A's client can neither read nor write in B's conversation.
    let app = fake.app();
    let a = app.instance(fake.instance_id());
    let e = a
        .get_conversation()
        .conversation_id(&b_conversation)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(403));
    let e = a
        .send_message()
        .body(SendMessageRequest::new(
            &b_conversation,
            Message::reply("not yours"),
        ))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(404));
    assert_eq!(
        fake.messages(&b_conversation).len(),
        1,
        "nothing was written"
    );
    let e = a
        .list_messages()
        .conversation_id(&b_conversation)
        .visibility(wix_inbox::types::MessageVisibility::BusinessAndParticipant)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(404));

    // An instance the app is not installed on gets no token.
    let unknown = token(&fake, "not-installed").await;
    assert_eq!(unknown.status(), 400);
}

#[tokio::test]
async fn the_api_key_serves_every_site_it_names() {
    let fake = FakeInbox::start().await.unwrap();
    let second = fake.add_instance();
    let site_b = fake.instance(&second).unwrap();
    let b_conversation = site_b.contact_writes("c-1", "hi").conversation_id.unwrap();
    let client = fake.client();
    let e = client
        .get_conversation()
        .conversation_id(&b_conversation)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(403), "{e}");
    let found = client
        .for_site(site_b.site_id())
        .get_conversation()
        .conversation_id(&b_conversation)
        .send()
        .await
        .unwrap();
    assert_eq!(
        found.conversation.as_ref().and_then(|c| c.id()),
        Some(b_conversation.as_str())
    );
    assert_eq!(
        site_b
            .client()
            .get_conversation()
            .conversation_id(&b_conversation)
            .send()
            .await
            .unwrap()
            .into_inner(),
        found.into_inner()
    );
    let e = client
        .for_site("not-a-site-of-the-fake")
        .get_conversation()
        .conversation_id(&b_conversation)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(401));
}

#[tokio::test]
async fn webhooks_name_the_instance_and_site_of_their_conversation() {
    let fake = FakeInbox::start().await.unwrap();
    let second = fake.add_instance();
    let site_b = fake.instance(&second).unwrap();
    let app = fake.app();
    let (receiver, mut events) = wix_inbox::webhooks::axum::WebhookReceiver::with_channel(
        app.verifier().unwrap().clone(),
        64,
    );
    fake.add_webhook_router("/hooks", receiver.into_router("/hooks"))
        .unwrap();

    let written = site_b.visitor_writes("v-1", "from B");
    fake.visitor_writes("v-1", "from A");
    let b_client = app.instance(&second);
    b_client
        .send_message()
        .body(SendMessageRequest::new(
            written.conversation_id().unwrap(),
            Message::reply("answer on B"),
        ))
        .send()
        .await
        .unwrap();
    site_b.visitor_becomes_contact("v-1", "c-1").unwrap();

    let mut seen = Vec::new();
    while seen.len() < 4 {
        let event = tokio::time::timeout(std::time::Duration::from_secs(10), events.recv())
            .await
            .expect("4 events")
            .unwrap();
        seen.push(event);
    }
    for event in &seen {
        let site = event.account_info.as_ref().and_then(|a| a.site_id.clone());
        let on_a = matches!(&event.event, InboxEvent::MessageSentToBusiness(sent) if sent.plain_text().as_deref() == Some("from A"));
        if on_a {
            assert_eq!(event.instance_id(), Some(fake.instance_id()));
            assert_eq!(site.as_deref(), Some(fake.site_id()));
        } else {
            assert_eq!(
                event.instance_id(),
                Some(second.as_str()),
                "{:?}",
                event.event
            );
            assert_eq!(site.as_deref(), Some(site_b.site_id()));
            // The client for the event's instance is B's.
            let client = app.client_for(event).unwrap();
            if let InboxEvent::MessageSentToParticipant(_) = &event.event {
                assert!(app.is_own_message(event));
            }
            if let InboxEvent::ConversationsMerged(merged) = &event.event {
                client
                    .get_conversation()
                    .conversation_id(merged.target().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
    // The fake's own envelope log agrees.
    let instances: Vec<_> = fake
        .events()
        .iter()
        .map(|e| e.envelope.instance_id.clone().unwrap())
        .collect();
    assert_eq!(instances.iter().filter(|i| **i == second).count(), 3);
    assert_eq!(
        instances
            .iter()
            .filter(|i| *i == fake.instance_id())
            .count(),
        1
    );
}
