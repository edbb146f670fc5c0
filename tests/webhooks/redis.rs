//! `RedisDeduplicator` against a real `redis-server` started by the test: one first claim among
//! many, leases that end, stale holders that change nothing, and Redis dying and coming back
//! under a receiver fed by the fake Inbox.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wix_inbox::redis::{RedisConfig, RedisDeduplicator};
use wix_inbox::webhooks::axum::{ServeOptions, WebhookReceiver};
use wix_inbox::webhooks::{Claim, DedupError, Deduplicator, Lease};
use wix_inbox_fake::FakeInbox;

use super::redis_server::{RedisCluster, RedisServer, TestRedis};
use super::redis_tls::TlsCluster;
use super::verifier;

fn first(claim: Claim) -> Lease {
    match claim {
        Claim::First(lease) => lease,
        other => panic!("expected a first claim, got {other:?}"),
    }
}

/// A store on its own connection, with keys under a prefix of the test's own.
async fn store(server: &impl TestRedis, prefix: &str) -> RedisDeduplicator {
    RedisDeduplicator::connect_with(&server.config())
        .await
        .unwrap()
        .prefix(prefix)
}

/// 1,000 concurrent claims of one ID through two stores with separate connections (two
/// processes, as far as Redis can tell): exactly one first claim.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_claims_through_two_connections_one_first() {
    a_thousand_claims_one_first(&RedisServer::start()).await;
}

async fn a_thousand_claims_one_first(server: &impl TestRedis) {
    let a = store(server, "t1:").await;
    let b = store(server, "t1:").await;
    let barrier = Arc::new(tokio::sync::Barrier::new(1000));
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let dedup = if i % 2 == 0 { a.clone() } else { b.clone() };
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                dedup.claim("the-event").await
            })
        })
        .collect();
    let (mut firsts, mut elsewhere) = (0, 0);
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Claim::First(_) => firsts += 1,
            Claim::InProgressElsewhere => elsewhere += 1,
            Claim::Done => panic!("nobody completed the event"),
        }
    }
    assert_eq!((firsts, elsewhere), (1, 999));
}

/// The protocol: first, in progress elsewhere (from the other connection too), done after
/// completion; a released claim is claimed again; keys carry the prefix.
#[tokio::test]
async fn claim_complete_release() {
    the_claim_protocol(&RedisServer::start()).await;
}

async fn the_claim_protocol(server: &impl TestRedis) {
    let a = store(server, "app-a:").await;
    let b = store(server, "app-a:").await;
    let other_app = store(server, "app-b:").await;

    let lease = first(a.claim("evt-1").await.unwrap());
    assert_eq!(lease.event_id(), "evt-1");
    assert_eq!(lease.duration(), Duration::from_secs(60));
    assert_eq!(b.claim("evt-1").await.unwrap(), Claim::InProgressElsewhere);
    // Another prefix is another store.
    let theirs = first(other_app.claim("evt-1").await.unwrap());
    b.complete(&lease).await.unwrap();
    assert_eq!(a.claim("evt-1").await.unwrap(), Claim::Done);
    assert_eq!(b.claim("evt-1").await.unwrap(), Claim::Done);
    assert!(a.complete(&lease).await.unwrap_err().is_lease_lost());
    assert!(a.release(&lease).await.unwrap_err().is_lease_lost());
    assert_eq!(a.claim("evt-1").await.unwrap(), Claim::Done);
    other_app.release(&theirs).await.unwrap();

    let lease = first(a.claim("evt-2").await.unwrap());
    a.release(&lease).await.unwrap();
    let again = first(b.claim("evt-2").await.unwrap());
    assert_ne!(again.token(), lease.token());

    // What Redis holds: the done marker with a time to live over Wix's 47 hours, the claim
    // with its lease.
    let mut redis = a.connection().clone();
    let done: String = ::redis::cmd("GET")
        .arg("app-a:event:evt-1")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(done, "done");
    let ttl: i64 = ::redis::cmd("PTTL")
        .arg("app-a:event:evt-1")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(ttl > 71 * 3600 * 1000 && ttl <= 72 * 3600 * 1000, "{ttl}");
    let held: String = ::redis::cmd("GET")
        .arg("app-a:event:evt-2")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(held, again.token());
    let ttl: i64 = ::redis::cmd("PTTL")
        .arg("app-a:event:evt-2")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(ttl > 50_000 && ttl <= 60_000, "{ttl}");
    let other: Option<String> = ::redis::cmd("GET")
        .arg("app-b:event:evt-1")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(other, None);
}

