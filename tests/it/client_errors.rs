//! `wix_inbox::Error`: what an error answer, an empty body, a malformed body or an unknown value
//! become.

use serde_json::json;
use wix_inbox::{types, ErrorCode, ErrorKind, RetryPolicy};

use crate::harness::{json, raw, Server};

async fn get(server: &Server) -> Result<types::GetConversationResponse, wix_inbox::Error> {
    server
        .builder()
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap()
        .get_conversation()
        .conversation_id("conv-1")
        .send()
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn an_application_error_is_classified() {
    let server = Server::start(|_, _| async {
        json(
            404,
            json!({"message": "Conversation not found", "details": {"applicationError": {
                "code": "CONVERSATION_NOT_FOUND", "description": "no such conversation"}}}),
            &[("x-wix-request-id", "1700000000.123")],
        )
    })
    .await;
    let e = get(&server).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Api);
    assert_eq!(e.status().map(|s| s.as_u16()), Some(404));
    assert_eq!(e.code(), Some(&ErrorCode::ConversationNotFound));
    assert_eq!(e.message(), Some("Conversation not found"));
    assert_eq!(e.request_id(), Some("1700000000.123"));
    assert_eq!(e.operation(), Some("get_conversation"));
    assert_eq!(e.attempts(), 1);
    assert!(e.is_not_found());
    assert!(!e.is_retryable());
    let text = e.to_string();
    for part in [
        "Get Conversation failed",
        "404",
        "CONVERSATION_NOT_FOUND",
        "Conversation not found",
        "request ID 1700000000.123",
    ] {
        assert!(text.contains(part), "{part:?} missing from {text}");
    }
    let hint = e.hint().unwrap();
    assert!(hint.contains("Get Or Create Conversation"), "{hint}");
    assert!(
        !text.contains(&*hint),
        "the advice is not in the error's text"
    );
}

#[tokio::test]
async fn every_documented_code_is_known_and_others_are_kept() {
    for code in [
        "CONVERSATION_NOT_FOUND",
        "NOT_OWNED_BY_BUSINESS",
        "NO_INBOX_INSTANCE",
        "NOT_JOINED_CHATROOM",
        "INBOX_INSTANCE_NOT_FOUND",
        "IDENTITY_DOES_NOT_MATCH",
        "INVALID_MEDIA_URL",
    ] {
        let parsed = ErrorCode::from(code);
        assert!(!matches!(parsed, ErrorCode::Other(_)), "{code}");
        assert_eq!(parsed.as_str(), code);
        assert_eq!(parsed.to_string(), code);
    }
    let server = Server::start(|_, _| async {
        json(
            428,
            json!({"details": {"applicationError": {"code": "APP_NOT_INSTALLED"}}}),
            &[],
        )
    })
    .await;
    let e = get(&server).await.unwrap_err();
    let code = e.code().unwrap();
    assert!(matches!(code, ErrorCode::Other(_)), "{code:?}");
    assert_eq!(code.as_str(), "APP_NOT_INSTALLED");
    assert!(e.hint().unwrap().contains("installed"), "{e}");
}

#[tokio::test]
async fn a_validation_error_carries_the_field_violations() {
    let server = Server::start(|_, _| async {
        json(
            400,
            json!({"message": "invalid request", "details": {"validationError": {"fieldViolations": [
                {"field": "message.visibility", "description": "must not be UNKNOWN_VISIBILITY",
                 "violatedRule": "REQUIRED_FIELD"}
            ]}}}),
            &[],
        )
    })
    .await;
    let e = get(&server).await.unwrap_err();
    assert!(e.is_validation());
    assert!(!e.is_not_found(), "a 400 without CONVERSATION_NOT_FOUND");
    let response = e.response().expect("Wix's error JSON, as it came");
    assert_eq!(response.message.as_deref(), Some("invalid request"));
    assert_eq!(e.field_violations().len(), 1);
    assert_eq!(
        e.field_violations()[0].field.as_deref(),
        Some("message.visibility")
    );
    let text = e.to_string();
    assert!(text.contains("message.visibility"), "{text}");
    assert!(text.contains("REQUIRED_FIELD"), "{text}");
}

#[tokio::test]
async fn an_empty_5xx_body_is_an_api_error_not_a_decode_error() {
    let server =
        Server::start(|_, _| async { raw(500, "", &[("x-wix-request-id", "r-500")]) }).await;
    let e = get(&server).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Api);
    assert_eq!(e.status().map(|s| s.as_u16()), Some(500));
    assert_eq!(e.request_id(), Some("r-500"));
    assert!(e.message().is_none());
}

#[tokio::test]
async fn a_non_json_error_body_is_still_an_api_error() {
    let server = Server::start(|_, _| async {
        raw(
            502,
            "<html>Bad Gateway</html>",
            &[("x-wix-request-id", "r-502")],
        )
    })
    .await;
    let e = get(&server).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Api);
    assert_eq!(e.status().map(|s| s.as_u16()), Some(502));
    assert_eq!(e.request_id(), Some("r-502"));
}

#[tokio::test]
async fn malformed_json_is_a_decode_error_with_status_and_request_id() {
    let server = Server::start(|_, _| async {
        raw(
            200,
            r#"{"conversation": {"id": "c", "#,
            &[
                ("content-type", "application/json"),
                ("x-wix-request-id", "r-bad"),
            ],
        )
    })
    .await;
    let e = get(&server).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert_eq!(e.status().map(|s| s.as_u16()), Some(200));
    assert_eq!(e.request_id(), Some("r-bad"));
    assert!(std::error::Error::source(&e).is_some());
    assert!(e.to_string().contains("could not be read"), "{e}");
}

