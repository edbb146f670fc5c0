//! One app, every site that installed it: [`App`], with a [`Client`] per app instance on one
//! connection pool.
//!
//! A Wix app is installed on many sites; each installation is an **app instance**, named by its
//! instance ID (in every webhook's `instanceId`). Access tokens are per instance, and so is the
//! rate limit (200 requests a minute). An [`App`] holds what its instances share: the app's ID
//! and secret, one HTTP connection pool, the settings, the webhook public key; and, keyed by
//! instance, what each has of its own: its access token and the pacing of its requests.
//! [`App::instance`] gives the [`Client`] of an instance at no cost (no I/O, no new pool): the
//! same generated client as [`Client::builder`] makes, so every operation works.
//!
//! ```no_run
//! use wix_inbox::App;
//! use wix_inbox::types::{Message, SendMessageRequest};
//! use wix_inbox::webhooks::InboxEvent;
//!
//! # async fn run(body: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! // Once, at start-up:
//! let app = App::builder()
//!     .app_id("a0c38670-6845-41e0-8f41-85a6054ccd98")
//!     .app_secret(std::env::var("WIX_APP_SECRET")?)
//!     .public_key(&std::env::var("WIX_APP_PUBLIC_KEY")?)
//!     .build()?;
//!
//! // Per webhook (`body` is the raw request body):
//! let event = app.verify(body)?;
//! if let InboxEvent::MessageSentToBusiness(sent) = &event.event {
//!     // Never answer the app's own messages (they come back as this event too).
//!     if !app.is_own_message(&event) {
//!         if let Some(conversation) = sent.conversation_id() {
//!             // The client of the instance the event is for: its token, its site.
//!             let client = app.client_for(&event)?;
//!             let reply = Message::reply("Thanks, we got it!");
//!             client
//!                 .send_message()
//!                 .body(SendMessageRequest::new(conversation, reply))
//!                 .send()
//!                 .await?;
//!         }
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Tokens
//!
//! Each instance's token is requested on its first call (`POST /oauth2/token` with the app's
//! ID and secret and the instance ID), kept, and renewed shortly before it expires (from the
//! token's `expires_in`: Wix documents no fixed lifetime). However many callers need an
//! instance's token at once, one request is made and they all wait for it. A 401 gets that
//! instance one new token and one retry; no other instance is touched. A token is only ever
//! sent for its own instance.
//!
//! The app keeps at most [`max_instances`](AppBuilder::max_instances) instances (10,000 by
//! default) in at most [`max_cache_size`](AppBuilder::max_cache_size) bytes (32 MiB, tokens
//! included): past either, instances whose token has expired go first, then the least recently
//! used. An evicted instance simply gets a new token on its next call.
//!
//! # Pacing
//!
//! Wix allows 200 requests a minute per app instance, and answers 429 past it.
//! [`rate_limit_per_instance(200, Duration::from_secs(60))`](AppBuilder::rate_limit_per_instance)
//! makes a burst to one instance wait its turn instead (other instances are not slowed); it is
//! off by default (429s are retried as the [`RetryPolicy`](crate::RetryPolicy) says).

mod env;
mod installations;
#[cfg(feature = "axum")]
mod receiver;

use std::{fmt, future::Future, sync::Arc, time::Duration};

pub use installations::{Installations, RefreshError, Removal};

use crate::client::{
    ClientState, Credentials, Settings, TokenEndpoint, DEFAULT_CAPACITY, DEFAULT_MAX_BYTES,
};
use crate::installations::{InMemoryInstallations, InstallationStore};
use crate::webhooks::{WebhookError, WebhookEvent, WebhookVerifier};
use crate::{Client, Error};
use installations::{removed_hook, DynStore, RemovedHook};

/// How many instances an [`App`] keeps by default: 10,000.
pub const DEFAULT_MAX_INSTANCES: u64 = DEFAULT_CAPACITY;

/// How many bytes an [`App`]'s instances may take by default: 32 MiB (10,000 instances with
/// Wix's tokens of a few hundred bytes fit; with tokens of 60 KB, about 550 do).
pub const DEFAULT_MAX_CACHE_SIZE: u64 = DEFAULT_MAX_BYTES;

/// A Wix app, for every instance of it: see [the module docs](self). Made by
/// [`App::builder`]. Cloning is cheap and shares everything (the connection pool, the
/// instances' tokens).
#[derive(Clone)]
pub struct App(Arc<Inner>);

struct Inner {
    app_id: String,
    base_url: String,
    http: reqwest::Client,
    /// The state the instances' clients are made from (it acts for no instance).
    state: ClientState,
    verifier: Option<WebhookVerifier>,
    installations: Arc<dyn DynStore>,
    on_removed: Option<RemovedHook>,
}

impl App {
    /// A builder: the app's ID and secret are required.
    pub fn builder() -> AppBuilder {
        AppBuilder::default()
    }

