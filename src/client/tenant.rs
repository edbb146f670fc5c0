//! What a client keeps per site (API keys) or per app instance: the instance's access token,
//! Wix's read-your-writes token (`X-Wix-Consistent`), the pacing of its requests; and the bounded cache of them that an
//! [`App`](crate::App) (or an API key's client, for [`for_site`](crate::Client::for_site))
//! keeps, keyed by instance or site ID.
//!
//! The cache ([moka](https://docs.rs/moka)) holds at most its capacity (10,000 by default);
//! past it, entries whose token has expired go first, then the least recently used. An evicted
//! instance simply gets a new token the next time it is used.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use moka::{policy::EvictionPolicy, sync::Cache, Expiry};
use reqwest::header::HeaderValue;

use super::{credentials::TokenSlot, pacing::Pacer};

/// How many sites or instances a client keeps by default.
pub(crate) const DEFAULT_CAPACITY: u64 = 10_000;

/// How many bytes the kept sites or instances may take by default: 32 MiB.
pub(crate) const DEFAULT_MAX_BYTES: u64 = 32 * 1024 * 1024;

/// The longest `X-Wix-Consistent` kept, in bytes: Wix's are short; a longer one is not kept.
const MAX_CONSISTENT: usize = 1024;

/// What moka and the maps spend on one entry besides the tenant itself (an estimate).
const ENTRY_OVERHEAD: usize = 256;

/// One site or app instance.
pub(crate) struct Tenant {
    /// The instance ID (apps) or site ID (API keys).
    id: Arc<str>,
    /// `wix-site-id`, for an API key's site.
    site: Option<HeaderValue>,
    /// The instance's access token (apps).
    pub(crate) token: TokenSlot,
    /// The pacing of its requests, when the client paces them.
    pub(crate) pacer: Pacer,
    /// Wix's read-your-writes token: the latest `X-Wix-Consistent` of a response for this site
    /// or instance, sent on its later requests (and never on another's).
    consistent: Mutex<Option<HeaderValue>>,
}

impl std::fmt::Debug for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The tokens are not shown.
        f.debug_struct("Tenant").field("id", &self.id).finish()
    }
}

impl Tenant {
    /// An app instance.
    pub(crate) fn instance(id: Arc<str>) -> Tenant {
        Tenant {
            id,
            site: None,
            token: TokenSlot::default(),
            pacer: Pacer::default(),
            consistent: Mutex::new(None),
        }
    }

    /// A site, for an API key; `site` is its `wix-site-id` (checked by the caller).
    pub(crate) fn site(id: Arc<str>, site: HeaderValue) -> Tenant {
        Tenant {
            site: Some(site),
            ..Tenant::instance(id)
        }
    }

    /// The instance ID or site ID.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// `wix-site-id`, for an API key's site.
    pub(crate) fn site_header(&self) -> Option<&HeaderValue> {
        self.site.as_ref()
    }

    /// About how many bytes this tenant takes: its ID, token, read-your-writes token, itself
    /// and its cache entry.
    pub(crate) fn bytes(&self) -> usize {
        let consistent = self
            .consistent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or(0, HeaderValue::len);
        std::mem::size_of::<Tenant>()
            + ENTRY_OVERHEAD
            + self.id.len()
            + self.site.as_ref().map_or(0, HeaderValue::len)
            + self.token.bytes()
            + consistent
    }

    /// The latest `X-Wix-Consistent` a response carried, to send on the next request.
    pub(crate) fn consistent(&self) -> Option<HeaderValue> {
        self.consistent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Keeps a response's `X-Wix-Consistent`.
    pub(crate) fn keep_consistent(&self, value: &HeaderValue) {
        let mut kept = self
            .consistent
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if value.len() > MAX_CONSISTENT {
            return;
        }
        if kept.as_ref() != Some(value) {
            // A copy: a response's header value shares the connection's read buffer (8 KiB
            // and more), which a clone would keep alive for as long as the instance is kept.
            let copy = HeaderValue::from_bytes(value.as_bytes());
            *kept = Some(copy.unwrap_or_else(|_| value.clone()));
        }
    }
}

/// Whether a [`Tenants`] cache holds sites or app instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Sites,
    Instances,
}

