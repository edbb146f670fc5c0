//! Entity and action events in every form Wix sends them, and without what they need.

use super::*;

/// Signs Wix's example of `slug` (e.g. `contact_created`) changed by `change`, as its own
/// event type, and verifies it.
fn verify_changed(
    slug: &str,
    change: impl FnOnce(&mut Value),
) -> Result<WebhookEvent, WebhookError> {
    let mut domain = super::super::fixture(slug);
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
        let mut domain = super::super::fixture("message_sent_to_business");
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
