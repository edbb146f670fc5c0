//! What the production client costs: a Get Conversation round trip on loopback through
//! `wix_inbox::Client` (auth, retry bookkeeping, tracing span, typed errors) against the same call
//! written by hand with reqwest (the floor), in the same run.
//!
//! ```sh
//! cargo bench --bench client -- --warm-up-time 1 --measurement-time 5
//! ```

use std::time::Duration;

use axum::{http::HeaderValue, response::IntoResponse, Router};
use criterion::{criterion_group, criterion_main, Criterion};
use wix_inbox::{types, Client};

const CONVERSATION: &str = "6202c3bb-f263-3c16-8c90-d6387d9ed420";

/// A server on its own thread and runtime, answering every request with Wix's example.
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
            let app = Router::new().fallback(move || {
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

fn get_conversation(c: &mut Criterion) {
    let url = server();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // The floor: the same request, by hand.
    let raw = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    // What a hand-written `get_conversation(id)` does: format the URL, add the credentials, send,
    // read the body, parse it into the same generated type. (It does not percent-encode the ID,
    // which the generated operation does: the floor is generous.)
    let by_hand = || async {
        let response = raw
            .get(format!("{url}/inbox/v2/conversations/{CONVERSATION}"))
            .header("accept", "application/json")
            .header("authorization", "bench-key")
            .header("wix-site-id", "bench-site")
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        let body = response.bytes().await.unwrap();
        serde_json::from_slice::<types::GetConversationResponse>(&body).unwrap()
    };

    let client = Client::builder()
        .base_url(&url)
        .api_key("bench-key")
        .site_id("bench-site")
        .build()
        .unwrap();
    let through_client = || async {
        client
            .get_conversation()
            .conversation_id(CONVERSATION)
            .send()
            .await
            .unwrap()
            .into_inner()
    };

    // Both answers are the same before anything is timed.
    assert_eq!(rt.block_on(by_hand()), rt.block_on(through_client()));

    let mut group = c.benchmark_group("get_conversation");
    group.bench_function("raw_reqwest_floor", |b| b.to_async(&rt).iter(by_hand));
    group.bench_function("wix_inbox_client", |b| b.to_async(&rt).iter(through_client));
    group.finish();

    // The machine may be busy with other work that comes and goes, and criterion measures one
    // function after the other: so also alternate short blocks of both and compare medians.
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    const ROUNDS: usize = 21;
    const CALLS: u32 = 2_000;
    let (mut floor, mut ours) = (Vec::new(), Vec::new());
    rt.block_on(async {
        for _ in 0..ROUNDS {
            let started = std::time::Instant::now();
            for _ in 0..CALLS {
                std::hint::black_box(by_hand().await);
            }
            floor.push(started.elapsed() / CALLS);
            let started = std::time::Instant::now();
            for _ in 0..CALLS {
                std::hint::black_box(through_client().await);
            }
            ours.push(started.elapsed() / CALLS);
        }
    });
    floor.sort();
    ours.sort();
    let (floor, ours) = (floor[ROUNDS / 2], ours[ROUNDS / 2]);
    println!(
        "alternating blocks, median per call: floor {floor:.2?}, client {ours:.2?}, ratio {:.3}",
        ours.as_secs_f64() / floor.as_secs_f64()
    );
}

criterion_group!(benches, get_conversation);
criterion_main!(benches);
