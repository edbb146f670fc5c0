//! An in-process fake Wix Inbox for [`wix_inbox`]: what stripe-mock is to Stripe, with behaviour.
//!
//! [`FakeInbox::start`] serves the four Inbox v2 operations, the Contacts v4 and Members v1
//! lookups the Inbox lifecycle needs, Get App Instance and the OAuth token endpoint on
//! `127.0.0.1`, for one app instance or many (each a site with its own state), answering
//! in the shapes of the generated [`types`](wix_inbox::types) and with Wix's error bodies. It keeps
//! conversations, messages, contacts and members, plays the participant lifecycle (anonymous
//! visitor → contact → member, with conversation merges; contacts merged), delivers signed
//! webhooks to the receivers you register, and fails on request.
//!
//! ```
//! use wix_inbox_fake::FakeInbox;
//! use wix_inbox::types::{GetOrCreateConversationRequest, ParticipantId};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let fake = FakeInbox::start().await?;
//! // A visitor writes to the business (a receiver, if registered, gets Message Sent To Business).
//! let written = fake.visitor_writes("visitor-1", "Hi! Do you ship to Norway?");
//!
//! // The app answers through the API, authenticated as the fake expects.
//! let client = fake.client(); // = Client::builder().api_key(..).site_id(..).base_url(..)
//! let found = client
//!     .get_or_create_conversation()
//!     .body(GetOrCreateConversationRequest {
//!         participant_id: ParticipantId::AnonymousVisitorId("visitor-1".into()),
//!     })
//!     .send()
//!     .await?
//!     .into_inner();
//! assert_eq!(found.new_conversation, Some(false));
//! assert_eq!(found.conversation.unwrap().id, written.conversation_id);
//! # Ok(()) }
//! ```
//!
//! # What the fake does
//!
//! - **Auth.** Every Inbox call needs `Authorization: <api key>` (raw, no `Bearer`) together
//!   with `wix-site-id: <site id>` ([`FakeInbox::api_key`], [`FakeInstance::site_id`]), or an
//!   access token from `POST /oauth2/token` (client credentials: [`FakeInbox::app_id`],
//!   [`FakeInbox::app_secret`], [`FakeInstance::instance_id`]) sent raw in `Authorization`.
//!   Otherwise: 401. A `wix-account-id` header is refused (Inbox is site-level).
//! - **Get Or Create Conversation** is idempotent per participant (`newConversation` is `true`
//!   the first time only); conversation IDs are GUIDs.
//! - **Send Message** stores the message with an increasing `sequence` (also its `id`) and a
//!   `createdDate`, and sets `sender`: the business user (`wixUserId`) for API-key calls, the
//!   app (`appId`) for token calls, the participant for `sendAs: PARTICIPANT`. A message whose
//!   `direction` is `BUSINESS_TO_PARTICIPANT` delivers Message Sent To Participant, one that is
//!   `PARTICIPANT_TO_BUSINESS` delivers Message Sent To Business.
//! - **List Messages** pages with cursors (30 by default, `paging.limit` up to 100), sorted by
//!   `sequence` (descending unless `sorting.order=ASC`); `visibility` is required, and
//!   `BUSINESS_AND_PARTICIPANT` hides `BUSINESS`-only messages. `pagingMetadata.count` is the
//!   page's size and `cursors.next` is there only when more remain. A cursor carries its
//!   query: the next page keeps the first request's visibility and order.
//! - **Errors** are Wix's bodies ([`ErrorResponse`](wix_inbox::types::ErrorResponse)): 400 with
//!   `validationError.fieldViolations` for bad input (missing or malformed `conversationId`,
//!   `paging.limit` over 100, bad JSON, a message without content, direction or visibility...),
//!   404 `CONVERSATION_NOT_FOUND`, 401 for bad credentials. Every response carries
//!   `x-wix-request-id`.
//! - **The participant lifecycle.** [`visitor_becomes_contact`](FakeInstance::visitor_becomes_contact),
//!   [`contact_becomes_member`](FakeInstance::contact_becomes_member) and
//!   [`visitor_becomes_member`](FakeInstance::visitor_becomes_member) create a new conversation,
//!   move the old conversation's messages into it in chronological order and deliver
//!   Conversations Merged. If someone already had the new ID (the app created a contact's
//!   conversation before the visitor became that contact), the two are the same participant
//!   and the visitor's conversation is merged into the contact's.
//!
//!
//!   The contact and member are stored as Wix would return them: a bare ID, or
//!   [`ContactDetails`] (name, emails, phones) and [`MemberDetails`] (login email, nickname);
//!   a contact who writes ([`contact_writes`](FakeInstance::contact_writes)) is stored too, and
//!   [`add_contact`](FakeInstance::add_contact) adds one.
//!   [`merge_contacts`](FakeInstance::merge_contacts) merges two contacts as Wix's Merge Contacts
//!   does, and their conversations as above: the source's conversation moves into the
//!   target's (or into a new one, when the target had none) and Conversations Merged is
//!   delivered.
//!
//!   *After a merge* (the fake's choice, documented here because Wix does not say): Get Or
//!   Create Conversation with **any** ID the participant has had (the old visitor ID as well
//!   as the new contact or member ID) answers the participant's current conversation with
//!   `newConversation: false`, as Wix's docs advise ("call Get or Create Conversation to be
//!   sure the conversation ID is current"); the old conversation's ID answers 404
//!   `CONVERSATION_NOT_FOUND` to Get Conversation, List Messages and Send Message, so an app
//!   that ignores Conversations Merged finds out in tests rather than in production.
//! - **Contacts and members** (per site, like everything else):
//!
//!   | Route | Operation | What the fake does |
//!   |---|---|---|
//!   | `POST /contacts/v4/contacts/query` | Query Contacts | `query.filter`, `query.sort`, `query.paging`, `query.fieldsets`, `query.fields`, `search` |
//!   | `GET /contacts/v4/contacts` | List Contacts | `paging.*`, `sort.*`, `fields`, `fieldsets` |
//!   | `GET /contacts/v4/contacts/{id}` | Get Contact | the ID of a contact merged away gives the contact it was merged into, `responseType: MERGED` (as Wix documents); else 404 `CONTACT_NOT_FOUND` |
//!   | `POST /contacts/v4/contacts` | Create Contact | a name, email or phone is required (400); an email (else a phone) another contact has is 409 `CONTACT_ALREADY_EXISTS` with `data.duplicateContactId`, unless `allowDuplicates` |
//!   | `POST /members/v1/members/query` | Query Members | `query.filter`, `query.sorting`, `query.paging`, `fieldsets` |
//!   | `GET /members/v1/members` | List Members | `paging.*`, `fieldsets` |
//!   | `GET /members/v1/members/{id}` | Get Member | `fieldsets`; 404 `MEMBER_NOT_FOUND` |
//!
//!   Auth is the Inbox routes'. Paging is by offset, as Wix's: `limit` 50 by default, at most
//!   1,000 contacts or 100 members (more is 400), and `pagingMetadata` (Members: `metadata`)
//!   with `count`, `offset` and `total`. The order is `createdDate` (the only sort field the
//!   fake knows), oldest first unless `DESC`. Fieldsets shape records as Wix's do: contacts
//!   `FULL` by default (`BASIC`, `COMMUNICATION_DETAILS`, `EXTENDED` and `fields` project);
//!   members `PUBLIC` by default, which gives `id`, `profile` and the dates, with the statuses
//!   `UNKNOWN` and no `loginEmail` or `contactId` (`EXTENDED` adds `contactId` and the
//!   statuses but `status`, `FULL` gives everything).
//!
//!   Filters are Wix's API Query Language: a value or `$eq`, `$ne`, `$in`, and `$and`, `$or`,
//!   `$not`, on the contacts' `id`, `info.emails.email`, `info.phones.phone`,
//!   `info.name.first`, `info.name.last`, `primaryInfo.email`, `primaryInfo.phone` and the
//!   members' `id`, `loginEmail`, `contactId`, `profile.nickname`, `profile.slug`, `contact.firstName`,
//!   `contact.lastName`, `status`, `privacyStatus`; email addresses compare ignoring case.
//!   Anything else (another field or operator, or sort field) is Wix's 400 with a field
//!   violation (`query.filter`, rule `INVALID_FILTER`) naming it, never a silent empty list:
//!   every filter [`lookup`](wix_inbox::lookup) writes works. The 404 and 409 codes are the
//!   fake's choice (Wix documents none).
//! - **Webhooks.** Each event is a compact JWT (RS256, [`FakeInbox::public_key_pem`]; signed
//!   by the [`TestSigner`] of the `webhooks` module, so a
//!   [`WebhookVerifier`](wix_inbox::webhooks::WebhookVerifier) made with that key accepts it) whose
//!   claims are `{data, iat, exp}`, `data` being the JSON text of a [`WebhookEnvelope`] whose
//!   `identity` and `data` are JSON text of a [`WebhookIdentity`](wix_inbox::types::WebhookIdentity)
//!   and a [`DomainEvent`]. It is POSTed to every receiver and redelivered, with the same event
//!   ID, while a receiver does not answer 200 within 1250 ms (bounded attempts with a short
//!   doubling backoff, or Wix's schedule: [`FakeInboxBuilder::delivery_policy`]).
//!
//!   *Order and repeats.* As Wix does, the fake delivers every event, and every redelivery, in
//!   its own task: a receiver gets events **out of order** (two events emitted one after the
//!   other, a visitor's two messages or Conversations Merged and the message after it, arrive
//!   in either order; a redelivery after the events that followed) and **more than once** (a
//!   receiver that answers 200 too late, or whose answer is lost, gets the same event ID
//!   again, although it processed it). Cope as with Wix: drop repeats by event ID (the
//!   [`WebhookReceiver`](wix_inbox::webhooks::axum::WebhookReceiver) does, with its
//!   [`Deduplicator`](wix_inbox::webhooks::Deduplicator)); order messages by their `sequence`, not
//!   by arrival; and never take the order of events for the order of what happened: find a
//!   participant's current conversation from their ID (Get Or Create Conversation) or through
//!   the merges seen so far, whichever event came first.
//! - **Several instances.** The fake starts as one app instance on one site;
//!   [`FakeInbox::add_instance`] installs the app on another site and
//!   [`FakeInbox::instance`] drives it (a [`FakeInstance`]). Each instance has its own
//!   participants, conversations, messages and tokens: a token is refused for another
//!   instance's site (401) and another instance's conversation is not its caller's (Get
//!   Conversation 403 `NOT_OWNED_BY_BUSINESS`, List and Send Message 404). Webhooks name the
//!   instance and site of their conversation. The API key is the account's: it serves every
//!   site, named by `wix-site-id` ([`Client::for_site`](wix_inbox::Client::for_site)).
//! - **Installs and removals.** [`FakeInbox::install`] (and [`install_copy_of`](FakeInbox::install_copy_of)
//!   for a duplicated site) adds an instance and delivers App Instance Installed;
//!   [`FakeInbox::remove`] delivers App Instance Removed and refuses the instance's tokens and
//!   token requests from then on; [`FakeInbox::reinstall`] brings it back with the same ID.
//!   The simulator's site list shows them live.
//! - **Clients.** [`FakeInstance::client`], [`FakeInbox::client_builder`] and
//!   [`FakeInbox::app_client_builder`] are the crate's [`Client`](wix_inbox::Client), set up for the
//!   fake with an API key or the app's credentials; [`FakeInbox::app`] is the fake's
//!   [`App`](wix_inbox::App), for every instance.
//! - **Testing an app.** [`FakeInbox::add_webhook_router`] serves the app's axum router and
//!   delivers every event to it, in one call; [`FakeInbox::wait_until`] waits for a condition
//!   on the fake's state (the app's reply stored, say), with a timeout and a failure that names
//!   what was awaited and what the fake saw; [`FakeInstance::participant_messages`] and
//!   [`FakeInbox::message_texts`] read a conversation in order.
//! - **Buttons.** [`FakeInstance::participant_presses_button`] delivers Button Interacted.
//! - **Faults.** [`FakeInbox::fail_next`] makes the next Inbox calls answer 429 (with or
//!   without `Retry-After`), 5xx, a dropped connection, or answer late.
//! - **Load.** [`load::LoadTest`] plays many sites and their visitors against an app, with
//!   Wix's resend schedule ([`DeliveryPolicy::wix`]), duplicates, reordering and API limit
//!   ([`ApiLimit`], [`FakeInboxBuilder::api_limit`]), and reports what the app made of it.
//! - **Limits.** A flood of requests or of held connections does not grow the fake or stop it:
//!   the request log ([`FakeInbox::requests`]) is a ring buffer of the latest 1,000 requests
//!   ([`FakeInboxBuilder::request_log_capacity`]); a connection must send its headers within
//!   5 s of opening or of its last answer, or it is closed; a request must arrive whole and be
//!   answered within 10 s, or it is answered 408; at most 100 connections are served at once,
//!   each for 60 s at most (then closed after its current request). The fake serves with the
//!   crate's webhook server and its settings, a
//!   [`ServeOptions`]
//!   ([`FakeInboxBuilder::serve_options`]).
//!
//! # The simulator and its control API
//!
//! The fake serves a page at `/` (`wix-inbox fake serve` prints its address): a site
//! visitor's chat (write, press a template's buttons, become a contact or a member), the
//! business inbox (conversations with their participant's kind and merges, messages with
//! direction, visibility, sender and time; write as the business), the webhook deliveries
//! (every attempt with its status and latency; open an event to see it decoded and as the JWT
//! delivered; redeliver it) and controls (receivers, faults, token expiry, the app's latest
//! requests). The page is a view of the fake's state, updated live whoever changes it: the
//! page, the app through the API, or Rust code. Its three files are in the binary; it loads
//! nothing from the network.
//!
//! The page drives the fake through a JSON API under `/_fake/`, there for scripts and tests in
//! any language too. A change is a `POST` with a JSON body and `Content-Type:
//! application/json` (an empty body reads as `{}`); a refusal is `{"code", "message"}` with 400
//! (a bad body), 403 (see below), 404, 409, 413 (a body over 64 KiB) or 415 (not JSON). Each
//! change calls the [`FakeInbox`] method named, so it behaves as that method's docs say.
//!
//! | Request | Body | Method | Answer |
//! |---|---|---|---|
//! | `GET /_fake/state` | | | the state (below) |
//! | `GET /_fake/stream` | | | Server-Sent Events: `event: state`, the state as JSON, at once and after each change (at most one per 50 ms) |
//! | `GET /_fake/webhooks/{eventId}` | | | the event: `jwt` as first delivered, `jwtHeader` and `claims` decoded, `decoded` (the envelope with its `identity` and `data` parsed), `deliveries` |
//! | `POST /_fake/participants/write` | `{"participant": {"anonymousVisitorId": "v1"}, "text": "Hi"}` (or `contactId`, `memberId`; or a whole `message` instead of `text`) | [`participant_writes`](FakeInstance::participant_writes) | Message Sent To Business's body |
//! | `POST /_fake/participants/press-button` | `{"participant": {..}, "interactionId": "track"}` | [`participant_presses_button`](FakeInstance::participant_presses_button) | Button Interacted's body; 404 without a conversation |
//! | `POST /_fake/participants/become-contact` | `{"visitorId": "v1", "contactId": "c1"}`, with `firstName`, `lastName`, `email`, `phone` if given | [`visitor_becomes_contact`](FakeInstance::visitor_becomes_contact) | `{"merged": ConversationsMerged or null}` |
//! | `POST /_fake/participants/become-member` | `{"contactId": "c1", "memberId": "m1"}`, `"loginEmail"` if given, and `"visitorId"` (with the contact's details) for a visitor | [`contact_becomes_member`](FakeInstance::contact_becomes_member), [`visitor_becomes_member`](FakeInstance::visitor_becomes_member) | `{"merged": ..}` |
//! | `POST /_fake/contacts/merge` | `{"sourceId": "c1", "targetId": "c2"}` | [`merge_contacts`](FakeInstance::merge_contacts) | `{"merged": ..}`; 404 for an unknown contact, 409 for a member as the source or the same contact |
//! | `POST /_fake/business/send` | `{"conversationId": "..", "text": "..", "visibility": "BUSINESS"}` (`visibility` optional; or a whole `message`) | [`business_writes`](FakeInbox::business_writes) | Message Sent To Participant's body; 404 for an unknown or merged conversation |
//! | `POST /_fake/receivers/add`, `/remove` | `{"url": "http://127.0.0.1:3000/webhooks"}` | [`add_webhook_receiver`](FakeInbox::add_webhook_receiver), [`remove_webhook_receiver`](FakeInbox::remove_webhook_receiver) | `{"receivers": [..]}`; 404 removing an unknown one |
//! | `POST /_fake/faults` | `{"kind": "status", "status": 503}`, with `"retryAfter": 2` for the header; `{"kind": "drop"}`; `{"kind": "delay", "ms": 3000}`; each with `"count"` (1 to 1000, default 1) | [`fail_next`](FakeInbox::fail_next) | `{"pendingFaults": [..]}` |
//! | `POST /_fake/faults/clear` | | [`clear_faults`](FakeInbox::clear_faults) | `{"pendingFaults": []}` |
//! | `POST /_fake/tokens/expire` | | [`expire_tokens`](FakeInbox::expire_tokens) | `{}` |
//! | `POST /_fake/webhooks/{eventId}/redeliver` | `{}`, or `{"receiver": url}` | [`redeliver`](FakeInbox::redeliver) | `{"deliveries": n}`; 404 for an unknown event, 409 with no receiver |
//!
//! The state is `fake` (base URL; site, instance, app and business user IDs), `instances`,
//! `receivers`, `pendingFaults` (as `/_fake/faults` takes them), `conversations` (in creation
//! order, each with `id`, `kind` (`visitor`, `contact` or `member`), `participant`,
//! `mergedInto` and its `messages` in the spec's shape), `webhooks` (`total`, and the latest
//! 200 `events`, each with `eventId`, `eventType`, `slug`, `instanceId`, `eventTime`,
//! `identity` and its `deliveries`: `receiver`, `delivered`, `finished`, `attempts` with
//! `status`, `error` and `latencyMs`) and `requests` (the latest 100 of the request log:
//! `method`, `uri`, `status`).
//!
//! **Who may use it.** The fake listens on 127.0.0.1 only, and the simulator answers only
//! requests made to it from its own page or from no page at all: `Host` must be
//! `127.0.0.1:PORT` or `localhost:PORT` (a site that rebinds its name to 127.0.0.1 sends its
//! own name); `Origin` and `Sec-Fetch-Site`, when sent, must say the fake's own origin (another
//! page open in the same browser sends its own); a change must be JSON, which a form of
//! another page cannot send, nor a `fetch` of another origin without a CORS preflight the fake
//! never grants. Anything else is refused with 403 or 415, before it changes anything. The
//! page has a strict Content Security Policy, cannot be framed, and shows no secret: neither
//! the API key nor the app secret is in it or in the state. The simulator's requests take no
//! injected fault and are not in the request log.
//!
//! **Several instances.** The state's `instances` lists the app instances the fake serves (one
//! today) and the page has a switcher for them; when a fake serves several, each control
//! request will name its instance with `instanceId`, and a request without one will mean the
//! first.

