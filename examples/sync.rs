//! Wix's example flow "Sync messages from an external service": a message a contact wrote
//! elsewhere (an email, a form of another service) is recorded in their Inbox conversation,
//! visible to the business only, with a badge naming the service.
//!
//! ```sh
//! cargo run --example sync
//! ```
//!
//! Given an email address and a text, it finds the contact with Query Contacts
//! (`contacts_by_email`), creates one with Create Contact when there is none (if asked), and
//! sends the text with direction `PARTICIPANT_TO_BUSINESS` and visibility `BUSINESS` to the
//! contact's current conversation (Get Or Create Conversation, then Send Message, once more
//! after a merge: `send_to_participant`). Several contacts with the email is an error that lists
//! them: which one is meant is the caller's choice, never the first.
//!
//! With no environment it runs against the embedded fake Inbox. With `WIX_API_KEY` and
//! `WIX_SITE_ID` set it syncs into the real Wix (`WIX_BASE_URL` overrides
//! `https://www.wixapis.com`):
//!
//! ```sh
//! WIX_API_KEY=… WIX_SITE_ID=… cargo run --example sync -- \
//!     jane@example.com "Where is my order?" [--create-contact]
//! ```

use std::fmt;

use wix_inbox::lookup::Found;
use wix_inbox::send::SentMessage;
use wix_inbox::types::{
    Badge, Contact, ContactEmail, ContactEmails, ContactInfo, CreateContactRequest, EmailTag,
    Message, MessageContent, MessageDirection, MessageVisibility, ParticipantId,
};

/// Wix's own badge for a message that came by email (the icon of its Send Message example).
pub fn email_badge() -> Badge {
    Badge {
        text: Some("Email".into()),
        icon_url: Some(
            "https://wixmp-9127dea18607b759d29e6784.wixmp.com/badges/mailSmallFlat.png".into(),
        ),
        ..Default::default()
    }
}

/// The message of the flow: the participant's words, for the business's eyes, with a badge
/// (text + icon URL) saying where they came from.
pub fn synced_message(text: &str, badge: Option<Badge>) -> Message {
    Message {
        content: Some(MessageContent::text(text)),
        direction: Some(MessageDirection::ParticipantToBusiness),
        visibility: Some(MessageVisibility::Business),
        badges: badge.into_iter().collect(),
        ..Default::default()
    }
}

/// What the flow did.
#[derive(Debug)]
pub struct Synced {
    /// The contact the message was recorded for.
    pub contact_id: String,
    /// Whether the flow created the contact.
    pub contact_created: bool,
    /// Where the message went, and the message as Wix stored it.
    pub sent: SentMessage,
}

