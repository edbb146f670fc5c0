//! Finding a participant's IDs: contacts by email address or phone number, members by login
//! email, every match, page after page.
//!
//! Wix's Inbox docs name Query Contacts and Query Members as the way an app learns a
//! participant's contact ID or member ID (to call Get Or Create Conversation with it). These are
//! those queries, typed:
//!
//! | Lookup | Operation | Filter (Wix's API Query Language) | Fieldsets | Page |
//! |---|---|---|---|---|
//! | [`Client::contacts_by_email`] | Query Contacts | `{"info.emails.email": {"$eq": email}}` | `COMMUNICATION_DETAILS` | 1,000 |
//! | [`Client::contacts_by_phone`] | Query Contacts | `{"info.phones.phone": {"$eq": phone}}` | `COMMUNICATION_DETAILS` | 1,000 |
//! | [`Client::members_by_login_email`] | Query Members | `{"loginEmail": email}` | `FULL` | 100 |
//!
//! `COMMUNICATION_DETAILS` returns a contact's ID, name, emails and phones; Members' default
//! fieldset, `PUBLIC`, returns no email and no contact ID, hence `FULL`.
//!
//! **One email address can belong to several contacts** (Create Contact with
//! `allowDuplicates`, imports): a lookup yields all of them, never just the first. Each lookup is
//! a [`Stream`](futures_core::Stream) of matches ([`Matches`]) that asks for the next page only
//! when the last one is used up; [`Matches::all`] collects them, and [`Matches::found`] says
//! whether there was none, one or several, so that a caller must decide what several mean.
//!
//! ```no_run
//! use wix_inbox::lookup::Found;
//!
//! # async fn run(client: wix_inbox::Client) -> Result<(), wix_inbox::Error> {
//! match client.contacts_by_email("jane@example.com").found().await? {
//!     Found::None => println!("no contact has this email"),
//!     Found::One(contact) => println!("contact {:?}", contact.id),
//!     Found::Several(contacts) => {
//!         let ids: Vec<_> = contacts.iter().filter_map(|c| c.id.as_deref()).collect();
//!         println!("several contacts have this email: {ids:?}");
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Paging
//!
//! Both queries page by offset. A lookup sorts by `createdDate` ascending, so that a contact or
//! member created while it pages lands on a later page instead of shifting the ones not yet read;
//! it reads pages of the largest size each API allows until one comes back empty, short of its
//! size, or reaching Wix's `total`, and yields each match once (by ID), even if a page repeats
//! one. A page of nothing but matches already yielded means Wix ignored the offset: the lookup
//! ends with an [`ErrorKind::Paging`](crate::ErrorKind::Paging) error instead of asking forever,
//! as it does after [`max_pages`](Matches::max_pages) pages when one is set. Any other error
//! ends it too, after the matches of the pages before. Every page is one call of the client,
//! with its credentials and retries (the queries may be repeated).
//!
//! [`Key`] builds these filters and recognises them, for code that serves or checks queries (a
//! stand-in for Wix).

mod key;
mod matches;

use serde_json::{Map, Value};

pub use key::Key;
pub use matches::{Found, Matches, Record};

use crate::{types, Client};

impl Client {
    /// Every contact with this email address (any of its emails, not only the primary one), as
    /// Wix compares them; see the [module](self).
    pub fn contacts_by_email(&self, email: impl Into<String>) -> Matches<types::Contact> {
        self.contacts_matching(Key::ContactEmail(email.into()).filter())
    }

    /// Every contact with this phone number, as it was entered (`info.phones.phone`, not the
    /// E.164 form Wix derives from it); see the [module](self).
    pub fn contacts_by_phone(&self, phone: impl Into<String>) -> Matches<types::Contact> {
        self.contacts_matching(Key::ContactPhone(phone.into()).filter())
    }

    /// Every member whose login email is this one (fieldset `FULL`, so that `loginEmail`,
    /// `contactId` and the statuses come back); see the [module](self).
    pub fn members_by_login_email(&self, email: impl Into<String>) -> Matches<types::Member> {
        self.members_matching(Key::MemberLoginEmail(email.into()).filter())
    }

    /// Every contact that `filter` (Wix's API Query Language, as Query Contacts takes it)
    /// matches, paged as the [module](self) says.
    pub fn contacts_matching(&self, filter: Map<String, Value>) -> Matches<types::Contact> {
        Matches::new(self.clone(), filter)
    }

    /// Every member that `filter` (Wix's API Query Language, as Query Members takes it)
    /// matches, paged as the [module](self) says.
    pub fn members_matching(&self, filter: Map<String, Value>) -> Matches<types::Member> {
        Matches::new(self.clone(), filter)
    }
}
