//! The fake's settings ([`FakeInboxBuilder`]) and how it starts.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use wix_inbox::webhooks::axum::ServeOptions;
use wix_inbox::webhooks::test_signer::TestSigner;
use wix_inbox::AppCredentials;

use super::{server, signing, ApiLimit, DeliveryPolicy, FakeInbox, Inner, InstanceIds, State};
#[cfg(doc)]
use super::{Fault, RecordedRequest};

/// How many connections the fake serves at once unless [`FakeInboxBuilder::serve_options`]
/// says otherwise: 100.
pub const DEFAULT_MAX_CONNECTIONS: usize = 100;

/// Settings of a [`FakeInbox`]; everything has a default.
#[derive(Debug)]
pub struct FakeInboxBuilder {
    port: u16,
    api_key: Option<String>,
    site_id: Option<String>,
    app: Option<AppCredentials>,
    signer: Option<TestSigner>,
    webhook_attempts: u32,
    webhook_backoff: Duration,
    delivery: Option<DeliveryPolicy>,
    api_limit: Option<ApiLimit>,
    webhook_timeout: Duration,
    token_ttl: Duration,
    request_log_capacity: usize,
    serve: ServeOptions,
}

impl Default for FakeInboxBuilder {
    fn default() -> Self {
        FakeInboxBuilder {
            port: 0,
            api_key: None,
            site_id: None,
            app: None,
            signer: None,
            webhook_attempts: 5,
            webhook_backoff: Duration::from_millis(50),
            delivery: None,
            api_limit: None,
            webhook_timeout: Duration::from_millis(1250),
            token_ttl: Duration::from_secs(14400),
            request_log_capacity: 1000,
            serve: ServeOptions::new().max_connections(DEFAULT_MAX_CONNECTIONS),
        }
    }
}

impl FakeInboxBuilder {
    /// The port on 127.0.0.1 (0, the default: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The API key the fake accepts (default: a fresh random one).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The site ID the fake accepts in `wix-site-id` (default: a fresh GUID).
    pub fn site_id(mut self, site_id: impl Into<String>) -> Self {
        self.site_id = Some(site_id.into());
        self
    }

    /// The app's credentials: the ID and secret that `POST /oauth2/token` accepts, and the ID
    /// of the fake's own instance (`instance_id` of token requests, `instanceId` of webhooks).
    /// Default: fresh GUIDs.
    pub fn app_credentials(mut self, app: AppCredentials) -> Self {
        self.app = Some(app);
        self
    }

    /// Sign webhooks with this key instead of the key the fakes of the process share
    /// ([`TestSigner::shared`], generated on first use); e.g. [`TestSigner::generate`] for a
    /// fake whose key no other fake has.
    pub fn signer(mut self, signer: TestSigner) -> Self {
        self.signer = Some(signer);
        self
    }

    /// How events are resent and repeated: [`DeliveryPolicy::wix`] for Wix's schedule,
    /// compressed. It replaces [`webhook_attempts`](Self::webhook_attempts) and
    /// [`webhook_backoff`](Self::webhook_backoff) (default: their
    /// [`DeliveryPolicy::backoff`]).
    pub fn delivery_policy(mut self, policy: DeliveryPolicy) -> Self {
        self.delivery = Some(policy);
        self
    }

    /// Enforce Wix's limit of API calls per app instance (off by default): a call over it is
    /// answered 429 with `Retry-After` (see [`ApiLimit`]).
    pub fn api_limit(mut self, limit: ApiLimit) -> Self {
        self.api_limit = Some(limit);
        self
    }

    /// How many times an event is tried per receiver (default 5, at least 1).
    pub fn webhook_attempts(mut self, attempts: u32) -> Self {
        self.webhook_attempts = attempts.max(1);
        self
    }

    /// The wait before the first redelivery; it doubles after each (default 50 ms).
    pub fn webhook_backoff(mut self, backoff: Duration) -> Self {
        self.webhook_backoff = backoff;
        self
    }

    /// How long a receiver has to answer an attempt (default 1250 ms, as Wix gives).
    pub fn webhook_timeout(mut self, timeout: Duration) -> Self {
        self.webhook_timeout = timeout;
        self
    }

