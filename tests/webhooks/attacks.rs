//! Forged, tampered and malformed deliveries: each is refused with the right error.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use wix_inbox::webhooks::test_signer::{encode_unsigned, sign_hs256, TestSigner};
use wix_inbox::webhooks::{InboxEvent, Layer, WebhookError, WebhookEvent};

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
    let strict = verifier().leeway(std::time::Duration::ZERO);
    assert!(matches!(
        strict.verify(token.as_bytes()),
        Err(WebhookError::Expired { .. })
    ));
}

/// Issued at this fixed time; the boundaries below are checked with `verify_at`.
const ISSUED: i64 = 1_700_000_000;

fn event_at(exp: Option<i64>, nbf: Option<i64>) -> String {
    let mut event = good_event();
    event.iat = ISSUED;
    event.exp = exp;
    event.nbf = nbf;
    signer().sign_event(&event)
}

/// `exp + leeway` is the last second accepted; one second more is refused, for the default
/// leeway, a configured one and none.
#[test]
fn exp_boundary_is_exp_plus_leeway() {
    let exp = ISSUED + 300;
    let token = event_at(Some(exp), None);
    let default = wix_inbox::webhooks::DEFAULT_LEEWAY.as_secs() as i64;
    for (verifier, leeway) in [
        (verifier(), default),
        (verifier().leeway(std::time::Duration::from_secs(17)), 17),
        (verifier().leeway(std::time::Duration::from_millis(999)), 0),
        (verifier().leeway(std::time::Duration::ZERO), 0),
    ] {
        for now in [ISSUED, exp - 1, exp, exp + leeway] {
            let event = verifier.verify_at(token.as_bytes(), now);
            assert!(
                event.is_ok(),
                "leeway {leeway}, now exp{:+}: {event:?}",
                now - exp
            );
        }
        for now in [exp + leeway + 1, exp + leeway + 3600] {
            assert_eq!(
                verifier.verify_at(token.as_bytes(), now).unwrap_err(),
                WebhookError::Expired { exp, now },
                "leeway {leeway}"
            );
        }
    }
}

/// `nbf - leeway` is the first second accepted; one second earlier is refused.
#[test]
fn nbf_boundary_is_nbf_minus_leeway() {
    let nbf = ISSUED + 1000;
    let token = event_at(Some(nbf + 300), Some(nbf));
    let default = wix_inbox::webhooks::DEFAULT_LEEWAY.as_secs() as i64;
    for (verifier, leeway) in [
        (verifier(), default),
        (verifier().leeway(std::time::Duration::from_secs(17)), 17),
        (verifier().leeway(std::time::Duration::ZERO), 0),
    ] {
        for now in [nbf - leeway, nbf, nbf + 1, nbf + 300] {
            let event = verifier.verify_at(token.as_bytes(), now);
            assert!(
                event.is_ok(),
                "leeway {leeway}, now nbf{:+}: {event:?}",
                now - nbf
            );
        }
        for now in [nbf - leeway - 1, nbf - leeway - 3600] {
            assert_eq!(
                verifier.verify_at(token.as_bytes(), now).unwrap_err(),
                WebhookError::NotYetValid { nbf, now },
                "leeway {leeway}"
            );
        }
    }
}

