//! What to do about an [`Error`]: [`Error::hint`].

use super::{
    error::{Error, ErrorCode, ErrorKind},
    http,
};

impl Error {
    /// What to do about this error, in a sentence or two, when there is something to say: check
    /// the ID, the credentials, the network; try again later; list the conversation's messages
    /// before sending again. It agrees with [`is_retryable`](Self::is_retryable): an error
    /// with a status is advised to be tried again exactly when it is retryable.
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
    pub fn hint(&self) -> Option<&'static str> {
        // Only Send Message is not safe to repeat.
        let sending = !self.operation_is_repeatable();
        let retryable = |status: u16| {
            reqwest::StatusCode::from_u16(status).is_ok_and(http::is_retryable_status)
        };
        let advice = match (self.code(), self.kind(), self.status().map(|s| s.as_u16())) {
            (Some(ErrorCode::ConversationNotFound), _, _) | (_, ErrorKind::Api, Some(404)) => {
                "Check the ID. If the participant became a contact or member, Wix merged their \
                 conversation into a new one: call Get Or Create Conversation with their current \
                 participant ID."
            }
            (Some(ErrorCode::NotOwnedByBusiness), ..) => {
                "The conversation belongs to another site: check the site ID or app instance."
            }
            (Some(ErrorCode::NoInboxInstance | ErrorCode::InboxInstanceNotFound), ..) => {
                "Inbox is not set up on this site: the site owner has to enable Inbox (Wix Chat)."
            }
            (Some(ErrorCode::NotJoinedChatroom), ..) => {
                "The caller is not a participant of this conversation."
            }
            (Some(ErrorCode::IdentityDoesNotMatch), ..) => {
                "The sender does not match the caller or the conversation's participant: check \
                 `sendAs` and the conversation ID."
            }
            (Some(ErrorCode::InvalidMediaUrl), ..) => {
                "Wix cannot fetch an image or file of the message: use a public https URL or a \
                 Wix Media URL."
            }
            (_, ErrorKind::Config, _) => "",
            (_, ErrorKind::AppRemoved, _) => {
                "The site removed the app: stop acting for it (its data may be deleted). Calls \
                 work again once the site installs the app again."
            }
            (_, ErrorKind::InvalidRequest, _) => "Set every required argument of the operation.",
            (_, ErrorKind::Redirect, _) => {
                "Wix's API does not redirect: check the base URL (a proxy, or another host?)."
            }
            (_, ErrorKind::Token, Some(s)) if retryable(s) => {
                "The token endpoint is unavailable for now: try again later."
            }
            (_, ErrorKind::Token, _) => {
                "Check the app ID, app secret and instance ID, and that the app is installed on \
                 the site."
            }
            (_, ErrorKind::Connect, _) => "Check the network and the base URL.",
            (_, ErrorKind::Timeout | ErrorKind::Transport, _) if sending => {
                "The message may have been sent: list the conversation's messages before sending \
                 it again."
            }
            (_, ErrorKind::Timeout | ErrorKind::Transport, _) => "Try again later.",
            (_, ErrorKind::TooLarge, Some(200..=299)) if sending => {
                "The message was sent, but the response was too large to read: list the \
                 conversation's messages instead of sending it again."
            }
            (_, ErrorKind::TooLarge, _) => {
                "Check the base URL (a proxy?), or raise ClientBuilder::max_response_size."
            }
            (_, ErrorKind::Decode, Some(200..=299)) if sending => {
                "The message was sent, but the response could not be read: list the conversation's \
                 messages instead of sending it again, and report the response with the request ID."
            }
            (_, ErrorKind::Paging, _) => {
                "Wix kept naming more pages: report it with a conversation ID, or raise the \
                 stream's max_empty_pages or max_pages."
            }
            (_, ErrorKind::Decode, _) => {
                "Wix sent something the crate's spec does not describe: report it, with the \
                 request ID."
            }
            (_, _, Some(400)) => "Fix the request: repeating it as it is will fail the same way.",
            (_, _, Some(401)) => {
                "Check the credentials: the API key and site ID, or the app ID, secret and \
                 instance ID."
            }
            (_, _, Some(403)) => {
                "The API key or app lacks a permission scope this needs (Read Inbox Messages or \
                 Manage Inbox Messages)."
            }
            (_, _, Some(428)) => "Is the app installed on the site, and Inbox enabled?",
            (_, _, Some(429)) => {
                "Wix allows 200 requests a minute per app instance: slow down and try again later."
            }
            (_, _, Some(s)) if retryable(s) => {
                "Wix has a problem on its side: try again later; if it persists, give Wix support \
                 the request ID."
            }
            (_, _, Some(500..=599)) => {
                "Wix has a problem on its side: if it persists, give Wix support the request ID."
            }
            _ => "",
        };
        (!advice.is_empty()).then_some(advice)
    }
}

#[cfg(test)]
mod tests {
    use reqwest::{header::HeaderMap, StatusCode};

    use super::super::error::{Error, ErrorKind};

    #[test]
    fn the_hint_says_try_again_exactly_when_the_error_is_retryable() {
        for status in 400..=599 {
            let status = StatusCode::from_u16(status).unwrap();
            for kind in [ErrorKind::Api, ErrorKind::Token] {
                for operation in ["get_conversation", "send_message"] {
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
}
