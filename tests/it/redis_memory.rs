//! What each Redis store costs in memory, measured on a real redis-server: 10,000 items of
//! each kind written through the store, `INFO memory`'s `used_memory` before and after, and
//! `MEMORY USAGE` of one key. The figures are printed (`--nocapture`) and quoted in
//! `docs/redis.md`; each is held under a bound here, so that a change that makes one grow is
//! seen.

use std::time::Duration;

use wix_inbox::client::fleet::{FleetStore, SharedToken};
use wix_inbox::installations::{InstallationEvent, InstallationStore, Lifecycle};
use wix_inbox::lifecycle::MergeStore;
use wix_inbox::queue::{append_event, default_lane_key};
use wix_inbox::redis::{
    RedisConnection, RedisDeduplicator, RedisFleet, RedisInstallations, RedisMergeStore,
    RedisQueue, RedisStateStore,
};
use wix_inbox::state::StateStore;
use wix_inbox::webhooks::{Claim, Deduplicator, WebhookEvent};

use crate::redis_server::RedisServer;

const ITEMS: usize = 10_000;

/// An ID shaped like Wix's (a UUID).
fn uuid(kind: u32, n: usize) -> String {
    format!("{kind:08x}-{:04x}-4abc-9def-{n:012x}", n % 0xffff)
}

async fn used_memory(redis: &mut RedisConnection) -> i64 {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(redis)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory")
}

async fn memory_usage(redis: &mut RedisConnection, key: &str) -> i64 {
    redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(key)
        .arg("SAMPLES")
        .arg(0)
        .query_async(redis)
        .await
        .unwrap()
}

/// One row: what, bytes per item from `used_memory`, `MEMORY USAGE` of `key`.
struct Row {
    what: &'static str,
    per_item: i64,
    key: String,
    key_bytes: i64,
}