/// A lease that ends (its holder died) lets exactly one of many redeliveries through; the
/// stale holder can then neither complete nor release the new claim.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_ended_lease_lets_exactly_one_redelivery_through_and_the_stale_holder_changes_nothing() {
    an_ended_lease(&RedisServer::start()).await;
}

/// The same claims on a Redis Cluster of three masters and three replicas: the same answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_on_a_cluster_behave_as_on_one_server() {
    let cluster = RedisCluster::start();
    a_thousand_claims_one_first(&cluster).await;
    the_claim_protocol(&cluster).await;
    an_ended_lease(&cluster).await;
}

/// The same claims on a cluster whose nodes speak TLS (`rediss://` with the test's authority,
/// `tls-cluster yes`, `tls-replication yes`): redis-rs's cluster client finds every node's TLS
/// port from the first and gives the same answers. Plain `redis://` to those ports, or TLS
/// without the authority, connects to nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_on_a_tls_cluster_behave_as_on_one_server() {
    let cluster = TlsCluster::start();
    a_thousand_claims_one_first(&cluster).await;
    the_claim_protocol(&cluster).await;
    // The keys were spread over the three masters (not all on the node first given).
    let mut masters_used = std::collections::HashSet::new();
    for key in [
        "t1:event:the-event",
        "app-a:event:evt-1",
        "app-a:event:evt-2",
    ] {
        masters_used.insert(cluster.cluster().master_of(key));
    }
    assert!(masters_used.len() > 1, "{masters_used:?}");
    let plain = RedisConfig::cluster(
        cluster
            .tls_ports()
            .iter()
            .map(|port| format!("redis://127.0.0.1:{port}")),
    )
    .timeout(Duration::from_secs(2));
    assert!(plain.connect().await.is_err());
    let unknown_authority = RedisConfig::cluster(
        cluster
            .tls_ports()
            .iter()
            .map(|port| format!("rediss://127.0.0.1:{port}")),
    )
    .timeout(Duration::from_secs(2));
    assert!(unknown_authority.connect().await.is_err());
}

async fn an_ended_lease(server: &impl TestRedis) {
    // The holder that dies claims with a short lease; Redis ends it on its own clock.
    let dying = store(server, "t3:").await.lease(Duration::from_millis(300));
    let a = store(server, "t3:").await;
    let b = store(server, "t3:").await;
    let stale = first(dying.claim("evt").await.unwrap());
    assert_eq!(a.claim("evt").await.unwrap(), Claim::InProgressElsewhere);

    // Wait for Redis to expire the key (bounded: 5 s).
    let mut redis = a.connection().clone();
    for _ in 0..500 {
        let exists: i64 = ::redis::cmd("EXISTS")
            .arg("t3:event:evt")
            .query_async(&mut redis)
            .await
            .unwrap();
        if exists == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let barrier = Arc::new(tokio::sync::Barrier::new(200));
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let dedup = if i % 2 == 0 { a.clone() } else { b.clone() };
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                dedup.claim("evt").await.unwrap()
            })
        })
        .collect();
    let mut leases = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Claim::First(lease) => leases.push(lease),
            Claim::InProgressElsewhere => {}
            Claim::Done => panic!("nobody completed the event"),
        }
    }
    assert_eq!(leases.len(), 1, "exactly one redelivery is handled");
    let new = leases.pop().unwrap();

    // The stale holder comes back.
    assert!(matches!(
        dying.complete(&stale).await,
        Err(DedupError::LeaseLost { event_id }) if event_id == "evt"
    ));
    assert!(dying.release(&stale).await.unwrap_err().is_lease_lost());
    assert_eq!(a.claim("evt").await.unwrap(), Claim::InProgressElsewhere);
    b.complete(&new).await.unwrap();
    assert_eq!(a.claim("evt").await.unwrap(), Claim::Done);
    assert!(dying.release(&stale).await.unwrap_err().is_lease_lost());
    assert_eq!(b.claim("evt").await.unwrap(), Claim::Done);
}

