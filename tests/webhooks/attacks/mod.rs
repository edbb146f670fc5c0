//! Forged, tampered and malformed deliveries: each is refused with the right error.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use wix_inbox::webhooks::test_signer::{encode_unsigned, sign_hs256, TestSigner};
use wix_inbox::webhooks::{InboxEvent, Layer, WebhookError, WebhookEvent};

use super::{good_event, good_token, signer, verifier};

mod claims;
mod entities;

fn rs256_header() -> Value {
    json!({"alg": "RS256", "typ": "JWT"})
}

fn verify(token: &str) -> Result<wix_inbox::webhooks::WebhookEvent, WebhookError> {
    verifier().verify(token.as_bytes())
}

fn assert_wrong_alg(token: &str, alg: &str) {
    match verify(token) {
        Err(WebhookError::WrongAlgorithm { alg: got }) => assert_eq!(got, alg),
        other => panic!("expected WrongAlgorithm({alg}), got {other:?}"),
    }
}

fn assert_malformed(token: &str, layer: Layer) {
    match verify(token) {
        Err(WebhookError::Malformed { layer: got, reason }) => {
            assert_eq!(got, layer, "{reason}");
            assert!(reason.len() < 200, "reason too long: {reason}");
        }
        other => panic!("expected Malformed({layer:?}), got {other:?}"),
    }
}

/// Replaces the header part of a token.
fn with_header(token: &str, header: &Value) -> String {
    let (_, rest) = token.split_once('.').unwrap();
    format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()))
}

/// Signs a delivery whose envelope (the `data` claim's JSON) is `envelope`.
fn sign_envelope(envelope: &Value) -> String {
    let event = good_event();
    signer().sign_claims(&json!({
        "data": envelope.to_string(),
        "iat": event.iat,
        "exp": event.exp,
    }))
}

/// The envelope of [`good_event`], as a JSON object.
fn good_envelope() -> Value {
    let claims = good_event().claims();
    serde_json::from_str(claims["data"].as_str().unwrap()).unwrap()
}

#[test]
fn the_good_token_is_accepted() {
    let event = verify(&good_token()).unwrap();
    assert!(matches!(event.event, InboxEvent::MessageSentToBusiness(_)));
}

#[test]
fn trailing_newline_is_tolerated() {
    assert!(verify(&format!("{}\r\n", good_token())).is_ok());
}

macro_rules! alg_none {
    ($($name:ident: $alg:literal, $keep_signature:literal;)*) => {$(
        #[test]
        fn $name() {
            let claims = good_event().claims();
            let header = json!({"alg": $alg, "typ": "JWT"});
            let token = if $keep_signature {
                with_header(&good_token(), &header)
            } else {
                encode_unsigned(&header, &claims)
            };
            assert_wrong_alg(&token, $alg);
        }
    )*};
}

alg_none! {
    alg_none_lowercase_unsigned: "none", false;
    alg_none_lowercase_with_original_signature: "none", true;
    alg_none_capitalized_unsigned: "None", false;
    alg_none_capitalized_with_original_signature: "None", true;
    alg_none_uppercase_unsigned: "NONE", false;
    alg_none_uppercase_with_original_signature: "NONE", true;
}

#[test]
fn alg_missing() {
    let token = encode_unsigned(&json!({"typ": "JWT"}), &good_event().claims());
    assert_wrong_alg(&token, "(missing)");
}

fn hs256_with(secret: &[u8]) {
    let header = json!({"alg": "HS256", "typ": "JWT"});
    let token = sign_hs256(secret, &header, &good_event().claims());
    assert_wrong_alg(&token, "HS256");
}

#[test]
fn hs256_signed_with_public_key_pem() {
    hs256_with(signer().public_key_pem().as_bytes());
}

#[test]
fn hs256_signed_with_trimmed_public_key_pem() {
    hs256_with(signer().public_key_pem().trim().as_bytes());
}

#[test]
fn hs256_signed_with_public_key_der() {
    hs256_with(signer().public_key_der());
}

#[test]
fn hs256_signed_with_base64_public_key_pem() {
    hs256_with(STANDARD.encode(signer().public_key_pem()).as_bytes());
}

/// Key confusion where the header does not give it away: the header says RS256, so the
/// verifier reads on to the signature, which is an HMAC-SHA256 made with the public key's bytes
/// as the secret. A verifier that let the key's type pick the algorithm would accept it.
fn rs256_labelled_hmac_with(secret: &[u8]) {
    let token = sign_hs256(secret, &rs256_header(), &good_event().claims());
    assert_eq!(verify(&token).unwrap_err(), WebhookError::BadSignature);
    // The same token with the header that matches its signature is refused before that.
    assert_wrong_alg(
        &with_header(&token, &json!({"alg": "HS256", "typ": "JWT"})),
        "HS256",
    );
}

#[test]
fn rs256_header_over_an_hmac_made_with_the_public_key_pem() {
    rs256_labelled_hmac_with(signer().public_key_pem().as_bytes());
    rs256_labelled_hmac_with(signer().public_key_pem().trim().as_bytes());
}

#[test]
fn rs256_header_over_an_hmac_made_with_the_public_key_der() {
    rs256_labelled_hmac_with(signer().public_key_der());
}