    /// How long access tokens live (default 4 hours; `expires_in` says it in seconds).
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = ttl;
        self
    }

    /// How many requests [`FakeInbox::requests`] keeps (default 1,000): the log is a ring
    /// buffer that keeps the latest ones, each URI cut to its first
    /// [`RecordedRequest::URI_LIMIT`] bytes, so a flood of requests cannot
    /// grow it without bound. 0 keeps none.
    pub fn request_log_capacity(mut self, capacity: usize) -> Self {
        self.request_log_capacity = capacity;
        self
    }

    /// How the fake serves: the crate's own server settings ([`ServeOptions`]), so that a
    /// silent, slow or idle connection is closed, a slow request answered 408, and the
    /// connections bounded. Default: [`ServeOptions::new`] with at most
    /// [`DEFAULT_MAX_CONNECTIONS`] connections (5 s to send headers, 10 s for a request).
    /// A [`Fault::Delay`] is not counted by the request timeout (up to an hour of it).
    pub fn serve_options(mut self, options: ServeOptions) -> Self {
        self.serve = options;
        self
    }

    /// Starts serving.
    ///
    /// # Errors
    ///
    /// If the port cannot be bound.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub async fn start(self) -> std::io::Result<FakeInbox> {
        let signer = match self.signer {
            Some(own) => signing::Signer::Own(Box::new(own)),
            None => signing::Signer::Shared(
                tokio::task::spawn_blocking(TestSigner::shared)
                    .await
                    .map_err(std::io::Error::other)?,
            ),
        };
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], self.port))).await?;
        let addr = listener.local_addr()?;
        let guid = || uuid::Uuid::new_v4().to_string();
        let app = self.app.unwrap_or_else(|| AppCredentials {
            app_id: guid(),
            app_secret: guid(),
            instance_id: guid(),
        });
        let config = Config {
            api_key: self
                .api_key
                .unwrap_or_else(|| format!("IST.fake.{}", uuid::Uuid::new_v4().simple())),
            site_id: self.site_id.unwrap_or_else(guid),
            app_id: app.app_id,
            app_secret: app.app_secret,
            instance_id: app.instance_id,
            base_url: format!("http://{addr}"),
            account_id: guid(),
            business_user_id: guid(),
            delivery: self.delivery.unwrap_or_else(|| {
                DeliveryPolicy::backoff(self.webhook_attempts, self.webhook_backoff)
            }),
            api_limit: self.api_limit,
            webhook_timeout: self.webhook_timeout,
            token_ttl: self.token_ttl,
            request_log_capacity: self.request_log_capacity,
            serve: self.serve,
        };
        let (in_flight, _) = tokio::sync::watch::channel(0usize);
        let state = State {
            instances: vec![InstanceIds {
                instance_id: config.instance_id.clone(),
                site_id: config.site_id.clone(),
                removed: false,
                origin: None,
            }],
            ..State::default()
        };
        let inner = Arc::new(Inner {
            config,
            signer,
            state: Mutex::new(state),
            changed: Notify::new(),
            runtime: tokio::runtime::Handle::current(),
            in_flight,
            // Receivers are local: never through a proxy from the environment.
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .map_err(std::io::Error::other)?,
            deliveries_started: Default::default(),
            limits: Default::default(),
        });
        let server = tokio::spawn(server::serve(listener, inner.clone()));
        Ok(FakeInbox::new(inner, addr, Some(server)))
    }
}

/// What the builder set: the fake's IDs and credentials, its webhook and token timings, and how
/// it serves.
pub(crate) struct Config {
    pub(crate) api_key: String,
    pub(crate) site_id: String,
    pub(crate) app_id: String,
    pub(crate) app_secret: String,
    pub(crate) instance_id: String,
    pub(crate) account_id: String,
    pub(crate) business_user_id: String,
    /// When events are resent and repeated.
    pub(crate) delivery: DeliveryPolicy,
    /// Wix's limit of API calls per instance, when enforced.
    pub(crate) api_limit: Option<ApiLimit>,
    pub(crate) webhook_timeout: Duration,
    pub(crate) token_ttl: Duration,
    pub(crate) request_log_capacity: usize,
    /// How the fake serves (the builder's [`ServeOptions`]).
    pub(crate) serve: ServeOptions,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base_url: String,
}
