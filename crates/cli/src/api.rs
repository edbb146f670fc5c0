//! The API commands: credentials from the environment, one call, JSON on stdout.

use futures_util::TryStreamExt;
use wix_inbox::types::{
    GetOrCreateConversationRequest, Message, MessageVisibility, ParticipantId, SendMessageRequest,
};
use wix_inbox::Client;

use crate::args::{Global, List, Participant, Send, Visibility};
use crate::{print_json, Failure, Outcome};

/// The client, with credentials from WIX_API_KEY + WIX_SITE_ID or WIX_APP_ID + WIX_APP_SECRET +
/// WIX_INSTANCE_ID.
pub fn client(global: &Global) -> Result<Client, Failure> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut builder = Client::builder();
    builder = match (var("WIX_API_KEY"), var("WIX_APP_ID")) {
        (Some(_), Some(_)) => {
            return Err(Failure::Usage(
                "both WIX_API_KEY and WIX_APP_ID are set: choose one way to authenticate".into(),
            ))
        }
        (Some(key), None) => {
            let site = var("WIX_SITE_ID").ok_or_else(|| {
                Failure::Usage("WIX_API_KEY is set but WIX_SITE_ID is not: set both".into())
            })?;
            builder.api_key(key).site_id(site)
        }
        (None, Some(app_id)) => match (var("WIX_APP_SECRET"), var("WIX_INSTANCE_ID")) {
            (Some(app_secret), Some(instance_id)) => builder.app(wix_inbox::AppCredentials {
                app_id,
                app_secret,
                instance_id,
            }),
            _ => {
                return Err(Failure::Usage(
                    "WIX_APP_ID is set: WIX_APP_SECRET and WIX_INSTANCE_ID are needed too".into(),
                ))
            }
        },
        (None, None) => {
            return Err(Failure::Usage(
                "no credentials: set WIX_API_KEY and WIX_SITE_ID, or WIX_APP_ID, WIX_APP_SECRET \
                 and WIX_INSTANCE_ID"
                    .into(),
            ))
        }
    };
    if let Some(url) = &global.base_url {
        builder = builder.base_url(url);
    }
    builder.build().map_err(|e| Failure::Usage(e.to_string()))
}

/// An API error: one line with what happened and Wix's request id (the error's Display says
/// both, and never holds a secret), its causes, and what to do about it.
pub fn failed(e: wix_inbox::Error) -> Failure {
    let mut line = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        line = format!("{line}: {c}");
        cause = c.source();
    }
    if let Some(hint) = e.hint() {
        line = format!("{line}. {hint}");
    }
    Failure::Operation(line)
}

fn visibility(v: Visibility) -> MessageVisibility {
    match v {
        Visibility::Business => MessageVisibility::Business,
        Visibility::BusinessAndParticipant => MessageVisibility::BusinessAndParticipant,
    }
}

pub async fn get_conversation(global: &Global, id: String) -> Outcome {
    let client = client(global)?;
    let response = client
        .get_conversation()
        .conversation_id(id)
        .send()
        .await
        .map_err(failed)?;
    print_json(&*response)
}

/// `app instance`: Get App Instance, with the instance's app token.
pub async fn app_instance(global: &Global) -> Outcome {
    let client = client(global)?;
    let response = client.get_app_instance().send().await.map_err(failed)?;
    print_json(&*response)
}

pub async fn get_or_create(global: &Global, who: Participant) -> Outcome {
    let participant_id = match who {
        Participant {
            visitor: Some(id), ..
        } => ParticipantId::AnonymousVisitorId(id),
        Participant {
            contact: Some(id), ..
        } => ParticipantId::ContactId(id),
        Participant {
            member: Some(id), ..
        } => ParticipantId::MemberId(id),
        _ => {
            return Err(Failure::Usage(
                "give one of --visitor, --contact, --member".into(),
            ))
        }
    };
    let client = client(global)?;
    let response = client
        .get_or_create_conversation()
        .body(GetOrCreateConversationRequest { participant_id })
        .send()
        .await
        .map_err(failed)?;
    print_json(&*response)
}

pub async fn list_messages(global: &Global, args: List) -> Outcome {
    let client = client(global)?;
    let visibility = visibility(args.visibility);
    if args.all {
        return print_json_lines(client.list_all_messages(args.conversation_id, visibility)).await;
    }
    let response = client
        .list_messages()
        .conversation_id(args.conversation_id)
        .visibility(visibility)
        .send()
        .await
        .map_err(failed)?;
    print_json(&*response)
}

pub async fn send_message(global: &Global, args: Send) -> Outcome {
    let client = client(global)?;
    let message = Message {
        visibility: Some(visibility(args.visibility)),
        ..Message::reply(args.text)
    };
    let response = client
        .send_message()
        .body(SendMessageRequest::new(args.conversation_id, message))
        .send()
        .await
        .map_err(failed)?;
    print_json(&*response)
}

/// Prints each item (a message, a contact, a member) as one line of JSON as soon as its page
/// arrives: nothing is collected, so a conversation of any length (or a server that never stops
/// sending pages) takes constant memory. When the reader goes away (`| head`), it stops quietly.
pub async fn print_json_lines<T: serde::Serialize>(
    items: impl futures_util::Stream<Item = Result<T, wix_inbox::Error>>,
) -> Outcome {
    use std::io::Write as _;
    let mut items = std::pin::pin!(items);
    let stdout = std::io::stdout();
    let mut line = String::new();
    while let Some(item) = items.try_next().await.map_err(failed)? {
        let json = serde_json::to_string(&item)
            .map_err(|e| Failure::Operation(format!("cannot print the result as JSON: {e}")))?;
        line.clear();
        line.push_str(&crate::escape_hidden(&json));
        line.push('\n');
        match stdout.lock().write_all(line.as_bytes()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(Failure::Operation(format!("cannot write to stdout: {e}"))),
        }
    }
    Ok(())
}
