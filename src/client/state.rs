//! What a [`Client`](crate::Client) keeps beside the generated code: what all the clients of
//! one builder (or one [`App`](crate::App)) share, and which site or instance this one acts for.

use std::{
    fmt,
    sync::{Arc, OnceLock},
};

use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};

use super::{
    credentials::Credentials,
    error::{Error, ErrorKind},
    fleet::FleetStore,
    pacing::Rate,
    policy::RetryPolicy,
    tenant::{Kind, Tenant, Tenants},
};

const SITE_ID: HeaderName = HeaderName::from_static("wix-site-id");

/// The state a [`Client`](crate::Client) keeps beside the generated code: its credentials, its
/// retry policy, its response size limit, and the site or app instance it acts for (with that
/// one's access token, pacing and Wix's latest read-your-writes token, `X-Wix-Consistent`,
/// which is never sent for another site or instance). Made by [`ClientBuilder::build`](crate::ClientBuilder::build)
/// or [`App::instance`](crate::App::instance); clones of a client share it, and the clients of
/// one [`App`](crate::App) share all but the instance.
#[derive(Clone)]
pub struct ClientState {
    shared: Arc<Shared>,
    scope: Scope,
}

/// Which site or instance a client acts for.
#[derive(Clone)]
enum Scope {
    /// The one the client was built for.
    Pinned(Arc<Tenant>),
    /// One of the shared cache, looked up on each call (so that it is counted as used, and
    /// made again if it was evicted).
    Keyed(Arc<str>),
    /// None: each call fails with this error (an empty instance ID, say).
    Refused(Error),
}

/// What every client of one builder or app shares.
struct Shared {
    credentials: Credentials,
    policy: RetryPolicy,
    max_response_size: usize,
    rate: Option<Rate>,
    /// The sites or instances used so far, made on first use.
    tenants: OnceLock<Tenants>,
    capacity: u64,
    /// Where the app's processes share tokens and pacing, if they do.
    fleet: Option<Arc<dyn FleetStore>>,
    max_bytes: u64,
}

impl ClientState {
    /// A client for one site or instance (`tenant`), as [`ClientBuilder`](crate::ClientBuilder)
    /// makes it.
    pub(crate) fn single(
        credentials: Credentials,
        policy: RetryPolicy,
        max_response_size: usize,
        rate: Option<Rate>,
        tenant: Tenant,
    ) -> Self {
        let shared = Shared {
            credentials,
            policy,
            max_response_size,
            rate,
            tenants: OnceLock::new(),
            capacity: super::tenant::DEFAULT_CAPACITY,
            fleet: None,
            max_bytes: super::tenant::DEFAULT_MAX_BYTES,
        };
        Self {
            shared: Arc::new(shared),
            scope: Scope::Pinned(Arc::new(tenant)),
        }
    }

    /// The state an [`App`](crate::App) makes its instances' clients from: it acts for no
    /// instance until [`for_instance`](Self::for_instance).
    pub(crate) fn app(
        credentials: Credentials,
        policy: RetryPolicy,
        max_response_size: usize,
        rate: Option<Rate>,
        capacity: u64,
        max_bytes: u64,
        fleet: Option<Arc<dyn FleetStore>>,
    ) -> Self {
        let shared = Shared {
            credentials,
            policy,
            max_response_size,
            rate,
            tenants: OnceLock::from(Tenants::new(Kind::Instances, capacity, max_bytes)),
            capacity,
            fleet,
            max_bytes,
        };
        Self {
            shared: Arc::new(shared),
            scope: Scope::Refused(Error::config("no app instance chosen")),
        }
    }

    /// The same client for the app instance `instance_id`.
    pub(crate) fn for_instance(&self, instance_id: &str) -> Self {
        let scope = match &self.shared.credentials {
            Credentials::App(_) if instance_id.trim().is_empty() => {
                Scope::Refused(Error::config("the app instance ID is empty"))
            }
            Credentials::App(_) => Scope::Keyed(Arc::from(instance_id)),
            _ => Scope::Refused(Error::config(
                "only an app's client acts for an app instance",
            )),
        };
        Self {
            shared: self.shared.clone(),
            scope,
        }
    }

    /// The same client for the site `site_id`: for an API key.
    pub(crate) fn for_site(&self, site_id: &str) -> Self {
        let scope = match (&self.shared.credentials, &self.scope) {
            (Credentials::ApiKey { .. }, Scope::Pinned(home)) if home.id() == site_id => {
                self.scope.clone()
            }
            (Credentials::ApiKey { .. }, _) if site_id.trim().is_empty() => {
                Scope::Refused(Error::config("the site ID is empty"))
            }
            (Credentials::ApiKey { .. }, _) if HeaderValue::from_str(site_id).is_err() => {
                Scope::Refused(Error::config(
                    "the site ID is not a valid HTTP header value",
                ))
            }
            (Credentials::ApiKey { .. }, _) => Scope::Keyed(Arc::from(site_id)),
            (Credentials::App(_), _) => Scope::Refused(Error::config(
                "for_site(..) is for an API key's client: an app acts for a site through its \
                 instance there (App::instance)",
            )),
            (Credentials::None, _) => Scope::Refused(Error::config(
                "for_site(..) is for an API key's client, not one without credentials",
            )),
        };
        Self {
            shared: self.shared.clone(),
            scope,
        }
    }

