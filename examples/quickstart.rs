//! The whole Wix Inbox story in one run, one line per step:
//!
//! a visitor writes → our webhook receiver gets and verifies Message Sent To Business → the app
//! gets or creates the conversation from the sender's IDs → replies → the visitor leaves their
//! email and becomes a contact → Conversations Merged arrives → the app finds the contact by
//! email (Query Contacts) and continues in the new conversation → lists every message across
//! pages.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! With no environment it plays against the embedded fake Inbox (`wix_inbox_fake`): no Wix
//! site, app or tunnel needed. It exits 0 only if every step did what it should.
//!
//! With `WIX_API_KEY` and `WIX_SITE_ID` set it runs the API part against the real Wix instead
//! (webhooks need a public URL, so that part stays with the fake): get or create the
//! conversation of `WIX_CONTACT_ID`, `WIX_MEMBER_ID` or `WIX_VISITOR_ID`, or of the one contact
//! with the email `WIX_CONTACT_EMAIL` (Query Contacts), reply with `WIX_QUICKSTART_REPLY` if set
//! (nothing is sent otherwise), and list every message. `WIX_BASE_URL` overrides
//! `https://www.wixapis.com`.

use std::process::ExitCode;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;

use futures_util::TryStreamExt as _;
use tokio::sync::mpsc;
use wix_inbox::lookup::Found;
use wix_inbox::types::{
    GetOrCreateConversationRequest, IdentificationData, Message, MessageVisibility, ParticipantId,
    SendMessageRequest,
};
use wix_inbox::webhooks::{Claim, InMemoryDeduplicator, InboxEvent, WebhookEvent, WebhookVerifier};
use wix_inbox_fake::{ContactDetails, FakeInbox};
const VISITOR: &str = "2b7e4ad9-5b1f-4c3c-9f7e-0a0b0c0d0e0f";
const CONTACT: &str = "890a3816-85b4-44ab-9085-524972a850ef";
/// The email address the visitor leaves, with which they become the contact.
const EMAIL: &str = "jo@example.com";
/// More than a page of List Messages (30) with the messages before them.
const ORDER_LINES: usize = 31;