#![deny(missing_docs)]

mod app_helpers;
mod builder;
mod contacts;
mod control;
mod delivery;
mod details;
mod directory;
mod drive;
mod faults;
mod guard;
mod installs;
mod instances;
mod limits;
mod listing;
pub mod load;
mod participants;
mod query;
mod records;
mod server;
mod signing;
mod store;
mod webhooks;

pub use app_helpers::WaitTimeout;
pub(crate) use builder::Config;
pub use builder::{FakeInboxBuilder, DEFAULT_MAX_CONNECTIONS};
pub use delivery::{DeliveryPolicy, WIX_RESEND_SCHEDULE};
pub use details::{ContactDetails, MemberDetails};
pub use directory::MergeContactsError;
pub use faults::violation;
pub use instances::FakeInstance;
pub(crate) use instances::{InstanceIds, IssuedToken};
pub use limits::{ApiCalls, ApiLimit};
pub use records::{Delivery, DeliveryAttempt, Fault, RecordedRequest, SentEvent};

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use wix_inbox::types::{Conversation, Message};
#[cfg(doc)]
use wix_inbox::types::{DomainEvent, WebhookEnvelope};

use guard::StateGuard;
use store::Store;
#[cfg(doc)]
use wix_inbox::webhooks::{axum::ServeOptions, test_signer::TestSigner};

