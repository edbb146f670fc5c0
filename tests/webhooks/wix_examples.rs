//! Wix's own webhook examples, signed as Wix delivers them, decode with every field right.

use chrono::{DateTime, Utc};
use serde_json::json;
use wix_inbox::types::{self, ChannelType, IdentityType, MessageDirection, MessageVisibility};
use wix_inbox::webhooks::test_signer::TestEvent;
use wix_inbox::webhooks::{InboxEvent, WebhookEvent};

use super::{fixture, signer, verifier};

const SPA_IMAGE: &str = "https://static.wixstatic.com/media/f93e3d633e79921f14330f1911fc1139.jpg/v1/fill/w_1200,h_798,al_c,q_85,usm_0.66_1.00_0.01/f93e3d633e79921f14330f1911fc1139.webp";

fn time(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// Signs the example `name` under `event_type`, with a member identity and full account info.
fn deliver(event_type: &str, name: &str) -> WebhookEvent {
    let mut event = TestEvent::new(event_type, fixture(name));
    event.instance_id = "instance-1".to_owned();
    event.identity = Some(types::WebhookIdentity {
        identity_type: Some(types::IdentityType::Member),
        member_id: Some("member-1".into()),
        ..Default::default()
    });
    event.account_info = Some(types::AccountInfo {
        account_id: Some("account-1".into()),
        parent_account_id: Some("parent-1".into()),
        site_id: Some("site-1".into()),
        ..Default::default()
    });
    verifier()
        .verify(signer().sign_event(&event).as_bytes())
        .unwrap()
}

/// Checks the envelope fields that [`deliver`] sets.
fn check_envelope(event: &WebhookEvent, event_type: &str) {
    assert_eq!(event.event_type.as_deref(), Some(event_type));
    assert_eq!(event.instance_id.as_deref(), Some("instance-1"));
    let identity = event.identity.as_ref().unwrap();
    assert_eq!(identity.identity_type, Some(IdentityType::Member));
    assert_eq!(identity.member_id.as_deref(), Some("member-1"));
    assert_eq!(identity.anonymous_visitor_id, None);
    assert_eq!(identity.wix_user_id, None);
    assert_eq!(identity.app_id, None);
    let account = event.account_info.as_ref().unwrap();
    assert_eq!(account.account_id.as_deref(), Some("account-1"));
    assert_eq!(account.parent_account_id.as_deref(), Some("parent-1"));
    assert_eq!(account.site_id.as_deref(), Some("site-1"));
    assert_eq!(event.originated_from, None);
    assert_eq!(event.entity_event_sequence, None);
    assert_eq!(event.triggered_by_anonymize_request, Some(false));
}

#[test]
fn conversations_merged() {
    let t = "wix.crm.inbox.v2.conversation_conversations_merged";
    let event = deliver(t, "conversations_merged");
    check_envelope(&event, t);
    assert_eq!(event.id, "a59fcada-5c1b-48c9-ae10-72fdb468d606");
    assert_eq!(
        event.entity_fqdn.as_deref(),
        Some("wix.crm.inbox.v2.conversation")
    );
    assert_eq!(event.slug.as_deref(), Some("conversations_merged"));
    assert_eq!(
        event.entity_id.as_deref(),
        Some("e0ab51b4-c997-422e-b5f3-77eb60687171")
    );
    assert_eq!(event.event_time, Some(time("2021-12-29T10:03:22.019696Z")));
    let InboxEvent::ConversationsMerged(body) = event.event else {
        panic!("{:?}", event.event)
    };
    assert_eq!(
        body.old_conversation_ids,
        ["ef4437da-9ccd-39db-b96e-19b9d3b5d6c2"]
    );
    assert_eq!(
        body.target_conversation_id.as_deref(),
        Some("09e56fa9-4668-3250-a245-11cf1e398132")
    );
}

#[test]
fn message_sent_to_business() {
    let t = "wix.crm.inbox.v2.message_message_sent_to_business";
    let event = deliver(t, "message_sent_to_business");
    check_envelope(&event, t);
    assert_eq!(event.id, "95c2f87d-ae78-4df9-aa21-95189231d6f7");
    assert_eq!(
        event.entity_fqdn.as_deref(),
        Some("wix.crm.inbox.v2.message")
    );
    assert_eq!(event.slug.as_deref(), Some("message_sent_to_business"));
    assert_eq!(event.entity_id.as_deref(), Some("1640771667091213"));
    assert_eq!(event.event_time, Some(time("2021-12-29T09:54:27.272823Z")));
    let InboxEvent::MessageSentToBusiness(body) = event.event else {
        panic!("{:?}", event.event)
    };
    assert_eq!(
        body.conversation_id.as_deref(),
        Some("5f65164f-b373-3cb9-be2e-f1fdc00c86a9")
    );
    assert_eq!(body.interaction_info, None);
    let message = body.message.unwrap();
    assert!(message.target_channels.is_empty());
    assert_eq!(
        message.direction,
        Some(MessageDirection::ParticipantToBusiness)
    );
    assert_eq!(message.id.as_deref(), Some("1640771667091213"));
    assert_eq!(message.sequence.as_deref(), Some("1640771667091213"));
    let content = message.content.unwrap();
    assert_eq!(
        content.preview_text.as_deref(),
        Some("JoJo Doe made an appointment")
    );
    assert!(content.basic.is_none() && content.template.is_none());
    let form = content.form.unwrap();
    assert_eq!(form.title.as_deref(), Some("New Spa Appointment"));
    assert_eq!(
        form.description.as_deref(),
        Some("JoJo Doe made an appointment")
    );
    let fields: Vec<(&str, &str)> = form
        .fields
        .iter()
        .map(|f| (f.name.as_deref().unwrap(), f.value.as_deref().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [
            ("First Name", "JoJo"),
            ("Last Name", "Doe"),
            ("Treatments", "Massage, Mud Bath, Facial"),
            ("Appointment Date", "May 9, 2021"),
        ]
    );
    assert_eq!(form.media.len(), 1);
    let image = form.media[0].image.as_ref().unwrap();
    assert_eq!(image.url.as_deref(), Some(SPA_IMAGE));
    assert_eq!(image.width.map(|w| w.get()), Some(1200));
    assert_eq!(image.height.map(|h| h.get()), Some(798));
    let sender = message.sender.unwrap();
    assert_eq!(
        sender.contact_id.as_deref(),
        Some("890a3816-85b4-44ab-9085-524972a850ef")
    );
    assert_eq!(sender.member_id, None);
    assert_eq!(
        message.app_id.as_deref(),
        Some("a0c38670-6845-41e0-8f41-85a6054ccd98")
    );
    assert_eq!(message.visibility, Some(MessageVisibility::Business));
    assert_eq!(
        message.source_channel,
        Some(ChannelType::UnknownChannelType)
    );
    assert!(message.badges.is_empty());
    assert_eq!(message.created_date, Some(time("2021-12-29T09:54:27.091Z")));
}

#[test]
fn message_sent_to_participant() {
    let t = "wix.crm.inbox.v2.message_message_sent_to_participant";
    let event = deliver(t, "message_sent_to_participant");
    check_envelope(&event, t);
    assert_eq!(event.id, "3bd83c4f-0456-4180-bf06-f8103e88362e");
    assert_eq!(
        event.entity_fqdn.as_deref(),
        Some("wix.crm.inbox.v2.message")
    );
    assert_eq!(event.slug.as_deref(), Some("message_sent_to_participant"));
    assert_eq!(event.entity_id.as_deref(), Some("1640771623903770"));
    assert_eq!(event.event_time, Some(time("2021-12-29T09:53:44.025614Z")));
    let InboxEvent::MessageSentToParticipant(body) = event.event else {
        panic!("{:?}", event.event)
    };
    assert_eq!(
        body.conversation_id.as_deref(),
        Some("5f65164f-b373-3cb9-be2e-f1fdc00c86a9")
    );
    let message = body.message.unwrap();
    assert!(message.target_channels.is_empty());
    assert_eq!(
        message.direction,
        Some(MessageDirection::BusinessToParticipant)
    );
    assert_eq!(message.id.as_deref(), Some("1640771623903770"));
    assert_eq!(message.sequence.as_deref(), Some("1640771623903770"));
    let content = message.content.unwrap();
    assert_eq!(
        content.preview_text.as_deref(),
        Some("Thanks for booking your spa day with us!")
    );
    let items = content.basic.unwrap().items;
    assert_eq!(items.len(), 3);
    let image = items[0].image.as_ref().unwrap();
    assert_eq!(image.url.as_deref(), Some(SPA_IMAGE));
    assert_eq!(image.width.map(|w| w.get()), Some(1200));
    assert_eq!(image.height.map(|h| h.get()), Some(798));
    assert_eq!(items[0].text, None);
    assert_eq!(
        items[1].text.as_deref(),
        Some("Thanks for booking your spa day with us!")
    );
    assert_eq!(
        items[2].text.as_deref(),
        Some("We've emailed your invoice. You'll find everything you need to know there.")
    );
    let sender = message.sender.unwrap();
    assert_eq!(
        sender.wix_user_id.as_deref(),
        Some("72751428-2743-4bda-acf5-4218a4279cd3")
    );
    assert_eq!(
        message.app_id.as_deref(),
        Some("a0c38670-6845-41e0-8f41-85a6054ccd98")
    );
    assert_eq!(
        message.visibility,
        Some(MessageVisibility::BusinessAndParticipant)
    );
    assert_eq!(
        message.source_channel,
        Some(ChannelType::UnknownChannelType)
    );
    assert!(message.badges.is_empty());
    assert_eq!(message.created_date, Some(time("2021-12-29T09:53:43.903Z")));
}

#[test]
fn button_interacted() {
    let t = "wix.crm.inbox.v2.message_button_interacted";
    let event = deliver(t, "button_interacted");
    check_envelope(&event, t);
    assert_eq!(event.id, "690ad087-6530-4f44-a544-f1b29329b389");
    assert_eq!(
        event.entity_fqdn.as_deref(),
        Some("wix.crm.inbox.v2.message")
    );
    assert_eq!(event.slug.as_deref(), Some("button_interacted"));
    assert_eq!(
        event.entity_id.as_deref(),
        Some("32e63af1-f51b-4e2e-908f-8a5e8ed88650")
    );
    assert_eq!(event.event_time, Some(time("2021-12-29T09:50:04.918118Z")));
    let InboxEvent::ButtonInteracted(body) = event.event else {
        panic!("{:?}", event.event)
    };
    assert_eq!(
        body.conversation_id.as_deref(),
        Some("5f65164f-b373-3cb9-be2e-f1fdc00c86a9")
    );
    assert_eq!(
        body.app_id.as_deref(),
        Some("a0c38670-6845-41e0-8f41-85a6054ccd98")
    );
    assert_eq!(
        body.interaction_id.as_deref(),
        Some("spa_day_54321__change_appointment")
    );
    let by = body.interacted_by.unwrap();
    assert_eq!(
        by.contact_id.as_deref(),
        Some("890a3816-85b4-44ab-9085-524972a850ef")
    );
    assert_eq!(by.member_id, None);
}

#[test]
fn hyphenated_event_type_of_older_pages() {
    let t = "wix.crm.inbox.v2.message_message-sent-to-business";
    let event = deliver(t, "message_sent_to_business");
    assert_eq!(event.event_type.as_deref(), Some(t));
    assert!(matches!(event.event, InboxEvent::MessageSentToBusiness(_)));
}

#[test]
fn recognized_by_fqdn_and_slug_without_event_type() {
    let event = deliver("", "button_interacted");
    assert!(matches!(event.event, InboxEvent::ButtonInteracted(_)));
}

#[test]
fn body_as_json_string_of_older_payloads() {
    let mut domain = fixture("conversations_merged");
    let body = domain["actionEvent"]["body"].to_string();
    domain["actionEvent"]["body"] = json!(body);
    let event = TestEvent::new("wix.crm.inbox.v2.conversation_conversations_merged", domain);
    let event = verifier()
        .verify(signer().sign_event(&event).as_bytes())
        .unwrap();
    let InboxEvent::ConversationsMerged(body) = event.event else {
        panic!()
    };
    assert_eq!(
        body.target_conversation_id.as_deref(),
        Some("09e56fa9-4668-3250-a245-11cf1e398132")
    );
}

#[test]
fn unknown_event_keeps_its_body() {
    let domain = json!({
        "id": "u1", "entityFqdn": "wix.crm.inbox.v2.conversation", "slug": "conversation_deleted",
        "actionEvent": {"body": {"conversationId": "c9", "extra": [1, 2]}},
        "entityEventSequence": "17", "originatedFrom": "v4"
    });
    let event = TestEvent::new("wix.crm.inbox.v2.conversation_conversation_deleted", domain);
    let event = verifier()
        .verify(signer().sign_event(&event).as_bytes())
        .unwrap();
    assert_eq!(event.entity_event_sequence.as_deref(), Some("17"));
    assert_eq!(event.originated_from.as_deref(), Some("v4"));
    assert_eq!(
        event.identity.unwrap().identity_type,
        Some(IdentityType::AnonymousVisitor)
    );
    match event.event {
        InboxEvent::Other { event_type, body } => {
            assert_eq!(
                event_type,
                "wix.crm.inbox.v2.conversation_conversation_deleted"
            );
            assert_eq!(body, json!({"conversationId": "c9", "extra": [1, 2]}));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_identity_type_and_no_identity() {
    let mut event = TestEvent::new("x.y_z", json!({"id": "i1"}));
    event.identity = Some(types::WebhookIdentity {
        identity_type: Some("ROBOT".into()),
        app_id: Some("a1".into()),
        ..Default::default()
    });
    let decoded = verifier()
        .verify(signer().sign_event(&event).as_bytes())
        .unwrap();
    let identity = decoded.identity.unwrap();
    assert_eq!(identity.identity_type.unwrap().as_str(), "ROBOT");
    assert_eq!(identity.app_id.as_deref(), Some("a1"));
    assert!(matches!(
        decoded.event,
        InboxEvent::Other {
            body: serde_json::Value::Null,
            ..
        }
    ));

    event.identity = None;
    event.account_info = None;
    let decoded = verifier()
        .verify(signer().sign_event(&event).as_bytes())
        .unwrap();
    assert_eq!(decoded.identity, None);
    assert_eq!(decoded.account_info, None);
}

#[test]
fn base64_of_the_pem_is_accepted_as_key() {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(signer().public_key_pem());
    let verifier = wix_inbox::webhooks::WebhookVerifier::from_public_key(&encoded).unwrap();
    let token = super::good_token();
    assert!(verifier.verify(token.as_bytes()).is_ok());
}

/// Names that come close to an Inbox event's but are not it are other events.
#[test]
fn near_names_are_other_events() {
    for event_type in [
        // Longer or shorter than a known name, with it as a prefix.
        "wix.crm.inbox.v2.message_message_sent_to_business_v2",
        "wix.crm.inbox.v2.message_message_sent_to_busines",
        // As long as a known name, one character off.
        "wix.crm.inbox.v2.message_message_sent_to_businesX",
        // `_` of the name replaced by something that is not `-`.
        "wix.crm.inbox.v2.messagexmessage_sent_to_business",
        // `-` where the name has a letter.
        "wix.crm.inbox.v2.message_message_sent_to_-usiness",
    ] {
        // Without the entity and slug, by which the event would still be recognized.
        let mut domain = fixture("message_sent_to_business");
        let fields = domain.as_object_mut().unwrap();
        fields.remove("entityFqdn").unwrap();
        fields.remove("slug").unwrap();
        let event = TestEvent::new(event_type, domain);
        let decoded = verifier()
            .verify(signer().sign_event(&event).as_bytes())
            .unwrap();
        match decoded.event {
            InboxEvent::Other { event_type: t, .. } => assert_eq!(t, event_type),
            other => panic!("{event_type} decoded as {other:?}"),
        }
    }
}

/// Without an `eventType`, the entity and the slug must both match.
#[test]
fn fqdn_and_slug_must_both_match() {
    for (fqdn, slug) in [
        ("wix.crm.inbox.v2.message", "message_deleted"),
        ("wix.crm.inbox.v2.conversation", "message_sent_to_business"),
        ("wix.crm.inbox.v2.message", "message_sent_to_business_v2"),
    ] {
        let mut domain = fixture("message_sent_to_business");
        domain["entityFqdn"] = json!(fqdn);
        domain["slug"] = json!(slug);
        let event = TestEvent::new("", domain);
        let decoded = verifier()
            .verify(signer().sign_event(&event).as_bytes())
            .unwrap();
        match decoded.event {
            InboxEvent::Other { event_type, body } => {
                assert_eq!(event_type, "");
                assert!(body.is_object(), "{body}");
            }
            other => panic!("{fqdn} {slug} decoded as {other:?}"),
        }
    }
    let mut domain = fixture("message_sent_to_business");
    domain["slug"] = json!("message-sent-to-business");
    let decoded = verifier()
        .verify(signer().sign_event(&TestEvent::new("", domain)).as_bytes())
        .unwrap();
    assert!(matches!(
        decoded.event,
        InboxEvent::MessageSentToBusiness(_)
    ));
}

/// An empty event ID is no ID: duplicates could not be told apart.
#[test]
fn an_empty_event_id_is_refused() {
    let mut domain = fixture("message_sent_to_business");
    domain["id"] = json!("");
    let err = verifier()
        .verify(signer().sign_event(&TestEvent::new("x", domain)).as_bytes())
        .unwrap_err();
    assert!(
        matches!(
            err,
            wix_inbox::webhooks::WebhookError::Malformed {
                layer: wix_inbox::webhooks::Layer::DomainEvent,
                ..
            }
        ),
        "{err:?}"
    );
}
