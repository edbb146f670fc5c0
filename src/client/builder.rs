//! [`ClientBuilder`]: the one way to make a [`Client`].

use std::{fmt, time::Duration};

use std::sync::Arc;

use reqwest::header::HeaderValue;

use super::{
    credentials::Credentials, error::Error, http, pacing::Rate, policy::RetryPolicy,
    state::ClientState, tenant::Tenant, token::TokenEndpoint,
};
use crate::Client;

/// Where Wix's REST API lives.
pub const DEFAULT_BASE_URL: &str = "https://www.wixapis.com";
/// The user agent the client sends: `wix-inbox/<version>`.
pub const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));

impl Client {
    /// A builder: the one way to make a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The same client for another site of the API key's account: an API key is the
    /// account's, and each call names its site (`wix-site-id`). The new client shares this
    /// one's connection pool and settings; no I/O.
    ///
    /// What is kept per site (its pacing, with [`ClientBuilder::rate_limit`]) is shared by
    /// every client for that site made from this one, and never used for another site; at
    /// most 10,000 sites are kept, the least recently used forgotten first.
    ///
    /// A client whose calls fail with [`ErrorKind::Config`](crate::ErrorKind::Config) comes
    /// back when this is not an API key's client (an app acts for a site through its
    /// instance there: [`App::instance`](crate::App::instance)), or when the site ID is empty
    /// or not a valid HTTP header value.
    ///
    /// ```
    /// # fn run() -> Result<(), wix_inbox::Error> {
    /// let client = wix_inbox::Client::builder()
    ///     .api_key("IST.eyJraWQiOi...")
    ///     .site_id("0d3c7c5a-2d3b-4a8e-9d9a-7d1d2b6f2a41")
    ///     .build()?;
    /// let other_site = client.for_site("7f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0");
    /// # let _ = other_site; Ok(()) }
    /// ```
    pub fn for_site(&self, site_id: &str) -> Client {
        let state = self.inner.for_site(site_id);
        Client::new_with_client(&self.baseurl, self.client.clone(), state)
    }
}

/// Configures a [`Client`]; see [`Client::builder`].
///
/// Choose the credentials with [`api_key`](Self::api_key) and [`site_id`](Self::site_id), or
/// [`app`](Self::app) (or [`no_auth`](Self::no_auth)); everything else has a default.
#[derive(Clone)]
pub struct ClientBuilder {
    credentials: Chosen,
    site_id: Option<String>,
    settings: Settings,
}

/// What a [`ClientBuilder`] and an [`AppBuilder`](crate::AppBuilder) both set: where and how
/// requests are sent.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) base_url: String,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) user_agent: Option<String>,
    pub(crate) retry: RetryPolicy,
    pub(crate) max_response_size: usize,
    /// `(requests, period)`, checked when built.
    pub(crate) rate: Option<(u32, Duration)>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_string(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: None,
            retry: RetryPolicy::default(),
            max_response_size: http::DEFAULT_MAX_RESPONSE_SIZE,
            rate: None,
        }
    }
}

/// The setters of [`Settings`], written once for both builders that hold them in a field
/// `settings` ([`ClientBuilder`] and [`AppBuilder`](crate::AppBuilder)), so that a knob means
/// the same on each. Their rate limits differ (per site, per app instance) and stay apart.
macro_rules! settings_setters {
    () => {
        /// Where to send requests instead of `https://www.wixapis.com` (a fake, a proxy).
        pub fn base_url(mut self, url: impl Into<String>) -> Self {
            self.settings.base_url = url.into();
            self
        }

        /// The longest one attempt may take, response included (30 s by default).
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.settings.timeout = timeout;
            self
        }

        /// The longest making a connection may take (10 s by default).
        pub fn connect_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.settings.connect_timeout = timeout;
            self
        }

        /// A product to name in the user agent before `wix-inbox/<version>`, such as
        /// `my-app/1.2`.
        pub fn user_agent(mut self, product: impl Into<String>) -> Self {
            self.settings.user_agent = Some(product.into());
            self
        }

        /// How to retry ([`RetryPolicy::default`](crate::RetryPolicy::default) unless set;
        /// [`RetryPolicy::disabled`](crate::RetryPolicy::disabled) for never).
        pub fn retry(mut self, policy: $crate::RetryPolicy) -> Self {
            self.settings.retry = policy;
            self
        }

        /// The largest response body read, in bytes (16 MiB by default). A larger response
        /// fails with [`ErrorKind::TooLarge`](crate::ErrorKind::TooLarge) without being read
        /// further, so a broken or hostile server (or proxy) cannot exhaust memory. The client
        /// asks for gzip (`Accept-Encoding: gzip`); a compressed body counts by its inflated
        /// size, so a small body that inflates past the limit is refused as soon as it passes
        /// it.
        pub fn max_response_size(mut self, bytes: usize) -> Self {
            self.settings.max_response_size = bytes;
            self
        }
    };
}
pub(crate) use settings_setters;

