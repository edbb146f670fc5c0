//! List Messages (cursor paging, visibility, order) and Send Message (checks, the sender, the
//! webhook it delivers).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use super::errors::{check_conversation_id, parse_json, violation, ApiError};
use super::oauth::{authenticate, Caller};
use super::Shared;
use crate::store::Missing;
use crate::webhooks;
use wix_inbox::types::{
    Cursors, FieldViolation, IdentificationData, IdentityType, ListMessagesResponse,
    MessageDirection, MessageSentToBusiness, MessageSentToParticipant, MessageVisibility,
    OverrideSenderOptions, PagingMetadataV2, SendMessageRequest, SendMessageResponse, SortOrder,
    WebhookIdentity,
};

// ---------------------------------------------------------------------------------------------
// List Messages

const DEFAULT_LIMIT: i64 = 30;

/// A List Messages cursor: the query it continues and the last sequence returned.
struct Cursor {
    conversation_id: String,
    order: SortOrder,
    visibility: MessageVisibility,
    after: i64,
}

impl Cursor {
    fn encode(&self) -> String {
        let text = format!(
            "v1|{}|{}|{}|{}",
            self.conversation_id, self.order, self.visibility, self.after
        );
        text.bytes().map(|b| format!("{b:02x}")).collect()
    }

    fn decode(s: &str) -> Option<Cursor> {
        if !s.len().is_multiple_of(2) || !s.is_ascii() {
            return None;
        }
        let bytes = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.split('|');
        if parts.next()? != "v1" {
            return None;
        }
        let cursor = Cursor {
            conversation_id: parts.next()?.to_owned(),
            order: SortOrder::from(parts.next()?),
            visibility: MessageVisibility::from(parts.next()?),
            after: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(cursor)
    }
}

pub(super) async fn list_messages(
    State(inner): State<Shared>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<ListMessagesResponse>, ApiError> {
    let (_, instance) = authenticate(&inner, &headers)?;
    let Query(pairs) = query.map_err(|e| ApiError::one("query", &e.body_text(), "FORMAT"))?;
    let q: HashMap<String, String> = pairs.into_iter().collect();
    let get = |k: &str| q.get(k).map(String::as_str);
    // The query string is held to the spec already (`conform_query`): the required values are
    // given, and each enum and integer is within its rules.
    let mut violations = Vec::new();
    let conversation_id = check_conversation_id(get("conversationId"))
        .map_err(|v| violations.push(v))
        .ok();
    let mut visibility = get("visibility").map(MessageVisibility::from);
    let limit = get("paging.limit")
        .and_then(|raw| raw.parse::<i64>().ok())
        .unwrap_or(DEFAULT_LIMIT);
    let mut order = get("sorting.order").map_or(SortOrder::Desc, SortOrder::from);

    let mut after = None;
    if let Some(raw) = get("paging.cursor").filter(|c| !c.is_empty()) {
        match Cursor::decode(raw) {
            Some(c) if Some(&c.conversation_id) == conversation_id.as_ref() => {
                // The cursor carries its query: visibility and order as on the first page.
                order = c.order;
                visibility = Some(c.visibility);
                after = Some(c.after);
            }
            Some(_) => violations.push(violation(
                "paging.cursor",
                "paging.cursor belongs to another conversation",
                "FORMAT",
            )),
            None => violations.push(violation(
                "paging.cursor",
                "paging.cursor is not a cursor this server returned",
                "FORMAT",
            )),
        }
    }

    if !violations.is_empty() {
        return Err(ApiError::validation(violations));
    }
    let (Some(conversation_id), Some(visibility)) = (conversation_id, visibility) else {
        let missing = violation("visibility", "visibility is required", "REQUIRED_FIELD");
        return Err(ApiError::validation(vec![missing]));
    };
    let state = inner.state();
    if state
        .store
        .instance_of(&conversation_id)
        .is_some_and(|i| i != instance)
    {
        // Another site's conversation is none of this caller's.
        return Err(ApiError::conversation_not_found(
            &conversation_id,
            Missing::Unknown,
        ));
    }
    let page = state
        .store
        .page(
            &conversation_id,
            &visibility,
            &order,
            after,
            usize::try_from(limit).unwrap_or(30),
        )
        .map_err(|why| ApiError::conversation_not_found(&conversation_id, why))?;
    drop(state);
    let next = page.last_sequence_if_more.map(|after| {
        Cursor {
            conversation_id: conversation_id.clone(),
            order,
            visibility,
            after,
        }
        .encode()
    });
    let count = i32::try_from(page.messages.len()).unwrap_or(i32::MAX);
    Ok(Json(ListMessagesResponse {
        messages: page.messages,
        paging_metadata: Some(PagingMetadataV2 {
            count: Some(count.into()),
            cursors: Some(Cursors {
                next,
                prev: None,
                ..Default::default()
            }),
            offset: None,
            too_many_to_count: None,
            total: None,
            ..Default::default()
        }),
        ..Default::default()
    }))
}

// ---------------------------------------------------------------------------------------------
// Send Message

/// Whether `url` is one Wix fetches media from: `http://` or `https://` and a host.
fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|rest| !rest.is_empty())
}

