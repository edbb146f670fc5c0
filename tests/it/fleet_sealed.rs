//! Tokens sealed in Redis (`RedisFleet::seal_tokens`, `TokenKey`): what Redis holds is no usable
//! token, every process with the key reads it back, and a process with another key or none
//! never uses it (it requests its own).

use std::time::Duration;

use wix_inbox::client::fleet::{FleetStore, SharedToken};
use wix_inbox::redis::{RedisFleet, TokenKey};

use crate::redis_server::RedisServer;

const TOKEN: &str = "OauthNG.JWS.the-secret-access-token";

fn shared() -> SharedToken {
    SharedToken {
        authorization: TOKEN.into(),
        renew_in: Duration::from_secs(600),
        expires_in: Duration::from_secs(900),
    }
}

fn key(byte: u8) -> TokenKey {
    TokenKey::from_bytes(&[byte; 32]).unwrap()
}

/// Stores [`TOKEN`] for `instance` through `fleet`, as a process that fetched it does.
async fn store(fleet: &RedisFleet, instance: &str) {
    let lease = fleet
        .begin_fetch(instance, Duration::from_secs(5))
        .await
        .unwrap()
        .expect("the fetch lease is free");
    fleet
        .finish_fetch(instance, lease, Some(&shared()))
        .await
        .unwrap();
}

async fn raw(server: &RedisServer, key: &str) -> String {
    let client = redis::Client::open(server.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("GET")
        .arg(key)
        .query_async::<Option<String>>(&mut connection)
        .await
        .unwrap()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_sealed_token_is_not_in_redis_and_opens_only_with_the_key() {
    let server = RedisServer::start();
    let connect = || async { RedisFleet::connect(&server.url()).await.unwrap() };
    let sealing = connect().await.seal_tokens(key(1));
    store(&sealing, "inst-a").await;

    let stored = raw(&server, "wix-inbox:token:{inst-a}").await;
    assert!(!stored.is_empty(), "the token is stored");
    assert!(
        !stored.contains("secret") && !stored.contains("OauthNG"),
        "Redis holds the token in clear: {stored}"
    );

    let same_key = connect().await.seal_tokens(key(1));
    let read = same_key.token("inst-a").await.unwrap();
    assert_eq!(read.map(|t| t.authorization).as_deref(), Some(TOKEN));

    let other_key = connect().await.seal_tokens(key(2));
    assert_eq!(
        other_key.token("inst-a").await.unwrap(),
        None,
        "another key"
    );
    let no_key = connect().await;
    assert_eq!(
        no_key.token("inst-a").await.unwrap(),
        None,
        "a process without the key must not send a sealed token to Wix"
    );

    // A sealed token copied under another instance's key does not open there.
    let client = redis::Client::open(server.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("COPY")
        .arg("wix-inbox:token:{inst-a}")
        .arg("wix-inbox:token:{inst-b}")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(same_key.token("inst-b").await.unwrap(), None);
}

#[tokio::test]
async fn without_a_key_tokens_are_stored_as_they_are_and_a_sealing_process_ignores_them() {
    let server = RedisServer::start();
    let plain = RedisFleet::connect(&server.url()).await.unwrap();
    store(&plain, "inst-a").await;
    assert!(raw(&server, "wix-inbox:token:{inst-a}")
        .await
        .ends_with(TOKEN));
    let read = plain.token("inst-a").await.unwrap();
    assert_eq!(read.map(|t| t.authorization).as_deref(), Some(TOKEN));

    let sealing = RedisFleet::connect(&server.url())
        .await
        .unwrap()
        .seal_tokens(key(1));
    assert_eq!(
        sealing.token("inst-a").await.unwrap(),
        None,
        "an unsealed token is not taken by a process that seals"
    );
}