#[tokio::main]
async fn main() -> ExitCode {
    let mut say = |line: String| println!("{line}");
    let result = match (std::env::var("WIX_API_KEY"), std::env::var("WIX_SITE_ID")) {
        (Ok(api_key), Ok(site_id)) => {
            say(
                "WIX_API_KEY and WIX_SITE_ID are set: running the API part against the real Wix"
                    .into(),
            );
            let base_url =
                std::env::var("WIX_BASE_URL").unwrap_or_else(|_| "https://www.wixapis.com".into());
            match participant_from_env() {
                Some(participant) => {
                    let reply = std::env::var("WIX_QUICKSTART_REPLY").ok();
                    api_part(&base_url, &api_key, &site_id, participant, reply.as_deref(), &mut say)
                        .await
                }
                None => Err("set WIX_CONTACT_ID, WIX_MEMBER_ID, WIX_VISITOR_ID or WIX_CONTACT_EMAIL: whose conversation to open".into()),
            }
        }
        _ => {
            say(
                "no WIX_API_KEY/WIX_SITE_ID: playing the story against the embedded fake Inbox"
                    .into(),
            );
            story(&mut say).await
        }
    };
    match result {
        Ok(()) => {
            println!("quickstart: OK, every step did what it should");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("quickstart: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Whose conversation the API part opens.
pub enum Who {
    /// The participant with this ID.
    Id(ParticipantId),
    /// The one contact with this email address, found first.
    ContactEmail(String),
}

fn participant_from_env() -> Option<Who> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    var("WIX_MEMBER_ID")
        .map(ParticipantId::MemberId)
        .or_else(|| var("WIX_CONTACT_ID").map(ParticipantId::ContactId))
        .or_else(|| var("WIX_VISITOR_ID").map(ParticipantId::AnonymousVisitorId))
        .map(Who::Id)
        .or_else(|| var("WIX_CONTACT_EMAIL").map(Who::ContactEmail))
}

/// A check of the story: `Err` with a clear line when a step did not do what it should.
fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

/// The whole story against a fake Inbox. `say` gets one line per step.
pub async fn story(say: &mut dyn FnMut(String)) -> Result<(), String> {
    let fake = FakeInbox::start()
        .await
        .map_err(|e| format!("starting the fake Inbox: {e}"))?;
    say(format!("1. fake Inbox serving at {}", fake.base_url()));

    // Our app: a webhook receiver that verifies each event with the app's public key, served
    // by the fake, which delivers every event to it…
    let (router, mut events) = receiver_router(fake.public_key_pem())?;
    let receiver_url = fake
        .add_webhook_router("/webhooks", router)
        .map_err(|e| format!("serving the receiver: {e}"))?;
    say(format!("2. our webhook receiver listens at {receiver_url}"));
    // …and an API client with the site's API key.
    let client = api_client(fake.base_url(), fake.api_key(), fake.site_id())?;

    // A visitor writes in the site's chat.
    fake.visitor_writes(VISITOR, "Hi! Do you ship to Norway?");
    say(format!(
        "3. a visitor ({VISITOR}) writes: \"Hi! Do you ship to Norway?\""
    ));

    let (event_id, sent) = wait_for(&mut events, "Message Sent To Business", |e| match e.event {
        InboxEvent::MessageSentToBusiness(sent) => Some((e.id, sent)),
        _ => None,
    })
    .await?;
    let sender = sent
        .message
        .as_ref()
        .and_then(|m| m.sender.clone())
        .ok_or("the message has no sender")?;
    say(format!(
        "4. receiver: Message Sent To Business, signature verified (event {event_id}), sender {}",
        describe(&sender)
    ));

    // The app finds the conversation from the sender's IDs.
    let participant = sender
        .participant_id()
        .ok_or("the sender has no participant ID")?;
    let conversation = get_or_create(&client, participant.clone()).await?;
    ensure(Some(&conversation) == sent.conversation_id.as_ref(), || {
        format!(
            "get or create gave {conversation}, the webhook said {:?}",
            sent.conversation_id
        )
    })?;
    say(format!(
        "5. app: get or create conversation for {participant:?} -> {conversation}"
    ));

    let reply = send_text(&client, &conversation, "Hello! Yes, we ship to Norway.").await?;
    say(format!(
        "6. app replies in {conversation} (message {})",
        reply.id.as_deref().unwrap_or("?")
    ));
    let echoed = wait_for(&mut events, "Message Sent To Participant", |e| {
        match e.event {
            InboxEvent::MessageSentToParticipant(sent) => Some(sent),
            _ => None,
        }
    })
    .await?;
    ensure(echoed.message.as_ref() == Some(&reply), || {
        "Message Sent To Participant is not our reply".into()
    })?;
    say("7. receiver: Message Sent To Participant for our reply".into());

    // The visitor leaves their email: they are a contact now, in a new conversation.
    let details = ContactDetails::new(CONTACT)
        .name("Jo", "Hansen")
        .email(EMAIL);
    fake.visitor_becomes_contact(VISITOR, details)
        .ok_or("the visitor's conversation was not merged")?;
    say(format!(
        "8. the visitor leaves their email ({EMAIL}) and becomes contact {CONTACT}"
    ));
    let merged = wait_for(&mut events, "Conversations Merged", |e| match e.event {
        InboxEvent::ConversationsMerged(merged) => Some(merged),
        _ => None,
    })
    .await?;
    let target = merged
        .target_conversation_id
        .clone()
        .ok_or("Conversations Merged without a target")?;
    ensure(merged.old_conversation_ids.contains(&conversation), || {
        format!(
            "{conversation} is not among the merged {:?}",
            merged.old_conversation_ids
        )
    })?;
    say(format!(
        "9. receiver: Conversations Merged {:?} -> {target}",
        merged.old_conversation_ids
    ));

    // The app continues in the new conversation: the contact writes, the app finds them by the
    // email they gave and answers there.
    fake.visitor_writes(VISITOR, "Great! My email is jo@example.com");
    let sent = wait_for(&mut events, "Message Sent To Business", |e| match e.event {
        InboxEvent::MessageSentToBusiness(sent) => Some(sent),
        _ => None,
    })
    .await?;
    let sender = sent.message.and_then(|m| m.sender).unwrap_or_default();
    let participant = sender
        .participant_id()
        .ok_or("the sender has no participant ID")?;
    let contact = contact_by_email(&client, EMAIL).await?;
    let found = ParticipantId::ContactId(contact.clone());
    ensure(participant == found, || {
        format!("the contact wrote as {participant:?}, Query Contacts found {contact}")
    })?;
    say(format!(
        "10. the contact writes again; app: contacts_by_email({EMAIL}) -> contact {contact}, the sender"
    ));
    let current = get_or_create(&client, found).await?;
    ensure(current == target, || {
        format!("get or create gave {current}, not the merge target {target}")
    })?;
    send_text(&client, &current, "Thanks, Jo! We'll write to you there.").await?;
    say(format!(
        "11. app: get or create for {participant:?} -> {current} (the merge target), replies there"
    ));

    // The contact sends their order, one line per item: the conversation outgrows a page.
    let order: Vec<String> = (1..=ORDER_LINES).map(|i| format!("item {i}")).collect();
    for line in &order {
        fake.visitor_writes(VISITOR, line);
    }
    say(format!(
        "12. the contact sends their order, one message per item ({ORDER_LINES} messages)"
    ));

    // Every message, the old conversation's included, across pages.
    let calls_before = list_calls(&fake);
    let messages = list_all(&client, &current).await?;
    let pages = list_calls(&fake) - calls_before;
    let mut texts: Vec<String> = messages.iter().map(text_of).collect();
    texts.reverse();
    let mut expected: Vec<String> = [
        "Hi! Do you ship to Norway?",
        "Hello! Yes, we ship to Norway.",
        "Great! My email is jo@example.com",
        "Thanks, Jo! We'll write to you there.",
    ]
    .map(String::from)
    .to_vec();
    expected.extend(order);
    ensure(texts == expected, || {
        format!("listed {texts:?}, expected {expected:?}")
    })?;
    ensure(pages > 1, || format!("{pages} page(s): expected several"))?;
    say(format!(
        "13. app: list_all_messages -> {} messages in {pages} pages, newest first, from \"{}\" back to \"{}\"",
        messages.len(),
        text_of(&messages[0]),
        text_of(&messages[messages.len() - 1]),
    ));

    fake.settle().await;
    let undelivered = fake.deliveries().iter().filter(|d| !d.delivered).count();
    ensure(undelivered == 0, || {
        format!("{undelivered} webhooks were not delivered")
    })?;
    say(format!(
        "14. all {} webhooks were delivered and verified",
        fake.deliveries().len()
    ));
    Ok(())
}

/// The API part against any Inbox (the real Wix, or a fake): get or create the participant's
/// conversation, reply if `reply` is given, list every message.
pub async fn api_part(
    base_url: &str,
    api_key: &str,
    site_id: &str,
    who: Who,
    reply: Option<&str>,
    say: &mut dyn FnMut(String),
) -> Result<(), String> {
    let client = api_client(base_url, api_key, site_id)?;
    let participant = match who {
        Who::Id(id) => id,
        Who::ContactEmail(email) => {
            let contact = contact_by_email(&client, &email).await?;
            say(format!(
                "query contacts: the contact with {email} is {contact}"
            ));
            ParticipantId::ContactId(contact)
        }
    };
    let conversation = get_or_create(&client, participant.clone()).await?;
    say(format!(
        "1. get or create conversation for {participant:?} at {base_url} -> {conversation}"
    ));
    match reply {
        Some(text) => {
            let sent = send_text(&client, &conversation, text).await?;
            say(format!(
                "2. replied (message {})",
                sent.id.as_deref().unwrap_or("?")
            ));
        }
        None => say("2. no WIX_QUICKSTART_REPLY: not sending anything".into()),
    }
    let messages = list_all(&client, &conversation).await?;
    say(format!(
        "3. {} messages in the conversation (list_all_messages)",
        messages.len()
    ));
    Ok(())
}

/// The app's API client: the API key (sent raw) and the site it acts on.
fn api_client(base_url: &str, api_key: &str, site_id: &str) -> Result<wix_inbox::Client, String> {
    wix_inbox::Client::builder()
        .api_key(api_key)
        .site_id(site_id)
        .base_url(base_url)
        .build()
        .map_err(|e| e.to_string())
}

/// The ID of the one contact with `email` (Query Contacts): none, or several, is an error, as
/// which of several is meant is not the app's guess to make.
async fn contact_by_email(client: &wix_inbox::Client, email: &str) -> Result<String, String> {
    match client.contacts_by_email(email).found().await {
        Ok(Found::One(contact)) => contact.id.ok_or_else(|| "a contact without an ID".into()),
        Ok(Found::None) => Err(format!("no contact has the email {email}")),
        Ok(Found::Several(contacts)) => {
            let ids: Vec<_> = contacts.iter().filter_map(|c| c.id.as_deref()).collect();
            Err(format!("several contacts have the email {email}: {ids:?}"))
        }
        Err(e) => Err(format!("query contacts: {e}")),
    }
}

/// How many List Messages calls the fake has answered.
fn list_calls(fake: &FakeInbox) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.uri.starts_with("/inbox/v2/messages"))
        .count()
}

fn describe(id: &IdentificationData) -> String {
    serde_json::to_string(id).unwrap_or_default()
}

async fn get_or_create(
    client: &wix_inbox::Client,
    participant: ParticipantId,
) -> Result<String, String> {
    client
        .get_or_create_conversation()
        .body(GetOrCreateConversationRequest {
            participant_id: participant,
        })
        .send()
        .await
        .map_err(|e| format!("get or create conversation: {e}"))?
        .into_inner()
        .conversation
        .and_then(|c| c.id)
        .ok_or_else(|| "get or create conversation: no conversation ID".into())
}

async fn send_text(
    client: &wix_inbox::Client,
    conversation: &str,
    text: &str,
) -> Result<Message, String> {
    let message = Message::reply(text);
    client
        .send_message()
        .body(SendMessageRequest::new(conversation, message))
        .send()
        .await
        .map_err(|e| format!("send message: {e}"))?
        .into_inner()
        .message
        .ok_or_else(|| "send message: no message in the answer".into())
}

/// Every message of the conversation, newest first: the client follows the cursors page by
/// page.
async fn list_all(client: &wix_inbox::Client, conversation: &str) -> Result<Vec<Message>, String> {
    client
        .list_all_messages(conversation, MessageVisibility::BusinessAndParticipant)
        .try_collect()
        .await
        .map_err(|e| format!("list messages: {e}"))
}

fn text_of(m: &Message) -> String {
    let content = m.content.as_ref();
    content
        .and_then(|c| c.basic.as_ref())
        .and_then(|b| b.items.iter().find_map(|i| i.text.clone()))
        .or_else(|| content.and_then(|c| c.preview_text.clone()))
        .unwrap_or_default()
}

// -------------------------------------------------------------------------------------------
// The webhook receiver

/// An axum router at `/webhooks` that verifies each webhook (RS256 with the app's public key),
/// drops redeliveries by their event ID and hands the decoded event over. It answers 200 to
/// what verifies, 401 (or 400) otherwise, so such a webhook never reaches us. With the feature
/// `axum`, `webhooks::axum::WebhookReceiver` is this endpoint with production bounds
/// (`examples/webhook_server.rs`); the quickstart needs no feature of the crate.
fn receiver_router(
    public_key_pem: &str,
) -> Result<(axum::Router, mpsc::Receiver<WebhookEvent>), String> {
    let verifier = WebhookVerifier::from_public_key(public_key_pem)
        .map_err(|e| format!("the app's public key: {e}"))?;
    let seen = InMemoryDeduplicator::new();
    let (sender, events) = mpsc::channel(256);
    let receive = move |body: axum::body::Bytes| {
        let (verifier, seen, sender) = (verifier.clone(), seen.clone(), sender.clone());
        async move {
            let event = match verifier.verify(&body) {
                Ok(event) => event,
                Err(e) => {
                    return StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::BAD_REQUEST)
                }
            };
            if let Claim::First(lease) = seen.claim_now(&event.id) {
                if sender.send(event).await.is_err() {
                    let _ = seen.release_now(&lease); // not handed on: Wix sends it again
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                let _ = seen.complete_now(&lease);
            }
            StatusCode::OK
        }
    };
    Ok((
        axum::Router::new().route("/webhooks", post(receive)),
        events,
    ))
}

/// The next event `pick` wants, skipping others; an error if none comes within 10 s.
async fn wait_for<T>(
    events: &mut mpsc::Receiver<WebhookEvent>,
    what: &str,
    mut pick: impl FnMut(WebhookEvent) -> Option<T>,
) -> Result<T, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => {
                return Err(format!(
                    "no verified {what} webhook within 10 s (one that fails verification is \
                     answered 401 and never reaches the app)"
                ))
            }
            Ok(None) => return Err("the webhook receiver stopped".into()),
            Ok(Some(event)) => {
                if let Some(found) = pick(event) {
                    return Ok(found);
                }
            }
        }
    }
}
