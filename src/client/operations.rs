//! What the spec says of each operation, from the generated `OPERATIONS` table: its name for
//! people, and whether it may be sent twice without doing something twice.

/// Whether an operation may be sent twice without doing something twice: a GET, or what the
/// spec marks `x-wix-idempotent` (Get Or Create Conversation). Send Message may not.
pub(crate) fn is_repeatable(operation: &str) -> bool {
    crate::generated::OPERATIONS
        .iter()
        .any(|&(id, _, repeatable)| id == operation && repeatable)
}

/// The operation's summary in the spec ("Send Message"), or its method name.
pub(crate) fn name(operation: &str) -> &str {
    crate::generated::OPERATIONS
        .iter()
        .find(|(id, ..)| *id == operation)
        .map_or(operation, |(_, summary, _)| summary)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_send_message_may_not_be_repeated() {
        for op in [
            "get_conversation",
            "get_or_create_conversation",
            "list_messages",
        ] {
            assert!(super::is_repeatable(op), "{op}");
        }
        assert!(!super::is_repeatable("send_message"));
        assert!(!super::is_repeatable("no_such_operation"));
        assert_eq!(super::name("send_message"), "Send Message");
        assert_eq!(super::name("no_such_operation"), "no_such_operation");
    }
}
