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
//! A round trip costs more inside a call than in a loop of `PING`s (the process waits on two
//! peers in turn), so the yardstick in the alternating blocks is a `PING` followed by the floor's
//! call, made by hand; the bench also counts the Redis commands a call sends (`INFO
//! commandstats`), and compares 16 concurrent reservations on the store's connection
//! (`TCP_NODELAY`) with the same on a connection of redis-rs's defaults (Nagle's algorithm on).
//!
//! `cargo bench --bench fleet --features redis -- --warm-up-time 1 --measurement-time 5`
//! (needs `redis-server`).

#[path = "common/loopback.rs"]
mod loopback;
#[path = "../tests/common/redis_server.rs"]
mod redis_server;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

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

    let ping_then_floor = || async {
        round_trip().await;
        call_floor().await
    };
    if !listing() {
        rt.block_on(async {
            commands_per_call(&connection, "paced for the fleet", call_paced_fleet).await;
            commands_per_call(&connection, "token, Redis hit", call_redis_hit).await;
            commands_per_call(&connection, "token, local hit", call_local_hit).await;
        });
        // redis-rs's defaults: Nagle's algorithm on.
        let nagle = rt.block_on(async {
            let manager = redis::Client::open(redis.url())
                .unwrap()
                .get_connection_manager()
                .await
                .unwrap();
            RedisFleet::new(RedisConnection::from(manager))
        });
        concurrent_reservations(&rt, &store, &nagle, &warm);
    }

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
        ("redis ping then the call", ping_then_floor),
    );
    loopback::alternating_medians(
        &rt,
        ("redis ping then the call", ping_then_floor),
        ("token redis hit", call_redis_hit),
    );
    loopback::alternating_medians(
        &rt,
        ("no fleet", call_floor),
        ("paced local", call_paced_local),
    );
    loopback::alternating_medians(
        &rt,
        ("redis ping then the call", ping_then_floor),
        ("paced fleet", call_paced_fleet),
    );
}

/// Whether criterion only lists or tests the benches.
fn listing() -> bool {
    std::env::args().any(|a| a == "--list" || a == "--test")
}

/// Prints how many Redis commands one `call` sends, and the time Redis spends on each (`INFO
/// commandstats` around 100 calls; a script's inner commands are counted apart, and their time
/// is inside the script's).
async fn commands_per_call<F: Future>(
    connection: &RedisConnection,
    name: &str,
    call: impl Fn() -> F,
) {
    let mut redis = connection.clone();
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut redis)
        .await
        .unwrap();
    for _ in 0..100 {
        call().await;
    }
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut redis)
        .await
        .unwrap();
    let sent: Vec<String> = stats
        .lines()
        .filter_map(|line| line.strip_prefix("cmdstat_"))
        .filter(|line| !line.starts_with("config") && !line.starts_with("info"))
        .filter_map(|line| {
            let (command, rest) = line.split_once(':')?;
            let calls: f64 = rest
                .strip_prefix("calls=")?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            let server_us = rest.split("usec_per_call=").nth(1)?.split(',').next()?;
            Some(format!(
                "{command} {:.2} ({server_us} µs in Redis)",
                calls / 100.0
            ))
        })
        .collect();
    println!("Redis commands per call, {name}: {sent:?}");
}

/// 16 tasks reserving 300 slots each at once, on the store's connection and on one with
/// redis-rs's defaults, in alternating rounds: the median time per reservation of each.
fn concurrent_reservations(
    rt: &tokio::runtime::Runtime,
    store: &RedisFleet,
    nagle: &RedisFleet,
    instance: &str,
) {
    let round = |store: &RedisFleet| {
        rt.block_on(async {
            let started = Instant::now();
            let tasks = (0..16).map(|_| async {
                for _ in 0..300 {
                    store
                        .reserve(instance, Duration::from_micros(1), Duration::from_secs(1))
                        .await
                        .unwrap();
                }
            });
            futures_util::future::join_all(tasks).await;
            started.elapsed() / (16 * 300)
        })
    };
    let (mut nodelay_times, mut nagle_times) = (Vec::new(), Vec::new());
    for _ in 0..11 {
        nodelay_times.push(round(store));
        nagle_times.push(round(nagle));
    }
    nodelay_times.sort();
    nagle_times.sort();
    println!(
        "16 concurrent reservations, median per reservation: TCP_NODELAY {:.2?}, \
         redis-rs defaults (Nagle) {:.2?}",
        nodelay_times[5], nagle_times[5]
    );
}

criterion_group!(benches, fleet);
criterion_main!(benches);
