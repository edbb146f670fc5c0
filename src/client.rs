//! Building a [`Client`], and the transport its generated operations run on.
//!
//! ```no_run
//! use wix_inbox::{types::MessageVisibility};
//!
//! # async fn run() -> Result<(), wix_inbox::Error> {
//! // An API key of the site's account, with the site's ID ...
//! let client = wix_inbox::Client::builder()
//!     .api_key(std::env::var("WIX_API_KEY").unwrap_or_default())
//!     .site_id("0d3c7c5a-2d3b-4a8e-9d9a-7d1d2b6f2a41")
//!     .build()?;
//! // ... or an app's credentials, for the instance of the app on the site.
//! let app = wix_inbox::Client::builder()
//!     .app("app-id", std::env::var("WIX_APP_SECRET").unwrap_or_default(), "instance-id")
//!     .build()?;
//!
//! let page = client
//!     .list_messages()
//!     .conversation_id("6202c3bb-f263-3c16-8c90-d6387d9ed420")
//!     .visibility(MessageVisibility::BusinessAndParticipant)
//!     .send()
//!     .await?;
//! # let _ = (app, page);
//! # Ok(()) }
//! ```
//!
//! The operations themselves are generated from the spec. What this crate adds sits in the
//! generated client's hooks ([`ClientHooks`]): before a request, the credentials are added ([`auth`](crate::auth)); the
//! request is then sent, retried as [`retry`](mod@crate::retry) says, inside a tracing span
//! `wix_inbox.request` with the operation, attempt, status and request ID.

use std::{fmt, sync::Arc, time::Duration};

use progenitor_client::{ClientHooks, OperationInfo};

use crate::{auth::Auth, error, retry, Client, Error, GeneratedError, RetryPolicy};

/// Where Wix's REST API lives.
pub const DEFAULT_BASE_URL: &str = "https://www.wixapis.com";
/// The user agent the client sends: `wix-inbox/<version>`.
pub const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));

impl Client {
    /// A builder: the one way to make a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }
}

/// Configures a [`Client`]; see [`Client::builder`].
///
/// Choose the credentials with [`api_key`](Self::api_key) and [`site_id`](Self::site_id), or
/// [`app`](Self::app) (or [`no_auth`](Self::no_auth)); everything else has a default.
#[derive(Clone)]
pub struct ClientBuilder {
    base_url: String,
    credentials: Credentials,
    site_id: Option<String>,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: Option<String>,
    retry: RetryPolicy,
    max_response_size: usize,
}

#[derive(Clone)]
enum Credentials {
    Unset,
    None,
    ApiKey(String),
    App {
        app_id: String,
        secret: String,
        instance_id: String,
    },
    Conflicting,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_string(),
            credentials: Credentials::Unset,
            site_id: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: None,
            retry: RetryPolicy::default(),
            max_response_size: retry::DEFAULT_MAX_RESPONSE_SIZE,
        }
    }
}

