//! What the fleet (`AppBuilder::fleet(RedisFleet)`) costs per call, in one run against a
//! `redis-server` the bench starts: a Get Conversation on loopback through `app.instance(id)`
//!
//! - without a fleet or pacing (the floor: the token in the process's cache);
//! - with a fleet, the token in the process's cache (a local hit: no Redis round trip);
//! - with a fleet, the token only in Redis (a Redis hit: the process keeps 100 instances and
//!   the calls go round 10,000 whose tokens another process put in Redis);
//! - paced per instance in the process (`rate_limit_per_instance`, no fleet);
//! - paced per instance for the fleet (one GCRA script on Redis per call);
//!
//! and one Redis round trip (`PING` on the store's connection), the yardstick of the goal: each
//! of these costs at most one Redis round trip more than the floor. The limit is high enough
//! that pacing never waits: what is measured is its bookkeeping.
//!
//! `cargo bench --bench fleet --features redis -- --warm-up-time 1 --measurement-time 5`
//! (needs `redis-server`).

#[path = "common/loopback.rs"]
mod loopback;
#[path = "../tests/common/redis_server.rs"]
mod redis_server;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use wix_inbox::client::fleet::{FleetStore, SharedToken};
use wix_inbox::redis::{RedisConnection, RedisFleet};
use wix_inbox::App;

use redis_server::RedisServer;

/// Instances whose token is in Redis, for the Redis hits.
const IN_REDIS: usize = 10_000;

fn fleet(c: &mut Criterion) {
    let url = loopback::token_server();
    let redis = RedisServer::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let connection = rt.block_on(RedisConnection::connect(&redis.url())).unwrap();
    let store = RedisFleet::new(connection.clone());
    let app = |fleet: bool, paced: bool, max: u64| {
        let mut builder = App::builder()
            .app_id("bench-app")
            .app_secret("bench-secret")
            .base_url(&url)
            .max_instances(max);
        if fleet {
            builder = builder.fleet(store.clone());
        }
        if paced {
            builder = builder.rate_limit_per_instance(1_000_000, Duration::from_secs(1));
        }
        builder.build().unwrap()
    };
    let floor = app(false, false, 10_000);
    let local_hit = app(true, false, 10_000);
    let redis_hit = app(true, false, 100);
    let paced_local = app(false, true, 10_000);
    let paced_fleet = app(true, true, 10_000);
    let warm = loopback::instance_id(4_242);
    // The tokens of IN_REDIS instances, as another process of the fleet leaves them.
    rt.block_on(async {
        let token = SharedToken {
            authorization: "OauthNG.JWS.bench-token".into(),
            renew_in: Duration::from_secs(3 * 3600),
            expires_in: Duration::from_secs(4 * 3600),
        };
        for i in 0..IN_REDIS {
            let id = loopback::instance_id(i);
            let lease = store
                .begin_fetch(&id, Duration::from_secs(15))
                .await
                .unwrap()
                .unwrap();
            store.finish_fetch(&id, lease, Some(&token)).await.unwrap();
        }
        for app in [&floor, &local_hit, &paced_local, &paced_fleet] {
            loopback::get_conversation(&app.instance(&warm)).await;
        }
    });
    let next = AtomicUsize::new(0);

    let call_floor = || async { loopback::get_conversation(&floor.instance(&warm)).await };
    let call_local_hit = || async { loopback::get_conversation(&local_hit.instance(&warm)).await };
    let call_redis_hit = || {
        let id = loopback::instance_id(next.fetch_add(1, Ordering::Relaxed) % IN_REDIS);
        let client = redis_hit.instance(&id);
        async move { loopback::get_conversation(&client).await }
    };
    let call_paced_local =
        || async { loopback::get_conversation(&paced_local.instance(&warm)).await };
    let call_paced_fleet =
        || async { loopback::get_conversation(&paced_fleet.instance(&warm)).await };
    let round_trip = || {
        let mut redis = connection.clone();
        async move {
            let pong: String = redis::cmd("PING").query_async(&mut redis).await.unwrap();
            pong
        }
    };

    let mut group = c.benchmark_group("fleet");
    group.bench_function("no_fleet", |b| b.to_async(&rt).iter(call_floor));
    group.bench_function("token_local_hit", |b| b.to_async(&rt).iter(call_local_hit));
    group.bench_function("token_redis_hit", |b| b.to_async(&rt).iter(call_redis_hit));
    group.bench_function("paced_local", |b| b.to_async(&rt).iter(call_paced_local));
    group.bench_function("paced_fleet", |b| b.to_async(&rt).iter(call_paced_fleet));
    group.bench_function("redis_round_trip", |b| b.to_async(&rt).iter(round_trip));
    group.finish();

    // The same, in alternating blocks against the floor (medians: what the goal is held to).
    loopback::alternating_medians(&rt, ("no fleet", call_floor), ("redis ping", round_trip));
    loopback::alternating_medians(
        &rt,
        ("no fleet", call_floor),
        ("token local hit", call_local_hit),
    );
    loopback::alternating_medians(
        &rt,
        ("no fleet", call_floor),
        ("token redis hit", call_redis_hit),
    );
    loopback::alternating_medians(
        &rt,
        ("no fleet", call_floor),
        ("paced local", call_paced_local),
    );
    loopback::alternating_medians(
        &rt,
        ("no fleet", call_floor),
        ("paced fleet", call_paced_fleet),
    );
}

criterion_group!(benches, fleet);
criterion_main!(benches);