/// Where and how requests are sent, checked and ready: what [`Settings::build`] makes.
pub(crate) struct Built {
    /// The base URL without a trailing `/`.
    pub(crate) base_url: String,
    /// The one connection pool.
    pub(crate) http: reqwest::Client,
    pub(crate) rate: Option<Rate>,
}

impl Settings {
    /// Checks the settings and makes the HTTP client, or says what is wrong.
    pub(crate) fn build(&self) -> Result<Built, Error> {
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
        let rate = match self.rate {
            None => None,
            Some((requests, period)) => Some(Rate::new(requests, period).ok_or_else(|| {
                Error::config("a rate limit needs at least 1 request per period longer than 0")
            })?),
        };
        let user_agent = match &self.user_agent {
            Some(product) => format!("{product} {USER_AGENT}"),
            None => USER_AGENT.to_string(),
        };
        let mut http = reqwest::Client::builder()
            // Wix's API does not redirect: a redirect is an error, never a request elsewhere
            // with the credentials or the message.
            .redirect(reqwest::redirect::Policy::none())
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
        Ok(Built {
            base_url: self.base_url.trim_end_matches('/').to_string(),
            http,
            rate,
        })
    }
}

/// The credentials chosen so far.
#[derive(Clone)]
enum Chosen {
    Unset,
    None,
    ApiKey(String),
    App(AppCredentials),
    Conflicting,
}

/// What an app authorizes with: its ID and secret key (from the app's OAuth settings in the Wix
/// Dev Center) and the ID of its instance on the site (from the installation, or any webhook's
/// `instanceId`). See [`ClientBuilder::app`].
///
/// ```
/// use wix_inbox::AppCredentials;
///
/// let credentials = AppCredentials {
///     app_id: "app-id".into(),
///     app_secret: std::env::var("WIX_APP_SECRET").unwrap_or_default(),
///     instance_id: "instance-id".into(),
/// };
/// assert!(!format!("{credentials:?}").contains("WIX_APP_SECRET"));
/// ```
#[derive(Clone)]
pub struct AppCredentials {
    /// The app's ID.
    pub app_id: String,
    /// The app's secret key; never shown by `Debug`.
    pub app_secret: String,
    /// The ID of the app's instance on the site.
    pub instance_id: String,
}

impl fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppCredentials")
            .field("app_id", &self.app_id)
            .field("app_secret", &"<redacted>")
            .field("instance_id", &self.instance_id)
            .finish()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            credentials: Chosen::Unset,
            site_id: None,
            settings: Settings::default(),
        }
    }
}

impl ClientBuilder {
    fn credentials(mut self, credentials: Chosen) -> Self {
        self.credentials = match self.credentials {
            Chosen::Unset => credentials,
            _ => Chosen::Conflicting,
        };
        self
    }

    /// Authorize with an API key (sent raw in `Authorization`); needs [`site_id`](Self::site_id).
    pub fn api_key(self, key: impl Into<String>) -> Self {
        self.credentials(Chosen::ApiKey(key.into()))
    }

    /// The site the API key acts on (sent as `wix-site-id`).
    pub fn site_id(mut self, site_id: impl Into<String>) -> Self {
        self.site_id = Some(site_id.into());
        self
    }

    /// Authorize as an app: its ID and secret key, and the ID of its instance on the site. The
    /// client gets and renews access tokens at `{base_url}/oauth2/token`.
    pub fn app(self, credentials: AppCredentials) -> Self {
        self.credentials(Chosen::App(credentials))
    }

