//! The fake's state as the simulator shows it: one JSON snapshot (`GET /_fake/state`), the
//! same snapshot streamed after every change (`GET /_fake/stream`, Server-Sent Events), and
//! one webhook event in full (`GET /_fake/webhooks/{eventId}`). Everything is read from the
//! fake's own state under its lock: the page keeps no model of its own.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use base64::Engine as _;
use futures_util::Stream;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::{Fake, Refused};
use crate::{FakeInbox, Fault};
use wix_inbox::types::{IdentificationData, WebhookIdentity};

/// How many of the latest webhook events and requests a snapshot holds.
const LATEST_EVENTS: usize = 200;
const LATEST_REQUESTS: usize = 100;

/// The shortest time between two snapshots of the stream: a burst of changes is sent as one.
const STREAM_GAP: Duration = Duration::from_millis(50);

/// How many bytes a second one stream sends at most: a large state is sent less often.
const STREAM_RATE: f64 = 1024.0 * 1024.0;

/// How many streams may be open at once. Each holds one of the fake's connections (100 by
/// default): the streams can never take them all from the API.
pub(super) const MAX_STREAMS: usize = 8;

/// How long a stream lasts: the connection age of the crate's server. The page's `EventSource`
/// opens a new one.
const STREAM_AGE: Duration = wix_inbox::webhooks::axum::DEFAULT_MAX_CONNECTION_AGE;

pub(super) async fn state(fake: Fake) -> Json<Value> {
    Json(snapshot(&fake.0))
}

