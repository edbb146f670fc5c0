//! What the client benches share: a Wix-like server on loopback, and the alternating blocks that
//! compare two calls when the machine's load comes and goes.

use std::future::Future;
use std::time::{Duration, Instant};

use axum::{http::HeaderValue, response::IntoResponse, Router};
use wix_inbox::{types::GetConversationResponse, Client};

/// The conversation of Wix's example, which the server answers with.
pub const CONVERSATION: &str = "6202c3bb-f263-3c16-8c90-d6387d9ed420";

/// A server that issues a token at `/oauth2/token` (valid 4 hours) and answers Wix's example
/// conversation for everything else: the app benches'. Its base URL.
#[allow(dead_code)] // Not every bench makes an app.
pub fn token_server() -> String {
    server(Router::new().route(
        "/oauth2/token",
        axum::routing::post(|| async {
            axum::Json(serde_json::json!({
                "access_token": "OauthNG.JWS.bench-token",
                "token_type": "Bearer",
                "expires_in": 14_400,
            }))
        }),
    ))
}

/// The app benches' instance IDs, shaped like Wix's.
#[allow(dead_code)] // Not every bench makes an app.
pub fn instance_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

/// A server on its own thread and runtime: `routes`, and Wix's example conversation for
/// everything else. Its base URL.
pub fn server(routes: Router) -> String {
    let fixture: serde_json::Value = serde_json::from_str(include_str!(
        "../../tests/fixtures/responses/get-conversation.json"
    ))
    .unwrap();
    let body = serde_json::to_string(&fixture["body"]).unwrap();
    serve(routes.fallback(move || {
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
    }))
}

/// Serves `app` on loopback from its own thread and runtime. Its base URL.
pub fn serve(app: Router) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(format!("http://{}", listener.local_addr().unwrap()))
                .unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// The benched call: Get Conversation through `client`.
pub async fn get_conversation(client: &Client) -> GetConversationResponse {
    client
        .get_conversation()
        .conversation_id(CONVERSATION)
        .send()
        .await
        .unwrap()
        .into_inner()
}

/// criterion measures one function after the other, and the machine may be busy with other
/// work that comes and goes: this also alternates short blocks of `first` and `second` and
/// prints the median time per call of each, and the ratio `second / first`. Nothing when
/// criterion only lists or tests the benches.
#[allow(dead_code)] // The metrics bench wants the medians.
pub fn alternating_medians<F1, F2>(
    rt: &tokio::runtime::Runtime,
    first: (&str, impl Fn() -> F1),
    second: (&str, impl Fn() -> F2),
) where
    F1: Future,
    F2: Future,
{
    alternating_medians_of(rt, first, second);
}

/// [`alternating_medians`], returning the two medians (none when criterion only lists or tests
/// the benches).
pub fn alternating_medians_of<F1, F2>(
    rt: &tokio::runtime::Runtime,
    (first_name, first): (&str, impl Fn() -> F1),
    (second_name, second): (&str, impl Fn() -> F2),
) -> Option<(Duration, Duration)>
where
    F1: Future,
    F2: Future,
{
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return None;
    }
    const ROUNDS: usize = 21;
    const CALLS: u32 = 2_000;
    let (mut first_times, mut second_times) = (Vec::new(), Vec::new());
    rt.block_on(async {
        for _ in 0..ROUNDS {
            first_times.push(per_call(CALLS, &first).await);
            second_times.push(per_call(CALLS, &second).await);
        }
    });
    first_times.sort();
    second_times.sort();
    let (first_median, second_median) = (first_times[ROUNDS / 2], second_times[ROUNDS / 2]);
    println!(
        "alternating blocks, median per call: {first_name} {first_median:.2?}, \
         {second_name} {second_median:.2?}, ratio {:.3}",
        second_median.as_secs_f64() / first_median.as_secs_f64()
    );
    Some((first_median, second_median))
}

async fn per_call<F: Future>(calls: u32, call: impl Fn() -> F) -> Duration {
    let started = Instant::now();
    for _ in 0..calls {
        std::hint::black_box(call().await);
    }
    started.elapsed() / calls
}
