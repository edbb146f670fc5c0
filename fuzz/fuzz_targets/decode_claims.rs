//! The decode path after the signature check: arbitrary bytes as JWT claims JSON.
//!
//! `cargo +nightly fuzz run decode_claims` (from the repository root).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|claims: &[u8]| {
    let _ = wix_inbox::webhooks::__fuzz_decode_claims(claims, 1_700_000_000);
});