#[derive(Default)]
pub(crate) struct State {
    pub(crate) store: Store,
    /// The contacts and members of every instance.
    pub(crate) directory: directory::Directory,
    pub(crate) faults: VecDeque<Fault>,
    /// How many Send Messages are still to be served and then left unanswered.
    pub(crate) sends_to_drop: usize,
    pub(crate) receivers: Vec<String>,
    /// The app's instances (sites), the builder's first: a participant, conversation or token
    /// is of one of them, by its index here.
    pub(crate) instances: Vec<InstanceIds>,
    /// The access tokens issued, by token.
    pub(crate) tokens: HashMap<String, IssuedToken>,
    pub(crate) events: Vec<SentEvent>,
    pub(crate) deliveries: Vec<Delivery>,
    /// The latest requests (at most `config.request_log_capacity`), oldest first.
    pub(crate) requests: VecDeque<RecordedRequest>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) signer: signing::Signer,
    state: Mutex<State>,
    /// Woken each time the state is changed (see [`StateGuard`]).
    pub(crate) changed: Notify,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) in_flight: tokio::sync::watch::Sender<usize>,
    pub(crate) http: reqwest::Client,
    /// How many deliveries have started (the index of each one's draws).
    pub(crate) deliveries_started: std::sync::atomic::AtomicU64,
    /// The API calls per instance, and the rate limit's state.
    pub(crate) limits: limits::Limits,
}

