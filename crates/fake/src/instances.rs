//! Several app instances in one fake: the app installed on several sites.
//!
//! The fake starts with one instance (its [`instance_id`](FakeInstance::instance_id) on its
//! [`site_id`](FakeInstance::site_id)), which [`FakeInbox`]'s own drivers act on.
//! [`FakeInbox::add_instance`] installs the app on one more site; [`FakeInbox::instance`] gives
//! a [`FakeInstance`], with the same drivers for that site. Each instance has its own
//! participants, conversations and messages (the same visitor ID on two sites is two people),
//! its own access tokens (a token of one instance is refused for another's site with Wix's 401
//! body, and another instance's conversation is not found), and its webhooks name it in their
//! envelope (`instanceId`, `accountInfo.siteId`). The API key is the account's: it serves every
//! site, named by `wix-site-id`.

use std::sync::Arc;
use std::time::Instant;

use super::{FakeInbox, Inner};
use wix_inbox::types::{Conversation, ParticipantId};

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
    pub fn instance(&self, instance_id: &str) -> Option<FakeInstance> {
        let state = self.inner.state();
        let index = state
            .instances
            .iter()
            .position(|i| i.instance_id == instance_id)?;
        Some(FakeInstance {
            inner: Arc::clone(&self.inner),
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
        self.inner.app_builder()
    }

    /// The fake's app, for every instance ([`app_builder`](Self::app_builder), built).
    ///
    /// # Panics
    ///
    /// Never: the fake's settings make a valid app.
    pub fn app(&self) -> wix_inbox::App {
        self.inner.app()
    }
}

/// One instance of the fake's app (the app on one site), to drive: what its participants do,
/// what the site has. See [`FakeInbox::add_instance`]; the fake's own instance is the
/// [`FakeInbox`] itself (it derefs to it).
#[derive(Clone)]
pub struct FakeInstance {
    pub(crate) inner: Arc<Inner>,
    /// Its index in the state's `instances`.
    pub(crate) index: usize,
    ids: InstanceIds,
}

impl std::fmt::Debug for FakeInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeInstance")
            .field("instance_id", &self.ids.instance_id)
            .field("site_id", &self.ids.site_id)
            .finish()
    }
}

impl FakeInstance {
    /// The fake's own instance: the first, with the builder's IDs.
    pub(crate) fn own(inner: &Arc<Inner>) -> FakeInstance {
        FakeInstance {
            inner: Arc::clone(inner),
            index: 0,
            ids: InstanceIds {
                instance_id: inner.config.instance_id.clone(),
                site_id: inner.config.site_id.clone(),
                removed: false,
                origin: None,
            },
        }
    }

    /// The instance ID (`instance_id` of token requests, `instanceId` of its webhooks).
    pub fn instance_id(&self) -> &str {
        &self.ids.instance_id
    }

    /// The site's ID (`wix-site-id` of API-key calls, `accountInfo.siteId` of its webhooks).
    pub fn site_id(&self) -> &str {
        &self.ids.site_id
    }

    /// A client for this site with the fake's API key (the account's key, for this site), and
    /// every other setting at its default (retries included).
    pub fn client(&self) -> wix_inbox::Client {
        self.inner.client().for_site(&self.ids.site_id)
    }

    /// The app's client for this instance ([`FakeInbox::app`], [`App::instance`](wix_inbox::App::instance)).
    pub fn app_client(&self) -> wix_inbox::Client {
        self.inner.app().instance(&self.ids.instance_id)
    }

    /// The texts of the participant's current conversation on this site (followed through
    /// merges), oldest first; empty for a message without text.
    pub fn participant_texts(&self, participant: &ParticipantId) -> Vec<String> {
        super::app_helpers::texts(&self.participant_messages(participant))
    }

    /// The conversations of this site, merged ones included, in creation order.
    pub fn conversations(&self) -> Vec<Conversation> {
        self.inner.state().store.conversations_of(self.index)
    }
}

impl Inner {
    /// A [`ClientBuilder`](wix_inbox::ClientBuilder) for the fake's first site, with its API key.
    pub(crate) fn client_builder(&self) -> wix_inbox::ClientBuilder {
        wix_inbox::Client::builder()
            .api_key(&self.config.api_key)
            .site_id(&self.config.site_id)
            .base_url(&self.config.base_url)
    }

    /// [`client_builder`](Self::client_builder), built.
    pub(crate) fn client(&self) -> wix_inbox::Client {
        self.client_builder()
            .build()
            .expect("the fake's settings make a valid client")
    }

    /// An [`AppBuilder`](wix_inbox::AppBuilder) for the fake's app.
    pub(crate) fn app_builder(&self) -> wix_inbox::AppBuilder {
        wix_inbox::App::builder()
            .app_id(&self.config.app_id)
            .app_secret(&self.config.app_secret)
            .public_key(self.signer.public_key_pem())
            .base_url(&self.config.base_url)
    }

    /// [`app_builder`](Self::app_builder), built.
    pub(crate) fn app(&self) -> wix_inbox::App {
        self.app_builder()
            .build()
            .expect("the fake's settings make a valid app")
    }
}

/// An access token the fake issued.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IssuedToken {
    /// When it stops working.
    pub(crate) expires: Instant,
    /// The instance it acts for (an index into `State::instances`).
    pub(crate) instance: usize,
}
