//! What the spec says of each operation, from the generated `OPERATIONS` table: its name for
//! people, whether it may be sent twice without doing something twice, the permission scopes
//! that allow it and the Wix API it belongs to.

/// One row of the generated `OPERATIONS` table (build/spec.rs writes it from the spec).
#[derive(Debug)]
pub(crate) struct Operation {
    /// The generated `Client` method (`send_message`), the spec's operationId in snake case.
    pub(crate) method: &'static str,
    /// The spec's `summary` ("Send Message").
    pub(crate) summary: &'static str,
    /// A GET, or what the spec marks `x-wix-idempotent`.
    pub(crate) repeatable: bool,
    /// `x-wix-permission-scopes`: any one of them allows the operation.
    pub(crate) scopes: &'static [&'static str],
    /// `x-wix-service` of its tag: `Inbox`, `Contacts` or `Members`.
    pub(crate) service: &'static str,
}

/// The row of `operation` (a method name), if the spec has it.
pub(crate) fn find(operation: &str) -> Option<&'static Operation> {
    crate::generated::OPERATIONS
        .iter()
        .find(|op| op.method == operation)
}

/// Whether an operation may be sent twice without doing something twice: a GET, or what the
/// spec marks `x-wix-idempotent` (Get Or Create Conversation, the queries). Send Message and
/// Create Contact may not.
pub(crate) fn is_repeatable(operation: &str) -> bool {
    find(operation).is_some_and(|op| op.repeatable)
}

/// The operation's summary in the spec ("Send Message"), or its method name.
pub(crate) fn name(operation: &str) -> &str {
    find(operation).map_or(operation, |op| op.summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_spec_says_of_operations() {
        for op in [
            "get_conversation",
            "get_or_create_conversation",
            "list_messages",
            "query_contacts",
        ] {
            assert!(is_repeatable(op), "{op}");
        }
        assert!(!is_repeatable("send_message"));
        assert!(!is_repeatable("create_contact"));
        assert!(!is_repeatable("no_such_operation"));
        assert_eq!(name("send_message"), "Send Message");
        assert_eq!(name("query_contacts"), "Query Contacts");
        assert_eq!(name("no_such_operation"), "no_such_operation");
        let create = find("create_contact").unwrap();
        assert_eq!(
            (create.service, create.scopes),
            ("Contacts", &["Manage Contacts"][..])
        );
        assert_eq!(find("list_messages").unwrap().service, "Inbox");
    }
}