/// The sites or instances of a client, by ID: bounded by count and by bytes, least recently
/// used evicted first, and an instance whose token has expired dropped on its own.
///
/// Both bounds are one moka capacity: it counts slots of `max_bytes / capacity` bytes, and an
/// entry weighs the slots its [bytes](Tenant::bytes) fill (at least one). So at most `capacity`
/// entries are kept, and at most about `max_bytes` (one slot per entry more, at worst).
pub(crate) struct Tenants {
    cache: Cache<Arc<str>, Arc<Tenant>>,
    kind: Kind,
}

/// An instance whose token has expired is of no more use than a new one: it goes before the
/// least recently used.
struct UntilTokenExpires;

impl Expiry<Arc<str>, Arc<Tenant>> for UntilTokenExpires {
    fn expire_after_read(
        &self,
        _: &Arc<str>,
        tenant: &Arc<Tenant>,
        _: std::time::Instant,
        until_now: Option<Duration>,
        _: std::time::Instant,
    ) -> Option<Duration> {
        tenant.token.lifetime_left().or(until_now)
    }
}

impl Tenants {
    pub(crate) fn new(kind: Kind, capacity: u64, max_bytes: u64) -> Tenants {
        let slot = (max_bytes / capacity.max(1)).max(1);
        let mut cache = Cache::builder()
            .max_capacity(capacity)
            .weigher(move |_: &Arc<str>, tenant: &Arc<Tenant>| {
                let bytes = u64::try_from(tenant.bytes()).unwrap_or(u64::MAX);
                u32::try_from(bytes.div_ceil(slot).max(1)).unwrap_or(u32::MAX)
            })
            .eviction_policy(EvictionPolicy::lru());
        if kind == Kind::Instances {
            cache = cache.expire_after(UntilTokenExpires);
        }
        Tenants {
            cache: cache.build(),
            kind,
        }
    }

    /// The site or instance `id`, made on first use. For sites, `id` must be a valid header
    /// value (checked when the client for it was made).
    pub(crate) fn get(&self, id: &Arc<str>) -> Arc<Tenant> {
        if let Some(tenant) = self.cache.get(&**id) {
            return tenant;
        }
        let entry = self.cache.entry(id.clone()).or_insert_with(|| {
            Arc::new(match self.kind {
                Kind::Instances => Tenant::instance(id.clone()),
                Kind::Sites => match HeaderValue::from_str(id) {
                    Ok(site) => Tenant::site(id.clone(), site),
                    // Unreachable: `for_site` checks the ID. Without a site header, the call
                    // is refused by Wix, not sent elsewhere.
                    Err(_) => Tenant::instance(id.clone()),
                },
            })
        });
        if entry.is_fresh() {
            // The capacity holds at once, not when moka next tidies up.
            self.cache.run_pending_tasks();
        }
        entry.into_value()
    }

    /// Weighs the site or instance `id` again (its token changed), evicting others if it no
    /// longer fits.
    pub(crate) fn reweigh(&self, id: &Arc<str>) {
        if let Some(tenant) = self.cache.get(&**id) {
            self.cache.insert(id.clone(), tenant);
            self.cache.run_pending_tasks();
        }
    }

    /// Adds a site or instance made elsewhere (the one a client was built for), unless one
    /// with its ID is there.
    pub(crate) fn adopt(&self, tenant: &Arc<Tenant>) {
        let _ = self
            .cache
            .entry(tenant.id.clone())
            .or_insert_with(|| tenant.clone());
    }

    /// How many sites or instances are kept (after pending evictions).
    pub(crate) fn len(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }
}

impl std::fmt::Debug for Tenants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenants")
            .field("kind", &self.kind)
            .field("entries", &self.cache.entry_count())
            .finish()
    }
}
