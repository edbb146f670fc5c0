//! `wix_inbox::redis::RedisStateStore` against a real `redis-server`: the state scenarios of
//! the in-memory store, concurrent updates over two connections, keys hash-tagged by scope,
//! reply records and remembered messages shared by two processes' outboxes, and a Redis that
//! is gone is a typed store error.

use std::sync::atomic::{AtomicUsize, Ordering};

use wix_inbox::redis::RedisStateStore;
use wix_inbox::state::{ConversationStates, Replies, ReplyOutcome, StateError, StateStore};
use wix_inbox::types::{Message, ParticipantId};

use crate::redis_server::{RedisCluster, RedisServer, TestRedis};

async fn store(server: &impl TestRedis) -> RedisStateStore {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let prefix = format!("s{}:", NEXT.fetch_add(1, Ordering::SeqCst));
    RedisStateStore::connect_with(&server.config())
        .await
        .unwrap()
        .prefix(prefix)
}

#[tokio::test]
async fn states_on_redis_follow_merges() {
    let server = RedisServer::start();
    crate::replies::states_follow_merges(store(&server).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_on_redis_are_not_lost() {
    let server = RedisServer::start();
    crate::replies::concurrent_updates_are_not_lost(store(&server).await).await;
}

/// The same state scenarios on a Redis Cluster of three masters and three replicas: each
/// scope's keys in one slot, each compare-and-set one script there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn states_on_a_cluster_behave_as_on_one_server() {
    let cluster = RedisCluster::start();
    crate::replies::states_follow_merges(store(&cluster).await).await;
    crate::replies::concurrent_updates_are_not_lost(store(&cluster).await).await;
}

#[tokio::test]
async fn every_key_of_a_scope_has_the_scope_as_hash_tag() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let key = store.key("instance-1", "conversation:A").unwrap();
    assert!(key.ends_with("{instance-1}:conversation:A"), "{key}");
    assert!(store.key("", "x").is_err() && store.key("a}b", "x").is_err());
    // Written and read back through the script and MGET, under that key.
    let writes = [("k".to_owned(), Some("1".to_owned()))];
    assert!(store
        .commit("instance-1", &[("k".into(), None)], &writes)
        .await
        .unwrap());
    assert!(!store
        .commit("instance-1", &[("k".into(), None)], &writes)
        .await
        .unwrap());
    let mut redis = store.connection().clone();
    let raw: Option<String> = redis::cmd("GET")
        .arg(store.key("instance-1", "k").unwrap())
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(raw.as_deref(), Some("1"));
    let deleted = [("k".to_owned(), None)];
    assert!(store.commit("instance-1", &writes, &deleted).await.unwrap());
    assert_eq!(
        store.load("instance-1", &["k".into()]).await.unwrap(),
        [None]
    );
}

/// Two processes' outboxes on one Redis: what one sent, the other skips and recognises.
#[tokio::test]
async fn two_outboxes_share_records_and_sent_messages() {
    let server = RedisServer::start();
    let fake = wix_inbox_fake::FakeInbox::start().await.unwrap();
    let store = store(&server).await;
    let (a, b) = (
        Replies::with_store(store.clone()),
        Replies::with_store(store),
    );
    let visitor = ParticipantId::AnonymousVisitorId("v-1".into());
    let client = fake.client();
    let sent = a
        .send_once(
            &client,
            "site",
            "k-1",
            &visitor,
            None,
            Message::reply("once"),
        )
        .await
        .unwrap();
    let ReplyOutcome::Sent(sent) = sent else {
        panic!("{sent:?}")
    };
    let again = b
        .send_once(
            &client,
            "site",
            "k-1",
            &visitor,
            None,
            Message::reply("once"),
        )
        .await
        .unwrap();
    assert!(
        matches!(again, ReplyOutcome::AlreadySent { .. }),
        "{again:?}"
    );
    assert_eq!(fake.participant_texts(&visitor), ["once"]);
    let id = sent.message.id.clone().unwrap();
    assert!(b
        .store()
        .is_remembered(&sent.conversation_id, &id)
        .await
        .unwrap());
}

#[tokio::test]
async fn a_redis_that_is_gone_is_a_store_error() {
    let mut server = RedisServer::start();
    let store = store(&server).await;
    server.stop();
    let states = ConversationStates::<u64, _>::with_store(store);
    let failed = states.update("i", "A", |n| *n += 1).await.unwrap_err();
    assert!(matches!(failed, StateError::Store(_)), "{failed:?}");
    assert!(!failed.is_refused());
}