#[test]
fn rs256_header_over_an_hmac_padded_to_the_key_length() {
    // As long as a real RS256 signature of this key (2048 bits), so length checks alone cannot
    // be what refuses it.
    let token = sign_hs256(
        signer().public_key_pem().as_bytes(),
        &rs256_header(),
        &good_event().claims(),
    );
    let (message, hmac) = token.rsplit_once('.').unwrap();
    let hmac = URL_SAFE_NO_PAD.decode(hmac).unwrap();
    let padded: Vec<u8> = hmac.iter().copied().cycle().take(256).collect();
    let forged = format!("{message}.{}", URL_SAFE_NO_PAD.encode(padded));
    assert_eq!(verify(&forged).unwrap_err(), WebhookError::BadSignature);
}

#[test]
fn rs384_signed_with_the_right_key() {
    let token = signer().sign_with(
        Algorithm::RS384,
        &json!({"alg": "RS384", "typ": "JWT"}),
        &good_event().claims(),
    );
    assert_wrong_alg(&token, "RS384");
}

#[test]
fn ps256_signed_with_the_right_key() {
    let token = signer().sign_with(
        Algorithm::PS256,
        &json!({"alg": "PS256", "typ": "JWT"}),
        &good_event().claims(),
    );
    assert_wrong_alg(&token, "PS256");
}

#[test]
fn ps256_signature_labelled_rs256() {
    let token = signer().sign_with(Algorithm::PS256, &rs256_header(), &good_event().claims());
    assert_eq!(verify(&token).unwrap_err(), WebhookError::BadSignature);
}

#[test]
fn every_other_alg_name_is_refused() {
    for alg in [
        "HS384", "HS512", "RS512", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "rs256",
        "RS256 ", "",
    ] {
        let token = with_header(&good_token(), &json!({"alg": alg, "typ": "JWT"}));
        assert_wrong_alg(&token, alg);
    }
}

#[test]
fn alg_that_is_not_a_string() {
    let token = with_header(&good_token(), &json!({"alg": 256}));
    assert!(matches!(verify(&token), Err(WebhookError::NotAJwt { .. })));
}

#[test]
fn duplicate_alg_in_header() {
    let header = r#"{"alg":"RS256","alg":"none"}"#;
    let (_, rest) = good_token()
        .split_once('.')
        .map(|(h, r)| (h.to_owned(), r.to_owned()))
        .unwrap();
    let token = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header));
    assert!(matches!(verify(&token), Err(WebhookError::NotAJwt { .. })));
}

#[test]
fn signed_by_a_different_key() {
    let other = TestSigner::generate();
    let token = other.sign_event(&good_event());
    assert_eq!(verify(&token).unwrap_err(), WebhookError::BadSignature);
}

#[test]
fn jwk_header_with_the_attackers_key_is_ignored() {
    let attacker = TestSigner::generate();
    for param in ["jwk", "jku", "x5u", "x5c", "kid"] {
        let mut header = rs256_header();
        header[param] = match param {
            "jwk" => json!({"kty": "RSA", "e": "AQAB",
                            "n": URL_SAFE_NO_PAD.encode(attacker.public_key_der())}),
            "x5c" => json!([STANDARD.encode(attacker.public_key_der())]),
            _ => json!("https://attacker.invalid/key"),
        };
        let token = attacker.sign_with(Algorithm::RS256, &header, &good_event().claims());
        assert_eq!(
            verify(&token).unwrap_err(),
            WebhookError::BadSignature,
            "{param}"
        );
    }
}

#[test]
fn jwk_header_on_a_genuine_token_does_not_matter() {
    let mut header = rs256_header();
    header["jwk"] = json!({"kty": "RSA", "e": "AQAB", "n": "AAAA"});
    let token = signer().sign_with(Algorithm::RS256, &header, &good_event().claims());
    assert!(verify(&token).is_ok());
}

#[test]
fn crit_header_is_refused() {
    let mut header = rs256_header();
    header["crit"] = json!(["b64"]);
    header["b64"] = json!(false);
    let token = signer().sign_with(Algorithm::RS256, &header, &good_event().claims());
    assert!(matches!(verify(&token), Err(WebhookError::NotAJwt { .. })));
}

#[test]
fn tampered_payload() {
    let token = good_token();
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = good_event().claims();
    claims["data"] = json!(claims["data"].as_str().unwrap().replace("JoJo", "Evil"));
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    assert_eq!(verify(&forged).unwrap_err(), WebhookError::BadSignature);
}

#[test]
fn truncated_signature() {
    let token = good_token();
    for cut in [1, 10, 100] {
        let truncated = &token[..token.len() - cut];
        assert_eq!(verify(truncated).unwrap_err(), WebhookError::BadSignature);
    }
    let (message, _) = token.rsplit_once('.').unwrap();
    assert_eq!(
        verify(&format!("{message}.")).unwrap_err(),
        WebhookError::BadSignature
    );
}

#[test]
fn signature_that_is_not_base64url() {
    let token = good_token();
    let (message, _) = token.rsplit_once('.').unwrap();
    assert_eq!(
        verify(&format!("{message}.!!!!")).unwrap_err(),
        WebhookError::BadSignature
    );
}