fn check_message(request: &SendMessageRequest) -> Vec<FieldViolation> {
    let mut violations = Vec::new();
    let m = &request.message;
    match &m.content {
        None => violations.push(violation(
            "message.content",
            "message.content is required",
            "REQUIRED_FIELD",
        )),
        Some(c) => {
            let kinds = [
                c.basic.is_some(),
                c.template.is_some(),
                c.minimal.is_some(),
                c.form.is_some(),
                c.system.is_some(),
            ];
            if kinds.iter().filter(|&&kind| kind).count() != 1 {
                violations.push(violation(
                    "message.content",
                    "message.content needs exactly one of basic, template, minimal, form or system",
                    "ONE_OF",
                ));
            }
            if let Some(basic) = &c.basic {
                if basic.items.is_empty() {
                    violations.push(violation(
                        "message.content.basic.items",
                        "message.content.basic.items must not be empty",
                        "MIN_SIZE",
                    ));
                }
                for (i, item) in basic.items.iter().enumerate() {
                    let at = format!("message.content.basic.items[{i}]");
                    let kinds = [
                        item.text.is_some(),
                        item.image.is_some(),
                        item.file.is_some(),
                    ];
                    if kinds.iter().filter(|&&kind| kind).count() != 1 {
                        violations.push(violation(
                            &at,
                            "an item needs exactly one of text, image or file",
                            "ONE_OF",
                        ));
                    }
                    let image = item.image.as_ref().map(|m| ("image", m.url.as_deref()));
                    let file = item.file.as_ref().map(|m| ("file", m.url.as_deref()));
                    for (kind, url) in image.into_iter().chain(file) {
                        let at = format!("{at}.{kind}.url");
                        match url {
                            None => violations.push(violation(
                                &at,
                                &format!("{at} is required"),
                                "REQUIRED_FIELD",
                            )),
                            Some(url) if !is_http_url(url) => violations.push(violation(
                                &at,
                                &format!("{at} must be an http or https URL"),
                                "FORMAT",
                            )),
                            Some(_) => {}
                        }
                    }
                }
            }
        }
    }
    match &m.direction {
        None | Some(MessageDirection::UnknownDirection) => violations.push(violation(
            "message.direction",
            "message.direction is required: BUSINESS_TO_PARTICIPANT or PARTICIPANT_TO_BUSINESS",
            "REQUIRED_FIELD",
        )),
        Some(MessageDirection::Other(o)) => violations.push(violation(
            "message.direction",
            &format!("unknown message.direction {:?}", o.as_str()),
            "INVALID_ENUM_VALUE",
        )),
        Some(_) => {}
    }
    match &m.visibility {
        None | Some(MessageVisibility::UnknownVisibility) => violations.push(violation(
            "message.visibility",
            "message.visibility is required: BUSINESS_AND_PARTICIPANT or BUSINESS",
            "REQUIRED_FIELD",
        )),
        Some(MessageVisibility::Other(o)) => violations.push(violation(
            "message.visibility",
            &format!("unknown message.visibility {:?}", o.as_str()),
            "INVALID_ENUM_VALUE",
        )),
        Some(_) => {}
    }
    if let Some(OverrideSenderOptions::Other(o)) = &request.send_as {
        violations.push(violation(
            "sendAs",
            &format!(
                "sendAs must be CALLER, PARTICIPANT or BUSINESS_USER, got {:?}",
                o.as_str()
            ),
            "INVALID_ENUM_VALUE",
        ));
    }
    violations
}