    /// Send no credentials: for a proxy that adds them, or a fake Inbox.
    pub fn no_auth(self) -> Self {
        self.credentials(Chosen::None)
    }

    settings_setters!();

    /// Paces the requests of the site or app instance (and of each site of
    /// [`Client::for_site`]): at most `requests` at once, then `requests` per `period`, a burst
    /// waiting its turn instead of collecting 429s. Off by default. Wix allows 200 requests a
    /// minute per app instance: `.rate_limit(200, Duration::from_secs(60))`. Each attempt
    /// counts, retries included; token requests do not. See
    /// [`AppBuilder::rate_limit_per_instance`](crate::AppBuilder::rate_limit_per_instance).
    pub fn rate_limit(mut self, requests: u32, period: Duration) -> Self {
        self.settings.rate = Some((requests, period));
        self
    }

    /// The client, or an [`ErrorKind::Config`](crate::ErrorKind::Config) error that says what
    /// is wrong.
    pub fn build(self) -> Result<Client, Error> {
        let built = self.settings.build()?;
        let blank = |s: &str| s.trim().is_empty();
        let (credentials, tenant) = match (self.credentials, self.site_id) {
            (Chosen::Unset, _) => {
                return Err(Error::config(
                    "no credentials: call .api_key(..).site_id(..), .app(..) or .no_auth()",
                ))
            }
            (Chosen::Conflicting, _) => {
                return Err(Error::config(
                    "more than one kind of credentials: choose one of .api_key(..), .app(..) \
                     and .no_auth()",
                ))
            }
            (Chosen::ApiKey(_), None) => {
                return Err(Error::config(
                    "an API key needs the site it acts on: call .site_id(..)",
                ))
            }
            (Chosen::ApiKey(key), Some(site)) if blank(&key) || blank(&site) => {
                return Err(Error::config(
                    "the API key and the site ID must not be empty",
                ))
            }
            (Chosen::ApiKey(key), Some(site)) => {
                let header = HeaderValue::from_str(&site)
                    .map_err(|_| Error::config("the site ID is not a valid HTTP header value"))?;
                let tenant = Tenant::site(Arc::from(site), header);
                (Credentials::api_key(&key)?, tenant)
            }
            (Chosen::App { .. } | Chosen::None, Some(_)) => {
                return Err(Error::config(
                    "a site ID goes with an API key only (an app's instance names the site)",
                ))
            }
            (Chosen::App(app), None) => {
                if blank(&app.app_id) || blank(&app.app_secret) || blank(&app.instance_id) {
                    return Err(Error::config(
                        "the app ID, app secret and instance ID must not be empty",
                    ));
                }
                let endpoint = TokenEndpoint {
                    url: format!("{}/oauth2/token", built.base_url),
                    app_id: app.app_id,
                    secret: app.app_secret,
                };
                (
                    Credentials::App(endpoint),
                    Tenant::instance(Arc::from(app.instance_id)),
                )
            }
            (Chosen::None, None) => (Credentials::None, Tenant::instance(Arc::from(""))),
        };
        let settings = self.settings;
        let state = ClientState::single(
            credentials,
            settings.retry,
            settings.max_response_size,
            built.rate,
            tenant,
        );
        Ok(Client::new_with_client(&built.base_url, built.http, state))
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
            Chosen::Unset => "unset",
            Chosen::None => "none",
            Chosen::ApiKey(_) => "API key <redacted>",
            Chosen::App { .. } => "app, secret <redacted>",
            Chosen::Conflicting => "conflicting",
        };
        let app = match &self.credentials {
            Chosen::App(app) => Some((&app.app_id, &app.instance_id)),
            _ => None,
        };
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.settings.base_url)
            .field("credentials", &credentials)
            .field("app_and_instance", &app)
            .field("site_id", &self.site_id)
            .field("timeout", &self.settings.timeout)
            .field("connect_timeout", &self.settings.connect_timeout)
            .field("user_agent", &self.settings.user_agent)
            .field("retry", &self.settings.retry)
            .field("max_response_size", &self.settings.max_response_size)
            .field("rate_limit", &self.settings.rate)
            .finish()
    }
}