/// A leeway too large for the clock's arithmetic accepts every time instead of overflowing.
#[test]
fn a_huge_leeway_saturates() {
    let token = event_at(Some(ISSUED), Some(ISSUED));
    let verifier = verifier().leeway(std::time::Duration::MAX);
    for now in [0, ISSUED, i64::MAX] {
        assert!(verifier.verify_at(token.as_bytes(), now).is_ok(), "{now}");
    }
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

/// Signs Wix's example of `slug` (e.g. `contact_created`) changed by `change`, as its own
/// event type, and verifies it.
fn verify_changed(
    slug: &str,
    change: impl FnOnce(&mut Value),
) -> Result<WebhookEvent, WebhookError> {
    let mut domain = super::fixture(slug);
    change(&mut domain);
    let mut envelope = good_envelope();
    let event_type = format!(
        "{}_{}",
        domain["entityFqdn"].as_str().unwrap(),
        domain["slug"].as_str().unwrap()
    );
    envelope["eventType"] = json!(event_type);
    envelope["data"] = json!(domain.to_string());
    verify(&sign_envelope(&envelope))
}

fn assert_reason(result: Result<WebhookEvent, WebhookError>, expected: &str) {
    match result {
        Err(WebhookError::Malformed { layer, reason }) => {
            assert_eq!(layer, Layer::EventBody, "{reason}");
            assert_eq!(reason, expected);
        }
        other => panic!("expected Malformed (\"{expected}\"), got {other:?}"),
    }
}

/// A created or updated event without its entity, or without the event that carries it, is
/// malformed, whatever form the entity was to come in; a deleted one needs none.
#[test]
fn entity_events_without_their_entity_say_so() {
    let no_entity = |event: &'static str| {
        move |domain: &mut Value| {
            domain[event] = json!({});
        }
    };
    assert_reason(
        verify_changed("contact_created", no_entity("createdEvent")),
        "the event has no `createdEvent.entity`",
    );
    assert_reason(
        verify_changed("contact_updated", no_entity("updatedEvent")),
        "the event has no `updatedEvent.currentEntity`",
    );
    assert_reason(
        verify_changed("contact_created", |d| {
            drop(d.as_object_mut().unwrap().remove("createdEvent"))
        }),
        "the event has no `createdEvent`",
    );
    assert_reason(
        verify_changed("contact_created", |d| d["createdEvent"] = Value::Null),
        "the event has no `createdEvent`",
    );
    assert_reason(
        verify_changed("contact_deleted", |d| {
            drop(d.as_object_mut().unwrap().remove("deletedEvent"))
        }),
        "the event has no `deletedEvent`",
    );
    // Broken JSON text, or an entity of the wrong shape, is malformed too.
    let broken = verify_changed("contact_created", |d| {
        d["createdEvent"]["entityAsJson"] = json!("{\"id\": ");
    });
    assert!(
        matches!(
            broken,
            Err(WebhookError::Malformed {
                layer: Layer::EventBody,
                ..
            })
        ),
        "{broken:?}"
    );
    let wrong = verify_changed("contact_created", |d| {
        d["createdEvent"] = json!({"entity": {"id": 42}});
    });
    assert!(
        matches!(
            wrong,
            Err(WebhookError::Malformed {
                layer: Layer::EventBody,
                ..
            })
        ),
        "{wrong:?}"
    );
}

/// The entity comes as an object (`entity`), as JSON text in it, or as `entityAsJson`; a
/// deleted event may carry its entity; an action body may come as `bodyAsJson`.
#[test]
fn entities_and_bodies_arrive_in_every_form_wix_sends() {
    let contact = json!({"id": "c-1", "info": {"name": {"first": "Ann"}}});
    for created in [
        json!({"entity": contact}),
        json!({"entity": contact.to_string()}),
        json!({"entityAsJson": contact.to_string(), "restoreInfo": {"deletedDate": null}}),
    ] {
        let event =
            verify_changed("contact_created", |d| d["createdEvent"] = created.clone()).unwrap();
        let InboxEvent::ContactCreated(body) = event.event else {
            panic!("{created}: {:?}", event.event)
        };
        assert_eq!(body.entity.unwrap().id.as_deref(), Some("c-1"), "{created}");
        assert!(!body.extra.contains_key("entityAsJson"), "{created}");
        let kept = created.get("restoreInfo").is_some();
        assert_eq!(body.extra.contains_key("restoreInfo"), kept, "{created}");
    }
    let deleted = verify_changed("contact_deleted", |d| {
        d["deletedEvent"] = json!({"deletedEntityAsJson": contact.to_string()});
    });
    let InboxEvent::ContactDeleted(body) = deleted.unwrap().event else {
        panic!()
    };
    assert_eq!(body.deleted_entity.unwrap().id.as_deref(), Some("c-1"));
    let action = verify_changed("message_sent_to_business", |d| {
        let body = d["actionEvent"]["body"].take();
        d["actionEvent"] = json!({"bodyAsJson": body.to_string()});
    });
    let InboxEvent::MessageSentToBusiness(body) = action.unwrap().event else {
        panic!()
    };
    assert!(body.conversation_id.is_some());
}

