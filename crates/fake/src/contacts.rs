//! The fake's contacts and members, driven from Rust: a visitor becomes a contact, a contact
//! a member (their conversations merge as Wix merges them), a contact is added or merged into
//! another, and what the site has is read. The records themselves are kept by
//! [`directory`](super::directory) and served by the Contacts v4 and Members v1 routes.

use super::directory::MergeContactsError;
use super::store::Key;
#[cfg(doc)]
use super::FakeInbox;
use super::{webhooks, ContactDetails, FakeInstance, MemberDetails};
use wix_inbox::types::{Contact, ConversationsMerged, Member, WebhookIdentity};

impl FakeInstance {
    /// The anonymous visitor gives their details and becomes a contact: the contact is stored
    /// with them (a bare ID, or [`ContactDetails`] with a name, emails, phones), or given them
    /// if it exists. If the visitor had a conversation, a new one is created for the contact,
    /// the old one's messages move into it and Conversations Merged is delivered (returned;
    /// `None` when there was nothing to merge).
    ///
    /// ```
    /// # use wix_inbox_fake::{ContactDetails, FakeInbox};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let fake = FakeInbox::start().await?;
    /// fake.visitor_writes("v-1", "Hi! Can you call me back?");
    /// let details = ContactDetails::new("c-1").name("Jane", "Doe").email("jane@example.com");
    /// let merged = fake.visitor_becomes_contact("v-1", details).unwrap();
    /// assert_eq!(merged.old_conversation_ids.len(), 1);
    /// // Query Contacts finds her now.
    /// let found = fake.client().contacts_by_email("jane@example.com").all().await?;
    /// assert_eq!(found[0].id.as_deref(), Some("c-1"));
    /// # Ok(()) }
    /// ```
    pub fn visitor_becomes_contact(
        &self,
        visitor_id: &str,
        contact: impl Into<ContactDetails>,
    ) -> Option<ConversationsMerged> {
        self.visitor_converts(visitor_id, contact.into(), None)
    }

    /// The contact registers as a site member: the member is stored with its login email
    /// (the one given in [`MemberDetails`], else the contact's primary email) and `contactId`
    /// (see [`visitor_becomes_contact`](Self::visitor_becomes_contact) for the conversations).
    pub fn contact_becomes_member(
        &self,
        contact_id: &str,
        member: impl Into<MemberDetails>,
    ) -> Option<ConversationsMerged> {
        self.contact_converts(contact_id, member.into())
    }

    /// The anonymous visitor registers as a member directly, becoming a contact at the same
    /// time (members always have a contact). See
    /// [`visitor_becomes_contact`](Self::visitor_becomes_contact) and
    /// [`contact_becomes_member`](Self::contact_becomes_member).
    pub fn visitor_becomes_member(
        &self,
        visitor_id: &str,
        contact: impl Into<ContactDetails>,
        member: impl Into<MemberDetails>,
    ) -> Option<ConversationsMerged> {
        self.visitor_converts(visitor_id, contact.into(), Some(member.into()))
    }

    /// A visitor of this site becomes a contact, and a member if `member` is given
    /// ([`convert`](Self::convert)).
    fn visitor_converts(
        &self,
        visitor_id: &str,
        contact: ContactDetails,
        member: Option<MemberDetails>,
    ) -> Option<ConversationsMerged> {
        let visitor = Key::Visitor(visitor_id.to_owned());
        self.convert(visitor, Some(contact), member)
    }

    /// A contact of this site becomes a member ([`convert`](Self::convert)).
    fn contact_converts(
        &self,
        contact_id: &str,
        member: MemberDetails,
    ) -> Option<ConversationsMerged> {
        let contact = Key::Contact(contact_id.to_owned());
        self.convert(contact, None, Some(member))
    }

    /// A participant of this site gets a contact and/or member: their records are stored,
    /// their conversations merged ([`Store::convert`]) and Conversations Merged delivered.
    fn convert(
        &self,
        from: Key,
        contact: Option<ContactDetails>,
        member: Option<MemberDetails>,
    ) -> Option<ConversationsMerged> {
        let instance = self.index;
        let (merged, identity) = {
            let mut state = self.inner.state();
            let state = &mut *state;
            let contact = contact.map(ContactDetails::into_parts);
            let contact_id = match (&contact, &from) {
                (Some((id, _)), _) | (None, Key::Contact(id)) => Some(id.clone()),
                _ => None,
            };
            if let Some(id) = &contact_id {
                let info = contact.map(|(_, info)| info).unwrap_or_default();
                state.directory.ensure_contact(instance, id, info);
                if let Some(member) = &member {
                    state.directory.upsert_member(instance, id, member);
                }
            }
            state.store.convert(
                instance,
                &from,
                contact_id.as_deref(),
                member.as_ref().map(MemberDetails::id),
            )
        };
        self.emit_merged(merged, identity)
    }

    /// Delivers Conversations Merged, if there was a merge; returns it.
    fn emit_merged(
        &self,
        merged: Option<ConversationsMerged>,
        identity: WebhookIdentity,
    ) -> Option<ConversationsMerged> {
        if let Some(merged) = &merged {
            webhooks::emit_conversations_merged(&self.inner, merged, identity);
        }
        merged
    }

    /// Stores a contact with these details (as Create Contact with `allowDuplicates` would: an
    /// email address may be several contacts'), or adds them to the contact if it exists.
    /// Returns the contact as Get Contact gives it.
    ///
    /// ```
    /// # use wix_inbox_fake::{ContactDetails, FakeInbox};
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
        let (id, info) = contact.into().into_parts();
        self.inner
            .state()
            .directory
            .upsert_contact(self.index, &id, info)
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
        let instance = self.index;
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
    /// it. `None` if this site has no such contact.
    pub fn contact(&self, contact_id: &str) -> Option<Contact> {
        let state = self.inner.state();
        state
            .directory
            .get_contact(self.index, contact_id)
            .map(|(c, _)| c)
    }

    /// The contacts of this site, oldest first (merged-away ones are gone).
    pub fn contacts(&self) -> Vec<Contact> {
        self.inner
            .state()
            .directory
            .contacts(self.index)
            .cloned()
            .collect()
    }

    /// The members of this site, oldest first, as fieldset `FULL` gives them.
    pub fn members(&self) -> Vec<Member> {
        self.inner
            .state()
            .directory
            .members(self.index)
            .cloned()
            .collect()
    }
}
