//! `webhook verify`: the crate's verifier, one line on stderr when a body does not verify.

use std::time::Duration;

use wix_inbox::webhooks::WebhookVerifier;

use crate::args::Verify;
use crate::{print_json, read_input, Failure, Outcome, MAX_KEY_SIZE};

pub fn verify(args: Verify) -> Outcome {
    let key = read_input(
        Some(&args.public_key),
        "public key",
        MAX_KEY_SIZE,
        Failure::Usage,
    )?;
    let key = String::from_utf8(key).map_err(|_| {
        Failure::Usage(format!(
            "the public key {} is not text (PEM or base64 of PEM)",
            args.public_key.display()
        ))
    })?;
    let mut verifier = WebhookVerifier::from_public_key(&key)
        .map_err(|e| Failure::Usage(format!("{}: {e}", args.public_key.display())))?
        .allow_missing_expiry(args.allow_missing_exp);
    if let Some(seconds) = args.leeway {
        verifier = verifier.leeway(Duration::from_secs(seconds));
    }
    // A trailing newline (a body pasted into a file) is fine: the verifier trims white space.
    // Read no more than the verifier accepts; beyond it, the body is refused as the verifier
    // refuses it (exit 1).
    let body = read_input(
        args.body.as_deref(),
        "body",
        verifier.max_body_size(),
        |why| Failure::Failed(format!("webhook body too large: {why}")),
    )?;
    let event = verifier
        .verify(&body)
        .map_err(|e| Failure::Failed(e.to_string()))?;
    print_json(&event)
}
