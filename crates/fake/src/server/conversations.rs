//! Get Conversation and Get Or Create Conversation.

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use super::errors::{check_conversation_id, parse_json, ApiError};
use super::oauth::authenticate;
use super::Shared;
use crate::store::Key;
use wix_inbox::types::{
    GetConversationResponse, GetOrCreateConversationRequest, GetOrCreateConversationResponse,
};

// ---------------------------------------------------------------------------------------------
// Get Conversation

pub(super) async fn get_conversation(
    State(inner): State<Shared>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<GetConversationResponse>, ApiError> {
    let (_, instance) = authenticate(&inner, &headers)?;
    let Path(id) = path.map_err(|e| ApiError::one("conversationId", &e.body_text(), "FORMAT"))?;
    let id = check_conversation_id(Some(&id)).map_err(|v| ApiError::validation(vec![v]))?;
    let state = inner.state();
    if state.store.instance_of(&id).is_some_and(|i| i != instance) {
        return Err(ApiError::not_owned_by_business(&id));
    }
    let conversation = state
        .store
        .conversation(&id)
        .map_err(|why| ApiError::conversation_not_found(&id, why))?;
    Ok(Json(GetConversationResponse {
        conversation: Some(conversation),
        ..Default::default()
    }))
}

// ---------------------------------------------------------------------------------------------
// Get Or Create Conversation

const PARTICIPANT_KEYS: [&str; 3] = ["contactId", "anonymousVisitorId", "memberId"];

pub(super) async fn get_or_create_conversation(
    State(inner): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<GetOrCreateConversationResponse>, ApiError> {
    let (_, instance) = authenticate(&inner, &headers)?;
    let map = parse_json(&body)?;
    let one_of = "participantId must have exactly one of contactId, anonymousVisitorId, memberId";
    match map.get("participantId") {
        None | Some(Value::Null) => {
            return Err(ApiError::one(
                "participantId",
                "participantId is required",
                "REQUIRED_FIELD",
            ))
        }
        Some(Value::Object(p)) => {
            let given: Vec<&String> = p
                .keys()
                .filter(|k| PARTICIPANT_KEYS.contains(&k.as_str()))
                .collect();
            if given.len() != 1 {
                return Err(ApiError::one("participantId", one_of, "ONE_OF"));
            }
            let field = format!("participantId.{}", given[0]);
            match &p[given[0].as_str()] {
                Value::String(s) if !s.is_empty() => {}
                Value::String(_) => {
                    return Err(ApiError::one(
                        &field,
                        &format!("{field} must not be empty"),
                        "REQUIRED_FIELD",
                    ))
                }
                _ => {
                    return Err(ApiError::one(
                        &field,
                        &format!("{field} must be a string"),
                        "FORMAT",
                    ))
                }
            }
        }
        Some(_) => return Err(ApiError::one("participantId", one_of, "FORMAT")),
    }
    let request: GetOrCreateConversationRequest = serde_json::from_value(Value::Object(map))
        .map_err(|e| ApiError::one("participantId", &e.to_string(), "FORMAT"))?;
    let (conversation, created) = inner
        .state()
        .store
        .get_or_create(instance, &Key::from(&request.participant_id));
    Ok(Json(GetOrCreateConversationResponse {
        conversation: Some(conversation),
        new_conversation: Some(created),
        ..Default::default()
    }))
}