/// An event the spec does not describe is `Other`, with the created, updated or deleted event
/// it carries as its body, as sent.
#[test]
fn unknown_entity_events_are_other_with_their_event() {
    let event = verify_changed("contact_created", |d| {
        d["entityFqdn"] = json!("wix.bookings.v2.booking");
    })
    .unwrap();
    match event.event {
        InboxEvent::Other { event_type, body } => {
            assert_eq!(event_type, "wix.bookings.v2.booking_created");
            assert!(body["entityAsJson"].is_string(), "{body}");
        }
        other => panic!("{other:?}"),
    }
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

/// The size limit is inclusive: a body of exactly the limit is read on, one byte more is not.
#[test]
fn size_limit_boundary() {
    use wix_inbox::webhooks::{WebhookVerifier, DEFAULT_MAX_BODY_SIZE};
    assert_eq!(DEFAULT_MAX_BODY_SIZE, 1024 * 1024);
    assert_eq!(verifier().max_body_size(), DEFAULT_MAX_BODY_SIZE);
    let at_limit = vec![b'A'; DEFAULT_MAX_BODY_SIZE];
    assert!(matches!(
        verify(std::str::from_utf8(&at_limit).unwrap()),
        Err(WebhookError::NotAJwt { .. })
    ));
    let over = vec![b'A'; DEFAULT_MAX_BODY_SIZE + 1];
    assert_eq!(
        verify(std::str::from_utf8(&over).unwrap()).unwrap_err(),
        WebhookError::TooLarge {
            size: DEFAULT_MAX_BODY_SIZE + 1,
            limit: DEFAULT_MAX_BODY_SIZE
        }
    );

    let token = good_token();
    let exact: WebhookVerifier = verifier().with_max_body_size(token.len());
    assert_eq!(exact.max_body_size(), token.len());
    assert!(exact.verify(token.as_bytes()).is_ok());
    let short = verifier().with_max_body_size(token.len() - 1);
    assert_eq!(
        short.verify(token.as_bytes()).unwrap_err(),
        WebhookError::TooLarge {
            size: token.len(),
            limit: token.len() - 1
        }
    );
}

/// The verifier's `Debug` shows its policy, never the key.
#[test]
fn verifier_debug_shows_the_policy_not_the_key() {
    let text = format!(
        "{:?}",
        verifier()
            .with_max_body_size(4321)
            .leeway(std::time::Duration::from_secs(17))
            .allow_missing_expiry(true)
    );
    for part in [
        "[RSA public key]",
        "max_body_size: 4321",
        "leeway_secs: 17",
        "require_exp: false",
    ] {
        assert!(text.contains(part), "{part} missing from {text}");
    }
    let pem = signer().public_key_pem();
    let key_line = pem.lines().nth(1).unwrap();
    assert!(!text.contains(key_line), "{text}");
}

/// Each wrong key is refused with the reason that fits it, and never quoted.
#[test]
fn wrong_keys_are_refused_with_their_reason() {
    use wix_inbox::webhooks::WebhookVerifier;
    let reason = |key: &str| match WebhookVerifier::from_public_key(key) {
        Err(WebhookError::InvalidPublicKey { reason }) => reason,
        other => panic!("expected InvalidPublicKey, got {other:?}"),
    };
    assert_eq!(reason("hello"), "neither PEM nor base64 of a PEM");
    assert_eq!(
        reason(&STANDARD.encode("just some text, no key")),
        "base64 that does not decode to PEM text"
    );
    assert_eq!(
        reason(&STANDARD.encode([0xff, 0xfe, 0x00, 0x80])),
        "base64 that does not decode to PEM text"
    );
    assert_eq!(
        reason("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"),
        "this is a private key; the verifier needs the public key"
    );
    assert_eq!(
        reason("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
        "the PEM holds no public key"
    );
    assert_eq!(
        reason("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"),
        "not an RSA public key"
    );
    // Both PEM labels of an RSA public key are read, and base64 of the PEM, whitespace and all.
    let pem = signer().public_key_pem();
    let token = good_token();
    for key in [
        pem.to_owned(),
        format!("\n  {pem}\n"),
        STANDARD.encode(pem),
        pkcs1_pem(signer().public_key_der()),
    ] {
        let verifier = WebhookVerifier::from_public_key(&key).unwrap();
        assert!(verifier.verify(token.as_bytes()).is_ok(), "{key}");
    }
}

/// The PKCS#1 `RSA PUBLIC KEY` PEM of an SPKI DER key: the SPKI's BIT STRING content.
fn pkcs1_pem(spki_der: &[u8]) -> String {
    // An RSA SPKI is SEQUENCE { SEQUENCE { rsaEncryption, NULL }, BIT STRING { 0, RSAPublicKey } };
    // for keys of 2048 to 8192 bits the RSAPublicKey starts after a fixed 24-byte prefix.
    let pkcs1 = &spki_der[24..];
    assert_eq!(pkcs1[0], 0x30, "the RSAPublicKey SEQUENCE");
    let b64 = STANDARD.encode(pkcs1);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap())
        .collect();
    format!(
        "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

/// The header limit is inclusive: 4,096 base64 characters are read, the next possible length
/// (4,098: base64 has no length 4,097) is refused before it is decoded.
#[test]
fn header_limit_boundary() {
    let claims = good_event().claims().to_string();
    let header_of = |b64_len: usize| {
        // Base64 without padding of n bytes is ceil(4n / 3) characters.
        let bytes = b64_len * 3 / 4;
        let empty = r#"{"alg":"RS256","pad":""}"#.len();
        let header = format!(r#"{{"alg":"RS256","pad":"{}"}}"#, "x".repeat(bytes - empty));
        assert_eq!(URL_SAFE_NO_PAD.encode(&header).len(), b64_len);
        signer().sign_raw(Algorithm::RS256, header.as_bytes(), claims.as_bytes())
    };
    assert!(verify(&header_of(4096)).is_ok());
    assert_eq!(
        verify(&header_of(4098)).unwrap_err(),
        WebhookError::NotAJwt {
            reason: "the header is too long"
        }
    );
}

/// `verify` reads the system clock, not a clock of its own: a token that expired an hour ago
/// by the wall clock is refused, one that is valid by it is accepted.
#[test]
fn verify_checks_against_the_system_clock() {
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut event = good_event();
    event.iat = wall - 7200;
    event.exp = Some(wall - 3600);
    match verify(&signer().sign_event(&event)) {
        Err(WebhookError::Expired { exp, now }) => {
            assert_eq!(exp, wall - 3600);
            assert!((wall..wall + 60).contains(&now), "now {now}, wall {wall}");
        }
        other => panic!("expected Expired, got {other:?}"),
    }
    event.exp = Some(wall + 3600);
    event.nbf = Some(wall + 3600);
    assert!(matches!(
        verify(&signer().sign_event(&event)),
        Err(WebhookError::NotYetValid { .. })
    ));
    event.nbf = Some(wall - 10);
    assert!(verify(&signer().sign_event(&event)).is_ok());
}

/// A known event whose body is missing or `null` says so, whichever way it came.
#[test]
fn known_event_with_no_or_null_body_says_so() {
    for body in [None, Some(Value::Null)] {
        let mut domain = super::fixture("message_sent_to_business");
        match &body {
            None => drop(
                domain["actionEvent"]
                    .as_object_mut()
                    .unwrap()
                    .remove("body"),
            ),
            Some(null) => domain["actionEvent"]["body"] = null.clone(),
        }
        let mut envelope = good_envelope();
        envelope["data"] = json!(domain.to_string());
        match verify(&sign_envelope(&envelope)) {
            Err(WebhookError::Malformed { layer, reason }) => {
                assert_eq!(layer, Layer::EventBody, "{body:?}");
                assert_eq!(reason, "the event has no `actionEvent.body`", "{body:?}");
            }
            other => panic!("{body:?}: expected Malformed, got {other:?}"),
        }
    }
}
