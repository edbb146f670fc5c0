//! Several app instances in one fake: the app installed on several sites.
//!
//! The fake starts with one instance (its [`instance_id`](FakeInbox::instance_id) on its
//! [`site_id`](FakeInbox::site_id)), which [`FakeInbox`]'s own drivers act on.
//! [`FakeInbox::add_instance`] installs the app on one more site; [`FakeInbox::instance`] gives
//! a [`FakeInstance`], with the same drivers for that site. Each instance has its own
//! participants, conversations and messages (the same visitor ID on two sites is two people),
//! its own access tokens (a token of one instance is refused for another's site with Wix's 401
//! body, and another instance's conversation is not found), and its webhooks name it in their
//! envelope (`instanceId`, `accountInfo.siteId`). The API key is the account's: it serves every
//! site, named by `wix-site-id`.

use super::MergeContactsError;
use super::{ContactDetails, FakeInbox, Inner, MemberDetails};
use wix_inbox::types::MessageSentToBusiness;
use wix_inbox::types::{
    ButtonInteracted, Contact, Conversation, ConversationsMerged, Member, Message, ParticipantId,
};

/// The IDs of one instance of the app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct InstanceIds {
    pub(crate) instance_id: String,
    pub(crate) site_id: String,
    /// The site removed the app ([`FakeInbox::remove`]): its token requests are refused.
    pub(crate) removed: bool,
    /// The instance this one's site was duplicated from ([`FakeInbox::install_copy_of`]).
    pub(crate) origin: Option<String>,
}

impl Inner {
    /// The IDs of the instance a conversation is of (the first instance's for none or an
    /// unknown one).
    pub(crate) fn instance_of_conversation(&self, conversation_id: Option<&str>) -> InstanceIds {
        let state = self.state();
        let index = conversation_id
            .and_then(|id| state.store.instance_of(id))
            .unwrap_or(0);
        state
            .instances
            .get(index)
            .or(state.instances.first())
            .cloned()
            .unwrap_or_else(|| InstanceIds {
                instance_id: self.config.instance_id.clone(),
                site_id: self.config.site_id.clone(),
                removed: false,
                origin: None,
            })
    }
}

impl FakeInbox {
    /// Installs the app on one more site: a new instance (fresh GUIDs for its instance and
    /// site IDs) with no participants yet. Returns its instance ID, for
    /// [`instance`](Self::instance) and [`App::instance`](wix_inbox::App::instance).
    ///
    /// ```
    /// # use wix_inbox_fake::FakeInbox;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let fake = FakeInbox::start().await?;
    /// let second = fake.add_instance();
    /// let site = fake.instance(&second).unwrap();
    /// let written = site.visitor_writes("visitor-1", "Hello from the second site");
    /// // The app answers through that instance's client.
    /// let app = fake.app();
    /// let conversation = app
    ///     .instance(&second)
    ///     .get_conversation()
    ///     .conversation_id(written.conversation_id().unwrap())
    ///     .send()
    ///     .await?;
    /// # let _ = conversation; Ok(()) }
    /// ```
    pub fn add_instance(&self) -> String {
        let ids = InstanceIds {
            instance_id: uuid::Uuid::new_v4().to_string(),
            site_id: uuid::Uuid::new_v4().to_string(),
            removed: false,
            origin: None,
        };
        let id = ids.instance_id.clone();
        self.inner.state().instances.push(ids);
        id
    }

    /// The instance `instance_id` (the fake's own, or one of
    /// [`add_instance`](Self::add_instance)), to drive; `None` if the fake has no such
    /// instance.
    pub fn instance(&self, instance_id: &str) -> Option<FakeInstance<'_>> {
        let state = self.inner.state();
        let index = state
            .instances
            .iter()
            .position(|i| i.instance_id == instance_id)?;
        Some(FakeInstance {
            fake: self,
            index,
            ids: state.instances[index].clone(),
        })
    }

    /// The instance IDs, the fake's own first, then in the order they were added.
    pub fn instance_ids(&self) -> Vec<String> {
        let state = self.inner.state();
        state
            .instances
            .iter()
            .map(|i| i.instance_id.clone())
            .collect()
    }

    /// An [`AppBuilder`](wix_inbox::AppBuilder) for the fake's app: its ID and secret, the
    /// fake's base URL and the public key its webhooks are signed with. Adjust it and build it.
    pub fn app_builder(&self) -> wix_inbox::AppBuilder {
        wix_inbox::App::builder()
            .app_id(self.app_id())
            .app_secret(self.app_secret())
            .public_key(self.public_key_pem())
            .base_url(self.base_url())
    }

    /// The fake's app, for every instance ([`app_builder`](Self::app_builder), built).
    ///
    /// # Panics
    ///
    /// Never: the fake's settings make a valid app.
    pub fn app(&self) -> wix_inbox::App {
        self.app_builder()
            .build()
            .expect("the fake's settings make a valid app")
    }
}

/// One instance of the fake's app (the app on one site): the drivers of [`FakeInbox`], for this
/// site. See [`FakeInbox::add_instance`].
#[derive(Clone)]
pub struct FakeInstance<'a> {
    fake: &'a FakeInbox,
    index: usize,
    ids: InstanceIds,
}

impl std::fmt::Debug for FakeInstance<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeInstance")
            .field("instance_id", &self.ids.instance_id)
            .field("site_id", &self.ids.site_id)
            .finish()
    }
}