pub(super) async fn stream(
    fake: Fake,
    streams: Arc<Semaphore>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Refused> {
    let open = streams.try_acquire_owned().map_err(|_| {
        Refused::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "TOO_MANY_STREAMS",
            format!("at most {MAX_STREAMS} streams are open at once"),
        )
    })?;
    let fake = fake.0;
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(1);
    let ends = tokio::time::Instant::now() + STREAM_AGE;
    tokio::spawn(async move {
        let _open = open;
        let mut sent = String::new();
        loop {
            // Registered before the snapshot is taken, so that no change after it is missed.
            let changed = fake.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let data = snapshot(&fake).to_string();
            let gap = STREAM_GAP.max(Duration::from_secs_f64(data.len() as f64 / STREAM_RATE));
            // A change that changed nothing shown is not sent again.
            if data != sent {
                if tx.send(data.clone()).await.is_err() {
                    return;
                }
                sent = data;
            }
            tokio::select! {
                () = tokio::time::sleep(gap) => {}
                () = tokio::time::sleep_until(ends) => return,
            }
            tokio::select! {
                () = changed => {}
                // The page went away (or the fake stopped): no more snapshots.
                () = tx.closed() => return,
                // The stream is as old as a connection may be: it ends.
                () = tokio::time::sleep_until(ends) => return,
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let data = rx.recv().await?;
        Some((Ok(Event::default().event("state").data(data)), rx))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

pub(super) async fn webhook(
    fake: Fake,
    Path(event_id): Path<String>,
) -> Result<Json<Value>, Refused> {
    let state = fake.inner.state();
    let sent = state
        .events
        .iter()
        .rev()
        .find(|e| e.domain_event.id.as_deref() == Some(event_id.as_str()))
        .ok_or_else(|| Refused::not_found(format!("no webhook event has the ID {event_id:?}")))?;
    let envelope = &sent.envelope;
    let parse = |text: &Option<String>| -> Value {
        text.as_deref()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or(Value::Null)
    };
    let deliveries: Vec<Value> = state
        .deliveries
        .iter()
        .filter(|d| d.event_id == event_id)
        .map(delivery)
        .collect();
    Ok(Json(json!({
        "eventId": event_id,
        "eventType": sent.event_type,
        "instanceId": envelope.instance_id,
        "jwt": sent.jwt,
        "jwtHeader": jwt_part(&sent.jwt, 0),
        "claims": jwt_part(&sent.jwt, 1),
        "decoded": {
            "eventType": envelope.event_type,
            "instanceId": envelope.instance_id,
            "accountInfo": envelope.account_info,
            "identity": parse(&envelope.identity),
            "data": sent.domain_event,
        },
        "deliveries": deliveries,
    })))
}

/// Part `n` of a compact JWT, decoded (base64url JSON); `null` if it is not one.
fn jwt_part(jwt: &str, n: usize) -> Value {
    jwt.split('.')
        .nth(n)
        .and_then(|part| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null)
}

fn delivery(d: &crate::Delivery) -> Value {
    let attempts: Vec<Value> = d
        .attempts
        .iter()
        .map(|a| {
            json!({
                "status": a.status,
                "error": a.error,
                "latencyMs": a.latency.as_secs_f64() * 1000.0,
            })
        })
        .collect();
    json!({
        "receiver": d.receiver,
        "delivered": d.delivered,
        "finished": d.finished,
        "attempts": attempts,
    })
}

/// A fault as the control API writes it (and reads it: see `api::FaultRequest`).
pub(super) fn fault(f: &Fault) -> Value {
    match f {
        Fault::Status(status) => json!({"kind": "status", "status": status}),
        Fault::StatusRetryAfter(status, seconds) => {
            json!({"kind": "status", "status": status, "retryAfter": seconds})
        }
        Fault::Drop => json!({"kind": "drop"}),
        Fault::Delay(delay) => json!({"kind": "delay", "ms": delay.as_millis()}),
        Fault::Error {
            status,
            code,
            message,
            violations,
        } => json!({
            "kind": "error",
            "status": status,
            "code": code,
            "message": message,
            "fieldViolations": violations,
        }),
    }
}

/// What a participant is, from the ID Wix names them by.
fn kind(participant: Option<&IdentificationData>) -> &'static str {
    match participant {
        Some(p) if p.member_id.is_some() => "member",
        Some(p) if p.contact_id.is_some() => "contact",
        Some(p) if p.anonymous_visitor_id.is_some() => "visitor",
        _ => "unknown",
    }
}

/// Who did something, for the page: `{"kind": "...", "id": "..."}`.
fn who(identity: &WebhookIdentity) -> Value {
    let id = identity
        .member_id
        .as_ref()
        .or(identity.anonymous_visitor_id.as_ref())
        .or(identity.wix_user_id.as_ref())
        .or(identity.app_id.as_ref());
    json!({"kind": identity.identity_type, "id": id})
}

/// The whole state the page shows. The API key and app secret are not in it: the page shows
/// no secret.
pub(super) fn snapshot(fake: &FakeInbox) -> Value {
    let config = &fake.inner.config;
    let state = fake.inner.state();

    let conversations: Vec<Value> = state
        .store
        .all_conversations()
        .into_iter()
        .map(|c| {
            let id = c.id.clone().unwrap_or_default();
            let instance = state.store.instance_of(&id).unwrap_or(0);
            json!({
                "id": id,
                "instanceId": state.instances.get(instance).map(|i| &i.instance_id),
                "kind": kind(c.participant.as_ref()),
                "participant": c.participant,
                "mergedInto": state.store.merged_into(&id),
                "messages": state.store.messages(&id),
            })
        })
        .collect();

    let mut deliveries: HashMap<&str, Vec<Value>> = HashMap::new();
    for d in &state.deliveries {
        deliveries
            .entry(d.event_id.as_str())
            .or_default()
            .push(delivery(d));
    }
    let skip = state.events.len().saturating_sub(LATEST_EVENTS);
    let events: Vec<Value> = state.events[skip..]
        .iter()
        .map(|e| {
            let id = e.domain_event.id.clone().unwrap_or_default();
            let identity: Option<WebhookIdentity> = e
                .envelope
                .identity
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok());
            json!({
                "eventId": id,
                "eventType": e.event_type,
                "slug": e.domain_event.slug,
                "instanceId": e.envelope.instance_id,
                "eventTime": e.domain_event.event_time,
                "entityId": e.domain_event.entity_id,
                "identity": identity.as_ref().map(who),
                "deliveries": deliveries.remove(id.as_str()).unwrap_or_default(),
            })
        })
        .collect();

    let skip = state.requests.len().saturating_sub(LATEST_REQUESTS);
    let requests: Vec<Value> = state
        .requests
        .iter()
        .skip(skip)
        .map(|r| json!({"method": r.method, "uri": r.uri, "status": r.status}))
        .collect();

    json!({
        "fake": {
            "baseUrl": fake.base_url(),
            "siteId": config.site_id,
            "instanceId": config.instance_id,
            "appId": config.app_id,
            "businessUserId": config.business_user_id,
        },
        // The page's instance switcher lists them (see the module docs).
        "instances": state.instances.iter()
            .map(|i| json!({
                "instanceId": i.instance_id,
                "siteId": i.site_id,
                "installed": !i.removed,
                "originInstanceId": i.origin,
            }))
            .collect::<Vec<_>>(),
        "receivers": state.receivers,
        "pendingFaults": state.faults.iter().map(fault).collect::<Vec<_>>(),
        "conversations": conversations,
        "webhooks": {"total": state.events.len(), "events": events},
        "requests": requests,
    })
}
