//! The Wix error a [`Fault::Error`](super::Fault::Error) answers with.

use wix_inbox::types::FieldViolation;

/// A field violation for an injected [`Fault::Error`](super::Fault::Error): the spec's
/// `FieldViolation` (Wix's `details.validationError.fieldViolations[]` item) with its field,
/// description and rule.
pub fn violation(field: &str, description: &str, rule: &str) -> FieldViolation {
    FieldViolation {
        field: Some(field.to_owned()),
        description: Some(description.to_owned()),
        violated_rule: Some(rule.to_owned()),
        ..Default::default()
    }
}
