//! The Wix error a [`Fault::Error`](super::Fault::Error) answers with.

use serde::Deserialize;

/// A field violation of an injected [`Fault::Error`](super::Fault::Error): Wix's
/// `details.validationError.fieldViolations[]` item.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    /// The field's path, e.g. `message.content`.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
    /// The rule, e.g. `REQUIRED_FIELD`.
    #[serde(rename = "violatedRule")]
    pub rule: String,
}

impl Violation {
    /// A violation of `rule` by `field`.
    pub fn new(field: &str, description: &str, rule: &str) -> Violation {
        Violation {
            field: field.to_owned(),
            description: description.to_owned(),
            rule: rule.to_owned(),
        }
    }
}
