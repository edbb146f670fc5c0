//! Forged, tampered and malformed deliveries: each is refused with the right error.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use wix_inbox::webhooks::test_signer::{encode_unsigned, sign_hs256, TestSigner};
use wix_inbox::webhooks::{InboxEvent, Layer, WebhookError};

use super::{good_event, good_token, signer, verifier};

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

#[test]
fn expired() {
    let mut event = good_event();
    event.exp = Some(event.iat - 3600);
    let err = verify(&signer().sign_event(&event)).unwrap_err();
    assert!(matches!(err, WebhookError::Expired { .. }), "{err:?}");
    assert_eq!(err.status_code(), 401);
}

#[test]
fn expired_within_leeway_is_accepted() {
    let mut event = good_event();
    event.exp = Some(event.iat - 30);
    assert!(verify(&signer().sign_event(&event)).is_ok());
}

#[test]
fn leeway_is_configurable() {
    let mut event = good_event();
    event.exp = Some(event.iat - 30);
    let token = signer().sign_event(&event);
    let strict = verifier().with_leeway(std::time::Duration::ZERO);
    assert!(matches!(
        strict.verify(token.as_bytes()),
        Err(WebhookError::Expired { .. })
    ));
}

#[test]
fn nbf_in_the_future() {
    let mut event = good_event();
    event.nbf = Some(event.iat + 3600);
    let err = verify(&signer().sign_event(&event)).unwrap_err();
    assert!(matches!(err, WebhookError::NotYetValid { .. }), "{err:?}");
}

#[test]
fn missing_exp_is_refused_by_default() {
    let mut event = good_event();
    event.exp = None;
    let token = signer().sign_event(&event);
    assert_eq!(verify(&token).unwrap_err(), WebhookError::MissingExpiry);
    let lenient = verifier().allow_missing_expiry(true);
    assert!(lenient.verify(token.as_bytes()).is_ok());
}

#[test]
fn missing_data() {
    let token = signer().sign_claims(&json!({"iat": 1, "exp": i64::MAX}));
    assert_eq!(verify(&token).unwrap_err(), WebhookError::MissingData);
}

#[test]
fn non_string_data() {
    for data in [
        json!({"eventType": "x"}),
        json!(42),
        json!(null),
        json!(["a"]),
    ] {
        let token = signer().sign_claims(&json!({"data": data, "exp": i64::MAX}));
        assert_eq!(verify(&token).unwrap_err(), WebhookError::DataNotAString);
    }
}

#[test]
fn broken_claims_json() {
    let token = signer().sign_raw(
        Algorithm::RS256,
        rs256_header().to_string().as_bytes(),
        br#"{"data": "x", "exp": "#,
    );
    assert_malformed(&token, Layer::Claims);
}

#[test]
fn claims_that_are_not_utf8() {
    let token = signer().sign_raw(
        Algorithm::RS256,
        rs256_header().to_string().as_bytes(),
        b"{\"data\": \"\xff\xfe\", \"exp\": 99999999999}",
    );
    assert_malformed(&token, Layer::Claims);
}

#[test]
fn broken_envelope_json() {
    let event = good_event();
    let token = signer().sign_claims(&json!({"data": "{\"eventType\": ", "exp": event.exp}));
    assert_malformed(&token, Layer::Envelope);
}

#[test]
fn envelope_without_domain_event() {
    let mut envelope = good_envelope();
    envelope.as_object_mut().unwrap().remove("data");
    assert_malformed(&sign_envelope(&envelope), Layer::Envelope);
}

#[test]
fn broken_identity_json() {
    let mut envelope = good_envelope();
    envelope["identity"] = json!("{\"identityType\": MEMBER}");
    assert_malformed(&sign_envelope(&envelope), Layer::Identity);
}

#[test]
fn broken_domain_event_json() {
    let mut envelope = good_envelope();
    envelope["data"] = json!("{\"id\": \"1\", ");
    assert_malformed(&sign_envelope(&envelope), Layer::DomainEvent);
}

#[test]
fn domain_event_without_id() {
    let mut domain = super::fixture("message_sent_to_business");
    domain.as_object_mut().unwrap().remove("id");
    let mut envelope = good_envelope();
    envelope["data"] = json!(domain.to_string());
    assert_malformed(&sign_envelope(&envelope), Layer::DomainEvent);
}

#[test]
fn broken_event_body_json_string() {
    let mut domain = super::fixture("message_sent_to_business");
    domain["actionEvent"]["body"] = json!("{\"conversationId\": ");
    let mut envelope = good_envelope();
    envelope["data"] = json!(domain.to_string());
    assert_malformed(&sign_envelope(&envelope), Layer::EventBody);
}

#[test]
fn event_body_of_the_wrong_shape() {
    let mut domain = super::fixture("message_sent_to_business");
    domain["actionEvent"]["body"]["conversationId"] = json!(42);
    let mut envelope = good_envelope();
    envelope["data"] = json!(domain.to_string());
    assert_malformed(&sign_envelope(&envelope), Layer::EventBody);
}

#[test]
fn known_event_without_body() {
    let mut domain = super::fixture("message_sent_to_business");
    domain.as_object_mut().unwrap().remove("actionEvent");
    let mut envelope = good_envelope();
    envelope["data"] = json!(domain.to_string());
    assert_malformed(&sign_envelope(&envelope), Layer::EventBody);
}