pub(super) async fn send_message(
    State(inner): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SendMessageResponse>, ApiError> {
    let (caller, instance) = authenticate(&inner, &headers)?;
    let map = parse_json(&body)?;
    let mut violations = Vec::new();
    let conversation_id = check_conversation_id(map.get("conversationId").and_then(Value::as_str))
        .map_err(|v| violations.push(v))
        .ok();
    if map.get("message").is_none_or(Value::is_null) {
        violations.push(violation(
            "message",
            "message is required",
            "REQUIRED_FIELD",
        ));
    }
    if !violations.is_empty() {
        return Err(ApiError::validation(violations));
    }
    let request: SendMessageRequest = serde_json::from_value(Value::Object(map))
        .map_err(|e| ApiError::one("message", &e.to_string(), "FORMAT"))?;
    let violations = check_message(&request);
    if !violations.is_empty() {
        return Err(ApiError::validation(violations));
    }
    let conversation_id = conversation_id.expect("checked above");

    let caller_identity = match caller {
        Caller::ApiKey => WebhookIdentity {
            identity_type: Some(IdentityType::WixUser),
            wix_user_id: Some(inner.config.business_user_id.clone()),
            ..Default::default()
        },
        Caller::App => WebhookIdentity {
            identity_type: Some(IdentityType::App),
            app_id: Some(inner.config.app_id.clone()),
            ..Default::default()
        },
    };
    let business_user = IdentificationData {
        wix_user_id: Some(inner.config.business_user_id.clone()),
        ..Default::default()
    };
    let (stored, identity) = {
        let mut state = inner.state();
        let store = &mut state.store;
        if store
            .instance_of(&conversation_id)
            .is_some_and(|i| i != instance)
        {
            // Another site's conversation is none of this caller's.
            return Err(ApiError::conversation_not_found(
                &conversation_id,
                Missing::Unknown,
            ));
        }
        let participant = store
            .participant(&conversation_id)
            .map_err(|why| ApiError::conversation_not_found(&conversation_id, why))?;
        let mut message = request.message;
        let (sender, identity) = match (&request.send_as, caller) {
            (Some(OverrideSenderOptions::Participant), _) => {
                (participant, store.participant_identity(&conversation_id))
            }
            (Some(OverrideSenderOptions::BusinessUser), _) | (_, Caller::ApiKey) => {
                (business_user, caller_identity)
            }
            (_, Caller::App) => (
                IdentificationData {
                    app_id: Some(inner.config.app_id.clone()),
                    ..Default::default()
                },
                caller_identity,
            ),
        };
        message.sender = Some(sender);
        if caller == Caller::App {
            message.app_id = Some(inner.config.app_id.clone());
        }
        if let Some(silent) = request.silent {
            message.silent = Some(silent);
        }
        let content = message.content.as_mut().expect("checked above");
        if content.preview_text.is_none() {
            content.preview_text = content
                .basic
                .as_ref()
                .and_then(|b| b.items.iter().find_map(|i| i.text.clone()));
        }
        let stored = store
            .append(&conversation_id, message)
            .map_err(|why| ApiError::conversation_not_found(&conversation_id, why))?;
        (stored, identity)
    };
    match stored.direction {
        Some(MessageDirection::ParticipantToBusiness) => {
            webhooks::emit_message_sent_to_business(
                &inner,
                &MessageSentToBusiness {
                    conversation_id: Some(conversation_id),
                    message: Some(stored.clone()),
                    interaction_info: None,
                    ..Default::default()
                },
                identity,
            );
        }
        _ => {
            webhooks::emit_message_sent_to_participant(
                &inner,
                &MessageSentToParticipant {
                    conversation_id: Some(conversation_id),
                    message: Some(stored.clone()),
                    ..Default::default()
                },
                identity,
            );
        }
    }
    Ok(Json(SendMessageResponse {
        message: Some(stored),
        ..Default::default()
    }))
}