impl Inner {
    /// The state; a panic elsewhere while it was held does not make it unusable.
    pub(crate) fn state(&self) -> StateGuard<'_> {
        StateGuard {
            guard: self.state.lock().unwrap_or_else(|e| e.into_inner()),
            changed: &self.changed,
            dirty: false,
        }
    }

    /// Adds a request to the log, forgetting the oldest one when the log is full.
    pub(crate) fn record(&self, mut request: RecordedRequest) {
        let capacity = self.config.request_log_capacity;
        if capacity == 0 {
            return;
        }
        if request.uri.len() > RecordedRequest::URI_LIMIT {
            let mut end = RecordedRequest::URI_LIMIT;
            while !request.uri.is_char_boundary(end) {
                end -= 1;
            }
            request.uri.truncate(end);
        }
        let mut state = self.state();
        while state.requests.len() >= capacity {
            state.requests.pop_front();
        }
        state.requests.push_back(request);
    }
}

/// A fake Wix Inbox serving on 127.0.0.1 until dropped. See the [module docs](self).
///
/// It derefs to its own app instance, a [`FakeInstance`]: what the participants of its first
/// site do (`fake.visitor_writes(..)`, `fake.visitor_becomes_contact(..)`) and what that site
/// has (`fake.contacts()`) are [`FakeInstance`]'s methods, written once for every instance.
/// [`FakeInbox::conversations`] is the exception: every instance's conversations, where
/// [`FakeInstance::conversations`] is one site's.
pub struct FakeInbox {
    /// The fake's own instance (the builder's), which the fake derefs to.
    own: FakeInstance,
    inner: Arc<Inner>,
    addr: SocketAddr,
    server: Option<tokio::task::JoinHandle<()>>,
    /// The apps' routers served by [`add_webhook_router`](Self::add_webhook_router).
    apps: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for FakeInbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeInbox")
            .field("base_url", &self.inner.config.base_url)
            .field("site_id", &self.inner.config.site_id)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeInbox {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.abort();
        }
        for app in self
            .apps
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            app.abort();
        }
    }
}

