//! Webhook events as Wix sends them: built from the generated types, signed, delivered to
//! every receiver and redelivered (same event ID) until a receiver answers 200.

use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;

use super::{Delivery, DeliveryAttempt, Inner, SentEvent};
use wix_inbox::types::{
    AccountInfo, ActionEvent, ButtonInteracted, ConversationsMerged, DomainEvent,
    MessageSentToBusiness, MessageSentToParticipant, WebhookIdentity,
};
use wix_inbox::webhooks::test_signer::TestEvent;
use wix_inbox::wire::RawJson;

/// How long a signed token is valid, from its `iat`.
const TOKEN_LIFETIME_SECS: i64 = 300;

pub(crate) fn emit_message_sent_to_business(
    inner: &Arc<Inner>,
    body: &MessageSentToBusiness,
    identity: WebhookIdentity,
) {
    let entity = body.message.as_ref().and_then(|m| m.id.clone());
    emit(
        inner,
        [
            MessageSentToBusiness::EVENT_TYPE,
            MessageSentToBusiness::ENTITY_FQDN,
            MessageSentToBusiness::SLUG,
        ],
        entity,
        body.conversation_id.as_deref(),
        body,
        identity,
    );
}

pub(crate) fn emit_message_sent_to_participant(
    inner: &Arc<Inner>,
    body: &MessageSentToParticipant,
    identity: WebhookIdentity,
) {
    let entity = body.message.as_ref().and_then(|m| m.id.clone());
    emit(
        inner,
        [
            MessageSentToParticipant::EVENT_TYPE,
            MessageSentToParticipant::ENTITY_FQDN,
            MessageSentToParticipant::SLUG,
        ],
        entity,
        body.conversation_id.as_deref(),
        body,
        identity,
    );
}

pub(crate) fn emit_button_interacted(
    inner: &Arc<Inner>,
    body: &ButtonInteracted,
    identity: WebhookIdentity,
) {
    emit(
        inner,
        [
            ButtonInteracted::EVENT_TYPE,
            ButtonInteracted::ENTITY_FQDN,
            ButtonInteracted::SLUG,
        ],
        body.conversation_id.clone(),
        body.conversation_id.as_deref(),
        body,
        identity,
    );
}

pub(crate) fn emit_conversations_merged(
    inner: &Arc<Inner>,
    body: &ConversationsMerged,
    identity: WebhookIdentity,
) {
    emit(
        inner,
        [
            ConversationsMerged::EVENT_TYPE,
            ConversationsMerged::ENTITY_FQDN,
            ConversationsMerged::SLUG,
        ],
        body.target_conversation_id.clone(),
        body.target_conversation_id.as_deref(),
        body,
        identity,
    );
}

/// Emits an event: `[event_type, entity_fqdn, slug]` name it.
fn emit<B: Serialize>(
    inner: &Arc<Inner>,
    [event_type, entity_fqdn, slug]: [&str; 3],
    entity_id: Option<String>,
    conversation_id: Option<&str>,
    body: &B,
    identity: WebhookIdentity,
) {
    // The envelope names the instance (and site) of the conversation the event is about.
    let instance = inner.instance_of_conversation(conversation_id);
    let domain_event = DomainEvent {
        id: Some(uuid::Uuid::new_v4().to_string()),
        entity_fqdn: Some(entity_fqdn.to_owned()),
        slug: Some(slug.to_owned()),
        entity_id,
        event_time: Some(Utc::now()),
        triggered_by_anonymize_request: Some(false),
        action_event: Some(ActionEvent {
            body: Some(RawJson::new(body).expect("generated types serialize")),
            ..Default::default()
        }),
        entity_event_sequence: None,
        originated_from: None,
        ..Default::default()
    };
    // The envelope around the domain event is the test signer's, as `fake sign` makes it.
    let mut event = TestEvent {
        event_type: event_type.to_owned(),
        instance_id: instance.instance_id,
        identity: Some(identity),
        account_info: Some(AccountInfo {
            account_id: Some(inner.config.account_id.clone()),
            parent_account_id: None,
            site_id: Some(instance.site_id),
            ..Default::default()
        }),
        domain_event: serde_json::to_value(&domain_event).expect("generated types serialize"),
        iat: 0,
        exp: None,
        nbf: None,
    };
    let jwt = sign_now(inner, &mut event);
    let event_id = domain_event.id.clone().unwrap_or_default();
    let receivers = {
        let mut state = inner.state();
        state.events.push(SentEvent {
            event_type: event_type.to_owned(),
            envelope: event.envelope(),
            domain_event,
            jwt: jwt.clone(),
        });
        state.receivers.clone()
    };
    start_deliveries(inner, &event_id, event, jwt, receivers, false);
}

