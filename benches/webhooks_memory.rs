//! Peak heap while verifying 10,000 distinct webhook tokens, against the peak of bare signature
//! checks of the same tokens (the floor), and while remembering their IDs in the default
//! deduplicator (goal: ≤ 10 MB), against the bytes of the IDs themselves.
//!
//! `cargo bench --bench webhooks_memory`

// Shared with the timing bench, which uses all of it.
#[allow(dead_code)]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde_json::Value;
use wix_inbox::webhooks::test_signer::TestSigner;
use wix_inbox::webhooks::{Claim, InMemoryDeduplicator};

use common::{event, floor, floor_key};

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

fn main() {
    const COUNT: usize = 10_000;
    let signer = TestSigner::shared();
    let verifier = signer.verifier();
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
        "signed {COUNT} tokens ({:.1} MB of input, not counted) in {:.1} s",
        token_bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    // Floor 1: the peak heap of bare RS256 signature checks of the same tokens.
    let key = floor_key(signer);
    let floor_peak = peak_while(|| {
        for token in &tokens {
            assert!(floor(token, &key));
        }
    });
    let ours_peak = peak_while(|| {
        for token in &tokens {
            black_box(verifier.verify(token.as_bytes()).expect("valid token"));
        }
    });
    // The floor may allocate nothing at all; then the figure is the bytes above it.
    let ratio = match floor_peak {
        0 => "the floor allocates nothing".to_owned(),
        floor => format!("ratio {:.2}", ours_peak as f64 / floor as f64),
    };
    println!(
        "peak heap verifying {COUNT} tokens: floor (signature only) {floor_peak} bytes, ours \
         (verify + decode) {ours_peak} bytes; {ratio}"
    );

    // Floor 2: the bytes of the IDs themselves, which any deduplicator must keep.
    let dedup = InMemoryDeduplicator::new();
    let mut id_bytes = 0;
    let baseline = LIVE.load(Ordering::Relaxed);
    let dedup_peak = peak_while(|| {
        for token in &tokens {
            let event = verifier.verify(token.as_bytes()).expect("valid token");
            id_bytes += event.id.len();
            let Claim::First(lease) = dedup.claim_now(&event.id) else {
                panic!("a new ID is claimed first");
            };
            dedup.complete_now(&lease).expect("the claim is held");
        }
    });
    let retained = LIVE.load(Ordering::Relaxed).saturating_sub(baseline);
    println!(
        "peak heap verifying {COUNT} tokens + deduplicating their IDs: {:.2} MB (goal <= 10 MB); \
         floor (the IDs' bytes) {:.2} MB, ratio {:.2}; {retained} bytes retained",
        dedup_peak as f64 / 1e6,
        id_bytes as f64 / 1e6,
        dedup_peak as f64 / id_bytes.max(1) as f64
    );
}

/// The peak heap above what was live when `work` started, while it runs.
fn peak_while(work: impl FnOnce()) -> usize {
    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    work();
    PEAK.load(Ordering::Relaxed).saturating_sub(baseline)
}