    /// The site or instance this client acts for.
    pub(crate) fn tenant(&self) -> Result<Arc<Tenant>, Error> {
        match &self.scope {
            Scope::Pinned(tenant) => Ok(tenant.clone()),
            Scope::Keyed(id) => Ok(self.tenants().get(id)),
            Scope::Refused(e) => Err(e.clone()),
        }
    }

    /// The sites or instances used through [`for_site`](Self::for_site) or
    /// [`for_instance`](Self::for_instance).
    pub(crate) fn tenants(&self) -> &Tenants {
        self.shared.tenants.get_or_init(|| {
            let tenants = Tenants::new(Kind::Sites, self.shared.capacity, self.shared.max_bytes);
            // The site the client was built for is one of them.
            if let Scope::Pinned(home) = &self.scope {
                if home.site_header().is_some() {
                    tenants.adopt(home);
                }
            }
            tenants
        })
    }

    pub(crate) fn credentials(&self) -> &Credentials {
        &self.shared.credentials
    }

    pub(crate) fn policy(&self) -> &RetryPolicy {
        &self.shared.policy
    }

    pub(crate) fn max_response_size(&self) -> usize {
        self.shared.max_response_size
    }

    pub(crate) fn rate(&self) -> Option<&Rate> {
        self.shared.rate.as_ref()
    }

    /// Where the app's processes share tokens and pacing, if they do.
    pub(crate) fn fleet(&self) -> Option<&dyn FleetStore> {
        self.shared.fleet.as_deref()
    }

    /// Weighs this client's instance again in the cache (its token changed).
    fn reweigh(&self) {
        if let Scope::Keyed(id) = &self.scope {
            self.tenants().reweigh(id);
        }
    }

    /// Adds the credentials for `tenant` to a request, getting an app token first if none is
    /// fresh.
    pub(crate) async fn authorize(
        &self,
        tenant: &Tenant,
        http: &reqwest::Client,
        request: &mut reqwest::Request,
    ) -> Result<(), Error> {
        match &self.shared.credentials {
            Credentials::None => {}
            Credentials::ApiKey { authorization } => {
                let headers = request.headers_mut();
                headers.insert(AUTHORIZATION, authorization.clone());
                if let Some(site) = tenant.site_header() {
                    headers.insert(SITE_ID, site.clone());
                }
            }
            Credentials::App(endpoint) => {
                let token = match tenant.token.fresh(None) {
                    Some(token) => token,
                    // Boxed: a rare path, kept out of the size of every call's future.
                    None => {
                        let policy = &self.shared.policy;
                        let token = Box::pin(tenant.token.token(
                            endpoint,
                            tenant.id(),
                            http,
                            policy,
                            None,
                            self.fleet(),
                        ))
                        .await?;
                        self.reweigh();
                        token
                    }
                };
                request.headers_mut().insert(AUTHORIZATION, token);
            }
        }
        Ok(())
    }

    /// A token for `tenant` other than `stale` (the one a 401 refused): the one another caller
    /// got meanwhile, or a new one.
    pub(crate) async fn renew(
        &self,
        tenant: &Tenant,
        http: &reqwest::Client,
        stale: Option<&HeaderValue>,
    ) -> Result<HeaderValue, Error> {
        match &self.shared.credentials {
            Credentials::App(endpoint) => {
                let policy = &self.shared.policy;
                let token = tenant
                    .token
                    .token(endpoint, tenant.id(), http, policy, stale, self.fleet())
                    .await?;
                self.reweigh();
                Ok(token)
            }
            _ => Err(Error::new(ErrorKind::Token).with_message("no app credentials")),
        }
    }
}

impl fmt::Debug for ClientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("ClientState");
        s.field("credentials", &self.shared.credentials)
            .field("policy", &self.shared.policy)
            .field("max_response_size", &self.shared.max_response_size)
            .field("rate", &self.shared.rate)
            .field("fleet", &self.shared.fleet.is_some());
        match &self.scope {
            Scope::Pinned(tenant) => s.field("for", &tenant.id()),
            Scope::Keyed(id) => s.field("for", id),
            Scope::Refused(e) => s.field("refused", &e.to_string()),
        };
        s.finish()
    }
}
