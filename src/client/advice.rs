//! What to do about an [`Error`]: [`Error::hint`].

use std::borrow::Cow;

use super::{
    error::{Error, ErrorCode, ErrorKind},
    http, operations,
};

impl Error {
    /// What to do about this error, in a sentence or two, when there is something to say: check
    /// the ID, the credentials, the network; try again later; list the conversation's messages
    /// before sending again. What it says follows what the spec says of the operation (whether
    /// it may be repeated, its Wix API, its permission scopes). It agrees with
    /// [`is_retryable`](Self::is_retryable): an error is advised to be tried again exactly when
    /// it is retryable.
    ///
    /// ```no_run
    /// # async fn run(client: wix_inbox::Client) {
    /// if let Err(e) = client.get_conversation().conversation_id("6202c3bb").send().await {
    ///     eprintln!("{e}");
    ///     if let Some(hint) = e.hint() {
    ///         eprintln!("{hint}");
    ///     }
    /// }
    /// # }
    /// ```
    pub fn hint(&self) -> Option<Cow<'static, str>> {
        // What the spec says of the operation: whether it may be repeated, its service, scopes.
        let op = self.operation().and_then(operations::find);
        let inbox = op.is_none_or(|op| op.service == "Inbox");
        let once = op.filter(|op| !op.repeatable);
        let message = once.is_some_and(|op| op.method == "send_message");
        let retryable = |status: u16| {
            reqwest::StatusCode::from_u16(status).is_ok_and(http::is_retryable_status)
        };
        let advice: Cow<'static, str> = match (
            self.code(),
            self.kind(),
            self.status().map(|s| s.as_u16()),
        ) {
            (Some(ErrorCode::ConversationNotFound), _, _) => MERGED.into(),
            (_, ErrorKind::Api, Some(404)) if inbox => MERGED.into(),
            (_, ErrorKind::Api, Some(404)) => "Check the ID.".into(),
            (Some(ErrorCode::NotOwnedByBusiness), ..) => {
                "The conversation belongs to another site: check the site ID or app instance."
                    .into()
            }
            (Some(ErrorCode::NoInboxInstance | ErrorCode::InboxInstanceNotFound), ..) => {
                "Inbox is not set up on this site: the site owner has to enable Inbox (Wix Chat)."
                    .into()
            }
            (Some(ErrorCode::NotJoinedChatroom), ..) => {
                "The caller is not a participant of this conversation.".into()
            }
            (Some(ErrorCode::IdentityDoesNotMatch), ..) => {
                "The sender does not match the caller or the conversation's participant: check \
                 `sendAs` and the conversation ID."
                    .into()
            }
            (Some(ErrorCode::InvalidMediaUrl), ..) => {
                "Wix cannot fetch an image or file of the message: use a public https URL or a \
                 Wix Media URL."
                    .into()
            }
            (_, ErrorKind::Config, _) => "".into(),
            (_, ErrorKind::InvalidRequest, _) => {
                "Set every required argument of the operation.".into()
            }
            (_, ErrorKind::Redirect, _) => {
                "Wix's API does not redirect: check the base URL (a proxy, or another host?)."
                    .into()
            }
            (_, ErrorKind::Token, Some(s)) if retryable(s) => {
                "The token endpoint is unavailable for now: try again later.".into()
            }
            (_, ErrorKind::Token, _) => {
                "Check the app ID, app secret and instance ID, and that the app is installed on \
                 the site."
                    .into()
            }
            (_, ErrorKind::Connect, _) => "Check the network and the base URL.".into(),
            (_, ErrorKind::Timeout | ErrorKind::Transport, _) if message => {
                "The message may have been sent: list the conversation's messages before sending \
                 it again."
                    .into()
            }
            (_, ErrorKind::Timeout | ErrorKind::Transport, _) => match once {
                Some(op) => format!(
                    "{} may have been done: look for what it did before sending it again, which \
                     could do it twice.",
                    op.summary
                )
                .into(),
                None => "Try again later.".into(),
            },
            (_, ErrorKind::TooLarge, Some(200..=299)) if message => {
                "The message was sent, but the response was too large to read: list the \
                 conversation's messages instead of sending it again."
                    .into()
            }
            (_, ErrorKind::Decode, Some(200..=299)) if message => {
                "The message was sent, but the response could not be read: list the conversation's \
                 messages instead of sending it again, and report the response with the request ID."
                    .into()
            }
            (_, ErrorKind::TooLarge | ErrorKind::Decode, Some(200..=299)) if once.is_some() => {
                format!(
                    "{} was done, but its response could not be read: do not send it again; \
                     look for what it did, and report the response with the request ID.",
                    once.map_or("", |op| op.summary)
                )
                .into()
            }
            (_, ErrorKind::TooLarge, _) => {
                "Check the base URL (a proxy?), or raise ClientBuilder::max_response_size.".into()
            }
            (_, ErrorKind::Paging, _) if inbox => {
                "Wix kept naming more pages: report it with a conversation ID, or raise the \
                 stream's max_empty_pages or max_pages."
                    .into()
            }
            (_, ErrorKind::Paging, _) => {
                "Wix kept answering with more pages: narrow the lookup, or raise its max_pages."
                    .into()
            }
            (_, ErrorKind::Decode, _) => {
                "Wix sent something the crate's spec does not describe: report it, with the \
                 request ID."
                    .into()
            }
            (_, _, Some(400)) => {
                "Fix the request: repeating it as it is will fail the same way.".into()
            }
            (_, _, Some(401)) => {
                "Check the credentials: the API key and site ID, or the app ID, secret and \
                 instance ID."
                    .into()
            }
            (_, _, Some(403)) => match op {
                Some(op) => format!(
                    "The API key or app lacks the permission scope {} needs ({}).",
                    op.summary,
                    op.scopes.join(" or ")
                )
                .into(),
                None => "The API key or app lacks a permission scope this needs.".into(),
            },
            (_, _, Some(428)) if inbox => {
                "Is the app installed on the site, and Inbox enabled?".into()
            }
            (_, _, Some(428)) => "Is the app installed on the site?".into(),
            (_, _, Some(429)) if inbox => {
                "Wix allows 200 requests a minute per app instance: slow down and try again later."
                    .into()
            }
            (_, _, Some(429)) => {
                "Wix limits the rate of requests: slow down and try again later.".into()
            }
            (_, _, Some(s)) if retryable(s) => {
                "Wix has a problem on its side: try again later; if it persists, give Wix support \
                 the request ID."
                    .into()
            }
            (_, _, Some(500..=599)) => {
                "Wix has a problem on its side: if it persists, give Wix support the request ID."
                    .into()
            }
            _ => "".into(),
        };
        (!advice.is_empty()).then_some(advice)
    }
}

