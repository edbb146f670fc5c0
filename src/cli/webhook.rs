//! `webhook verify`: the crate's verifier, one line on stderr when a body does not verify.

use std::time::Duration;

use serde_json::{json, Value};
use wix_inbox::webhooks::{InboxEvent, WebhookEvent, WebhookVerifier};

use crate::args::Verify;
use crate::{print_json, read_input, Failure, Outcome};

pub fn verify(args: Verify) -> Outcome {
    let key = read_input(Some(&args.public_key), "public key")?;
    let key = String::from_utf8(key).map_err(|_| {
        Failure::Usage(format!(
            "the public key {} is not text (PEM or base64 of PEM)",
            args.public_key.display()
        ))
    })?;
    let mut verifier = WebhookVerifier::from_public_key(&key)
        .map_err(|e| Failure::Usage(format!("{}: {e}", args.public_key.display())))?
        .allow_missing_expiry(args.allow_missing_exp);
    if let Some(seconds) = args.leeway {
        verifier = verifier.with_leeway(Duration::from_secs(seconds));
    }
    let body = read_input(args.body.as_deref(), "body")?;
    // A body pasted into a terminal or a file usually ends in a newline; a JWT never does.
    let body = body.trim_ascii();
    let event = verifier
        .verify(body)
        .map_err(|e| Failure::Failed(e.to_string()))?;
    print_json(&event_json(&event))
}

/// The event as JSON: its metadata in Wix's field names, and the typed body with its kind.
fn event_json(event: &WebhookEvent) -> Value {
    let (kind, body) = match &event.event {
        InboxEvent::ConversationsMerged(b) => ("ConversationsMerged", json!(b)),
        InboxEvent::MessageSentToBusiness(b) => ("MessageSentToBusiness", json!(b)),
        InboxEvent::MessageSentToParticipant(b) => ("MessageSentToParticipant", json!(b)),
        InboxEvent::ButtonInteracted(b) => ("ButtonInteracted", json!(b)),
        InboxEvent::Other { body, .. } => ("Other", body.clone()),
        _ => ("Other", Value::Null),
    };
    json!({
        "id": event.id,
        "eventType": event.event_type,
        "entityFqdn": event.entity_fqdn,
        "slug": event.slug,
        "entityId": event.entity_id,
        "eventTime": event.event_time,
        "triggeredByAnonymizeRequest": event.triggered_by_anonymize_request,
        "originatedFrom": event.originated_from,
        "entityEventSequence": event.entity_event_sequence,
        "instanceId": event.instance_id,
        "identity": event.identity,
        "accountInfo": event.account_info,
        "kind": kind,
        "body": body,
    })
}