/// Emits a plain event (App Instance Installed or Removed) about `instance`: the envelope's
/// `data` is `body` itself, the identity the site owner (a Wix user).
pub(crate) fn emit_plain<B: Serialize>(
    inner: &Arc<Inner>,
    event_type: &str,
    instance: &crate::instances::InstanceIds,
    body: &B,
) {
    let mut event = TestEvent {
        event_type: event_type.to_owned(),
        instance_id: instance.instance_id.clone(),
        identity: Some(WebhookIdentity {
            identity_type: Some(wix_inbox::types::IdentityType::WixUser),
            wix_user_id: Some(inner.config.business_user_id.clone()),
            ..Default::default()
        }),
        account_info: Some(AccountInfo {
            account_id: Some(inner.config.account_id.clone()),
            parent_account_id: None,
            site_id: Some(instance.site_id.clone()),
            ..Default::default()
        }),
        domain_event: serde_json::to_value(body).expect("generated types serialize"),
        iat: 0,
        exp: None,
        nbf: None,
    };
    let jwt = sign_now(inner, &mut event);
    let event_id = format!("{event_type}:{}:{}", instance.instance_id, event.iat);
    let receivers = {
        let mut state = inner.state();
        state.events.push(SentEvent {
            event_type: event_type.to_owned(),
            envelope: event.envelope(),
            domain_event: DomainEvent {
                id: Some(event_id.clone()),
                ..Default::default()
            },
            jwt: jwt.clone(),
        });
        state.receivers.clone()
    };
    start_deliveries(inner, &event_id, event, jwt, receivers, false);
}

/// Delivers a sent event again, with the same event ID and signed anew, to `receivers` (each
/// a new [`Delivery`], tried and retried as the first one was). `None` if no event has that
/// ID.
pub(crate) fn redeliver(
    inner: &Arc<Inner>,
    event_id: &str,
    receivers: Vec<String>,
) -> Option<usize> {
    let sent = inner
        .state()
        .events
        .iter()
        .rev()
        .find(|e| e.domain_event.id.as_deref() == Some(event_id))
        .cloned()?;
    let envelope = sent.envelope;
    let mut event = TestEvent {
        event_type: sent.event_type,
        instance_id: envelope.instance_id.unwrap_or_default(),
        identity: envelope
            .identity
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok()),
        account_info: envelope.account_info,
        // The envelope's data: the domain event, or a plain event's body.
        domain_event: envelope
            .data
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default(),
        iat: 0,
        exp: None,
        nbf: None,
    };
    let jwt = sign_now(inner, &mut event);
    let n = receivers.len();
    start_deliveries(inner, event_id, event, jwt, receivers, true);
    Some(n)
}

