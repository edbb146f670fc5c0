//! The conversation-ID directory on Redis (`wix_inbox::redis::RedisMergeStore`), against a real
//! `redis-server`: the same scenarios run on it and on the in-memory store, random histories in
//! random orders give both the same answers, merges from many tasks over two connections end
//! consistent, and a Redis that is gone is a store error, not a refusal.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use wix_inbox::lifecycle::{
    ConversationDirectory, DirectoryError, InMemoryMergeStore, MergeStore, MAX_CHAIN,
};
use wix_inbox::redis::{RedisConnection, RedisMergeStore};
use wix_inbox::types::ConversationsMerged;

use crate::lifecycle::{
    currents, each_reported_once, merge, moved, out_of_order, participant_deliveries, Rng,
};
use crate::redis_server::{RedisCluster, RedisServer, TestRedis};

/// A prefix no other scenario of this process uses.
fn fresh_prefix() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("t{}:", NEXT.fetch_add(1, Ordering::SeqCst))
}

async fn redis_store(server: &RedisServer) -> RedisMergeStore {
    RedisMergeStore::connect(&server.url())
        .await
        .unwrap()
        .prefix(fresh_prefix())
}

/// Chains, redelivery, events out of order, an event repeating a history, refused loops and
/// conflicts, invalid events: what every store must answer alike.
async fn scenarios<S: MergeStore>(new: impl Fn() -> S) {
    // Chains are followed to their end; only the IDs that stop being current move.
    let directory = ConversationDirectory::with_store(new());
    assert_eq!(currents(&directory, &["A"]).await, ["A"]);
    let first = directory.apply(&merge(&["A"], "B")).await.unwrap();
    assert_eq!(first, moved(&[("A", "B")]));
    let second = directory.apply(&merge(&["B"], "C")).await.unwrap();
    assert_eq!(second, moved(&[("B", "C")]));
    assert_eq!(
        currents(&directory, &["A", "B", "C"]).await,
        ["C", "C", "C"]
    );

    // A redelivery changes nothing and moves nothing.
    assert!(directory
        .apply(&merge(&["A"], "B"))
        .await
        .unwrap()
        .is_empty());
    assert!(directory
        .apply(&merge(&["B"], "C"))
        .await
        .unwrap()
        .is_empty());

    // Out of order: B → C learned before A → B.
    let directory = ConversationDirectory::with_store(new());
    out_of_order(&directory).await;
    assert_eq!(
        currents(&directory, &["A", "B", "C"]).await,
        ["C", "C", "C"]
    );
    // An event listing the whole history agrees with it.
    assert!(directory
        .apply(&merge(&["A", "B"], "C"))
        .await
        .unwrap()
        .is_empty());

    // A loop is refused and records nothing.
    let err = directory.apply(&merge(&["C"], "A")).await.unwrap_err();
    assert!(matches!(err, DirectoryError::Cycle { .. }), "{err:?}");
    let err = directory.apply(&merge(&["X", "C"], "A")).await.unwrap_err();
    assert!(err.is_refused(), "{err:?}");
    assert_eq!(
        currents(&directory, &["X", "C"]).await,
        ["X", "C"],
        "all or nothing"
    );
    let err = directory.apply(&merge(&["D"], "D")).await.unwrap_err();
    assert!(matches!(err, DirectoryError::Cycle { .. }), "{err:?}");

    // A conflict with a recorded merge is refused.
    directory.apply(&merge(&["E"], "F")).await.unwrap();
    let err = directory.apply(&merge(&["A"], "F")).await.unwrap_err();
    assert!(matches!(err, DirectoryError::Conflict { .. }), "{err:?}");
    assert_eq!(currents(&directory, &["A"]).await, ["C"]);

    // Not a merge at all.
    let no_target = ConversationsMerged {
        old_conversation_ids: vec!["A".into()],
        target_conversation_id: None,
        ..Default::default()
    };
    assert!(matches!(
        directory.apply(&no_target).await,
        Err(DirectoryError::Invalid(_))
    ));
    assert!(matches!(
        directory.apply(&merge(&[""], "Z")).await,
        Err(DirectoryError::Invalid(_))
    ));
    assert!(matches!(
        directory.current("").await,
        Err(DirectoryError::Invalid(_))
    ));
}

#[tokio::test]
async fn the_shared_scenarios_hold_in_memory_and_on_redis() {
    scenarios(InMemoryMergeStore::new).await;
    let server = RedisServer::start();
    let connection = redis_store(&server).await.connection().clone();
    scenarios(|| RedisMergeStore::new(connection.clone()).prefix(fresh_prefix())).await;
}

