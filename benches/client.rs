//! What the production client costs: a Get Conversation round trip on loopback through
//! `wix_inbox::Client` (auth, retry bookkeeping, tracing span, typed errors) against the same call
//! written by hand with reqwest (the floor), in the same run.
//!
//! ```sh
//! cargo bench --bench client -- --warm-up-time 1 --measurement-time 5
//! ```

use std::time::Duration;

use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion};

use wix_inbox::{types, Client};

#[path = "common/loopback.rs"]
mod loopback;

use loopback::CONVERSATION;

fn get_conversation(c: &mut Criterion) {
    let url = loopback::server(Router::new());
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
    let through_client = || loopback::get_conversation(&client);

    // Both answers are the same before anything is timed.
    assert_eq!(rt.block_on(by_hand()), rt.block_on(through_client()));

    let mut group = c.benchmark_group("get_conversation");
    group.bench_function("raw_reqwest_floor", |b| b.to_async(&rt).iter(by_hand));
    group.bench_function("wix_inbox_client", |b| b.to_async(&rt).iter(through_client));
    group.finish();

    loopback::alternating_medians(&rt, ("floor", by_hand), ("client", through_client));
}

criterion_group!(benches, get_conversation);
criterion_main!(benches);
