//! Accessors on the generated types (`src/accessors.rs`): each on Wix's example events, on
//! absent and empty fields, and the own-message check: an app's message sent as the participant
//! comes back with the visitor as sender, and only `appId` tells.

use serde_json::{json, Value};
use wix_inbox::types::{
    ButtonInteracted, Conversation, ConversationsMerged, GetOrCreateConversationRequest,
    GetOrCreateConversationResponse, IdentificationData, Message, MessageContent, MessageDirection,
    MessageSentToBusiness, MessageSentToParticipant, OverrideSenderOptions, ParticipantId,
    SendMessageRequest,
};
use wix_inbox::webhooks::test_signer::{TestEvent, TestSigner};
use wix_inbox::webhooks::{InboxEvent, WebhookEvent, WebhookVerifier};
use wix_inbox::Client;
use wix_inbox_fake::FakeInbox;

/// The app ID in Wix's example events.
const EXAMPLE_APP: &str = "a0c38670-6845-41e0-8f41-85a6054ccd98";
const MY_APP: &str = "5bd1a3c2-6f38-4e4a-9b1a-000000000abc";
const VISITOR: &str = "2b7e4ad9-5b1f-4c3c-9f7e-0a0b0c0d0e0f";

/// Wix's example domain event `tests/fixtures/webhooks/<name>DomainEvent.json`.
pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/webhooks/{name}DomainEvent.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str::<Value>(&text).unwrap()["body"].take()
}

/// `domain_event` signed as Wix does and verified: the event a handler gets. `event_type` is
/// the part after `wix.crm.inbox.v2.`.
pub fn delivered(event_type: &str, domain_event: Value) -> WebhookEvent {
    let signer = TestSigner::shared();
    let token = signer.sign_event(&TestEvent::new(
        format!("wix.crm.inbox.v2.{event_type}"),
        domain_event,
    ));
    signer.verifier().verify(token.as_bytes()).unwrap()
}

fn sent_to_business(event: &WebhookEvent) -> &MessageSentToBusiness {
    match &event.event {
        InboxEvent::MessageSentToBusiness(sent) => sent,
        other => panic!("{other:?}"),
    }
}

#[test]
fn on_wix_message_sent_to_business_example() {
    let event = delivered(
        "message_message_sent_to_business",
        fixture("MessageSentToBusiness"),
    );
    assert_eq!(
        event.instance_id(),
        Some("b7d3fb8c-0ea7-4d8c-8b50-1a1b1c1d1e1f")
    );
    let sent = sent_to_business(&event);
    assert_eq!(
        sent.conversation_id(),
        Some("5f65164f-b373-3cb9-be2e-f1fdc00c86a9")
    );
    assert_eq!(
        sent.sender_participant_id(),
        Some(ParticipantId::ContactId(
            "890a3816-85b4-44ab-9085-524972a850ef".into()
        ))
    );
    // A form has no text items; its summary is the preview text.
    assert_eq!(sent.plain_text(), None);
    let message = sent.message.as_ref().unwrap();
    assert_eq!(message.preview_text(), Some("JoJo Doe made an appointment"));
    // Wix's example was created by an app (a booking form) for the contact.
    assert!(sent.is_from_app(EXAMPLE_APP));
    assert!(!sent.is_from_app(MY_APP));
}

#[test]
fn on_wix_message_sent_to_participant_example() {
    let event = delivered(
        "message_message_sent_to_participant",
        fixture("MessageSentToParticipant"),
    );
    let InboxEvent::MessageSentToParticipant(sent) = &event.event else {
        panic!("{event:?}")
    };
    assert_eq!(
        sent.conversation_id(),
        Some("5f65164f-b373-3cb9-be2e-f1fdc00c86a9")
    );
    assert_eq!(
        sent.plain_text().as_deref(),
        Some(
            "Thanks for booking your spa day with us!\n\
             We've emailed your invoice. You'll find everything you need to know there."
        )
    );
    let message = sent.message.as_ref().unwrap();
    assert_eq!(
        message.sender_participant_id(),
        None,
        "a Wix user is no participant"
    );
    assert!(sent.is_from_app(EXAMPLE_APP));
    assert!(event.is_from_app(EXAMPLE_APP));
}

#[test]
fn on_wix_button_interacted_and_conversations_merged_examples() {
    let event = delivered("message_button_interacted", fixture("ButtonInteracted"));
    let InboxEvent::ButtonInteracted(pressed) = &event.event else {
        panic!("{event:?}")
    };
    assert_eq!(
        pressed.conversation_id(),
        Some("5f65164f-b373-3cb9-be2e-f1fdc00c86a9")
    );
    assert!(
        !event.is_from_app(EXAMPLE_APP),
        "the participant pressed the app's button"
    );
    assert_eq!(
        pressed.participant_id(),
        Some(ParticipantId::ContactId(
            "890a3816-85b4-44ab-9085-524972a850ef".into()
        ))
    );

    let event = delivered(
        "conversation_conversations_merged",
        fixture("ConversationsMerged"),
    );
    let InboxEvent::ConversationsMerged(merged) = &event.event else {
        panic!("{event:?}")
    };
    assert_eq!(
        merged.sources().collect::<Vec<_>>(),
        ["ef4437da-9ccd-39db-b96e-19b9d3b5d6c2"]
    );
    assert_eq!(
        merged.target(),
        Some("09e56fa9-4668-3250-a245-11cf1e398132")
    );
}