impl FakeInstance<'_> {
    /// The instance ID (`instance_id` of token requests, `instanceId` of its webhooks).
    pub fn instance_id(&self) -> &str {
        &self.ids.instance_id
    }

    /// The site's ID (`wix-site-id` of API-key calls, `accountInfo.siteId` of its webhooks).
    pub fn site_id(&self) -> &str {
        &self.ids.site_id
    }

    /// A client for this site with the fake's API key (the account's key, for this site).
    pub fn client(&self) -> wix_inbox::Client {
        self.fake.client().for_site(&self.ids.site_id)
    }

    /// The app's client for this instance ([`FakeInbox::app`], [`App::instance`](wix_inbox::App::instance)).
    pub fn app_client(&self) -> wix_inbox::Client {
        self.fake.app().instance(&self.ids.instance_id)
    }

    /// A visitor of this site writes `text` ([`FakeInbox::visitor_writes`]).
    pub fn visitor_writes(&self, visitor_id: &str, text: &str) -> MessageSentToBusiness {
        self.participant_writes(
            &ParticipantId::AnonymousVisitorId(visitor_id.to_owned()),
            super::chat_message(text),
        )
    }

    /// A contact of this site writes `text` ([`FakeInbox::contact_writes`]).
    pub fn contact_writes(&self, contact_id: &str, text: &str) -> MessageSentToBusiness {
        self.participant_writes(
            &ParticipantId::ContactId(contact_id.to_owned()),
            super::chat_message(text),
        )
    }

    /// A member of this site writes `text` ([`FakeInbox::member_writes`]).
    pub fn member_writes(&self, member_id: &str, text: &str) -> MessageSentToBusiness {
        self.participant_writes(
            &ParticipantId::MemberId(member_id.to_owned()),
            super::chat_message(text),
        )
    }

    /// A participant of this site sends `message` ([`FakeInbox::participant_writes`]).
    pub fn participant_writes(
        &self,
        participant: &ParticipantId,
        message: Message,
    ) -> MessageSentToBusiness {
        self.fake
            .participant_writes_in(self.index, participant, message)
    }

    /// A participant of this site presses a button
    /// ([`FakeInbox::participant_presses_button`]).
    pub fn participant_presses_button(
        &self,
        participant: &ParticipantId,
        interaction_id: &str,
    ) -> Option<ButtonInteracted> {
        self.fake
            .presses_button_in(self.index, participant, interaction_id)
    }

    /// A visitor of this site becomes a contact ([`FakeInbox::visitor_becomes_contact`]).
    pub fn visitor_becomes_contact(
        &self,
        visitor_id: &str,
        contact: impl Into<ContactDetails>,
    ) -> Option<ConversationsMerged> {
        self.fake
            .visitor_converts(self.index, visitor_id, contact.into(), None)
    }

    /// A contact of this site becomes a member ([`FakeInbox::contact_becomes_member`]).
    pub fn contact_becomes_member(
        &self,
        contact_id: &str,
        member: impl Into<MemberDetails>,
    ) -> Option<ConversationsMerged> {
        self.fake
            .contact_converts(self.index, contact_id, member.into())
    }

    /// A visitor of this site becomes a member ([`FakeInbox::visitor_becomes_member`]).
    pub fn visitor_becomes_member(
        &self,
        visitor_id: &str,
        contact: impl Into<ContactDetails>,
        member: impl Into<MemberDetails>,
    ) -> Option<ConversationsMerged> {
        let member = Some(member.into());
        self.fake
            .visitor_converts(self.index, visitor_id, contact.into(), member)
    }

    /// The current conversation of a participant of this site, by any ID they have had.
    pub fn current_conversation_id(&self, participant: &ParticipantId) -> Option<String> {
        self.fake.current_conversation_in(self.index, participant)
    }

    /// The messages of the participant's current conversation on this site, oldest first
    /// ([`FakeInbox::participant_messages`]).
    pub fn participant_messages(&self, participant: &ParticipantId) -> Vec<Message> {
        self.current_conversation_id(participant)
            .map(|id| self.fake.messages(&id))
            .unwrap_or_default()
    }

    /// The texts of the participant's current conversation on this site, oldest first
    /// ([`FakeInbox::participant_texts`]).
    pub fn participant_texts(&self, participant: &ParticipantId) -> Vec<String> {
        super::app_helpers::texts(&self.participant_messages(participant))
    }

    /// The conversations of this site, merged ones included, in creation order.
    pub fn conversations(&self) -> Vec<Conversation> {
        self.fake.inner.state().store.conversations_of(self.index)
    }

    /// Stores a contact of this site ([`FakeInbox::add_contact`]).
    pub fn add_contact(&self, contact: impl Into<ContactDetails>) -> Contact {
        self.fake.add_contact_in(self.index, contact.into())
    }

    /// Merges two contacts of this site ([`FakeInbox::merge_contacts`]).
    ///
    /// # Errors
    ///
    /// As [`FakeInbox::merge_contacts`].
    pub fn merge_contacts(
        &self,
        source: &str,
        target: &str,
    ) -> Result<Option<ConversationsMerged>, MergeContactsError> {
        self.fake.merge_contacts_in(self.index, source, target)
    }

    /// The contacts of this site, oldest first ([`FakeInbox::contacts`]).
    pub fn contacts(&self) -> Vec<Contact> {
        self.fake
            .inner
            .state()
            .directory
            .contacts(self.index)
            .cloned()
            .collect()
    }

    /// The members of this site, oldest first ([`FakeInbox::members`]).
    pub fn members(&self) -> Vec<Member> {
        self.fake
            .inner
            .state()
            .directory
            .members(self.index)
            .cloned()
            .collect()
    }
}