/// Why the flow sent nothing.
#[derive(Debug)]
pub enum SyncError {
    /// No contact has the email, and creating one was not asked for.
    NoContact(String),
    /// Several contacts have the email: all of them, oldest first.
    SeveralContacts(Vec<Contact>),
    /// A call to Wix failed.
    Wix(wix_inbox::Error),
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncError::NoContact(email) => write!(f, "no contact has the email {email}"),
            SyncError::SeveralContacts(contacts) => {
                let ids: Vec<&str> = contacts.iter().filter_map(|c| c.id.as_deref()).collect();
                write!(f, "{} contacts have this email: {ids:?}", contacts.len())
            }
            SyncError::Wix(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SyncError {}

impl From<wix_inbox::Error> for SyncError {
    fn from(e: wix_inbox::Error) -> Self {
        SyncError::Wix(e)
    }
}

/// The whole flow: find the contact with `email` (creating it if there is none and `create`
/// is set), then record `text` in their current conversation.
pub async fn sync_by_email(
    client: &wix_inbox::Client,
    email: &str,
    text: &str,
    badge: Option<Badge>,
    create: bool,
) -> Result<Synced, SyncError> {
    let (contact_id, contact_created) = match client.contacts_by_email(email).found().await? {
        Found::One(contact) => (contact.id.unwrap_or_default(), false),
        Found::Several(contacts) => return Err(SyncError::SeveralContacts(contacts)),
        Found::None if create => (create_contact(client, email, false).await?, true),
        Found::None => return Err(SyncError::NoContact(email.to_owned())),
    };
    let sent = sync_to_contact(client, &contact_id, text, badge).await?;
    Ok(Synced {
        contact_id,
        contact_created,
        sent,
    })
}

/// Create Contact with `email` as its main email (even if another contact has it, with
/// `allow_duplicates`); the new contact's ID.
pub async fn create_contact(
    client: &wix_inbox::Client,
    email: &str,
    allow_duplicates: bool,
) -> Result<String, wix_inbox::Error> {
    let info = ContactInfo {
        emails: Some(ContactEmails {
            items: vec![ContactEmail {
                email: Some(email.to_owned()),
                tag: Some(EmailTag::Main),
                primary: Some(true),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = client
        .create_contact()
        .body(CreateContactRequest {
            info,
            allow_duplicates: Some(allow_duplicates),
        })
        .send()
        .await?
        .into_inner();
    Ok(created.contact.and_then(|c| c.id).unwrap_or_default())
}

/// Records `text` in the contact's current conversation.
pub async fn sync_to_contact(
    client: &wix_inbox::Client,
    contact_id: &str,
    text: &str,
    badge: Option<Badge>,
) -> Result<SentMessage, wix_inbox::Error> {
    let contact = ParticipantId::ContactId(contact_id.to_owned());
    client
        .send_to_participant(&contact, synced_message(text, badge))
        .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(api_key), Some(site_id)) = (var("WIX_API_KEY"), var("WIX_SITE_ID")) else {
        println!("no WIX_API_KEY/WIX_SITE_ID: syncing into the embedded fake Inbox");
        return demo(&mut |line| println!("{line}")).await;
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let create = args.iter().any(|a| a == "--create-contact");
    let [email, text] = args
        .iter()
        .filter(|a| *a != "--create-contact")
        .collect::<Vec<_>>()[..]
    else {
        return Err("usage: sync EMAIL TEXT [--create-contact]".into());
    };
    let client = wix_inbox::Client::builder()
        .api_key(api_key)
        .site_id(site_id)
        .base_url(var("WIX_BASE_URL").unwrap_or_else(|| "https://www.wixapis.com".into()))
        .build()?;
    let synced = sync_by_email(&client, email, text, Some(email_badge()), create).await?;
    println!("{}", describe(&synced));
    Ok(())
}

fn describe(synced: &Synced) -> String {
    format!(
        "{} contact {}: synced into {} as message {}",
        if synced.contact_created {
            "created"
        } else {
            "found"
        },
        synced.contact_id,
        synced.sent.conversation_id,
        synced.sent.message.id.as_deref().unwrap_or("?")
    )
}

/// The flow against the fake Inbox, one line per step to `say`: a first message from an email
/// address no contact has (refused, then created), a second one (found), and an address two
/// contacts share (refused, both listed).
pub async fn demo(say: &mut dyn FnMut(String)) -> Result<(), Box<dyn std::error::Error>> {
    let fake = wix_inbox_fake::FakeInbox::start().await?;
    let client = fake.client();
    let email = "jane@example.com";
    let sync = |text, create| sync_by_email(&client, email, text, Some(email_badge()), create);
    match sync("Where is my order?", false).await {
        Err(SyncError::NoContact(_)) => say(format!("1. no contact has {email}: nothing sent")),
        other => return Err(format!("expected no contact, got {other:?}").into()),
    }
    let first = sync("Where is my order?", true).await?;
    say(format!("2. {}", describe(&first)));
    let second = sync("It arrived, thanks!", true).await?;
    say(format!("3. {}", describe(&second)));
    if second.contact_created || second.contact_id != first.contact_id {
        return Err("the second sync did not find the contact the first created".into());
    }
    let shared = "family@example.com";
    // Two contacts with one email, as an import can make them.
    for _ in 0..2 {
        create_contact(&client, shared, true).await?;
    }
    match sync_by_email(&client, shared, "Hello", None, true).await {
        Err(e @ SyncError::SeveralContacts(_)) => say(format!("4. {e}: nothing sent")),
        other => return Err(format!("expected several contacts, got {other:?}").into()),
    }
    Ok(())
}
