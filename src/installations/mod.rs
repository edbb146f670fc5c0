//! Which sites the app is on: the app-instance lifecycle (App Instance Installed and Removed)
//! kept in an [`InstallationStore`].
//!
//! Wix tells an app that a site installed it with **App Instance Installed** and that the site
//! removed it with **App Instance Removed** (both plain webhook events: see
//! [`InboxEvent::AppInstanceInstalled`]). A site that removes the app and installs it again
//! keeps its instance ID; a site duplicated from another gets a new instance whose Installed
//! event names the original's (`originInstanceId`).
//!
//! Each instance's [`Installation`] keeps the time of its latest install and of its latest
//! removal: it is installed when the install is the later (a removal wins a tie). Applying an
//! event only ever moves these times forward, so events applied **in any order, any number of
//! times**, give the same record: a Removed that arrives before the Installed it follows does
//! not leave the instance installed, and a reinstall after a removal does. An event's time is
//! its [`event_time`](WebhookEvent::event_time): for these events the JWT's `iat`, when Wix
//! signed it (they carry no time of their own).
//!
//! [`InMemoryInstallations`] keeps them in the process; `RedisInstallations` (feature `redis`)
//! in one Redis for every process. [`App`](crate::App) applies the events, drops what it kept
//! for a removed instance and runs the app's `on_removed` hook: see
//! [`App::installations`](crate::App::installations).

mod memory;

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use memory::{InMemoryInstallations, DEFAULT_MAX_INSTALLATIONS};

use crate::types;
use crate::webhooks::{InboxEvent, WebhookEvent};

/// What an app-instance lifecycle event says happened.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lifecycle {
    /// The app was installed (App Instance Installed).
    Installed {
        /// The instance of the site this one's site was duplicated from, if it is a copy.
        origin_instance_id: Option<String>,
    },
    /// The app was removed (App Instance Removed).
    Removed,
}

/// An app-instance lifecycle event, as a store applies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstallationEvent {
    /// The instance the event is about.
    pub instance_id: String,
    /// What happened.
    pub lifecycle: Lifecycle,
    /// When it happened.
    pub at: DateTime<Utc>,
}

impl InstallationEvent {
    /// The lifecycle event a webhook event is, if it is one (App Instance Installed or Removed
    /// with an instance ID). Its time is the event's [`event_time`](WebhookEvent::event_time),
    /// or `received` when it has none.
    pub fn from_webhook(event: &WebhookEvent, received: DateTime<Utc>) -> Option<Self> {
        let lifecycle = match &event.event {
            InboxEvent::AppInstanceInstalled(body) => Lifecycle::Installed {
                origin_instance_id: body.origin_instance_id.clone().filter(|id| !id.is_empty()),
            },
            InboxEvent::AppInstanceRemoved(_) => Lifecycle::Removed,
            _ => return None,
        };
        Some(InstallationEvent {
            instance_id: event.instance_id.clone().filter(|id| !id.is_empty())?,
            lifecycle,
            at: event.event_time.unwrap_or(received),
        })
    }
}

/// What a store knows of one app instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Installation {
    /// The instance ID.
    pub instance_id: String,
    /// When the app was last installed on the site (the latest App Instance Installed).
    pub installed_at: Option<DateTime<Utc>>,
    /// When the app was last removed from the site (the latest App Instance Removed).
    pub removed_at: Option<DateTime<Utc>>,
    /// The instance of the site this site was duplicated from, if it is a copy (from the latest
    /// App Instance Installed that named one).
    pub origin_instance_id: Option<String>,
    /// The time of the event `origin_instance_id` came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    origin_at: Option<DateTime<Utc>>,
    /// The last instance data the app fetched (Get App Instance), if any.
    pub instance: Option<types::GetAppInstanceResponse>,
}

impl Installation {
    /// A record of an instance no event was applied to yet.
    pub fn new(instance_id: impl Into<String>) -> Self {
        Installation {
            instance_id: instance_id.into(),
            installed_at: None,
            removed_at: None,
            origin_instance_id: None,
            origin_at: None,
            instance: None,
        }
    }

