//! The fake's contacts and members, driven from Rust: add a contact, merge two contacts (their
//! conversations merge as Wix merges them), read what the site has. The records themselves are
//! kept by [`directory`](super::directory) and served by the Contacts v4 and Members v1
//! routes.

use super::directory::MergeContactsError;
use super::store::Key;
use super::{ContactDetails, FakeInbox};
use crate::types::{Contact, ConversationsMerged, Member};

impl FakeInbox {
    /// Stores a contact with these details (as Create Contact with `allowDuplicates` would: an
    /// email address may be several contacts'), or adds them to the contact if it exists.
    /// Returns the contact as Get Contact gives it.
    ///
    /// ```
    /// # use wix_inbox::fake::{ContactDetails, FakeInbox};
    /// # use wix_inbox::lookup::Found;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let fake = FakeInbox::start().await?;
    /// fake.add_contact(ContactDetails::new("c-1").email("shared@example.com"));
    /// fake.add_contact(ContactDetails::new("c-2").email("shared@example.com"));
    /// let found = fake.client().contacts_by_email("shared@example.com").found().await?;
    /// assert!(matches!(found, Found::Several(contacts) if contacts.len() == 2));
    /// # Ok(()) }
    /// ```
    pub fn add_contact(&self, contact: impl Into<ContactDetails>) -> Contact {
        self.add_contact_in(0, contact.into())
    }

    pub(super) fn add_contact_in(&self, instance: usize, contact: ContactDetails) -> Contact {
        let (id, info) = contact.into_parts();
        self.inner
            .state()
            .directory
            .upsert_contact(instance, &id, info)
    }

    /// Merges the contact `source` into `target`, as Wix's Merge Contacts does: the target
    /// gains the source's emails and phones, the source is deleted, and Get Contact with the
    /// source's ID returns the target (`responseType: MERGED`). Their conversations merge as
    /// when a visitor becomes a contact: the source's conversation moves into the target's (a
    /// new one if the target had none) and Conversations Merged is delivered (returned; `None`
    /// when the source had no conversation).
    ///
    /// # Errors
    ///
    /// [`MergeContactsError`]: either contact unknown, the two the same, or the source a
    /// member (Wix merges members as targets only). Nothing changes then.
    pub fn merge_contacts(
        &self,
        source: &str,
        target: &str,
    ) -> Result<Option<ConversationsMerged>, MergeContactsError> {
        self.merge_contacts_in(0, source, target)
    }

    pub(super) fn merge_contacts_in(
        &self,
        instance: usize,
        source: &str,
        target: &str,
    ) -> Result<Option<ConversationsMerged>, MergeContactsError> {
        let (merged, identity) = {
            let mut state = self.inner.state();
            let directory = &state.directory;
            for id in [target, source] {
                if !directory.has_contact(instance, id) {
                    return Err(MergeContactsError::UnknownContact(id.to_owned()));
                }
            }
            if source == target {
                return Err(MergeContactsError::SameContact(source.to_owned()));
            }
            if directory.is_member_contact(instance, source) {
                return Err(MergeContactsError::SourceIsMember(source.to_owned()));
            }
            let state = &mut *state;
            state.directory.merge_contacts(instance, source, target);
            let from = Key::Contact(source.to_owned());
            state.store.convert(instance, &from, Some(target), None)
        };
        Ok(self.emit_merged(merged, identity))
    }

    /// The contact as Get Contact gives it: by its ID, or by the ID of a contact merged into
    /// it. `None` if the fake's first site has no such contact.
    pub fn contact(&self, contact_id: &str) -> Option<Contact> {
        let state = self.inner.state();
        state.directory.get_contact(0, contact_id).map(|(c, _)| c)
    }

    /// The contacts of the fake's first site, oldest first (merged-away ones are gone).
    pub fn contacts(&self) -> Vec<Contact> {
        self.inner.state().directory.contacts(0).cloned().collect()
    }

    /// The members of the fake's first site, oldest first, as fieldset `FULL` gives them.
    pub fn members(&self) -> Vec<Member> {
        self.inner.state().directory.members(0).cloned().collect()
    }
}
