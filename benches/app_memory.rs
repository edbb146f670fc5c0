//! Heap per app instance an `App` keeps: 10,000 instances, each called once (so each has its
//! token, its read-your-writes token and its entry in the bounded cache), against the heap
//! before; the token's own bytes (and the instance ID's) are reported apart. Goal: at most
//! 1 KB per instance beyond the token's bytes. (A first run found 8.8 KB: the kept
//! `X-Wix-Consistent` value was a clone sharing the connection's whole read buffer; it is a
//! copy now.)
//!
//! `cargo bench --bench app_memory`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::{response::IntoResponse, routing::post, Json, Router};
use wix_inbox::App;

// Only its server serves here.
#[allow(dead_code)]
#[path = "common/loopback.rs"]
mod loopback;

/// The system allocator, counting live bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(new_size, Ordering::Relaxed);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A token as long as Wix's (an `OauthNG.JWS.` token of a few hundred characters).
fn token() -> String {
    format!("OauthNG.JWS.{}", "x".repeat(500))
}

const INSTANCES: usize = 10_000;

fn main() {
    // The server runs in this process (its allocations are counted too, but it keeps nothing
    // per request): tokens, a read-your-writes token and a small conversation.
    let url = loopback::serve(
        Router::new()
            .route(
                "/oauth2/token",
                post(|| async {
                    Json(serde_json::json!({
                        "access_token": token(),
                        "expires_in": 14_400,
                    }))
                }),
            )
            .fallback(|| async {
                (
                    [("x-wix-consistent", "1700000000000000")],
                    Json(serde_json::json!({"conversation": {"id": "c-1"}})),
                )
                    .into_response()
            }),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = App::builder()
        .app_id("bench-app")
        .app_secret("bench-secret")
        .base_url(&url)
        .max_instances(20_000)
        .build()
        .unwrap();
    let call = |i: usize| {
        let app = app.clone();
        async move {
            app.instance(&loopback::instance_id(i))
                .get_conversation()
                .conversation_id("c-1")
                .send()
                .await
                .unwrap();
        }
    };
    rt.block_on(async {
        // Warm up: the connection, the pool, the runtime's buffers, the cache's fixed parts.
        for i in 0..100 {
            call(i).await;
        }
        // Calls on a kept instance keep nothing.
        let warm = LIVE.load(Ordering::Relaxed);
        for _ in 0..10_000 {
            call(5).await;
        }
        let kept = LIVE.load(Ordering::Relaxed) as f64 - warm as f64;
        println!(
            "heap kept by 10,000 calls on one instance: {:.1} bytes per call",
            kept / 10_000.0
        );
        let before = LIVE.load(Ordering::Relaxed);
        for i in 100..100 + INSTANCES {
            call(i).await;
        }
        assert_eq!(app.cached_instances(), (100 + INSTANCES) as u64);
        let after = LIVE.load(Ordering::Relaxed);
        let per_instance = (after.saturating_sub(before)) as f64 / INSTANCES as f64;
        let token_bytes = token().len();
        let id_bytes = loopback::instance_id(0).len();
        println!(
            "heap per cached instance at {INSTANCES} instances: {per_instance:.0} bytes; the \
             token's own {token_bytes} bytes, the instance ID's {id_bytes}; beyond the token: \
             {:.0} bytes (goal <= 1024)",
            per_instance - token_bytes as f64
        );
    });
}
