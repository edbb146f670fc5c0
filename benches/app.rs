//! What a client per app instance costs: a Get Conversation round trip on loopback through
//! `app.instance(id)` (warm: the instance's token is cached, among 10,000 cached instances)
//! against the same call through a single-site `Client` (`Client::builder().app(..)`, one
//! instance), in the same run; and what `app.instance(id)` itself costs (no I/O).
//!
//! ```sh
//! cargo bench --bench app -- --warm-up-time 1 --measurement-time 5
//! ```

use axum::{http::HeaderValue, response::IntoResponse, routing::post, Json, Router};
use criterion::{criterion_group, criterion_main, Criterion};
use wix_inbox::{App, AppCredentials, Client};

const CONVERSATION: &str = "6202c3bb-f263-3c16-8c90-d6387d9ed420";
const INSTANCES: usize = 10_000;

/// A server on its own thread and runtime: tokens at `/oauth2/token`, Wix's example
/// conversation for everything else.
fn server() -> String {
    let fixture: serde_json::Value = serde_json::from_str(include_str!(
        "../tests/fixtures/responses/get-conversation.json"
    ))
    .unwrap();
    let body = serde_json::to_string(&fixture["body"]).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = Router::new()
                .route(
                    "/oauth2/token",
                    post(|| async {
                        Json(serde_json::json!({
                            "access_token": "OauthNG.JWS.bench-token",
                            "token_type": "Bearer",
                            "expires_in": 14_400,
                        }))
                    }),
                )
                .fallback(move || {
                    let body = body.clone();
                    async move {
                        let mut response = (
                            [(axum::http::header::CONTENT_TYPE, "application/json")],
                            body,
                        )
                            .into_response();
                        response
                            .headers_mut()
                            .insert("x-wix-request-id", HeaderValue::from_static("bench-1"));
                        response
                    }
                });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(format!("http://{}", listener.local_addr().unwrap()))
                .unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

fn instance_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

fn app_instances(c: &mut Criterion) {
    let url = server();
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
            instance_id: instance_id(0),
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
            app.instance(&instance_id(i))
                .get_conversation()
                .conversation_id(CONVERSATION)
                .send()
                .await
                .unwrap();
        }
    });
    assert_eq!(app.cached_instances(), INSTANCES as u64);
    let warm = instance_id(4_242);

    let through_single = || async {
        single
            .get_conversation()
            .conversation_id(CONVERSATION)
            .send()
            .await
            .unwrap()
            .into_inner()
    };
    // As a webhook handler does: the instance's client made for the call.
    let through_instance = || async {
        app.instance(&warm)
            .get_conversation()
            .conversation_id(CONVERSATION)
            .send()
            .await
            .unwrap()
            .into_inner()
    };
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

    // The machine may be busy with other work that comes and goes: also alternate short
    // blocks of both and compare medians.
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    const ROUNDS: usize = 21;
    const CALLS: u32 = 2_000;
    let (mut single_times, mut instance_times) = (Vec::new(), Vec::new());
    rt.block_on(async {
        for _ in 0..ROUNDS {
            let started = std::time::Instant::now();
            for _ in 0..CALLS {
                std::hint::black_box(through_single().await);
            }
            single_times.push(started.elapsed() / CALLS);
            let started = std::time::Instant::now();
            for _ in 0..CALLS {
                std::hint::black_box(through_instance().await);
            }
            instance_times.push(started.elapsed() / CALLS);
        }
    });
    single_times.sort();
    instance_times.sort();
    let (single_median, instance_median) = (single_times[ROUNDS / 2], instance_times[ROUNDS / 2]);
    println!(
        "alternating blocks, median per call: single-site client {single_median:.2?}, \
         app.instance(id) {instance_median:.2?}, ratio {:.3}",
        instance_median.as_secs_f64() / single_median.as_secs_f64()
    );
}

criterion_group!(benches, app_instances);
criterion_main!(benches);