#[test]
fn json_serialization_of_jws() {
    let token = good_token();
    let parts: Vec<&str> = token.split('.').collect();
    let flattened = json!({"protected": parts[0], "payload": parts[1], "signature": parts[2]});
    let general = json!({"payload": parts[1],
                         "signatures": [{"protected": parts[0], "signature": parts[2]}]});
    for body in [flattened, general] {
        assert!(matches!(
            verify(&body.to_string()),
            Err(WebhookError::NotAJwt { .. })
        ));
    }
}

#[test]
fn ten_megabyte_body() {
    let mut body = good_token().into_bytes();
    body.resize(10 * 1024 * 1024, b'A');
    match verifier().verify(&body) {
        Err(WebhookError::TooLarge { size, limit }) => {
            assert_eq!(size, 10 * 1024 * 1024);
            assert_eq!(limit, 1024 * 1024);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn size_limit_is_configurable() {
    let token = good_token();
    let small = verifier().with_max_body_size(token.len() - 1);
    assert!(matches!(
        small.verify(token.as_bytes()),
        Err(WebhookError::TooLarge { .. })
    ));
}

#[test]
fn deeply_nested_json_inside_data() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let token = signer().sign_claims(&json!({"data": deep, "exp": i64::MAX}));
    assert_malformed(&token, Layer::Envelope);
}

#[test]
fn deeply_nested_json_inside_the_event_body() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let domain =
        format!(r#"{{"id":"1","entityFqdn":"x","slug":"y","actionEvent":{{"body":{deep}}}}}"#);
    let mut envelope = good_envelope();
    envelope["data"] = json!(domain);
    // The domain event keeps its body as raw JSON (skimmed without recursion), so the nesting
    // is refused where the body is decoded.
    assert_malformed(&sign_envelope(&envelope), Layer::EventBody);
}

#[test]
fn bytes_that_are_not_utf8() {
    let mut body = good_token().into_bytes();
    body[5] = 0xff;
    assert!(matches!(
        verifier().verify(&body),
        Err(WebhookError::NotAJwt { .. })
    ));
    assert!(matches!(
        verifier().verify(&[0xc3, 0x28, 0xa0, 0xa1]),
        Err(WebhookError::NotAJwt { .. })
    ));
}

#[test]
fn not_three_parts() {
    let token = good_token();
    for body in [
        String::new(),
        "abc".to_owned(),
        "a.b".to_owned(),
        format!("{token}.extra"),
    ] {
        assert!(
            matches!(verify(&body), Err(WebhookError::NotAJwt { .. })),
            "{body:.20}"
        );
    }
}

#[test]
fn errors_never_quote_the_token() {
    let token = good_token();
    let cases = [
        with_header(&token, &json!({"alg": "x".repeat(5000)})),
        signer().sign_claims(
            &json!({"data": format!("{{\"eventType\": {}", "9".repeat(5000)),
                                     "exp": i64::MAX}),
        ),
    ];
    for case in cases {
        let err = verify(&case).unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(shown.len() < 400, "{shown}");
        // Neither the token nor a long run of what it carries is shown.
        assert!(!shown.contains(&case), "{shown}");
        assert!(!shown.contains(&"x".repeat(200)), "{shown}");
        assert!(!shown.contains(&"9".repeat(200)), "{shown}");
    }
}

#[test]
fn nbf_spelled_with_unicode_escapes_is_still_enforced() {
    let event = good_event();
    let data = serde_json::to_string(event.claims()["data"].as_str().unwrap()).unwrap();
    let claims = format!(
        r#"{{"data": {data}, "exp": {}, "n\u0062f": {}}}"#,
        event.iat + 600,
        event.iat + 3600
    );
    let token = signer().sign_raw(
        Algorithm::RS256,
        rs256_header().to_string().as_bytes(),
        claims.as_bytes(),
    );
    assert!(matches!(
        verify(&token),
        Err(WebhookError::NotYetValid { .. })
    ));
}

#[test]
fn long_headers_are_read_up_to_the_limit_and_refused_beyond_it() {
    // A genuine token whose header carries a certificate chain (about 1.5 KB): read and ignored.
    let mut header = rs256_header();
    header["x5c"] = json!([STANDARD.encode([7u8; 1100])]);
    let token = signer().sign_with(Algorithm::RS256, &header, &good_event().claims());
    assert!(token.split('.').next().unwrap().len() > 1500);
    assert!(verify(&token).is_ok());

    // Past 4,096 base64 characters the header is refused before it is decoded.
    header["x5c"] = json!([STANDARD.encode([7u8; 3100])]);
    let token = signer().sign_with(Algorithm::RS256, &header, &good_event().claims());
    match verify(&token) {
        Err(WebhookError::NotAJwt { reason }) => assert!(reason.contains("header"), "{reason}"),
        other => panic!("expected NotAJwt, got {other:?}"),
    }
}

#[test]
fn a_signature_longer_than_any_rsa_key_makes_is_refused() {
    let token = good_token();
    let (message, _) = token.rsplit_once('.').unwrap();
    let long = format!("{message}.{}", URL_SAFE_NO_PAD.encode([1u8; 1025]));
    assert_eq!(verify(&long).unwrap_err(), WebhookError::BadSignature);
}
