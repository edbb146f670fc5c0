//! `events stats|dead-letters|redrive|replay` on a real redis-server.

use std::process::Command;

use wix_inbox::queue::{append_event, default_lane_key, QueueStore};
use wix_inbox::redis::RedisQueue;

use crate::redis_server::{RedisCluster, RedisServer};

/// Where the command finds Redis: `WIX_INBOX_REDIS_URL` or `WIX_INBOX_REDIS_CLUSTER`, and its
/// value.
type Target = (&'static str, String);

/// Runs `wix-inbox events <args>` against `server`; its stdout as JSON lines.
fn events(server: &Target, args: &[&str]) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_wix-inbox"))
        .arg("events")
        .args(args)
        .env_remove("WIX_INBOX_REDIS_URL")
        .env_remove("WIX_INBOX_REDIS_CLUSTER")
        .env(server.0, &server.1)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_dead_letters_redrive_and_replay() {
    let server = RedisServer::start();
    let queue = RedisQueue::connect(&server.url()).await.unwrap();
    the_queue_s_commands(queue, ("WIX_INBOX_REDIS_URL", server.url())).await;
}

/// The same on a Redis Cluster (`WIX_INBOX_REDIS_CLUSTER`), and `--redis-cluster`; `--redis`
/// with it is a usage error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_s_commands_on_a_cluster() {
    let cluster = RedisCluster::start();
    let nodes = cluster.nodes().join(",");
    let queue = RedisQueue::connect_cluster(cluster.nodes()).await.unwrap();
    the_queue_s_commands(queue, ("WIX_INBOX_REDIS_CLUSTER", nodes.clone())).await;
    let out = Command::new(env!("CARGO_BIN_EXE_wix-inbox"))
        .args(["events", "stats", "--redis-cluster", &nodes])
        .env_remove("WIX_INBOX_REDIS_URL")
        .env_remove("WIX_INBOX_REDIS_CLUSTER")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["length"], 4);
    let out = Command::new(env!("CARGO_BIN_EXE_wix-inbox"))
        .args(["events", "stats", "--redis-cluster", &nodes])
        .args(["--redis", "redis://127.0.0.1:1/"])
        .env_remove("WIX_INBOX_REDIS_URL")
        .env_remove("WIX_INBOX_REDIS_CLUSTER")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_wix-inbox"))
        .args(["events", "stats"])
        .env_remove("WIX_INBOX_REDIS_URL")
        .env_remove("WIX_INBOX_REDIS_CLUSTER")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--redis-cluster"));
}

async fn the_queue_s_commands(queue: RedisQueue, server: Target) {
    let event: wix_inbox::webhooks::WebhookEvent = serde_json::from_value(serde_json::json!({
        "id": "e1", "instanceId": "i1",
        "event": {"kind": "MessageSentToBusiness", "body": {"conversationId": "c1"}},
    }))
    .unwrap();
    append_event(&queue, &default_lane_key(), &event)
        .await
        .unwrap();
    // One delivery, failed with max 1: dead-lettered.
    let entry = queue.read_new("w", 10).await.unwrap().remove(0);
    let started = queue
        .start("w", &entry, std::time::Duration::from_secs(5), 1)
        .await
        .unwrap();
    assert_eq!(started, wix_inbox::queue::Start::Go(1));
    queue.fail("w", &entry, "app down", 1).await.unwrap();

    let stats = events(&server, &["stats"]);
    assert_eq!(stats[0]["length"], 1);
    assert_eq!(stats[0]["pending"], 0);
    assert_eq!(stats[0]["dead_letters"], 1);
    let dead = events(&server, &["dead-letters"]);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["event_id"], "e1");
    assert_eq!(dead[0]["error"], "app down");
    let id = dead[0]["id"].as_str().unwrap();
    assert_eq!(events(&server, &["redrive", id])[0]["redriven"], 1);
    assert_eq!(events(&server, &["redrive", id])[0]["redriven"], 0, "once");
    assert!(events(&server, &["dead-letters"]).is_empty());
    let replayed = events(&server, &["replay", "--since", "2020-01-01T00:00:00Z"]);
    assert_eq!(replayed[0]["replayed"], 2);
    assert_eq!(events(&server, &["stats"])[0]["length"], 4);
}