/// A 404 of the Inbox: a conversation merged away is the usual cause.
const MERGED: &str = "Check the ID. If the participant became a contact or member, Wix merged \
                      their conversation into a new one: call Get Or Create Conversation with \
                      their current participant ID.";

#[cfg(test)]
mod tests {
    use reqwest::{header::HeaderMap, StatusCode};

    use super::super::error::{Error, ErrorKind};

    #[test]
    fn the_hint_says_try_again_exactly_when_the_error_is_retryable() {
        for status in 400..=599 {
            let status = StatusCode::from_u16(status).unwrap();
            for kind in [ErrorKind::Api, ErrorKind::Token] {
                for operation in ["get_conversation", "send_message", "create_contact"] {
                    let e = Error::from_response(kind, status, &HeaderMap::new(), None)
                        .with_operation(operation);
                    let says_again = e
                        .hint()
                        .is_some_and(|h| h.to_lowercase().contains("try again"));
                    assert_eq!(
                        says_again,
                        e.is_retryable(),
                        "{kind:?} {status} {operation}: {:?}",
                        e.hint()
                    );
                }
            }
        }
    }

    /// The advice follows the spec's facts of the operation: Create Contact may not be repeated
    /// but sends no message; its scopes are the Contacts' ones, and no Inbox advice applies.
    #[test]
    fn the_hint_follows_the_operation() {
        let of = |kind, operation| Error::new(kind).with_operation(operation);
        let timeout = of(ErrorKind::Timeout, "create_contact");
        let hint = timeout.hint().unwrap();
        assert!(
            hint.starts_with("Create Contact may have been done"),
            "{hint}"
        );
        assert!(
            !hint.contains("message") && !timeout.is_retryable(),
            "{hint}"
        );
        let sent = of(ErrorKind::Timeout, "send_message");
        assert!(sent.hint().unwrap().contains("message may have been sent"));
        assert!(!sent.is_retryable());
        assert!(of(ErrorKind::Timeout, "get_contact").is_retryable());
        assert_eq!(
            of(ErrorKind::Timeout, "get_contact").hint().as_deref(),
            Some("Try again later.")
        );

        let status = |status: u16, operation| {
            let status = StatusCode::from_u16(status).unwrap();
            Error::from_response(ErrorKind::Api, status, &HeaderMap::new(), None)
                .with_operation(operation)
        };
        let forbidden = status(403, "create_contact").hint().unwrap();
        assert!(
            forbidden.contains("Create Contact needs (Manage Contacts)"),
            "{forbidden}"
        );
        assert!(!forbidden.contains("Inbox"), "{forbidden}");
        let inbox = status(403, "list_messages").hint().unwrap();
        assert!(inbox.contains("Read Inbox Messages"), "{inbox}");
        for (code, inbox_only) in [(404, "merged"), (428, "Inbox"), (429, "200 requests")] {
            let contacts = status(code, "get_contact").hint().unwrap();
            assert!(!contacts.contains(inbox_only), "{code}: {contacts}");
            let messages = status(code, "get_conversation").hint().unwrap();
            assert!(messages.contains(inbox_only), "{code}: {messages}");
        }
        let read = Error::from_response(ErrorKind::Decode, StatusCode::OK, &HeaderMap::new(), None)
            .with_operation("create_contact");
        let read = read.hint().unwrap();
        assert!(
            read.starts_with("Create Contact was done") && !read.contains("message"),
            "{read}"
        );
    }
}
