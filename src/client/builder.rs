//! [`ClientBuilder`]: the one way to make a [`Client`].

use std::{fmt, time::Duration};

use super::{
    credentials::Credentials, error::Error, http, policy::RetryPolicy, state::ClientState,
    token::TokenEndpoint,
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
}

/// Configures a [`Client`]; see [`Client::builder`].
///
/// Choose the credentials with [`api_key`](Self::api_key) and [`site_id`](Self::site_id), or
/// [`app`](Self::app) (or [`no_auth`](Self::no_auth)); everything else has a default.
#[derive(Clone)]
pub struct ClientBuilder {
    base_url: String,
    credentials: Chosen,
    site_id: Option<String>,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: Option<String>,
    retry: RetryPolicy,
    max_response_size: usize,
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
            base_url: DEFAULT_BASE_URL.to_string(),
            credentials: Chosen::Unset,
            site_id: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: None,
            retry: RetryPolicy::default(),
            max_response_size: http::DEFAULT_MAX_RESPONSE_SIZE,
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

    /// Where to send requests instead of `https://www.wixapis.com` (a fake, a proxy).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The longest one attempt may take, response included (30 s by default).
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

    /// The largest response body read, in bytes (16 MiB by default). A larger response fails with
    /// [`ErrorKind::TooLarge`](crate::ErrorKind::TooLarge) without being read further, so a
    /// broken or hostile server (or proxy) cannot exhaust memory. The client asks for gzip
    /// (`Accept-Encoding: gzip`); a compressed body counts by its inflated size, so a small body
    /// that inflates past the limit is refused as soon as it passes it.
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
        let credentials = match (self.credentials, self.site_id) {
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
            (Chosen::ApiKey(key), Some(site)) => Credentials::api_key(&key, &site)?,
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
                Credentials::app(TokenEndpoint {
                    url: format!("{base_url}/oauth2/token"),
                    app_id: app.app_id,
                    secret: app.app_secret,
                    instance_id: app.instance_id,
                })
            }
            (Chosen::None, None) => Credentials::None,
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
        let state = ClientState::new(credentials, self.retry, self.max_response_size);
        Ok(Client::new_with_client(&base_url, http, state))
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
