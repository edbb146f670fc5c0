//! Conversations and messages on the fake.

use super::*;

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
