//! What a client per app instance costs: a Get Conversation round trip on loopback through
//! `app.instance(id)` (warm: the instance's token is cached, among 10,000 cached instances)
//! against the same call through a single-site `Client` (`Client::builder().app(..)`, one
//! instance), in the same run; and what `app.instance(id)` itself costs (no I/O).
//!
//! ```sh
//! cargo bench --bench app -- --warm-up-time 1 --measurement-time 5
//! ```

use criterion::{criterion_group, criterion_main, Criterion};

use wix_inbox::{App, AppCredentials, Client};

#[path = "common/loopback.rs"]
mod loopback;

const INSTANCES: usize = 10_000;

fn app_instances(c: &mut Criterion) {
    let url = loopback::token_server();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // Today's single-site client: one app instance, its own pool and token.
    let single = Client::builder()
        .base_url(&url)
        .app(AppCredentials {
            app_id: "bench-app".into(),
            app_secret: "bench-secret".into(),
            instance_id: loopback::instance_id(0),
        })
        .build()
        .unwrap();
    let app = App::builder()
        .app_id("bench-app")
        .app_secret("bench-secret")
        .base_url(&url)
        .build()
        .unwrap();
    // 10,000 instances with a token each: the cache the warm instance is looked up in.
    rt.block_on(async {
        for i in 0..INSTANCES {
            loopback::get_conversation(&app.instance(&loopback::instance_id(i))).await;
        }
    });
    assert_eq!(app.cached_instances(), INSTANCES as u64);
    let warm = loopback::instance_id(4_242);

    let through_single = || loopback::get_conversation(&single);
    // As a webhook handler does: the instance's client made for the call.
    let through_instance = || async { loopback::get_conversation(&app.instance(&warm)).await };
    assert_eq!(
        rt.block_on(through_single()),
        rt.block_on(through_instance())
    );

    let mut group = c.benchmark_group("app");
    group.bench_function("single_site_client", |b| {
        b.to_async(&rt).iter(through_single)
    });
    group.bench_function("app_instance_warm", |b| {
        b.to_async(&rt).iter(through_instance)
    });
    group.finish();
    c.bench_function("app_instance_itself", |b| {
        b.iter(|| std::hint::black_box(app.instance(std::hint::black_box(&warm))))
    });

    loopback::alternating_medians(
        &rt,
        ("single-site client", through_single),
        ("app.instance(id)", through_instance),
    );
}

criterion_group!(benches, app_instances);
criterion_main!(benches);