#[tokio::test]
async fn an_unknown_enum_value_in_an_answer_is_kept() {
    let server = Server::start(|_, _| async {
        json(
            200,
            json!({"messages": [{"id": "1", "sequence": "7", "visibility": "ONLY_BOTS",
                   "direction": "BUSINESS_TO_PARTICIPANT", "sourceChannel": "TELEGRAM"}]}),
            &[],
        )
    })
    .await;
    let page = server
        .client()
        .list_messages()
        .conversation_id("conv-1")
        .visibility(types::MessageVisibility::Business)
        .send()
        .await
        .unwrap();
    let message = &page.messages[0];
    assert_eq!(
        message.visibility.as_ref().map(|v| v.as_str()),
        Some("ONLY_BOTS")
    );
    assert!(!message.visibility.as_ref().unwrap().is_known());
    assert_eq!(
        message.source_channel.as_ref().map(|c| c.as_str()),
        Some("TELEGRAM")
    );
}

#[tokio::test]
async fn a_missing_argument_is_an_invalid_request_and_nothing_is_sent() {
    let server = Server::start(|_, _| async { json(200, json!({}), &[]) }).await;
    let e = server.client().get_conversation().send().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    assert!(e.to_string().contains("conversation_id"), "{e}");
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn statuses_get_advice() {
    for (status, advice) in [
        (401, "Check the credentials"),
        (403, "permission scope"),
        (429, "200 requests a minute"),
        (503, "try again later"),
    ] {
        let server = Server::start(move |_, _| async move { json(status, json!({}), &[]) }).await;
        let e = get(&server).await.unwrap_err();
        let hint = e.hint().unwrap();
        assert!(hint.contains(advice), "{status}: {hint}");
        assert_eq!(e.is_auth(), status == 401 || status == 403);
    }
}

#[test]
fn the_error_is_a_std_error_that_crosses_threads() {
    fn assert_error<T: std::error::Error + Send + Sync + 'static>() {}
    assert_error::<wix_inbox::Error>();
    assert_error::<wix_inbox::NotAParticipant>();
}

#[tokio::test]
async fn an_error_walked_as_a_chain_shows_each_text_once() {
    // A refused connection: the error, reqwest's, hyper's, and the system's words.
    let refused = crate::harness::refused_url();
    let client = wix_inbox::Client::builder()
        .base_url(&refused.url)
        .no_auth()
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap();
    let e = client
        .get_conversation()
        .conversation_id("c")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect);
    let mut texts = vec![e.to_string()];
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        texts.push(c.to_string());
        cause = c.source();
    }
    assert!(texts.len() >= 2, "{texts:?}");
    assert_eq!(texts[0], "Get Conversation failed: could not connect");
    for (i, outer) in texts.iter().enumerate() {
        for inner in &texts[i + 1..] {
            assert!(
                !outer.contains(inner.as_str()),
                "{outer:?} repeats {inner:?}"
            );
        }
    }
    // The advice is not in the text either: it is the hint.
    assert_eq!(
        e.hint().as_deref(),
        Some("Check the network and the base URL.")
    );
}

#[tokio::test]
async fn each_field_violation_is_printed_once() {
    // Wix's (and the fake's) message already lists the violations.
    let server = Server::start(|_, _| async {
        json(
            400,
            json!({"message": "conversationId: must be a GUID", "details": {"validationError": {
                "fieldViolations": [{"field": "conversationId", "description": "must be a GUID",
                                     "violatedRule": "FORMAT"}]}}}),
            &[],
        )
    })
    .await;
    let e = get(&server).await.unwrap_err();
    assert!(e.is_validation());
    let text = e.to_string();
    assert_eq!(text.matches("must be a GUID").count(), 1, "{text}");
    assert_eq!(text.matches("conversationId").count(), 1, "{text}");
    assert!(text.contains("FORMAT"), "{text}");
    // A message that says something else is kept beside the violations.
    let server = Server::start(|_, _| async {
        json(
            400,
            json!({"message": "invalid request", "details": {"validationError": {
                "fieldViolations": [{"field": "conversationId", "description": "must be a GUID"}]}}}),
            &[],
        )
    })
    .await;
    let text = get(&server).await.unwrap_err().to_string();
    assert!(text.contains("invalid request"), "{text}");
    assert_eq!(text.matches("must be a GUID").count(), 1, "{text}");
}

#[tokio::test]
async fn a_non_json_error_body_says_so_with_its_first_line_cleaned() {
    let server = Server::start(|_, _| async {
        raw(
            502,
            "<html><head><title>502 Bad\u{1b}[31m Gateway</title></head>\n<body>nginx</body></html>",
            &[("content-type", "text/html"), ("x-wix-request-id", "r-html")],
        )
    })
    .await;
    let e = get(&server).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Api);
    assert_eq!(e.status().map(|s| s.as_u16()), Some(502));
    assert_eq!(e.request_id(), Some("r-html"));
    assert!(e.response().is_none());
    let text = crate::hardening::chain(&e);
    assert!(text.contains("502 Bad Gateway"), "{text}");
    assert!(text.contains("not JSON"), "{text}");
    assert!(
        text.contains("<title>502 Bad\u{fffd}[31m Gateway</title>"),
        "{text}"
    );
    assert!(!text.contains("nginx"), "only the first line: {text}");
    assert!(!text.contains("expected value"), "{text}");
    assert!(!text.contains("line 1 column"), "{text}");
}
