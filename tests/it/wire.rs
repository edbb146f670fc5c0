//! The wire quirks of Wix's payloads, each its own test.

use serde_json::json;
use wix_inbox::types::{self, ChannelType, MessageVisibility, ParticipantId};

#[test]
fn unknown_enum_value_is_kept_verbatim() {
    let body = json!({"id": "c1", "channels": ["CHAT", "TELEGRAM"]});
    let c: types::Conversation = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(c.channels[0], ChannelType::Chat);
    let other = &c.channels[1];
    assert!(!other.is_known());
    assert_eq!(other.as_str(), "TELEGRAM");
    assert_eq!(other.to_string(), "TELEGRAM");
    assert_eq!(serde_json::to_value(&c).unwrap(), body);
}

#[test]
fn known_enum_values_stay_typed_and_parse_from_str() {
    assert_eq!(
        "BUSINESS".parse::<MessageVisibility>().unwrap(),
        MessageVisibility::Business
    );
    assert_eq!(
        MessageVisibility::BusinessAndParticipant.as_str(),
        "BUSINESS_AND_PARTICIPANT"
    );
    assert!(ChannelType::KNOWN.contains(&"WHATSAPP"));
    // An "unknown" value built from a known string is the known variant, never `Other`.
    assert_eq!(ChannelType::from("SMS".to_string()), ChannelType::Sms);
}

#[test]
fn unknown_field_is_accepted_and_kept() {
    let body = json!({"message": {"id": "1", "sequence": "2", "brandNewField": {"x": [1, 2]}}});
    let r: types::SendMessageResponse = serde_json::from_value(body.clone()).unwrap();
    let message = r.message.as_ref().unwrap();
    assert_eq!(message.id.as_deref(), Some("1"));
    // Kept beside the named fields, and given back when serialized.
    assert_eq!(message.extra["brandNewField"], json!({"x": [1, 2]}));
    assert!(!message.extra.contains_key("id"));
    assert_eq!(serde_json::to_value(&r).unwrap(), body);
}

#[test]
fn a_value_built_in_code_has_no_unknown_fields() {
    // `Default` and the builders start with none, and serialize none.
    let message = types::Message::reply("hi");
    assert!(message.extra.is_empty());
    let built: types::Cursors = types::Cursors::builder()
        .next(Some("c2".to_string()))
        .try_into()
        .unwrap();
    assert!(built.extra.is_empty());
    assert_eq!(serde_json::to_value(&built).unwrap(), json!({"next": "c2"}));
    // A builder can carry one on.
    let mut extra = serde_json::Map::new();
    extra.insert("later".into(), json!(true));
    let built: types::Cursors = types::Cursors::builder().extra(extra).try_into().unwrap();
    assert_eq!(
        serde_json::to_value(&built).unwrap(),
        json!({"later": true})
    );
}

#[test]
fn a_known_field_of_the_wrong_type_is_still_an_error() {
    // Keeping unknown fields does not make a known one lenient.
    let body = json!({"message": {"id": 7}});
    assert!(serde_json::from_value::<types::SendMessageResponse>(body).is_err());
}

#[test]
fn float_for_int_is_accepted() {
    let body = json!({"url": "https://x/y.png", "width": 1200.0, "height": "798"});
    let image: types::ImageMessage = serde_json::from_value(body).unwrap();
    assert_eq!(image.width.unwrap(), 1200);
    assert_eq!(image.height.unwrap().get(), 798);
    assert_eq!(serde_json::to_value(&image).unwrap()["width"], json!(1200));
    // A real fraction is not an integer.
    assert!(serde_json::from_value::<types::ImageMessage>(json!({"width": 1.5})).is_err());
}

#[test]
fn microsecond_and_millisecond_timestamps_parse() {
    for (text, micros) in [
        ("2021-12-29T09:53:44.025614Z", 25_614),
        ("2021-12-29T09:53:43.903Z", 903_000),
        ("2021-12-29T09:53:43Z", 0),
    ] {
        let e: types::DomainEvent = serde_json::from_value(json!({"eventTime": text})).unwrap();
        let t = e.event_time.unwrap();
        assert_eq!(t.timestamp_subsec_micros(), micros, "{text}");
    }
}