    /// Whether the app is installed on the site now: it was installed, and not removed since
    /// (a removal at the same time as an install wins).
    pub fn is_installed(&self) -> bool {
        match (self.installed_at, self.removed_at) {
            (Some(installed), Some(removed)) => installed > removed,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// The instance this one is a copy of (its site was duplicated from that instance's), if
    /// any: the app may copy its per-site settings from there.
    pub fn copy_of(&self) -> Option<&str> {
        self.origin_instance_id.as_deref()
    }

    /// This record with `event` applied, and what changed. Only ever moves the times forward,
    /// so any order and any repetition of the same events give the same record.
    pub fn apply(previous: Option<&Installation>, event: &InstallationEvent) -> Applied {
        let mut next = previous
            .cloned()
            .unwrap_or_else(|| Installation::new(&event.instance_id));
        let later = |time: Option<DateTime<Utc>>| Some(time.map_or(event.at, |t| t.max(event.at)));
        match &event.lifecycle {
            Lifecycle::Installed { origin_instance_id } => {
                next.installed_at = later(next.installed_at);
                if let Some(origin) = origin_instance_id {
                    // The latest event that names an origin decides it; at the same time, the
                    // greater ID (any fixed rule keeps the order of events out of it).
                    let newer = match (next.origin_at, &next.origin_instance_id) {
                        (Some(at), Some(kept)) => (event.at, origin) > (at, kept),
                        _ => true,
                    };
                    if newer {
                        next.origin_instance_id = Some(origin.clone());
                        next.origin_at = Some(event.at);
                    }
                }
            }
            Lifecycle::Removed => next.removed_at = later(next.removed_at),
        }
        let was_installed = previous.is_some_and(Installation::is_installed);
        let change = match (was_installed, next.is_installed()) {
            (false, true) => Change::Installed {
                reinstall: previous.is_some_and(|p| p.removed_at.is_some()),
                copy_of: next.origin_instance_id.clone(),
            },
            // An instance never seen counts as installed until now: the app may hold data of
            // it from before the store.
            (true, false) => Change::Removed,
            (false, false)
                if previous.is_none_or(|p| p.removed_at.is_none()) && next.removed_at.is_some() =>
            {
                Change::Removed
            }
            _ => Change::Unchanged,
        };
        Applied {
            installation: next,
            change,
        }
    }
}

/// What applying an event changed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// The instance became installed.
    Installed {
        /// Whether the site had removed the app before (a reinstall; the instance ID is the
        /// same).
        reinstall: bool,
        /// The instance this one is a copy of (a duplicated site), if any.
        copy_of: Option<String>,
    },
    /// The instance stopped being installed: its site removed the app. Reported once per
    /// removal, by the one store call that recorded it.
    Removed,
    /// Nothing: a redelivery, or an event older than what the store knows.
    Unchanged,
}

/// The result of applying an event: the record now, and what changed.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Applied {
    /// The instance's record after the event.
    pub installation: Installation,
    /// What the event changed.
    pub change: Change,
}

/// A store that failed (a lost connection, a full store): nothing was recorded.
#[derive(Debug)]
pub struct InstallationError(pub(crate) Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for InstallationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the installation store failed: {}", self.0)
    }
}

impl std::error::Error for InstallationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// Where an app keeps its installations (see [the module docs](self)).
///
/// [`apply`](Self::apply) must be **atomic** per instance: the record it reads and the one it
/// writes are one step ([`Installation::apply`] decides), so that two processes applying events
/// of one instance at once each see the other's, and [`Change::Removed`] is reported to exactly
/// one of them per removal. Store failures are errors, never a guess.
pub trait InstallationStore: Send + Sync + 'static {
    /// Applies a lifecycle event: the record after it, and what changed.
    fn apply(
        &self,
        event: &InstallationEvent,
    ) -> impl Future<Output = Result<Applied, InstallationError>> + Send;

    /// Keeps the instance data the app fetched (Get App Instance) in the instance's record
    /// (made if there is none, with no install or removal time).
    fn remember(
        &self,
        instance_id: &str,
        data: &types::GetAppInstanceResponse,
    ) -> impl Future<Output = Result<Installation, InstallationError>> + Send;

    /// The record of one instance, if the store has one.
    fn get(
        &self,
        instance_id: &str,
    ) -> impl Future<Output = Result<Option<Installation>, InstallationError>> + Send;

    /// Every record, installed or removed, in no particular order.
    fn list(&self) -> impl Future<Output = Result<Vec<Installation>, InstallationError>> + Send;
}

impl<S: InstallationStore> InstallationStore for Arc<S> {
    fn apply(
        &self,
        event: &InstallationEvent,
    ) -> impl Future<Output = Result<Applied, InstallationError>> + Send {
        (**self).apply(event)
    }

    fn remember(
        &self,
        instance_id: &str,
        data: &types::GetAppInstanceResponse,
    ) -> impl Future<Output = Result<Installation, InstallationError>> + Send {
        (**self).remember(instance_id, data)
    }

    fn get(
        &self,
        instance_id: &str,
    ) -> impl Future<Output = Result<Option<Installation>, InstallationError>> + Send {
        (**self).get(instance_id)
    }

    fn list(&self) -> impl Future<Output = Result<Vec<Installation>, InstallationError>> + Send {
        (**self).list()
    }
}

/// A record with the instance data kept (the install and removal times untouched).
pub(crate) fn with_instance(
    previous: Option<&Installation>,
    instance_id: &str,
    data: &types::GetAppInstanceResponse,
) -> Installation {
    let mut next = previous
        .cloned()
        .unwrap_or_else(|| Installation::new(instance_id));
    next.instance = Some(data.clone());
    next
}
