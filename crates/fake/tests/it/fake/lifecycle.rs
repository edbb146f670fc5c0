//! The participant lifecycle on the fake: visitor, contact, member, and the merges.

use super::*;

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
