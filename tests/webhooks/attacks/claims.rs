//! Time claims (exp, nbf, leeway) and the claims', envelope's and domain event's JSON: each
//! broken form refused with the right error.

use super::*;

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
    let mut domain = super::super::fixture("message_sent_to_business");
    domain.as_object_mut().unwrap().remove("id");
    let mut envelope = good_envelope();
    envelope["data"] = json!(domain.to_string());
    assert_malformed(&sign_envelope(&envelope), Layer::DomainEvent);
}

#[test]
fn broken_event_body_json_string() {
    let mut domain = super::super::fixture("message_sent_to_business");
    domain["actionEvent"]["body"] = json!("{\"conversationId\": ");
    let mut envelope = good_envelope();
    envelope["data"] = json!(domain.to_string());
    assert_malformed(&sign_envelope(&envelope), Layer::EventBody);
}

#[test]
fn event_body_of_the_wrong_shape() {
    let mut domain = super::super::fixture("message_sent_to_business");
    domain["actionEvent"]["body"]["conversationId"] = json!(42);
    let mut envelope = good_envelope();
    envelope["data"] = json!(domain.to_string());
    assert_malformed(&sign_envelope(&envelope), Layer::EventBody);
}

#[test]
fn known_event_without_body() {
    let mut domain = super::super::fixture("message_sent_to_business");
    domain.as_object_mut().unwrap().remove("actionEvent");
    let mut envelope = good_envelope();
    envelope["data"] = json!(domain.to_string());
    assert_malformed(&sign_envelope(&envelope), Layer::EventBody);
}
