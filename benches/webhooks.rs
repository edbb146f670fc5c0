//! Webhook verification cost: `WebhookVerifier::verify` (verify + decode every layer) against
//! the floor, bare RS256 signature verification of the same tokens with the key parsed once
//! (aws-lc-rs, as the verifier does), in one run; then where the time above the floor goes. Peak memory is measured by the
//! `webhooks_memory` bench, so that this one runs on the plain system allocator.
//!
//! `cargo bench --bench webhooks -- --warm-up-time 1 --measurement-time 3`

// Shared with the load benches, which use its runtime helper.
#[allow(dead_code)]
mod common;

use std::hint::black_box;
use std::time::Instant;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use criterion::Criterion;
use jsonwebtoken::{Algorithm, DecodingKey};
use wix_inbox::types;
use wix_inbox::webhooks::test_signer::TestSigner;

use common::{event, fixture, floor, floor_key, EVENTS};

/// jsonwebtoken's own RS256 check, which re-parses the key on every call: printed for reference.
fn jsonwebtoken_verify(token: &str, key: &DecodingKey) -> bool {
    let Some((message, signature)) = token.rsplit_once('.') else {
        return false;
    };
    jsonwebtoken::crypto::verify(signature, message.as_bytes(), key, Algorithm::RS256)
        .unwrap_or(false)
}

/// Parses a domain event's body into its generated type, as the decoder's last layer does.
fn parse_body(fixture_name: &str, body: &str) -> bool {
    match fixture_name {
        "ConversationsMerged" => serde_json::from_str::<types::ConversationsMerged>(body).is_ok(),
        _ => serde_json::from_str::<types::MessageSentToBusiness>(body).is_ok(),
    }
}

fn main() {
    let signer = TestSigner::shared();
    let verifier = signer.verifier();
    let key = floor_key(signer);
    let jwt_key = DecodingKey::from_rsa_pem(signer.public_key_pem().as_bytes()).expect("key");

    let tokens: Vec<(&str, &str, String)> = EVENTS
        .iter()
        .map(|(name, event_type, fixture)| {
            (
                *name,
                *fixture,
                signer.sign_event(&event(event_type, fixture)),
            )
        })
        .collect();
    for (_, _, token) in &tokens {
        assert!(floor(token, &key));
        verifier.verify(token.as_bytes()).expect("valid token");
    }

    let mut criterion = Criterion::default().configure_from_args();
    for (name, _, token) in &tokens {
        let mut group = criterion.benchmark_group(*name);
        group.bench_function("floor: RS256 signature only, key parsed once", |b| {
            b.iter(|| floor(black_box(token), &key))
        });
        group.bench_function("ours: verify + decode", |b| {
            b.iter(|| verifier.verify(black_box(token.as_bytes())))
        });
        group.finish();
    }
    criterion.final_summary();

    // Interleaved timing of the same work, so the ratio is not skewed by drift between groups,
    // and the parts of the time above the floor.
    println!();
    for (name, fixture_name, token) in &tokens {
        let claims_b64 = token.split('.').nth(1).expect("three parts");
        let claims = URL_SAFE_NO_PAD.decode(claims_b64).expect("base64url");
        let body = fixture(fixture_name)["actionEvent"]["body"].to_string();
        let payload: types::WebhookPayload = serde_json::from_slice(&claims).expect("claims");
        let envelope: types::WebhookEnvelope =
            serde_json::from_str(&payload.data).expect("envelope");
        let domain_event = envelope.data.expect("domain event");
        let parts: [(&str, &dyn Fn() -> bool); 7] = [
            ("floor", &|| floor(black_box(token), &key)),
            ("ours", &|| {
                verifier.verify(black_box(token.as_bytes())).is_ok()
            }),
            ("claims base64", &|| {
                URL_SAFE_NO_PAD.decode(black_box(claims_b64)).is_ok()
            }),
            ("layers after the signature", &|| {
                wix_inbox::webhooks::__fuzz_decode_claims(black_box(&claims), 0).is_ok()
            }),
            ("the body alone", &|| {
                parse_body(fixture_name, black_box(&body))
            }),
            ("the domain-event layer alone", &|| {
                serde_json::from_str::<types::DomainEvent>(black_box(&domain_event)).is_ok()
            }),
            ("jsonwebtoken's RS256 check (re-parses the key)", &|| {
                jsonwebtoken_verify(black_box(token), &jwt_key)
            }),
        ];
        let rounds = 4_000;
        let mut ns = [0u128; 7];
        for _ in 0..rounds {
            for ((_, work), total) in parts.iter().zip(&mut ns) {
                let t = Instant::now();
                assert!(black_box(work()));
                *total += t.elapsed().as_nanos();
            }
        }
        let us = |i: usize| ns[i] as f64 / rounds as f64 / 1e3;
        println!(
            "{name}: floor {:.2} µs, ours {:.2} µs, ratio {:.3}",
            us(0),
            us(1),
            us(1) / us(0)
        );
        for (i, (part, _)) in parts.iter().enumerate().skip(2) {
            println!(
                "  {part}: {:.2} µs ({:.3}× the floor)",
                us(i),
                us(i) / us(0)
            );
        }
    }
}
