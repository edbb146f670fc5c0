//! Finding a contact by email, or creating one: what Wix's "Sync messages from an external
//! service" flow starts with.
//!
//! [`find_or_create_by_email`] looks the email up with Query Contacts
//! ([`Client::contacts_by_email`]); with no contact it calls Create Contact (the email as the
//! contact's main, primary email, duplicates not allowed). When Create Contact answers 409
//! (another process created a contact with the email since the look-up), it looks up once more
//! and takes that contact: two syncs racing on one email end with one contact.
//!
//! ```no_run
//! use wix_inbox::contacts::{find_or_create_by_email, ByEmail};
//! use wix_inbox::types::{Message, ParticipantId};
//!
//! # async fn run(client: wix_inbox::Client) -> Result<(), Box<dyn std::error::Error>> {
//! let found = find_or_create_by_email(&client, "jo@example.com").await?;
//! let contact = ParticipantId::ContactId(found.id().to_owned());
//! client.send_to_participant(&contact, Message::synced("Where is my order?", None)).await?;
//! # Ok(()) }
//! ```

use std::fmt;

use crate::lookup::Found;
use crate::types::{
    Contact, ContactEmail, ContactEmails, ContactInfo, CreateContactRequest, EmailTag,
};
use crate::{Client, Error};

/// The contact [`find_or_create_by_email`] found or created.
#[derive(Clone, Debug, PartialEq)]
pub enum ByEmail {
    /// The one contact that has the email.
    Found(Contact),
    /// No contact had the email: this one was created with it.
    Created(Contact),
}

impl ByEmail {
    /// The contact.
    pub fn contact(&self) -> &Contact {
        match self {
            ByEmail::Found(c) | ByEmail::Created(c) => c,
        }
    }

    /// The contact's ID (never empty: a contact without one is [`FindOrCreateError::NoId`]).
    pub fn id(&self) -> &str {
        self.contact().id.as_deref().unwrap_or_default()
    }

    /// The contact as a participant: `ParticipantId::ContactId(id)`.
    pub fn participant_id(&self) -> crate::types::ParticipantId {
        crate::types::ParticipantId::ContactId(self.id().to_owned())
    }

    /// Whether it was created.
    pub fn created(&self) -> bool {
        matches!(self, ByEmail::Created(_))
    }
}

/// Why [`find_or_create_by_email`] has no contact.
#[derive(Debug)]
#[non_exhaustive]
pub enum FindOrCreateError {
    /// Several contacts have the email (all of them, oldest first): which one is meant is the
    /// caller's choice, never the first.
    Several(Vec<Contact>),
    /// Create Contact answered 409 (a contact has the email now), yet Query Contacts still
    /// finds none: Wix's index lags; try again later.
    NotYetVisible,
    /// Wix answered with a contact that has no ID.
    NoId,
    /// A call to Wix failed.
    Wix(Error),
}

impl fmt::Display for FindOrCreateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FindOrCreateError::Several(contacts) => {
                write!(f, "{} contacts have the email", contacts.len())
            }
            FindOrCreateError::NotYetVisible => f.write_str(
                "Create Contact answered that a contact has the email (409), but Query Contacts \
                 does not find it yet",
            ),
            FindOrCreateError::NoId => f.write_str("Wix answered with a contact that has no ID"),
            FindOrCreateError::Wix(_) => f.write_str("a call to Wix failed"),
        }
    }
}

impl std::error::Error for FindOrCreateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FindOrCreateError::Wix(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Error> for FindOrCreateError {
    fn from(e: Error) -> Self {
        FindOrCreateError::Wix(e)
    }
}

/// The one contact with `email`, created when there is none; see [the module](self).
///
/// # Errors
///
/// [`FindOrCreateError::Several`] when several contacts have it; the others as documented
/// there. Nothing is created unless no contact has the email.
pub async fn find_or_create_by_email(
    client: &Client,
    email: &str,
) -> Result<ByEmail, FindOrCreateError> {
    // After a 409 the look-up is made once more; a second 409 is not retried.
    let mut conflicted = false;
    loop {
        return match client.contacts_by_email(email).found().await? {
            Found::One(contact) => with_id(contact).map(ByEmail::Found),
            Found::Several(contacts) => Err(FindOrCreateError::Several(contacts)),
            Found::None if conflicted => Err(FindOrCreateError::NotYetVisible),
            Found::None => match create_with_email(client, email).await? {
                Some(contact) => with_id(contact).map(ByEmail::Created),
                None => {
                    conflicted = true;
                    continue;
                }
            },
        };
    }
}

/// Create Contact with `email` as the contact's main, primary email, duplicates not allowed:
/// the new contact, or `None` when Wix answered 409 (a contact has the email).
///
/// # Errors
///
/// The call's [`Error`], a 409 excepted.
pub async fn create_with_email(client: &Client, email: &str) -> Result<Option<Contact>, Error> {
    let email = ContactEmail {
        email: Some(email.to_owned()),
        tag: Some(EmailTag::Main),
        primary: Some(true),
        ..Default::default()
    };
    let info = ContactInfo {
        emails: Some(ContactEmails {
            items: vec![email],
            ..Default::default()
        }),
        ..Default::default()
    };
    let request = CreateContactRequest {
        info,
        allow_duplicates: None,
    };
    match client.create_contact().body(request).send().await {
        Ok(created) => Ok(Some(created.into_inner().contact.unwrap_or_default())),
        Err(e) if e.is_conflict() => Ok(None),
        Err(e) => Err(e),
    }
}

fn with_id(contact: Contact) -> Result<Contact, FindOrCreateError> {
    match contact.id.as_deref() {
        Some(id) if !id.is_empty() => Ok(contact),
        _ => Err(FindOrCreateError::NoId),
    }
}
