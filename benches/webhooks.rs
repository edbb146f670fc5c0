//! Webhook verification cost: `WebhookVerifier::verify` (verify + decode every layer) against
//! the floor, bare RS256 signature verification of the same tokens with `jsonwebtoken`; then
//! the peak heap while verifying 10,000 distinct tokens and remembering their IDs.
//!
//! `cargo bench --bench webhooks -- --warm-up-time 1 --measurement-time 3`

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use criterion::Criterion;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use wix_inbox::webhooks::test_signer::{TestEvent, TestSigner};
use wix_inbox::webhooks::{InMemoryDeduplicator, Sighting, WebhookVerifier};

/// The system allocator, counting live and peak bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(size: usize) {
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
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
            grew(layout.size());
        }
        ptr
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// `body` of a Wix example in `tests/fixtures/webhooks/`.
fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/webhooks/{name}DomainEvent.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut fixture: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON");
    fixture["body"].take()
}

fn event(event_type: &str, name: &str) -> TestEvent {
    let mut event = TestEvent::new(event_type, fixture(name));
    event.exp = Some(i64::MAX / 2);
    event
}

const EVENTS: [(&str, &str, &str); 2] = [
    (
        "conversations_merged",
        "wix.crm.inbox.v2.conversation_conversations_merged",
        "ConversationsMerged",
    ),
    (
        "message_sent_to_business",
        "wix.crm.inbox.v2.message_message_sent_to_business",
        "MessageSentToBusiness",
    ),
];

/// The floor: split the token and check its RS256 signature, nothing else.
fn floor(token: &str, key: &DecodingKey) -> bool {
    let Some((message, signature)) = token.rsplit_once('.') else {
        return false;
    };
    jsonwebtoken::crypto::verify(signature, message.as_bytes(), key, Algorithm::RS256)
        .unwrap_or(false)
}

fn main() {
    let signer = TestSigner::shared();
    let verifier = signer.verifier();
    let key = DecodingKey::from_rsa_pem(signer.public_key_pem().as_bytes()).expect("key");

    let tokens: Vec<(&str, String)> = EVENTS
        .iter()
        .map(|(name, event_type, fixture)| (*name, signer.sign_event(&event(event_type, fixture))))
        .collect();
    for (_, token) in &tokens {
        assert!(floor(token, &key));
        verifier.verify(token.as_bytes()).expect("valid token");
    }

    let mut criterion = Criterion::default().configure_from_args();
    for (name, token) in &tokens {
        let mut group = criterion.benchmark_group(*name);
        group.bench_function("floor: jsonwebtoken RS256 signature only", |b| {
            b.iter(|| floor(black_box(token), &key))
        });
        group.bench_function("ours: verify + decode", |b| {
            b.iter(|| verifier.verify(black_box(token.as_bytes())))
        });
        group.finish();
    }
    criterion.final_summary();

    // Interleaved timing of the same work, so the ratio is not skewed by drift between groups.
    println!();
    for (name, token) in &tokens {
        let rounds = 2_000;
        let (mut floor_ns, mut ours_ns) = (0u128, 0u128);
        for _ in 0..rounds {
            let t = Instant::now();
            black_box(floor(black_box(token), &key));
            floor_ns += t.elapsed().as_nanos();
            let t = Instant::now();
            black_box(verifier.verify(black_box(token.as_bytes())).is_ok());
            ours_ns += t.elapsed().as_nanos();
        }
        println!(
            "{name}: floor {:.2} µs, ours {:.2} µs, ratio {:.3}",
            floor_ns as f64 / rounds as f64 / 1e3,
            ours_ns as f64 / rounds as f64 / 1e3,
            ours_ns as f64 / floor_ns as f64
        );
    }

    peak_memory(signer, &verifier);
}

/// Peak heap above the baseline while verifying 10,000 distinct tokens and remembering their
/// IDs in the default deduplicator.
fn peak_memory(signer: &TestSigner, verifier: &WebhookVerifier) {
    const COUNT: usize = 10_000;
    let started = Instant::now();
    let base = event(
        "wix.crm.inbox.v2.message_message_sent_to_business",
        "MessageSentToBusiness",
    );
    let tokens: Vec<String> = (0..COUNT)
        .map(|i| {
            let mut event = base.clone();
            event.domain_event["id"] = Value::String(format!("00000000-0000-4000-8000-{i:012}"));
            signer.sign_event(&event)
        })
        .collect();
    let token_bytes: usize = tokens.iter().map(String::len).sum();
    println!(
        "\nsigned {COUNT} tokens ({:.1} MB of input, not counted) in {:.1} s",
        token_bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let dedup = InMemoryDeduplicator::new();
    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    for token in &tokens {
        let event = verifier.verify(token.as_bytes()).expect("valid token");
        assert_eq!(dedup.check_and_insert_now(&event.id), Sighting::First);
    }
    let peak = PEAK.load(Ordering::Relaxed) - baseline;
    let retained = LIVE.load(Ordering::Relaxed) - baseline;
    println!(
        "peak heap verifying {COUNT} tokens + deduplicating their IDs: {:.2} MB \
         ({retained} bytes retained by the deduplicator)",
        peak as f64 / 1e6
    );

    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    for token in &tokens {
        black_box(verifier.verify(token.as_bytes()).expect("valid token"));
    }
    println!(
        "peak heap verifying {COUNT} tokens alone: {} bytes",
        PEAK.load(Ordering::Relaxed) - baseline
    );
}
