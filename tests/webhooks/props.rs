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
        let _ = verifier().verify(&body);
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
        let result = verifier().verify(token.as_bytes());
        prop_assert!(result.is_err());
    }

    #[test]
    fn arbitrary_claims_never_panic(claims in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = __fuzz_decode_claims(&claims, 0);
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