#[test]
fn absent_and_empty_fields_are_none_never_a_panic() {
    let sent = MessageSentToBusiness::default();
    assert_eq!(sent.conversation_id(), None);
    assert_eq!(sent.plain_text(), None);
    assert_eq!(sent.sender_participant_id(), None);
    assert!(!sent.is_from_app(MY_APP));

    let message = Message::default();
    assert_eq!(message.plain_text(), None);
    assert_eq!(message.preview_text(), None);
    assert_eq!(message.sender_participant_id(), None);
    assert!(!message.is_from_app(MY_APP));

    let sent = MessageSentToParticipant::default();
    assert_eq!(sent.conversation_id(), None);
    assert_eq!(sent.plain_text(), None);
    assert!(!sent.is_from_app(MY_APP));

    let pressed = ButtonInteracted::default();
    assert_eq!(pressed.conversation_id(), None);
    assert_eq!(pressed.participant_id(), None);

    let merged = ConversationsMerged::default();
    assert_eq!(merged.sources().count(), 0);
    assert_eq!(merged.target(), None);

    let conversation = Conversation::default();
    assert_eq!(conversation.id(), None);
    assert_eq!(conversation.participant_id(), None);
    assert_eq!(
        GetOrCreateConversationResponse::default().conversation_id(),
        None
    );

    // Present but empty counts as absent.
    let empty = Some(String::new());
    let sent = MessageSentToBusiness {
        conversation_id: empty.clone(),
        message: Some(Message {
            app_id: empty.clone(),
            content: Some(MessageContent::default()),
            sender: Some(IdentificationData {
                anonymous_visitor_id: empty.clone(),
                app_id: empty.clone(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(sent.conversation_id(), None);
    assert_eq!(sent.plain_text(), None);
    assert_eq!(sent.sender_participant_id(), None);
    assert!(!sent.is_from_app(""), "an empty app ID matches nothing");
    let merged = ConversationsMerged {
        old_conversation_ids: vec![String::new(), "a".into()],
        target_conversation_id: empty.clone(),
        ..Default::default()
    };
    assert_eq!(merged.sources().collect::<Vec<_>>(), ["a"]);
    assert_eq!(merged.target(), None);
    assert_eq!(
        Conversation {
            id: empty,
            ..Default::default()
        }
        .id(),
        None
    );

    // An event whose envelope has an empty `instanceId`.
    let mut unsigned = TestEvent::new(
        "wix.crm.inbox.v2.message_message_sent_to_business",
        json!({"id": "e1", "actionEvent": {"body": {}}}),
    );
    unsigned.instance_id = String::new();
    let token = TestSigner::shared().sign_event(&unsigned);
    let event = TestSigner::shared()
        .verifier()
        .verify(token.as_bytes())
        .unwrap();
    assert_eq!(event.instance_id(), None);
    let sent = sent_to_business(&event);
    assert_eq!(
        (
            sent.conversation_id(),
            sent.plain_text(),
            sent.is_from_app(MY_APP)
        ),
        (None, None, false)
    );
}

#[test]
fn conversation_accessors() {
    let response: GetOrCreateConversationResponse = serde_json::from_value(json!({
        "conversation": {
            "id": "6202c3bb-f263-3c16-8c90-d6387d9ed420",
            "participant": {"contactId": "c-1", "memberId": "m-1"}
        },
        "newConversation": false
    }))
    .unwrap();
    assert_eq!(
        response.conversation_id(),
        Some("6202c3bb-f263-3c16-8c90-d6387d9ed420")
    );
    let conversation = response.conversation.as_ref().unwrap();
    assert_eq!(conversation.id(), response.conversation_id());
    assert_eq!(
        conversation.participant_id(),
        Some(ParticipantId::MemberId("m-1".into()))
    );
}

/// The message an app sends with `sendAs: PARTICIPANT` and direction `PARTICIPANT_TO_BUSINESS`,
/// as Wix delivers it back: Wix's Message Sent To Business example with the visitor as sender,
/// a text, and the app's ID as `appId`.
fn own_message_as_participant(app_id: Option<&str>) -> Value {
    let mut event = fixture("MessageSentToBusiness");
    let message = &mut event["actionEvent"]["body"]["message"];
    message["direction"] = json!("PARTICIPANT_TO_BUSINESS");
    message["sender"] = json!({"anonymousVisitorId": VISITOR});
    message["content"] = json!({
        "previewText": "I'd like to book a massage",
        "basic": {"items": [{"text": "I'd like to book a massage"}]}
    });
    match app_id {
        Some(app_id) => message["appId"] = json!(app_id),
        None => {
            message.as_object_mut().unwrap().remove("appId");
        }
    }
    event
}

#[test]
fn an_apps_message_sent_as_the_participant_is_told_by_app_id_alone() {
    let event = delivered(
        "message_message_sent_to_business",
        own_message_as_participant(Some(MY_APP)),
    );
    assert!(event.is_from_app(MY_APP), "the event as a whole");
    let sent = sent_to_business(&event);
    // Everything a handler looks at says "the visitor wrote" ...
    assert_eq!(
        sent.sender_participant_id(),
        Some(ParticipantId::AnonymousVisitorId(VISITOR.into()))
    );
    assert_eq!(
        sent.message.as_ref().unwrap().direction,
        Some(MessageDirection::ParticipantToBusiness)
    );
    assert_eq!(
        sent.plain_text().as_deref(),
        Some("I'd like to book a massage")
    );
    // ... but the app ID says it was the app.
    assert!(sent.is_from_app(MY_APP));
    assert!(sent.message.as_ref().unwrap().is_from_app(MY_APP));
    assert!(
        !sent.is_from_app(EXAMPLE_APP),
        "another app's ID does not match"
    );

    // The same message written by the visitor (no appId, as the chat widget sends it).
    let event = delivered(
        "message_message_sent_to_business",
        own_message_as_participant(None),
    );
    let sent = sent_to_business(&event);
    assert_eq!(
        sent.sender_participant_id(),
        Some(ParticipantId::AnonymousVisitorId(VISITOR.into()))
    );
    assert!(!sent.is_from_app(MY_APP));
    assert!(!event.is_from_app(MY_APP));
}

#[test]
fn a_message_the_app_sent_as_itself_is_its_own() {
    let message = Message {
        sender: Some(IdentificationData {
            app_id: Some(MY_APP.into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert!(message.is_from_app(MY_APP));
    assert!(!message.is_from_app(EXAMPLE_APP));
    assert_eq!(message.sender_participant_id(), None);
}

/// The handler of the newcomer's app: answer every visitor, contact and member, never itself.
/// No `unwrap`, no `and_then`. Returns whether it answered.
async fn thank(
    client: &Client,
    app_id: &str,
    event: &WebhookEvent,
) -> Result<bool, wix_inbox::Error> {
    let InboxEvent::MessageSentToBusiness(sent) = &event.event else {
        return Ok(false);
    };
    if sent.is_from_app(app_id) {
        return Ok(false);
    }
    let (Some(conversation), Some(text)) = (sent.conversation_id(), sent.plain_text()) else {
        return Ok(false);
    };
    let reply = Message::reply(format!("Thanks, we got: {text}"));
    client
        .send_message()
        .body(SendMessageRequest::new(conversation, reply))
        .send()
        .await?;
    Ok(true)
}

/// Against the fake: the app sends as the participant (the fake delivers it back as Wix does,
/// with the visitor as sender and the app's `appId`); the handler answers the visitor, not its
/// own message.
#[tokio::test]
async fn the_thank_you_handler_answers_visitors_and_never_itself() {
    let fake = FakeInbox::start().await.unwrap();
    let app = fake.app_client_builder().build().unwrap();
    let verifier = WebhookVerifier::from_public_key(fake.public_key_pem()).unwrap();

    fake.visitor_writes("v-1", "Do you ship to Norway?");
    let conversation = app
        .get_or_create_conversation()
        .body(GetOrCreateConversationRequest {
            participant_id: ParticipantId::AnonymousVisitorId("v-1".into()),
        })
        .send()
        .await
        .unwrap()
        .into_inner();
    let conversation = conversation.conversation_id().unwrap().to_owned();
    let mut synced = Message::reply("I wrote this on WhatsApp");
    synced.direction = Some(MessageDirection::ParticipantToBusiness);
    let mut request = SendMessageRequest::new(&conversation, synced);
    request.send_as = Some(OverrideSenderOptions::Participant);
    app.send_message().body(request).send().await.unwrap();

    let mut answered = Vec::new();
    for sent in fake.events() {
        let event = verifier.verify(sent.jwt.as_bytes()).unwrap();
        if let InboxEvent::MessageSentToBusiness(body) = &event.event {
            assert_eq!(
                body.sender_participant_id(),
                Some(ParticipantId::AnonymousVisitorId("v-1".into())),
                "both look like the visitor's"
            );
        }
        answered.push(thank(&app, fake.app_id(), &event).await.unwrap());
    }
    assert_eq!(
        answered,
        [true, false],
        "the visitor's message, then the app's own"
    );
    let texts: Vec<_> = fake
        .messages(&conversation)
        .iter()
        .filter_map(Message::plain_text)
        .collect();
    assert_eq!(
        texts,
        [
            "Do you ship to Norway?",
            "I wrote this on WhatsApp",
            "Thanks, we got: Do you ship to Norway?"
        ]
    );
    fake.shutdown().await;
}