/// A receiver on Redis fed by the fake Inbox, and Redis killed while deliveries go on: every
/// delivery then is answered 503 (never 200 for an event not handed on, never a panic) and the
/// store's error is typed; Redis started again, the fake's redeliveries go through: every
/// event is handed on, each exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_dying_and_coming_back_loses_nothing() {
    let mut server = RedisServer::start();
    let dedup = store(&server, "t4:").await;
    let handed_on = Arc::new(Mutex::new(Vec::<String>::new()));
    let h = handed_on.clone();
    let receiver = WebhookReceiver::with_handler(verifier(), move |event| {
        let h = h.clone();
        async move {
            h.lock().unwrap().push(event.id);
            Ok::<(), std::convert::Infallible>(())
        }
    })
    .deduplicator(dedup.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/wix", listener.local_addr().unwrap());
    tokio::spawn(async move {
        ServeOptions::new()
            .serve(listener, receiver.into_router("/webhooks/wix"))
            .await
    });
    let fake = FakeInbox::builder()
        .webhook_attempts(12)
        .webhook_backoff(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    fake.add_webhook_receiver(&url);

    // Redis up: handed on at once.
    for i in 0..3 {
        fake.visitor_writes(&format!("visitor-{i}"), "before");
    }
    fake.settle().await;
    assert_eq!(handed_on.lock().unwrap().len(), 3);

    // Redis down: the store's error is typed, the deliveries are answered 503.
    server.stop();
    let err = dedup.claim("any").await.unwrap_err();
    assert!(matches!(err, DedupError::Unavailable(_)), "{err:?}");
    for i in 3..8 {
        fake.visitor_writes(&format!("visitor-{i}"), "during");
    }
    // Until at least two attempts of each new delivery were refused (bounded: 10 s).
    let down_ids: Vec<String> = fake.events()[3..].iter().map(event_id).collect();
    for _ in 0..1000 {
        let refused = fake
            .deliveries()
            .iter()
            .filter(|d| down_ids.contains(&d.event_id))
            .filter(|d| d.attempts.len() >= 2)
            .count();
        if refused == down_ids.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for delivery in fake.deliveries() {
        if down_ids.contains(&delivery.event_id) {
            assert!(delivery.attempts.len() >= 2, "{delivery:?}");
            assert!(!delivery.delivered, "{delivery:?}");
            assert!(
                delivery.attempts.iter().all(|a| a.status == Some(503)),
                "{delivery:?}"
            );
        }
    }
    assert_eq!(
        handed_on.lock().unwrap().len(),
        3,
        "nothing handed on while down"
    );

    // Redis back (empty): the redeliveries go through.
    server.restart();
    tokio::time::timeout(Duration::from_secs(60), fake.settle())
        .await
        .expect("the fake's deliveries end");
    let mut counts: HashMap<String, usize> = HashMap::new();
    for id in handed_on.lock().unwrap().iter() {
        *counts.entry(id.clone()).or_default() += 1;
    }
    for event in fake.events() {
        assert_eq!(
            counts.get(&event_id(&event)),
            Some(&1),
            "{}",
            event_id(&event)
        );
    }
    assert_eq!(counts.len(), 8);
    assert!(fake.deliveries().iter().all(|d| d.delivered));
    // And the store works again.
    assert!(matches!(
        dedup.claim("after").await.unwrap(),
        Claim::First(_)
    ));
}

fn event_id(event: &wix_inbox_fake::SentEvent) -> String {
    event.domain_event.id.clone().unwrap()
}

/// A URL that is not Redis's is a typed error that does not quote it; an unreachable Redis too.
#[tokio::test]
async fn bad_urls_and_unreachable_servers_are_typed_errors() {
    let err = RedisDeduplicator::connect("http://user:s3cret@127.0.0.1/")
        .await
        .unwrap_err();
    assert!(matches!(err, DedupError::Store(_)), "{err:?}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
    // A port nobody listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = RedisDeduplicator::connect(&format!("redis://:s3cret@127.0.0.1:{port}/"))
        .await
        .unwrap_err();
    assert!(matches!(err, DedupError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
}

/// Redis stalls for longer than a claim may take (every client paused 1.5 s, as a slow disk or
/// a long script would): the claim fails on our side (503), but Redis runs it when it resumes.
/// That claim is released at once, so Wix's next resend is handed on, instead of being answered
/// 503 for the whole 60 s lease (the probe's: a stall of 1 s or more left such claims).
#[tokio::test]
async fn a_claim_that_timed_out_on_our_side_does_not_hold_the_lease() {
    let server = RedisServer::start();
    let store = store(&server, "stall:")
        .await
        .timeout(Duration::from_millis(300))
        .lease(Duration::from_secs(60));
    // Redis knows the scripts (a stalled first call would never load them).
    let warm = first(store.claim("evt-warm-up").await.unwrap());
    store.release(&warm).await.unwrap();
    let client = redis::Client::open(server.url()).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1500)
        .arg("ALL")
        .query_async(&mut admin)
        .await
        .unwrap();
    let stalled = store.claim("evt-stalled").await;
    assert!(
        matches!(stalled, Err(DedupError::Unavailable(_))),
        "{stalled:?}"
    );
    // Redis resumes and runs the claim; the release sent after it runs next.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let resent = store.claim("evt-stalled").await;
    assert!(matches!(resent, Ok(Claim::First(_))), "{resent:?}");
}