/// A realistic Message Sent To Business event: a 200-character text.
fn message_event(n: usize) -> WebhookEvent {
    serde_json::from_value(serde_json::json!({
        "id": uuid(7, n),
        "instanceId": uuid(1, n % 100),
        "eventTime": "2026-12-07T10:00:00Z",
        "event": {"kind": "MessageSentToBusiness", "body": {
            "conversationId": uuid(2, n % 1000),
            "message": {
                "id": uuid(8, n),
                "direction": "PARTICIPANT_TO_BUSINESS",
                "visibility": "BUSINESS_AND_PARTICIPANT",
                "sequence": n.to_string(),
                "createdDate": "2026-12-07T10:00:00Z",
                "sender": {"contactId": uuid(3, n % 1000)},
                "content": {"basic": {"items": [{"text": "x".repeat(200)}]}},
            },
        }},
    }))
    .expect("an event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_per_item_in_each_store() {
    let server = RedisServer::start();
    let connection = RedisConnection::connect(&server.url()).await.unwrap();
    let mut redis = connection.clone();
    let mut rows = Vec::new();
    let timeout = Duration::from_secs(10);

    // Claims: one done event ID (72 h).
    let claims = RedisDeduplicator::new(connection.clone()).timeout(timeout);
    let before = used_memory(&mut redis).await;
    for n in 0..ITEMS {
        let Claim::First(lease) = claims.claim(&uuid(7, n)).await.unwrap() else {
            panic!("first")
        };
        claims.complete(&lease).await.unwrap();
    }
    let key = format!("wix-inbox:event:{}", uuid(7, 0));
    rows.push(Row {
        what: "claims: a done event ID",
        per_item: (used_memory(&mut redis).await - before) / ITEMS as i64,
        key_bytes: memory_usage(&mut redis, &key).await,
        key,
    });

    // The directory: one merged-away conversation.
    let links = RedisMergeStore::new(connection.clone()).timeout(timeout);
    let before = used_memory(&mut redis).await;
    for n in 0..ITEMS {
        links
            .apply(&[uuid(2, n)], &uuid(2, n + ITEMS))
            .await
            .unwrap();
    }
    let key = format!("wix-inbox:merged:{}", uuid(2, 0));
    rows.push(Row {
        what: "directory: a merged-away conversation",
        per_item: (used_memory(&mut redis).await - before) / ITEMS as i64,
        key_bytes: memory_usage(&mut redis, &key).await,
        key,
    });

    // The fleet: an instance's token (800 characters) and its pacing.
    let fleet = RedisFleet::new(connection.clone()).timeout(timeout);
    let token = SharedToken {
        authorization: "t".repeat(800),
        renew_in: Duration::from_secs(3000),
        expires_in: Duration::from_secs(3600),
    };
    let before = used_memory(&mut redis).await;
    for n in 0..ITEMS {
        let instance = uuid(1, n);
        let lease = fleet
            .begin_fetch(&instance, Duration::from_secs(15))
            .await
            .unwrap()
            .expect("a fetch lease");
        fleet
            .finish_fetch(&instance, lease, Some(&token))
            .await
            .unwrap();
        fleet
            .reserve(
                &instance,
                Duration::from_millis(300),
                Duration::from_secs(60),
            )
            .await
            .unwrap();
    }
    let key = format!("wix-inbox:token:{{{}}}", uuid(1, 0));
    rows.push(Row {
        what: "fleet: an instance's token (800 chars) and pacing",
        per_item: (used_memory(&mut redis).await - before) / ITEMS as i64,
        key_bytes: memory_usage(&mut redis, &key).await,
        key,
    });

    // Installations: an instance's record, as an installation leaves it, then with its
    // app-instance data (`remember`).
    let installations = RedisInstallations::new(connection.clone()).timeout(timeout);
    let before = used_memory(&mut redis).await;
    for n in 0..ITEMS {
        let event = InstallationEvent {
            instance_id: uuid(1, n),
            lifecycle: Lifecycle::Installed {
                origin_instance_id: None,
            },
            at: chrono::Utc::now(),
        };
        installations.apply(&event).await.unwrap();
    }
    rows.push(Row {
        what: "installations: an installed instance",
        per_item: (used_memory(&mut redis).await - before) / ITEMS as i64,
        key: "wix-inbox:{installations} (one hash)".into(),
        key_bytes: memory_usage(&mut redis, "wix-inbox:{installations}").await / ITEMS as i64,
    });
    let before = used_memory(&mut redis).await;
    for n in 0..ITEMS {
        let instance = uuid(1, n);
        let data = serde_json::from_value(crate::installations::app_instance(&instance)).unwrap();
        installations.remember(&instance, &data).await.unwrap();
    }
    rows.push(Row {
        what: "installations: its app-instance data added (`remember`)",
        per_item: (used_memory(&mut redis).await - before) / ITEMS as i64,
        key: "wix-inbox:{installations} (one hash)".into(),
        key_bytes: memory_usage(&mut redis, "wix-inbox:{installations}").await / ITEMS as i64,
    });

    // Conversation state: a 40-byte JSON state, and a sent message remembered (24 h).
    let states = RedisStateStore::new(connection.clone()).timeout(timeout);
    let state = r#"{"stage":"greeted","count":3,"lang":"en"}"#;
    let before = used_memory(&mut redis).await;
    for n in 0..ITEMS {
        let key = format!("conversation:{}", uuid(2, n));
        let written = states
            .commit(
                &uuid(1, 0),
                &[(key.clone(), None)],
                &[(key, Some(state.into()))],
            )
            .await
            .unwrap();
        assert!(written);
    }
    let key = format!("wix-inbox:{{{}}}:conversation:{}", uuid(1, 0), uuid(2, 0));
    rows.push(Row {
        what: "state: a conversation's 40-byte state",
        per_item: (used_memory(&mut redis).await - before) / ITEMS as i64,
        key_bytes: memory_usage(&mut redis, &key).await,
        key,
    });
    let before = used_memory(&mut redis).await;
    for n in 0..ITEMS {
        states.remember(&uuid(1, 0), &uuid(8, n)).await.unwrap();
    }
    let key = format!("wix-inbox:{{{}}}:sent:{}", uuid(1, 0), uuid(8, 0));
    rows.push(Row {
        what: "state: a sent message remembered",
        per_item: (used_memory(&mut redis).await - before) / ITEMS as i64,
        key_bytes: memory_usage(&mut redis, &key).await,
        key,
    });

    // The queue: an event (about 900 bytes of JSON) appended with its lane.
    let queue = RedisQueue::new(connection.clone()).timeout(timeout);
    let json_len = serde_json::to_string(&message_event(0)).unwrap().len();
    let before = used_memory(&mut redis).await;
    for n in 0..ITEMS {
        append_event(&queue, &default_lane_key(), &message_event(n))
            .await
            .unwrap();
    }
    let per_event = (used_memory(&mut redis).await - before) / ITEMS as i64;
    let stream = memory_usage(&mut redis, "{wix-inbox:queue}:stream").await;
    let key = format!("{{wix-inbox:queue}}:seen:{}", uuid(7, 0));
    let seen = memory_usage(&mut redis, &key).await;
    rows.push(Row {
        what: "queue: an event appended (stream entry, seen ID, lane)",
        per_item: per_event,
        key: format!("{{wix-inbox:queue}}:stream / ITEMS, + {key}"),
        key_bytes: stream / ITEMS as i64 + seen,
    });

    println!("event JSON: {json_len} bytes; {ITEMS} items each");
    println!("| what | bytes per item (used_memory) | MEMORY USAGE of one key |");
    println!("|---|---|---|");
    for row in &rows {
        println!(
            "| {} | {} | {} (`{}`) |",
            row.what, row.per_item, row.key_bytes, row.key
        );
    }
    // Bounds over the measured figures (with room for allocator noise): a store whose
    // footprint grows past them is a change to look at.
    let bounds = [300, 300, 1600, 350, 1000, 300, 250, 2000];
    for (row, bound) in rows.iter().zip(bounds) {
        assert!(
            row.per_item > 0 && row.per_item <= bound,
            "{}: {} bytes per item, bound {bound}",
            row.what,
            row.per_item
        );
    }
}