impl std::ops::Deref for FakeInbox {
    type Target = FakeInstance;

    fn deref(&self) -> &FakeInstance {
        &self.own
    }
}

impl FakeInbox {
    /// The fake serving `inner` on `addr`; `server` is the task that serves it (`None` for a
    /// view of a fake that stops nothing when dropped).
    pub(crate) fn new(
        inner: Arc<Inner>,
        addr: SocketAddr,
        server: Option<tokio::task::JoinHandle<()>>,
    ) -> FakeInbox {
        FakeInbox {
            own: FakeInstance::own(&inner),
            inner,
            addr,
            server,
            apps: Mutex::new(Vec::new()),
        }
    }

    /// Starts a fake with the default settings on a free port of 127.0.0.1.
    ///
    /// # Errors
    ///
    /// If no port can be bound.
    pub async fn start() -> std::io::Result<FakeInbox> {
        FakeInbox::builder().start().await
    }

    /// Starts a fake with the default settings on `port` of 127.0.0.1.
    ///
    /// # Errors
    ///
    /// If the port cannot be bound.
    pub async fn start_on(port: u16) -> std::io::Result<FakeInbox> {
        FakeInbox::builder().port(port).start().await
    }

    /// Stops serving, and serving the routers given to
    /// [`add_webhook_router`](Self::add_webhook_router), and waits until their ports are closed
    /// (dropping the fake stops them too, but without waiting). Deliveries under way go on
    /// until they end.
    pub async fn shutdown(mut self) {
        let apps = std::mem::take(self.apps.get_mut().unwrap_or_else(|e| e.into_inner()));
        for task in self.server.take().into_iter().chain(apps) {
            task.abort();
            let _ = task.await;
        }
    }