    /// The app's ID.
    pub fn app_id(&self) -> &str {
        &self.0.app_id
    }

    /// The [`Client`] of the app's instance `instance_id`: no I/O, no new connection pool (it
    /// shares the app's); its token is the instance's, kept in the app. A call through a
    /// client for an empty instance ID fails with [`ErrorKind::Config`](crate::ErrorKind::Config).
    pub fn instance(&self, instance_id: &str) -> Client {
        let inner = &self.0;
        Client::new_with_client(
            &inner.base_url,
            inner.http.clone(),
            inner.state.for_instance(instance_id),
        )
    }

    /// The [`Client`] of the instance a webhook event is for (its `instanceId`).
    ///
    /// # Errors
    ///
    /// [`NoInstanceId`] when the event names no instance.
    pub fn client_for(&self, event: &WebhookEvent) -> Result<Client, NoInstanceId> {
        match event.instance_id() {
            Some(instance_id) => Ok(self.instance(instance_id)),
            None => Err(NoInstanceId {
                event_id: crate::text::Printable(&event.id, 100).to_string(),
                event_type: event.event_type.clone(),
            }),
        }
    }

    /// Verifies and decodes a webhook delivery (`body`: the raw request body) with the app's
    /// public key ([`AppBuilder::public_key`]), as [`WebhookVerifier::verify`] does.
    ///
    /// # Errors
    ///
    /// What [`WebhookVerifier::verify`] refuses; and
    /// [`WebhookError::InvalidPublicKey`] when the app was built without a public key.
    pub fn verify(&self, body: &[u8]) -> Result<WebhookEvent, WebhookError> {
        match &self.0.verifier {
            Some(verifier) => verifier.verify(body),
            None => Err(WebhookError::InvalidPublicKey {
                reason: "the app was built without one: App::builder().public_key(..)",
            }),
        }
    }

    /// The app's webhook verifier, if it was given a public key (for a
    /// [`WebhookReceiver`](crate::webhooks::axum::WebhookReceiver)).
    pub fn verifier(&self) -> Option<&WebhookVerifier> {
        self.0.verifier.as_ref()
    }

    /// Whether the event is about a message this app sent
    /// ([`WebhookEvent::is_from_app`] with the app's ID): an auto-reply bot returns early on
    /// these, or it answers itself. A message the app sent as the participant (`sendAs:
    /// PARTICIPANT`) comes back as Message Sent To Business with the participant as sender;
    /// only its `appId` tells, and this checks it.
    pub fn is_own_message(&self, event: &WebhookEvent) -> bool {
        event.is_from_app(&self.0.app_id)
    }

    /// How many instances the app keeps now (at most
    /// [`max_instances`](AppBuilder::max_instances)).
    pub fn cached_instances(&self) -> u64 {
        self.0.state.tenants().len()
    }
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("app_id", &self.0.app_id)
            .field("base_url", &self.0.base_url)
            .field("state", &self.0.state)
            .field("public_key", &self.0.verifier.is_some())
            .finish()
    }
}

/// A webhook event that names no app instance (no `instanceId`), so no instance's client can
/// answer it: see [`App::client_for`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoInstanceId {
    /// The event's ID.
    pub event_id: String,
    /// The event's type, if it has one.
    pub event_type: Option<String>,
}

impl fmt::Display for NoInstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "webhook event {} ({}) names no app instance (no instanceId): it cannot be answered \
             through an instance of the app",
            self.event_id,
            self.event_type.as_deref().unwrap_or("no event type")
        )
    }
}

impl std::error::Error for NoInstanceId {}

/// Configures an [`App`]; see [`App::builder`].
#[derive(Clone, Default)]
pub struct AppBuilder {
    app_id: Option<String>,
    app_secret: Option<String>,
    public_key: Option<String>,
    max_instances: Option<u64>,
    max_cache_size: Option<u64>,
    settings: Settings,
    installations: Option<Arc<dyn DynStore>>,
    on_removed: Option<RemovedHook>,
    fleet: Option<Arc<dyn crate::client::fleet::FleetStore>>,
}

impl fmt::Debug for AppBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppBuilder")
            .field("app_id", &self.app_id)
            .field(
                "app_secret",
                &self.app_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("public_key", &self.public_key.is_some())
            .field("max_instances", &self.max_instances)
            .field("max_cache_size", &self.max_cache_size)
            .field("settings", &self.settings)
            .field("installations", &self.installations.is_some())
            .field("on_removed", &self.on_removed.is_some())
            .field("fleet", &self.fleet.is_some())
            .finish()
    }
}

impl AppBuilder {
    /// The app's ID (the Wix Dev Center's OAuth settings: App ID).
    pub fn app_id(mut self, app_id: impl Into<String>) -> Self {
        self.app_id = Some(app_id.into());
        self
    }

