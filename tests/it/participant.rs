//! Participant-ID rules: a member by member ID, a contact by contact ID, otherwise the anonymous
//! visitor ID; the business and apps are no participants. Every combination of the five IDs.

use wix_inbox::{
    types::{IdentificationData, ParticipantId},
    NotAParticipant,
};

/// The sender with the IDs whose bit is set in `mask`: member, contact, visitor, wixUser, app.
fn sender(mask: u8) -> IdentificationData {
    let id = |bit: u8, value: &str| (mask & (1 << bit) != 0).then(|| value.to_string());
    IdentificationData {
        member_id: id(0, "member"),
        contact_id: id(1, "contact"),
        anonymous_visitor_id: id(2, "visitor"),
        wix_user_id: id(3, "user"),
        app_id: id(4, "app"),
        ..Default::default()
    }
}

#[test]
fn every_combination_of_ids() {
    let mut seen = [0; 4];
    for mask in 0..32u8 {
        let sender = sender(mask);
        let (member, contact, visitor, user) =
            (mask & 1 != 0, mask & 2 != 0, mask & 4 != 0, mask & 8 != 0);
        let expected = if member {
            Ok(ParticipantId::MemberId("member".into()))
        } else if contact {
            Ok(ParticipantId::ContactId("contact".into()))
        } else if visitor {
            Ok(ParticipantId::AnonymousVisitorId("visitor".into()))
        } else if user {
            Err(NotAParticipant::BusinessUser)
        } else if mask & 16 != 0 {
            Err(NotAParticipant::App)
        } else {
            Err(NotAParticipant::Anonymous)
        };
        assert_eq!(ParticipantId::try_from(&sender), expected, "{sender:?}");
        assert_eq!(sender.participant_id(), expected.clone().ok(), "{sender:?}");
        seen[match expected {
            Ok(ParticipantId::MemberId(_)) => 0,
            Ok(ParticipantId::ContactId(_)) => 1,
            Ok(ParticipantId::AnonymousVisitorId(_)) => 2,
            Err(_) => 3,
        }] += 1;
    }
    assert_eq!(seen, [16, 8, 4, 4]);
}

#[test]
fn the_lifecycle_steps() {
    // A visitor writes first ...
    let visitor = IdentificationData {
        anonymous_visitor_id: Some("v-1".into()),
        ..Default::default()
    };
    assert_eq!(
        visitor.participant_id(),
        Some(ParticipantId::AnonymousVisitorId("v-1".into()))
    );
    // ... leaves contact details ...
    let contact = IdentificationData {
        contact_id: Some("c-1".into()),
        anonymous_visitor_id: Some("v-1".into()),
        ..Default::default()
    };
    assert_eq!(
        contact.participant_id(),
        Some(ParticipantId::ContactId("c-1".into()))
    );
    // ... and signs up: a member always has a contact ID too.
    let member = IdentificationData {
        contact_id: Some("c-1".into()),
        member_id: Some("m-1".into()),
        ..Default::default()
    };
    assert_eq!(
        member.participant_id(),
        Some(ParticipantId::MemberId("m-1".into()))
    );
}

#[test]
fn an_empty_id_counts_as_absent() {
    let sender = IdentificationData {
        member_id: Some(String::new()),
        contact_id: Some("c-1".into()),
        ..Default::default()
    };
    assert_eq!(
        sender.participant_id(),
        Some(ParticipantId::ContactId("c-1".into()))
    );
    let nobody = IdentificationData {
        anonymous_visitor_id: Some(String::new()),
        wix_user_id: Some(String::new()),
        ..Default::default()
    };
    assert_eq!(
        ParticipantId::try_from(&nobody),
        Err(NotAParticipant::Anonymous)
    );
}

#[test]
fn the_reason_reads_well() {
    assert!(NotAParticipant::BusinessUser
        .to_string()
        .contains("business"));
    assert!(NotAParticipant::App.to_string().contains("app"));
}

#[test]
fn a_webhook_sender_gives_the_id_to_get_or_create_with() {
    let body: wix_inbox::types::MessageSentToBusiness = serde_json::from_value(serde_json::json!({
        "conversationId": "conv-1",
        "message": {"sender": {"contactId": "c-9", "anonymousVisitorId": "v-9"}}
    }))
    .unwrap();
    let sender = body.message.unwrap().sender.unwrap();
    let request = wix_inbox::types::GetOrCreateConversationRequest {
        participant_id: sender.participant_id().unwrap(),
    };
    assert_eq!(
        serde_json::to_value(request).unwrap(),
        serde_json::json!({"participantId": {"contactId": "c-9"}})
    );
}