/// Merges Wix could send, and some it would not (a target merged away already, a source
/// merged twice): each step merges one to three IDs into another.
fn events(rng: &mut Rng, steps: usize) -> Vec<ConversationsMerged> {
    let ids: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
    (0..steps)
        .map(|_| {
            let target = ids[rng.below(ids.len())].clone();
            let count = 1 + rng.below(3);
            ConversationsMerged {
                old_conversation_ids: (0..count)
                    .map(|_| ids[rng.below(ids.len())].clone())
                    .collect(),
                target_conversation_id: Some(target),
                ..Default::default()
            }
        })
        .collect()
}

/// Random merges, redelivered and in random order, applied one by one to both stores: the
/// same moves, the same refusals, the same current IDs after each.
#[tokio::test]
async fn random_merges_give_the_same_answers_on_redis_and_in_memory() {
    let server = RedisServer::start();
    random_merges_agree(redis_store(&server).await.connection().clone()).await;
}

async fn random_merges_agree(connection: RedisConnection) {
    let ids: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut refusals = 0;
    for seed in 1..=60u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let steps = 1 + rng.below(14);
        let events = events(&mut rng, steps);
        let memory = ConversationDirectory::with_store(InMemoryMergeStore::new());
        let redis = ConversationDirectory::with_store(
            RedisMergeStore::new(connection.clone()).prefix(fresh_prefix()),
        );
        for _ in 0..steps * 2 {
            let event = &events[rng.below(events.len())];
            let in_memory = memory.apply(event).await;
            let on_redis = redis.apply(event).await;
            match (&in_memory, &on_redis) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "seed {seed}: {event:?}"),
                (Err(a), Err(b)) => {
                    assert!(a.is_refused() && b.is_refused(), "seed {seed}: {a} / {b}");
                    assert_eq!(a.to_string(), b.to_string(), "seed {seed}");
                    refusals += 1;
                }
                _ => {
                    panic!("seed {seed}: {event:?}: {in_memory:?} in memory, {on_redis:?} on Redis")
                }
            }
            assert_eq!(
                currents(&memory, &ids).await,
                currents(&redis, &ids).await,
                "seed {seed}"
            );
        }
    }
    assert!(refusals > 0, "the random merges include refused ones");
}

/// 300 participants (visitor → contact → member, some events listing the whole history), every
/// event delivered twice, applied at once by many tasks through two stores on two connections
/// (two processes, as far as Redis can tell): each merged-away ID is reported moved exactly
/// once and every ID leads to its member conversation.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_merges_through_two_connections_end_consistent() {
    concurrent_merges_end_consistent(&RedisServer::start()).await;
}

/// The directory on a Redis Cluster of three masters and three replicas: the shared scenarios,
/// the random histories and the concurrent merges give the same answers as on one server, with
/// every link under the one hash tag `{<prefix>merged}`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_directory_on_a_cluster_behaves_as_on_one_server() {
    let cluster = RedisCluster::start();
    let connection = cluster.config().connect().await.unwrap();
    assert!(connection.is_cluster());
    scenarios(|| RedisMergeStore::new(connection.clone()).prefix(fresh_prefix())).await;
    random_merges_agree(connection.clone()).await;
    concurrent_merges_end_consistent(&cluster).await;

    let store = RedisMergeStore::new(connection.clone()).prefix("app:");
    let directory = ConversationDirectory::with_store(store);
    directory.apply(&merge(&["A", "B"], "C")).await.unwrap();
    let mut redis = connection.clone();
    let links: Vec<Option<String>> = ::redis::cmd("MGET")
        .arg(&["{app:merged}:A", "{app:merged}:B", "app:merged:A"][..])
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(links, [Some("C".to_owned()), Some("C".to_owned()), None]);
}

async fn concurrent_merges_end_consistent(server: &impl TestRedis) {
    let prefix = fresh_prefix();
    let a = RedisMergeStore::connect_with(&server.config())
        .await
        .unwrap()
        .prefix(prefix.clone());
    let b = RedisMergeStore::connect_with(&server.config())
        .await
        .unwrap()
        .prefix(prefix);
    let deliveries = participant_deliveries(7);
    let tasks: Vec<_> = deliveries
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            let directory =
                ConversationDirectory::with_store(if i % 2 == 0 { a.clone() } else { b.clone() });
            tokio::spawn(async move { directory.apply(&event).await })
        })
        .collect();
    each_reported_once(tasks, 600).await;
    let directory = ConversationDirectory::with_store(a.clone());
    for p in 0..300 {
        let ids = [format!("v{p}"), format!("c{p}"), format!("m{p}")];
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        assert_eq!(currents(&directory, &ids).await, vec![format!("m{p}"); 3]);
    }
}