#[test]
fn int64_values_arrive_as_strings() {
    let m: types::Message = serde_json::from_value(json!({
        "id": "1640771623903770", "sequence": "1640771623903770"
    }))
    .unwrap();
    assert_eq!(m.sequence.as_deref(), Some("1640771623903770"));
    let e: types::DomainEvent =
        serde_json::from_value(json!({"entityEventSequence": "9007199254740993"})).unwrap();
    assert_eq!(e.entity_event_sequence.as_deref(), Some("9007199254740993"));
}

#[test]
fn action_event_body_may_be_an_object_or_a_string() {
    let as_object: types::DomainEvent = serde_json::from_value(json!({
        "actionEvent": {"body": {"targetConversationId": "t"}}
    }))
    .unwrap();
    let body = as_object.action_event.unwrap().body.unwrap();
    assert!(body.to_value().is_object());
    let merged: types::ConversationsMerged = body.parse().unwrap();
    assert_eq!(merged.target_conversation_id.as_deref(), Some("t"));
    let as_string: types::DomainEvent = serde_json::from_value(json!({
        "actionEvent": {"body": "{\"targetConversationId\":\"t\"}"}
    }))
    .unwrap();
    let body = as_string.action_event.unwrap().body.unwrap();
    assert_eq!(body.to_value(), json!("{\"targetConversationId\":\"t\"}"));
}

#[test]
fn participant_id_is_exactly_one_id() {
    let p = ParticipantId::MemberId("m1".into());
    assert_eq!(serde_json::to_value(&p).unwrap(), json!({"memberId": "m1"}));
    let back: ParticipantId = serde_json::from_value(json!({"contactId": "c1"})).unwrap();
    assert_eq!(back, ParticipantId::ContactId("c1".into()));
    // None, or two at once, cannot be represented.
    assert!(serde_json::from_value::<ParticipantId>(json!({})).is_err());
    assert!(
        serde_json::from_value::<ParticipantId>(json!({"contactId": "c1", "memberId": "m1"}))
            .is_err()
    );
}

#[test]
fn error_body_parts_are_all_optional() {
    let parse = |body| serde_json::from_value::<types::ErrorResponse>(body).unwrap();

    let empty = parse(json!({}));
    assert_eq!(empty.message, None);
    assert!(empty.details.is_none());

    let message_only = parse(json!({"message": "not found"}));
    assert_eq!(message_only.message.as_deref(), Some("not found"));
    assert!(message_only.details.is_none());

    let code_only =
        parse(json!({"details": {"applicationError": {"code": "CONVERSATION_NOT_FOUND"}}}));
    assert_eq!(code_only.message, None);
    let details = code_only.details.unwrap();
    assert!(details.validation_error.is_none());
    let application = details.application_error.unwrap();
    assert_eq!(
        application.code,
        Some(wix_inbox::types::ApplicationErrorCode::ConversationNotFound)
    );
    assert_eq!(application.description, None);

    let violations_only = parse(
        json!({"details": {"validationError": {"fieldViolations": [{"field": "conversationId", "violatedRule": "REQUIRED_FIELD"}]}}}),
    );
    assert_eq!(violations_only.message, None);
    let details = violations_only.details.unwrap();
    assert!(details.application_error.is_none());
    let violations = details.validation_error.unwrap().field_violations;
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].field.as_deref(), Some("conversationId"));
    assert_eq!(
        violations[0].violated_rule.as_deref(),
        Some("REQUIRED_FIELD")
    );
    assert_eq!(violations[0].description, None);
}

#[test]
fn null_for_an_array_reads_as_empty() {
    let page: wix_inbox::types::ListMessagesResponse =
        serde_json::from_str(r#"{"messages": null}"#).unwrap();
    assert!(page.messages.is_empty());
    let merged: wix_inbox::types::ConversationsMerged =
        serde_json::from_str(r#"{"oldConversationIds": null, "targetConversationId": "c2"}"#)
            .unwrap();
    assert!(merged.old_conversation_ids.is_empty());
    assert_eq!(merged.target_conversation_id.as_deref(), Some("c2"));
    // Anything else that is not an array still fails.
    assert!(
        serde_json::from_str::<wix_inbox::types::ListMessagesResponse>(r#"{"messages": "none"}"#)
            .is_err()
    );
}
