//! `webhook verify`: the crate's verifier, one line on stderr when a body does not verify.

use std::time::Duration;

use crate::args::Verify;
use crate::{print_json, read_input, read_verifier, Failure, Outcome};

pub fn verify(args: Verify) -> Outcome {
    let mut verifier =
        read_verifier(&args.public_key)?.allow_missing_expiry(args.allow_missing_exp);
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
        |why| Failure::Operation(format!("webhook body too large: {why}")),
    )?;
    let event = verifier
        .verify(&body)
        .map_err(|e| Failure::Operation(e.to_string()))?;
    print_json(&event)
}