/// What Redis holds: one key per merged-away ID, leading to the target as sent, with no expiry.
#[tokio::test]
async fn one_key_per_merged_away_id_without_expiry() {
    let server = RedisServer::start();
    let store = RedisMergeStore::connect(&server.url())
        .await
        .unwrap()
        .prefix("app:");
    let directory = ConversationDirectory::with_store(store.clone());
    directory.apply(&merge(&["B"], "C")).await.unwrap();
    directory.apply(&merge(&["A"], "B")).await.unwrap();
    let mut redis = store.connection().clone();
    let keys: Vec<String> = ::redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut redis)
        .await
        .unwrap();
    let keys: BTreeSet<String> = keys.into_iter().collect();
    assert_eq!(
        keys,
        BTreeSet::from(["app:merged:A".to_string(), "app:merged:B".to_string()])
    );
    let mut links = BTreeMap::new();
    for key in &keys {
        let into: String = ::redis::cmd("GET")
            .arg(key)
            .query_async(&mut redis)
            .await
            .unwrap();
        let ttl: i64 = ::redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(ttl, -1, "{key} never expires");
        links.insert(key.clone(), into);
    }
    assert_eq!(links["app:merged:A"], "B");
    assert_eq!(links["app:merged:B"], "C");
}

/// Redis gone: merges and look-ups are store errors (not refusals), nothing is recorded; back
/// (empty, as nothing persists in the test): the same connection works again.
#[tokio::test]
async fn a_redis_that_is_gone_is_a_store_error() {
    let mut server = RedisServer::start();
    let directory = ConversationDirectory::with_store(redis_store(&server).await);
    directory.apply(&merge(&["A"], "B")).await.unwrap();
    server.stop();
    let err = directory.apply(&merge(&["B"], "C")).await.unwrap_err();
    assert!(matches!(err, DirectoryError::Store(_)), "{err:?}");
    assert!(!err.is_refused());
    assert!(matches!(
        directory.current("A").await,
        Err(DirectoryError::Store(_))
    ));
    server.restart();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match directory.apply(&merge(&["B"], "C")).await {
            Ok(moves) => {
                assert_eq!(moves, moved(&[("B", "C")]));
                break;
            }
            Err(e) => {
                assert!(matches!(e, DirectoryError::Store(_)), "{e:?}");
                assert!(
                    std::time::Instant::now() < deadline,
                    "Redis back, still {e}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
    assert_eq!(directory.current("B").await.unwrap(), "C");
}

/// Writes the chain `<name>0 → <name>1 → … → <name><links>` under `prefix` straight into Redis
/// with one `MSET` (as another process might have written it): a chain of 10,000 links takes
/// one round trip to build.
async fn write_chain(prefix: &str, connection: &RedisConnection, name: &str, links: usize) {
    let mut mset = redis::cmd("MSET");
    for i in 0..links {
        mset.arg(format!("{prefix}merged:{name}{i}"))
            .arg(format!("{name}{}", i + 1));
    }
    let () = mset.query_async(&mut connection.clone()).await.unwrap();
}

/// Chains of each length around the bound (`MAX_CHAIN`), on both stores: a chain up to the
/// bound is followed to its end, a longer one is `Corrupt`, never a panic (the Redis store
/// panicked on a chain of exactly 10,000 links, and answered 500 for ever inside a receiver).
/// In memory, a merge onto each chain's start is answered too. On Redis the three chains are
/// walked at once (one round trip per link each).
#[tokio::test]
async fn chains_around_the_bound_are_followed_or_refused_never_a_panic() {
    let server = RedisServer::start();
    let connection = redis_store(&server).await.connection().clone();
    let lengths = [MAX_CHAIN - 1, MAX_CHAIN, MAX_CHAIN + 1];
    let expected = |links: usize, answer: Result<String, DirectoryError>, store: &str| match answer
    {
        Ok(current) if links <= MAX_CHAIN => assert_eq!(current, format!("l{links}x{links}")),
        Err(DirectoryError::Corrupt { .. }) if links > MAX_CHAIN => {}
        other => panic!("{store}, a chain of {links} links: {other:?}"),
    };
    let mut walks = Vec::new();
    for links in lengths {
        let name = format!("l{links}x");
        let prefix = fresh_prefix();
        write_chain(&prefix, &connection, &name, links).await;
        let store = RedisMergeStore::new(connection.clone()).prefix(prefix);
        let start = format!("{name}0");
        walks.push(tokio::spawn(async move { store.current(&start).await }));

        let memory = InMemoryMergeStore::new();
        for i in 0..links {
            memory
                .apply_now(&[format!("{name}{i}")], &format!("{name}{}", i + 1))
                .unwrap();
        }
        expected(links, memory.current_now(&format!("{name}0")), "memory");
        let onto_start = memory.apply_now(&["newcomer".into()], &format!("{name}0"));
        match onto_start {
            Ok(moves) if links <= MAX_CHAIN => {
                assert_eq!(moves, moved(&[("newcomer", &format!("{name}{links}"))]));
            }
            Err(DirectoryError::Corrupt { .. }) if links > MAX_CHAIN => {}
            other => panic!("memory, a merge onto a chain of {links} links: {other:?}"),
        }
    }
    for (links, walk) in lengths.into_iter().zip(walks) {
        expected(links, walk.await.unwrap(), "Redis");
    }
}
