//! The production client against the fake, and the fake's limits (the request log, slow and
//! held connections).

use super::*;

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
