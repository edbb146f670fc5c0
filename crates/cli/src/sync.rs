//! `contacts find`, `members find` and `sync`, Wix's "Sync messages from an external service":
//! find the contact by email (or create it), then record the message in their current
//! conversation, from the contact, for the business only, with a badge naming the service.

use serde::Serialize;
use wix_inbox::contacts::{self, FindOrCreateError};
use wix_inbox::types::{Badge, Contact, Message, ParticipantId};
use wix_inbox::Client;

use crate::api::{client, failed, print_json_lines};
use crate::args::{ByEmail, Global, Sync};
use crate::{print_json, Failure, Outcome};

/// How many contacts an error lists before it says how many more there are.
const LISTED: usize = 10;

pub async fn find_contacts(global: &Global, args: ByEmail) -> Outcome {
    print_json_lines(client(global)?.contacts_by_email(args.email)).await
}

pub async fn find_members(global: &Global, args: ByEmail) -> Outcome {
    print_json_lines(client(global)?.members_by_login_email(args.email)).await
}

/// What `sync` prints.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Synced {
    contact_id: String,
    /// Whether `--create-contact` created the contact.
    contact_created: bool,
    /// The contact's current conversation, where the message went.
    conversation_id: String,
    /// The message as Wix stored it.
    message: Message,
}

pub async fn sync(global: &Global, args: Sync) -> Outcome {
    let client = client(global)?;
    let badge = match (args.badge_text, args.badge_icon) {
        (Some(text), Some(icon_url)) => Some(Badge {
            text: Some(text),
            icon_url: Some(icon_url),
            ..Default::default()
        }),
        (None, None) => None,
        // clap requires each with the other.
        _ => {
            return Err(Failure::Usage(
                "give --badge-text and --badge-icon together".into(),
            ))
        }
    };
    let message = Message::synced(args.text, badge);
    let (contact_id, contact_created) =
        find_contact(&client, &args.email, args.contact, args.create_contact).await?;
    let sent = client
        .send_to_participant(&ParticipantId::ContactId(contact_id.clone()), message)
        .await
        .map_err(failed)?;
    print_json(&Synced {
        contact_id,
        contact_created,
        conversation_id: sent.conversation_id,
        message: sent.message,
    })
}

/// The ID of the contact with `email` (the one `pick` names, when given), and whether it was
/// created: with none, one is created if `create` (`contacts::find_or_create_by_email`, its 409
/// included); several without `pick` is a failure that lists them.
async fn find_contact(
    client: &Client,
    email: &str,
    pick: Option<String>,
    create: bool,
) -> Result<(String, bool), Failure> {
    if create && pick.is_none() {
        return match contacts::find_or_create_by_email(client, email).await {
            Ok(found) => Ok((found.id().to_owned(), found.created())),
            Err(FindOrCreateError::Several(several)) => Err(several_contacts(email, &several)),
            Err(FindOrCreateError::Wix(e)) => Err(failed(e)),
            Err(e) => Err(Failure::Operation(format!(
                "{e}: try again (email {email})"
            ))),
        };
    }
    let found = client
        .contacts_by_email(email)
        .all()
        .await
        .map_err(failed)?;
    match (found.as_slice(), &pick) {
        (_, Some(id)) if found.iter().any(|c| c.id.as_ref() == Some(id)) => Ok((id.clone(), false)),
        ([], Some(id)) => Err(Failure::Operation(format!(
            "contact {id} does not have the email {email}: no contact has it"
        ))),
        (all, Some(id)) => Err(Failure::Operation(format!(
            "contact {id} is not one of the contacts with the email {email}: {}",
            listing(all)
        ))),
        ([], None) => Err(Failure::Operation(format!(
            "no contact has the email {email}: --create-contact creates one"
        ))),
        ([one], None) => Ok((id_of(one)?, false)),
        (several, None) => Err(several_contacts(email, several)),
    }
}

fn several_contacts(email: &str, several: &[Contact]) -> Failure {
    Failure::Operation(format!(
        "{} contacts have the email {email}: {}; choose one with --contact ID",
        several.len(),
        listing(several)
    ))
}

fn id_of(contact: &Contact) -> Result<String, Failure> {
    contact
        .id
        .clone()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| Failure::Operation("Wix answered with a contact that has no ID".into()))
}

/// The contacts as `ID "First Last"`, the first [`LISTED`] of them, on one line: what Wix sent
/// is escaped, so that a name cannot rewrite the terminal or add a line.
fn listing(contacts: &[Contact]) -> String {
    let mut listed: Vec<String> = contacts
        .iter()
        .take(LISTED)
        .map(|contact| {
            let id = contact.id.as_deref().unwrap_or("(no ID)").escape_debug();
            let name = contact.info.as_ref().and_then(|i| i.name.as_ref());
            let name = [
                name.and_then(|n| n.first.as_deref()),
                name.and_then(|n| n.last.as_deref()),
            ]
            .into_iter()
            .flatten()
            .filter(|part| !part.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" ");
            if name.is_empty() {
                format!("{id} (no name)")
            } else {
                format!("{id} \"{}\"", name.escape_debug())
            }
        })
        .collect();
    if contacts.len() > LISTED {
        listed.push(format!(
            "and {} more (contacts find --email lists them all)",
            contacts.len() - LISTED
        ));
    }
    listed.join(", ")
}
