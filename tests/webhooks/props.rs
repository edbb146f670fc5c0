//! Properties: no input makes the verifier or the decoder panic.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use proptest::prelude::*;
use wix_inbox::webhooks::{__fuzz_decode_claims, WebhookError};

use super::verifier;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..4096)) {
        // Not signed with the key, so refused before the claims are looked at: as not a JWT,
        // for its algorithm or for its signature. Never for its size (it is under the limit).
        let error = verifier().verify(&body).unwrap_err();
        prop_assert!(refused_unsigned(&error), "{error:?}");
    }

    #[test]
    fn arbitrary_three_part_tokens_never_panic(
        header in proptest::collection::vec(any::<u8>(), 0..256),
        claims in proptest::collection::vec(any::<u8>(), 0..1024),
        signature in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(&header),
            URL_SAFE_NO_PAD.encode(&claims),
            URL_SAFE_NO_PAD.encode(&signature)
        );
        let error = verifier().verify(token.as_bytes()).unwrap_err();
        prop_assert!(refused_unsigned(&error), "{error:?}");
    }

    #[test]
    fn arbitrary_claims_never_panic(claims in proptest::collection::vec(any::<u8>(), 0..2048)) {
        // Random bytes are no valid claims (a JSON object whose `data` holds a whole envelope);
        // they are refused as malformed (400) or, if they parse, for their times (401).
        let error = __fuzz_decode_claims(&claims, 0).unwrap_err();
        prop_assert!(matches!(error.status_code(), 400 | 401), "{error:?}");
    }

    #[test]
    fn arbitrary_json_text_layers_never_panic(
        envelope in "\\PC{0,200}",
        identity in "\\PC{0,100}",
        domain in "\\PC{0,200}",
    ) {
        let inner = serde_json::json!({
            "eventType": "wix.crm.inbox.v2.message_message_sent_to_business",
            "identity": identity,
            "data": domain,
        });
        for data in [envelope, inner.to_string()] {
            let claims = serde_json::json!({"data": data}).to_string();
            match __fuzz_decode_claims(claims.as_bytes(), 0) {
                Ok(_) | Err(WebhookError::Malformed { .. }) => {}
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}

/// The ways an unsigned body is refused by [`WebhookVerifier::verify`](wix_inbox::webhooks::WebhookVerifier::verify).
fn refused_unsigned(error: &WebhookError) -> bool {
    matches!(
        error,
        WebhookError::NotAJwt { .. }
            | WebhookError::WrongAlgorithm { .. }
            | WebhookError::BadSignature
    )
}