    /// The app's secret key (the Wix Dev Center's OAuth settings: App Secret Key); never shown
    /// by `Debug`.
    pub fn app_secret(mut self, secret: impl Into<String>) -> Self {
        self.app_secret = Some(secret.into());
        self
    }

    /// The app's public key for webhooks (the Wix Dev Center's Webhooks page: SPKI PEM, or
    /// base64 of it), for [`App::verify`].
    pub fn public_key(mut self, pem: &str) -> Self {
        self.public_key = Some(pem.to_owned());
        self
    }

    /// How many instances the app keeps (10,000 by default, at least 1): past it, instances
    /// whose token has expired go first, then the least recently used. Each costs a few
    /// hundred bytes besides its token.
    pub fn max_instances(mut self, instances: u64) -> Self {
        self.max_instances = Some(instances);
        self
    }

    /// How many bytes the kept instances may take, their tokens included (32 MiB by default,
    /// at least 1 KiB): past it, instances go as past [`max_instances`](Self::max_instances).
    /// An instance with a token of a few hundred bytes counts as one of `max_instances`; one
    /// with a larger token counts as several, so the bytes stay bounded whatever the token
    /// endpoint answers.
    pub fn max_cache_size(mut self, bytes: u64) -> Self {
        self.max_cache_size = Some(bytes);
        self
    }

    /// Paces each instance's requests: at most `requests` at once, then `requests` per
    /// `period`, a burst to one instance waiting its turn instead of collecting 429s; other
    /// instances are not slowed. Off by default. Wix allows **200 requests a minute per app
    /// instance**: `.rate_limit_per_instance(200, Duration::from_secs(60))`. Each attempt
    /// counts, retries included; token requests do not.
    pub fn rate_limit_per_instance(mut self, requests: u32, period: Duration) -> Self {
        self.settings.rate = Some((requests, period));
        self
    }

    /// Where the app keeps its installations ([`App::installations`]): in memory unless set;
    /// a [`RedisInstallations`](crate::redis::RedisInstallations) (feature `redis`) shares them
    /// between processes.
    pub fn installations(mut self, store: impl InstallationStore) -> Self {
        self.installations = Some(Arc::new(store));
        self
    }

    /// What to do when a site removes the app (say, delete the app's data of that site): run
    /// by [`Installations::apply`] once per removal, after the instance's token and state were
    /// dropped. With a store shared by several processes, it runs in the one that recorded the
    /// removal.
    pub fn on_removed<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(Removal) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_removed = Some(removed_hook(hook));
        self
    }

    /// Shares the instances' tokens and pacing with the app's other processes through `store`
    /// (for example [`RedisFleet`](crate::redis::RedisFleet)): one token request per instance
    /// at a time for the whole fleet, and [`rate_limit_per_instance`](Self::rate_limit_per_instance)
    /// held by all the processes together. See [`client::fleet`](crate::client::fleet).
    pub fn fleet(mut self, store: impl crate::client::fleet::FleetStore) -> Self {
        self.fleet = Some(Arc::new(store));
        self
    }

    crate::client::settings_setters!();

    /// The app, or an [`ErrorKind::Config`](crate::ErrorKind::Config) error that says what is
    /// wrong.
    pub fn build(self) -> Result<App, Error> {
        let blank = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
        if blank(&self.app_id) || blank(&self.app_secret) {
            return Err(Error::config(
                "an app needs its ID and secret: call .app_id(..) and .app_secret(..) (neither \
                 empty)",
            ));
        }
        let max_instances = self.max_instances.unwrap_or(DEFAULT_MAX_INSTANCES);
        if max_instances == 0 {
            return Err(Error::config("max_instances must be at least 1"));
        }
        let max_cache_size = self.max_cache_size.unwrap_or(DEFAULT_MAX_CACHE_SIZE);
        if max_cache_size < 1024 {
            return Err(Error::config("max_cache_size must be at least 1 KiB"));
        }
        let verifier = match &self.public_key {
            None => None,
            Some(pem) => Some(WebhookVerifier::from_public_key(pem).map_err(|e| {
                Error::config("the app's public key cannot be used").with_source(e)
            })?),
        };
        let built = self.settings.build()?;
        let app_id = self.app_id.unwrap_or_default();
        let endpoint = TokenEndpoint {
            url: format!("{}/oauth2/token", built.base_url),
            app_id: app_id.clone(),
            secret: self.app_secret.unwrap_or_default(),
        };
        let state = ClientState::app(
            Credentials::App(endpoint),
            self.settings.retry,
            self.settings.max_response_size,
            built.rate,
            max_instances,
            max_cache_size,
            self.fleet,
        );
        Ok(App(Arc::new(Inner {
            app_id,
            base_url: built.base_url,
            http: built.http,
            state,
            verifier,
            installations: self
                .installations
                .unwrap_or_else(|| Arc::new(InMemoryInstallations::new())),
            on_removed: self.on_removed,
        })))
    }
}