    /// Settings for a fake: a fixed port, credentials, the signing key, webhook retries.
    pub fn builder() -> FakeInboxBuilder {
        FakeInboxBuilder::default()
    }

    /// The base URL to give a client instead of `https://www.wixapis.com`, e.g.
    /// `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> &str {
        &self.inner.config.base_url
    }

    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API key accepted in `Authorization` (raw).
    pub fn api_key(&self) -> &str {
        &self.inner.config.api_key
    }

    /// The app ID (`client_id` of token requests; `appId` of what the app sends).
    pub fn app_id(&self) -> &str {
        &self.inner.config.app_id
    }

    /// The app secret (`client_secret` of token requests).
    pub fn app_secret(&self) -> &str {
        &self.inner.config.app_secret
    }

    /// The `wixUserId` of the business user that API-key calls act as.
    pub fn business_user_id(&self) -> &str {
        &self.inner.config.business_user_id
    }

    /// The public key that verifies the fake's webhooks: SPKI PEM, as Wix shows an app's key.
    pub fn public_key_pem(&self) -> &str {
        self.inner.signer.public_key_pem()
    }

    /// A [`ClientBuilder`](wix_inbox::ClientBuilder) set up for this fake: its base URL, API key and
    /// site. Adjust it (say, `.retry(RetryPolicy::disabled())`) and build it.
    pub fn client_builder(&self) -> wix_inbox::ClientBuilder {
        self.inner.client_builder()
    }

    /// A [`ClientBuilder`](wix_inbox::ClientBuilder) for the fake's app: its base URL and the app's
    /// client credentials for its instance (the client gets its tokens from the fake).
    pub fn app_client_builder(&self) -> wix_inbox::ClientBuilder {
        wix_inbox::Client::builder()
            .app(wix_inbox::AppCredentials {
                app_id: self.app_id().into(),
                app_secret: self.app_secret().into(),
                instance_id: self.instance_id().into(),
            })
            .base_url(self.base_url())
    }

    /// Delivers every event from now on to `url` too (a `POST` of the signed JWT).
    pub fn add_webhook_receiver(&self, url: impl Into<String>) {
        self.inner.state().receivers.push(url.into());
    }

    /// The next `n` Inbox calls (`/inbox/...`; the token endpoint is spared) answer with
    /// `fault` instead of being served. Faults queue: `fail_next(1, Drop)` then
    /// `fail_next(2, Status(503))` fails three calls.
    pub fn fail_next(&self, n: usize, fault: Fault) {
        let mut state = self.inner.state();
        state.faults.extend(std::iter::repeat_n(fault, n));
    }

    /// Forgets every access token issued so far (the next call with one answers 401).
    pub fn expire_tokens(&self) {
        self.inner.state().tokens.clear();
    }

    /// The messages of a conversation, oldest first (empty for an unknown conversation, and
    /// for one that was merged away: its messages moved).
    pub fn messages(&self, conversation_id: &str) -> Vec<Message> {
        self.inner.state().store.messages(conversation_id)
    }

    /// A conversation that can be used (`None` if unknown or merged away).
    pub fn conversation(&self, conversation_id: &str) -> Option<Conversation> {
        self.inner.state().store.conversation(conversation_id).ok()
    }

    /// Every conversation, of every instance, merged ones included, in creation order.
    pub fn conversations(&self) -> Vec<Conversation> {
        self.inner.state().store.all_conversations()
    }

    /// Where a merged conversation went (`None` if it was not merged).
    pub fn merged_into(&self, conversation_id: &str) -> Option<String> {
        self.inner.state().store.merged_into(conversation_id)
    }

    /// Every webhook event emitted so far, in order.
    pub fn events(&self) -> Vec<SentEvent> {
        self.inner.state().events.clone()
    }

    /// Every delivery (event × receiver) so far, with its attempts.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.inner.state().deliveries.clone()
    }

    /// The HTTP requests received, oldest first, with the status answered: the latest
    /// [`request_log_capacity`](FakeInboxBuilder::request_log_capacity) ones (1,000 by default;
    /// older ones are forgotten). The simulator's own requests (the page at `/` and the control
    /// API under `/_fake/`) are not in it.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.state().requests.iter().cloned().collect()
    }

    /// Waits until no delivery is under way: each was answered 200 or ran out of attempts.
    pub async fn settle(&self) {
        let mut rx = self.inner.in_flight.subscribe();
        // The sender lives as long as `self`: this cannot fail.
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}
