//! Why a webhook delivery was refused.
//!
//! Every way a delivery can fail has its own [`WebhookError`] variant, so a receiver can answer
//! with the right status ([`WebhookError::status_code`]) and log something an operator can act
//! on. No variant carries the public key or the token: what comes from the sender is cut to a
//! few dozen characters and stripped of control characters before it is kept.

use std::fmt;

/// The longest piece of sender-controlled text (an `alg` value, a JSON error message) an error
/// keeps.
const MAX_ECHO: usize = 64;

/// One of the JSON layers nested inside a webhook token (see [the module docs](super)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Layer {
    /// The JWT claims (`{"data": "...", "iat": .., "exp": ..}`), a `WebhookPayload`.
    Claims,
    /// The `data` claim, parsed: a `WebhookEnvelope`.
    Envelope,
    /// The envelope's `identity`, parsed: a `WebhookIdentity`.
    Identity,
    /// The envelope's `data`, parsed: a `DomainEvent`.
    DomainEvent,
    /// The body of the domain event's event (`actionEvent.body`, `createdEvent`, …, see
    /// [`EventKind`](super::EventKind)), parsed as the body type of its event.
    EventBody,
}

impl Layer {
    /// A short name of the layer, as used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Claims => "JWT claims",
            Layer::Envelope => "webhook envelope (the `data` claim)",
            Layer::Identity => "webhook identity (envelope `identity`)",
            Layer::DomainEvent => "domain event (envelope `data`)",
            Layer::EventBody => "event body",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A webhook delivery that was not accepted, or a public key that could not be used.
///
/// [`status_code`](Self::status_code) maps each variant to the HTTP status a receiver should
/// answer with.
///
/// ```
/// use wix_inbox::webhooks::{WebhookError, WebhookVerifier};
/// # let pem = wix_inbox::webhooks::test_signer::TestSigner::shared().public_key_pem().to_owned();
/// let verifier = WebhookVerifier::from_public_key(&pem)?;
/// let err = verifier.verify(b"not a token").unwrap_err();
/// assert!(matches!(err, WebhookError::NotAJwt { .. }));
/// assert_eq!(err.status_code(), 400);
/// # Ok::<(), WebhookError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookError {
    /// The public key given to [`WebhookVerifier::from_public_key`](super::WebhookVerifier::from_public_key)
    /// is not an RSA public key in SPKI PEM (nor base64 of one).
    InvalidPublicKey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The body is larger than the verifier's limit; nothing else was looked at.
    TooLarge {
        /// The body's size in bytes (at least this many, when the body was not read to its end).
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is not a JWT in compact serialization (`header.claims.signature`, base64url).
    NotAJwt {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The token's header names an algorithm other than RS256 (or none at all).
    WrongAlgorithm {
        /// The `alg` the header names (cut short and with control characters replaced), or
        /// `(missing)`.
        alg: String,
    },
    /// The RS256 signature does not match the app's public key.
    BadSignature,
    /// The token's `exp` lies in the past (beyond the verifier's leeway).
    Expired {
        /// The `exp` claim, in seconds since the Unix epoch.
        exp: i64,
        /// The verifier's clock when it checked, in seconds since the Unix epoch.
        now: i64,
    },
    /// The token's `nbf` lies in the future (beyond the verifier's leeway).
    NotYetValid {
        /// The `nbf` claim, in seconds since the Unix epoch.
        nbf: i64,
        /// The verifier's clock when it checked, in seconds since the Unix epoch.
        now: i64,
    },
    /// The token has no `exp` claim, and the verifier requires one (the default).
    MissingExpiry,
    /// The claims have no `data` claim.
    MissingData,
    /// The `data` claim is not a string (Wix sends the envelope as JSON text inside a string).
    DataNotAString,
    /// One of the JSON layers inside the token is broken.
    Malformed {
        /// Which layer.
        layer: Layer,
        /// What is wrong with it (cut short).
        reason: String,
    },
}

impl WebhookError {
    /// The HTTP status a webhook receiver should answer with: 413 for [`TooLarge`](Self::TooLarge);
    /// 401 when the token is not authentic or no longer valid (bad signature, wrong algorithm,
    /// expired, not yet valid, no expiry); 400 when it is malformed; 500 for a key problem
    /// (the receiver's own configuration).
    pub fn status_code(&self) -> u16 {
        match self {
            WebhookError::TooLarge { .. } => 413,
            WebhookError::WrongAlgorithm { .. }
            | WebhookError::BadSignature
            | WebhookError::Expired { .. }
            | WebhookError::NotYetValid { .. }
            | WebhookError::MissingExpiry => 401,
            WebhookError::InvalidPublicKey { .. } => 500,
            WebhookError::NotAJwt { .. }
            | WebhookError::MissingData
            | WebhookError::DataNotAString
            | WebhookError::Malformed { .. } => 400,
        }
    }

    /// The variant's name in snake case (`bad_signature`, `too_large`, ...): a bounded label
    /// for metrics (the receiver's, feature `axum`).
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            WebhookError::InvalidPublicKey { .. } => "invalid_public_key",
            WebhookError::TooLarge { .. } => "too_large",
            WebhookError::NotAJwt { .. } => "not_a_jwt",
            WebhookError::WrongAlgorithm { .. } => "wrong_algorithm",
            WebhookError::BadSignature => "bad_signature",
            WebhookError::Expired { .. } => "expired",
            WebhookError::NotYetValid { .. } => "not_yet_valid",
            WebhookError::MissingExpiry => "missing_expiry",
            WebhookError::MissingData => "missing_data",
            WebhookError::DataNotAString => "data_not_a_string",
            WebhookError::Malformed { .. } => "malformed",
        }
    }