/// Records a [`Delivery`] of `event` per receiver and starts each in its own task; `repeat`
/// when the event was delivered before.
fn start_deliveries(
    inner: &Arc<Inner>,
    event_id: &str,
    event: TestEvent,
    jwt: String,
    receivers: Vec<String>,
    repeat: bool,
) {
    let receivers = {
        let mut state = inner.state();
        let first = state.deliveries.len();
        for receiver in &receivers {
            state.deliveries.push(Delivery {
                event_id: event_id.to_owned(),
                event_type: event.event_type.clone(),
                receiver: receiver.clone(),
                attempts: Vec::new(),
                delivered: false,
                finished: false,
                repeat,
                time_to_200: None,
            });
        }
        inner.in_flight.send_modify(|n| *n += receivers.len());
        receivers
            .into_iter()
            .enumerate()
            .map(move |(i, r)| (first + i, r))
    };
    for (index, receiver) in receivers {
        let target = Target {
            receiver,
            index,
            repeat,
        };
        let task = deliver(inner.clone(), target, event.clone(), jwt.clone());
        inner.runtime.spawn(task);
    }
}

/// Signs `event` as Wix would now: issued now, valid for [`TOKEN_LIFETIME_SECS`], no `nbf`
/// (Wix sends none).
fn sign_now(inner: &Inner, event: &mut TestEvent) -> String {
    let iat = Utc::now().timestamp();
    event.iat = iat;
    event.exp = Some(iat + TOKEN_LIFETIME_SECS);
    event.nbf = None;
    inner.signer.sign_event(event)
}

/// Decrements the in-flight count when the delivery ends, however it ends.
struct InFlight(Arc<Inner>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Where a delivery goes: the receiver, the index of its [`Delivery`], whether it repeats an
/// event delivered before.
struct Target {
    receiver: String,
    index: usize,
    repeat: bool,
}

async fn deliver(inner: Arc<Inner>, target: Target, mut event: TestEvent, first_jwt: String) {
    let _in_flight = InFlight(inner.clone());
    let policy = &inner.config.delivery;
    let n = inner
        .deliveries_started
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let draws = policy.draws(n);
    let started = std::time::Instant::now();
    tokio::time::sleep(draws.hold).await;
    let mut jwt = first_jwt;
    let attempts = policy.attempts();
    let mut delivered = false;
    for attempt in 1..=attempts {
        if attempt > 1 {
            tokio::time::sleep(policy.resends()[attempt - 2]).await;
            // A redelivery is signed anew; the event (and its ID) is the same.
            jwt = sign_now(&inner, &mut event);
        }
        let record = post(&inner, &target.receiver, &jwt).await;
        delivered = record.status == Some(200);
        let last = delivered || attempt == attempts;
        {
            let mut state = inner.state();
            if let Some(d) = state.deliveries.get_mut(target.index) {
                d.attempts.push(record);
                d.delivered = delivered;
                d.finished = last;
                d.time_to_200 = delivered.then(|| started.elapsed());
            }
        }
        if last {
            break;
        }
    }
    // Wix missed the answer: the event comes once more (a repeat draws no repeat of its own).
    if let (true, false, Some(wait)) = (delivered, target.repeat, draws.duplicate) {
        tokio::time::sleep(wait).await;
        let jwt = sign_now(&inner, &mut event);
        let event_id = inner
            .state()
            .deliveries
            .get(target.index)
            .map(|d| d.event_id.clone())
            .unwrap_or_default();
        start_deliveries(&inner, &event_id, event, jwt, vec![target.receiver], true);
    }
}

/// One attempt: POSTs the JWT to the receiver, with the policy's timeout.
async fn post(inner: &Inner, receiver: &str, jwt: &str) -> DeliveryAttempt {
    let started = std::time::Instant::now();
    let result = inner
        .http
        .post(receiver)
        .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .timeout(inner.config.webhook_timeout)
        .body(jwt.to_owned())
        .send()
        .await;
    match result {
        Ok(response) => DeliveryAttempt {
            status: Some(response.status().as_u16()),
            error: None,
            latency: started.elapsed(),
        },
        Err(e) => DeliveryAttempt {
            status: None,
            error: Some(if e.is_timeout() {
                format!("no answer within {:?}", inner.config.webhook_timeout)
            } else {
                e.to_string()
            }),
            latency: started.elapsed(),
        },
    }
}