impl ClientBuilder {
    fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = match self.credentials {
            Credentials::Unset => credentials,
            _ => Credentials::Conflicting,
        };
        self
    }

    /// Authorize with an API key (sent raw in `Authorization`); needs [`site_id`](Self::site_id).
    pub fn api_key(self, key: impl Into<String>) -> Self {
        self.credentials(Credentials::ApiKey(key.into()))
    }

    /// The site the API key acts on (sent as `wix-site-id`).
    pub fn site_id(mut self, site_id: impl Into<String>) -> Self {
        self.site_id = Some(site_id.into());
        self
    }

    /// Authorize as an app: its ID and secret key, and the ID of its instance on the site. The
    /// client gets and renews access tokens at `{base_url}/oauth2/token`.
    pub fn app(
        self,
        app_id: impl Into<String>,
        app_secret: impl Into<String>,
        instance_id: impl Into<String>,
    ) -> Self {
        self.credentials(Credentials::App {
            app_id: app_id.into(),
            secret: app_secret.into(),
            instance_id: instance_id.into(),
        })
    }

    /// Send no credentials: for a proxy that adds them, or a fake Inbox.
    pub fn no_auth(self) -> Self {
        self.credentials(Credentials::None)
    }

    /// Where to send requests instead of `https://www.wixapis.com` (a fake, a proxy).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The longest one attempt may take, answer included (30 s by default).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest making a connection may take (10 s by default).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// A product to name in the user agent before `wix-inbox/<version>`, such as `my-app/1.2`.
    pub fn user_agent(mut self, product: impl Into<String>) -> Self {
        self.user_agent = Some(product.into());
        self
    }

    /// How to retry ([`RetryPolicy::default`] unless set; [`RetryPolicy::disabled`] for never).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The largest answer body read, in bytes (16 MiB by default). A larger answer fails with
    /// [`ErrorKind::TooLarge`](crate::ErrorKind::TooLarge) without being read further, so a
    /// broken or hostile server (or proxy) cannot exhaust memory.
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.max_response_size = bytes;
        self
    }

    /// The client, or an [`ErrorKind::Config`](crate::ErrorKind::Config) error that says what
    /// is wrong.
    pub fn build(self) -> Result<Client, Error> {
        // A URL with a user name or password is never quoted: the password would be printed.
        let quoted = if self.base_url.contains('@') {
            "(not shown: it holds `@`)".to_string()
        } else {
            format!("{:?}", self.base_url)
        };
        let url = reqwest::Url::parse(&self.base_url)
            .map_err(|e| Error::config(format!("the base URL {quoted} is not a URL: {e}")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::config(
                "the base URL must not hold a user name or password: credentials go in \
                 .api_key(..) or .app(..)",
            ));
        }
        if !matches!(url.scheme(), "http" | "https") || url.query().is_some() {
            return Err(Error::config(format!(
                "the base URL {quoted} must be an http or https URL without a query"
            )));
        }
        let base_url = self.base_url.trim_end_matches('/').to_string();
        let blank = |s: &str| s.trim().is_empty();
        let auth = match (self.credentials, self.site_id) {
            (Credentials::Unset, _) => {
                return Err(Error::config(
                    "no credentials: call .api_key(..).site_id(..), .app(..) or .no_auth()",
                ))
            }
            (Credentials::Conflicting, _) => {
                return Err(Error::config(
                    "more than one kind of credentials: choose one of .api_key(..), .app(..) \
                     and .no_auth()",
                ))
            }
            (Credentials::ApiKey(_), None) => {
                return Err(Error::config(
                    "an API key needs the site it acts on: call .site_id(..)",
                ))
            }
            (Credentials::ApiKey(key), Some(site)) if blank(&key) || blank(&site) => {
                return Err(Error::config(
                    "the API key and the site ID must not be empty",
                ))
            }
            (Credentials::ApiKey(key), Some(site)) => Auth::api_key(&key, &site)?,
            (Credentials::App { .. } | Credentials::None, Some(_)) => {
                return Err(Error::config(
                    "a site ID goes with an API key only (an app's instance names the site)",
                ))
            }
            (
                Credentials::App {
                    app_id,
                    secret,
                    instance_id,
                },
                None,
            ) => {
                if blank(&app_id) || blank(&secret) || blank(&instance_id) {
                    return Err(Error::config(
                        "the app ID, app secret and instance ID must not be empty",
                    ));
                }
                Auth::app(
                    format!("{base_url}/oauth2/token"),
                    app_id,
                    secret,
                    instance_id,
                )
            }
            (Credentials::None, None) => Auth::None,
        };
        let user_agent = match &self.user_agent {
            Some(product) => format!("{product} {USER_AGENT}"),
            None => USER_AGENT.to_string(),
        };
        let mut http = reqwest::Client::builder()
            .user_agent(user_agent)
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout);
        // A fake or a proxy on this machine is reached directly, whatever `HTTP_PROXY` says.
        if is_loopback(&url) {
            http = http.no_proxy();
        }
        let http = http
            .build()
            .map_err(|e| Error::config("the HTTP client cannot be built").with_source(e))?;
        let transport = Transport(Arc::new(Shared {
            auth,
            retry: self.retry,
            max_response_size: self.max_response_size,
        }));
        Ok(Client::new_with_client(&base_url, http, transport))
    }
}

/// Whether `url` names this machine: `localhost`, 127.0.0.0/8 or `::1`.
fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let credentials = match &self.credentials {
            Credentials::Unset => "unset",
            Credentials::None => "none",
            Credentials::ApiKey(_) => "API key <redacted>",
            Credentials::App { .. } => "app, secret <redacted>",
            Credentials::Conflicting => "conflicting",
        };
        let app = match &self.credentials {
            Credentials::App {
                app_id,
                instance_id,
                ..
            } => Some((app_id, instance_id)),
            _ => None,
        };
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("credentials", &credentials)
            .field("app_and_instance", &app)
            .field("site_id", &self.site_id)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("user_agent", &self.user_agent)
            .field("retry", &self.retry)
            .field("max_response_size", &self.max_response_size)
            .finish()
    }
}

/// The state a [`Client`] keeps beside the generated code: credentials (and the cached app
/// token) and the retry policy. Made by [`ClientBuilder::build`]; clones share it.
#[derive(Clone)]
pub struct Transport(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    auth: Auth,
    retry: RetryPolicy,
    max_response_size: usize,
}

impl Transport {
    pub(crate) fn auth(&self) -> &Auth {
        &self.0.auth
    }

    pub(crate) fn retry(&self) -> &RetryPolicy {
        &self.0.retry
    }

    pub(crate) fn max_response_size(&self) -> usize {
        self.0.max_response_size
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl ClientHooks<Transport> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> Result<(), GeneratedError<E>> {
        let transport = &self.inner;
        transport
            .auth()
            .authorize(&self.client, transport.retry(), request)
            .await
            .map_err(|e| {
                let e = e.with_operation(info.operation_id);
                let message = e.to_string();
                error::record(|call| call.token_error = Some(e));
                GeneratedError::Custom(message)
            })
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        retry::execute(&self.client, &self.inner, request, info.operation_id).await
    }
}