    /// Whether the error means the token is not (or no longer) authentic, i.e. status 401.
    pub fn is_unauthorized(&self) -> bool {
        self.status_code() == 401
    }

    pub(crate) fn wrong_algorithm(alg: Option<&str>) -> Self {
        WebhookError::WrongAlgorithm {
            alg: alg.map_or_else(|| "(missing)".to_owned(), sanitize),
        }
    }

    pub(crate) fn malformed(layer: Layer, err: &serde_json::Error) -> Self {
        // serde_json's message may quote the offending value in full: keep its start and the
        // position, which is what an operator needs.
        let full = err.to_string();
        let message = match full.rfind(" at line ") {
            Some(at) => &full[..at],
            None => &full,
        };
        let reason = if err.line() == 0 {
            sanitize(message)
        } else {
            format!(
                "{} at line {} column {}",
                sanitize(message),
                err.line(),
                err.column()
            )
        };
        WebhookError::Malformed { layer, reason }
    }

    pub(crate) fn malformed_because(layer: Layer, reason: &str) -> Self {
        WebhookError::Malformed {
            layer,
            reason: reason.to_owned(),
        }
    }
}

impl fmt::Display for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebhookError::InvalidPublicKey { reason } => write!(
                f,
                "the webhook public key is unusable ({reason}); paste the app's public key \
                 from the Wix app dashboard (SPKI PEM, or base64 of it)"
            ),
            WebhookError::TooLarge { size, limit } => write!(
                f,
                "webhook body too large: {size} bytes, the limit is {limit} bytes"
            ),
            WebhookError::NotAJwt { reason } => {
                write!(f, "webhook body is not a compact JWT: {reason}")
            }
            WebhookError::WrongAlgorithm { alg } => write!(
                f,
                "webhook token uses algorithm {alg:?}; only RS256 is accepted"
            ),
            WebhookError::BadSignature => f.write_str(
                "webhook signature does not match the configured public key \
                 (forged token, or the verifier has another app's key)",
            ),
            WebhookError::Expired { exp, now } => write!(
                f,
                "webhook token expired at {exp} (now {now}, {}s ago); \
                 a replay, or this server's clock is wrong",
                now.saturating_sub(*exp)
            ),
            WebhookError::NotYetValid { nbf, now } => write!(
                f,
                "webhook token is not valid before {nbf} (now {now}, {}s ahead); \
                 this server's clock may be behind",
                nbf.saturating_sub(*now)
            ),
            WebhookError::MissingExpiry => f.write_str(
                "webhook token has no `exp` claim and the verifier requires one \
                 (see WebhookVerifier::allow_missing_expiry)",
            ),
            WebhookError::MissingData => f.write_str("webhook token has no `data` claim"),
            WebhookError::DataNotAString => {
                f.write_str("webhook token's `data` claim is not a string of JSON")
            }
            WebhookError::Malformed { layer, reason } => {
                write!(f, "webhook {layer} is malformed: {reason}")
            }
        }
    }
}

impl std::error::Error for WebhookError {}

/// Cuts sender-controlled text to [`MAX_ECHO`] characters and replaces control characters, so it
/// is safe to log (the crate's one sanitiser, [`Printable`](crate::text::Printable)).
fn sanitize(text: &str) -> String {
    crate::text::Printable(text, MAX_ECHO).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_cuts_and_cleans() {
        let long = "a\n".repeat(100);
        let s = sanitize(&long);
        assert_eq!(s.chars().count(), MAX_ECHO + 1);
        assert!(!s.contains('\n'));
    }
}
