//! Who may use the stores' Redis: an ACL user restricted to the store's keys works, on one
//! server and on a cluster; a wrong password is `ConnectError::Credentials` (never quoted);
//! a key outside the user's pattern is refused, not retried. And `rediss://`: a Redis that
//! speaks only TLS, with a certificate of the test's own authority (rcgen).

use wix_inbox::redis::{ConnectError, RedisConfig, RedisDeduplicator, RedisQueue};
use wix_inbox::webhooks::{Claim, DedupError, Deduplicator};

use crate::redis_server::{RedisCluster, RedisServer};
use crate::redis_tls::{certificates_in, tls_args};

/// `ACL SETUSER app on >s3cret-pw ~app:* ~{app-queue}:* +@all` on the node at `port`.
fn add_user(port: u16) {
    let output = std::process::Command::new("redis-cli")
        .args([
            "-p",
            &port.to_string(),
            "ACL",
            "SETUSER",
            "app",
            "on",
            ">s3cret-pw",
        ])
        .args(["~app:*", "~{app-queue}:*", "+@all"])
        .output()
        .expect("redis-cli runs");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "OK");
}

fn port_of(node: &str) -> u16 {
    node.rsplit(':').next().unwrap().parse().unwrap()
}

/// The user's store works on its keys; another prefix is refused (a store error, not
/// "unavailable": no retry cures it); a wrong password is `Credentials`.
async fn the_user_may_use_its_keys_only(config: impl Fn(&str) -> RedisConfig) {
    let claims = RedisDeduplicator::connect_with(&config("app:s3cret-pw"))
        .await
        .unwrap()
        .prefix("app:");
    assert!(matches!(claims.claim("e1").await.unwrap(), Claim::First(_)));
    assert_eq!(
        claims.claim("e1").await.unwrap(),
        Claim::InProgressElsewhere
    );
    let queue = RedisQueue::connect_with(&config("app:s3cret-pw"))
        .await
        .unwrap()
        .name("app-queue");
    wix_inbox::queue::QueueStore::stats(&queue).await.unwrap();

    let elsewhere = claims.clone().prefix("other:");
    let err = elsewhere.claim("e1").await.unwrap_err();
    assert!(matches!(err, DedupError::Store(_)), "{err:?}");
    assert!(err.to_string().to_lowercase().contains("noperm"), "{err}");

    let err = config("app:wrong-pw").connect().await.unwrap_err();
    assert!(matches!(err, ConnectError::Credentials), "{err:?}");
    assert!(!err.is_transient());
    let err = RedisDeduplicator::connect_with(&config("app:wrong-pw"))
        .await
        .unwrap_err();
    let DedupError::Store(inner) = &err else {
        panic!("{err:?}")
    };
    assert!(matches!(
        inner.downcast_ref::<ConnectError>(),
        Some(ConnectError::Credentials)
    ));
    assert!(!err.to_string().contains("wrong-pw"), "{err}");
    assert!(err
        .to_string()
        .contains("refused the user name or password"));
}

#[tokio::test]
async fn an_acl_user_on_one_server() {
    let server = RedisServer::start();
    add_user(server.port());
    let port = server.port();
    the_user_may_use_its_keys_only(|user| {
        RedisConfig::single(format!("redis://{user}@127.0.0.1:{port}/"))
    })
    .await;
}

#[tokio::test]
async fn an_acl_user_on_a_cluster() {
    let cluster = RedisCluster::start();
    for node in cluster.nodes() {
        add_user(port_of(&node));
    }
    let nodes = cluster.nodes();
    the_user_may_use_its_keys_only(|user| {
        RedisConfig::cluster(nodes.iter().map(|n| format!("redis://{user}@{n}")))
    })
    .await;
}

/// A Redis that takes TLS connections on a port of its own: `rediss://` with the test's
/// authority works; with the system's roots (which do not know it) the connection is refused.
#[tokio::test]
async fn rediss_with_a_certificate_of_one_s_own_authority() {
    let tls_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ca_pem = std::sync::Mutex::new(String::new());
    let _server = RedisServer::start_with_args(false, |_, dir| {
        *ca_pem.lock().unwrap() = certificates_in(dir);
        tls_args(dir, tls_port)
    });
    let ca_pem = ca_pem.into_inner().unwrap();
    let url = format!("rediss://127.0.0.1:{tls_port}/");
    let claims = RedisDeduplicator::connect_with(
        &RedisConfig::single(&url).root_certificate(ca_pem.as_bytes()),
    )
    .await
    .unwrap();
    assert!(matches!(claims.claim("e1").await.unwrap(), Claim::First(_)));
    assert_eq!(
        claims.claim("e1").await.unwrap(),
        Claim::InProgressElsewhere
    );
    // Plain `redis://` on the TLS port, and TLS without the authority: no connection.
    assert!(
        RedisConfig::single(format!("redis://127.0.0.1:{tls_port}/"))
            .connect()
            .await
            .is_err()
    );
    assert!(RedisConfig::single(&url).connect().await.is_err());
}
