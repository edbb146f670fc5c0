//! [`App::installations`]: the sites the app is on, kept from the app-instance lifecycle
//! events, and the clean-up when a site removes the app.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::App;
use crate::installations::{
    Applied, Change, Installation, InstallationError, InstallationEvent, InstallationStore,
};
use crate::webhooks::WebhookEvent;
use crate::{types, Error};

/// What `on_removed` runs with: the instance whose site removed the app, and its record.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Removal {
    /// The instance ID.
    pub instance_id: String,
    /// The instance's record, with the removal in it.
    pub installation: Installation,
}

/// The app's hook for removals.
pub(super) type RemovedHook = Arc<dyn Fn(Removal) -> BoxFuture<'static, ()> + Send + Sync>;

/// Makes a hook of an async function.
pub(super) fn removed_hook<F, Fut>(hook: F) -> RemovedHook
where
    F: Fn(Removal) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |removal| hook(removal).boxed())
}

/// An [`InstallationStore`] behind a pointer (its futures boxed), as the app holds it.
pub(super) trait DynStore: Send + Sync {
    fn apply<'a>(
        &'a self,
        event: &'a InstallationEvent,
    ) -> BoxFuture<'a, Result<Applied, InstallationError>>;
    fn remember<'a>(
        &'a self,
        instance_id: &'a str,
        data: &'a types::GetAppInstanceResponse,
    ) -> BoxFuture<'a, Result<Installation, InstallationError>>;
    fn get<'a>(
        &'a self,
        instance_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Installation>, InstallationError>>;
    fn list(&self) -> BoxFuture<'_, Result<Vec<Installation>, InstallationError>>;
}

impl<S: InstallationStore> DynStore for S {
    fn apply<'a>(
        &'a self,
        event: &'a InstallationEvent,
    ) -> BoxFuture<'a, Result<Applied, InstallationError>> {
        InstallationStore::apply(self, event).boxed()
    }
    fn remember<'a>(
        &'a self,
        instance_id: &'a str,
        data: &'a types::GetAppInstanceResponse,
    ) -> BoxFuture<'a, Result<Installation, InstallationError>> {
        InstallationStore::remember(self, instance_id, data).boxed()
    }
    fn get<'a>(
        &'a self,
        instance_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Installation>, InstallationError>> {
        InstallationStore::get(self, instance_id).boxed()
    }
    fn list(&self) -> BoxFuture<'_, Result<Vec<Installation>, InstallationError>> {
        InstallationStore::list(self).boxed()
    }
}

/// The sites the app is on: see [`App::installations`].
#[derive(Clone, Copy)]
pub struct Installations<'a> {
    app: &'a App,
}

impl fmt::Debug for Installations<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Installations").finish_non_exhaustive()
    }
}

impl App {
    /// The sites the app is on, from the app-instance lifecycle events it was given
    /// ([`Installations::apply`]), in the app's [`InstallationStore`]
    /// ([`AppBuilder::installations`](super::AppBuilder::installations); in memory unless set).
    ///
    /// ```no_run
    /// # async fn run(app: wix_inbox::App, body: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
    /// use wix_inbox::installations::Change;
    ///
    /// let event = app.verify(body)?;
    /// if let Some(applied) = app.installations().apply(&event).await? {
    ///     if let Change::Installed { copy_of: Some(origin), .. } = &applied.change {
    ///         // A duplicated site: copy the app's settings of `origin` to the new instance.
    ///         println!("{} is a copy of {origin}", applied.installation.instance_id);
    ///     }
    ///     return Ok(()); // a lifecycle event, handled
    /// }
    /// # Ok(()) }
    /// ```
    pub fn installations(&self) -> Installations<'_> {
        Installations { app: self }
    }
}

/// Why [`Installations::refresh`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum RefreshError {
    /// Get App Instance failed.
    Api(Error),
    /// The store failed to keep the data.
    Store(InstallationError),
}

impl fmt::Display for RefreshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefreshError::Api(e) => write!(f, "the instance data could not be had: {e}"),
            RefreshError::Store(e) => write!(f, "the instance data could not be kept: {e}"),
        }
    }
}

impl std::error::Error for RefreshError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RefreshError::Api(e) => Some(e),
            RefreshError::Store(e) => Some(e),
        }
    }
}

impl Installations<'_> {
    /// Applies a webhook event if it is App Instance Installed or Removed (else `Ok(None)`,
    /// nothing done): records it in the store, in any order and any number of times (see
    /// [`crate::installations`]).
    ///
    /// When the event removes the instance, what the app kept for it (its access token, its
    /// `X-Wix-Consistent`, its pacing; with a [fleet](super::AppBuilder::fleet), the fleet's
    /// shared token and pacing too) is dropped at once, calls through it fail with
    /// [`ErrorKind::AppRemoved`](crate::ErrorKind::AppRemoved) and ask for no token, and the
    /// `on_removed` hook ([`AppBuilder::on_removed`](super::AppBuilder::on_removed)) runs, once
    /// per removal even when several processes share the store and apply the same event. When
    /// it installs the instance (again), calls through it work again.
    ///
    /// # Errors
    ///
    /// The store's: nothing was recorded, and the event should be handled again (a webhook
    /// receiver answers so that Wix redelivers it).
    pub async fn apply(self, event: &WebhookEvent) -> Result<Option<Applied>, InstallationError> {
        let Some(lifecycle) = InstallationEvent::from_webhook(event, chrono::Utc::now()) else {
            return Ok(None);
        };
        let inner = &self.app.0;
        let applied = inner.installations.apply(&lifecycle).await?;
        self.follow(&applied.installation);
        if applied.change == Change::Removed {
            if let Some(fleet) = inner.state.fleet() {
                // The fleet's shared token and pacing go too. Were it to fail, every process
                // still refuses the instance once it applied the event or synced.
                if let Err(e) = fleet.forget(&lifecycle.instance_id).await {
                    tracing::warn!(error = %e, "the fleet could not forget a removed instance");
                }
            }
            if let Some(hook) = &inner.on_removed {
                hook(Removal {
                    instance_id: lifecycle.instance_id.clone(),
                    installation: applied.installation.clone(),
                })
                .await;
            }
        }
        Ok(Some(applied))
    }

    /// Makes what the app keeps for the instance follow its record: dropped when removed.
    fn follow(&self, installation: &Installation) {
        let tenants = self.app.0.state.tenants();
        if installation.is_installed() {
            tenants.restore(&installation.instance_id);
        } else if installation.removed_at.is_some() {
            tenants.remove(&installation.instance_id);
        }
    }

    /// Reads every record of the store and drops what this process keeps for the removed
    /// instances, as [`apply`](Self::apply) does: for a process that calls Wix but is not
    /// the one receiving the webhooks. Returns how many instances are installed.
    ///
    /// # Errors
    ///
    /// The store's.
    pub async fn sync(self) -> Result<usize, InstallationError> {
        let all = self.app.0.installations.list().await?;
        all.iter()
            .for_each(|installation| self.follow(installation));
        Ok(all.iter().filter(|i| i.is_installed()).count())
    }

    /// Every instance the store knows, installed or removed.
    ///
    /// # Errors
    ///
    /// The store's.
    pub async fn list(self) -> Result<Vec<Installation>, InstallationError> {
        self.app.0.installations.list().await
    }

    /// The instances installed now.
    ///
    /// # Errors
    ///
    /// The store's.
    pub async fn installed(self) -> Result<Vec<Installation>, InstallationError> {
        let mut all = self.list().await?;
        all.retain(Installation::is_installed);
        Ok(all)
    }

    /// The record of one instance, if the store has one.
    ///
    /// # Errors
    ///
    /// The store's.
    pub async fn get(self, instance_id: &str) -> Result<Option<Installation>, InstallationError> {
        self.app.0.installations.get(instance_id).await
    }

    /// Whether the site of `instance_id` removed the app (as far as this process knows: from
    /// the events it applied and the last [`sync`](Self::sync)). No I/O.
    pub fn is_removed(&self, instance_id: &str) -> bool {
        self.app.0.state.tenants().is_removed(instance_id)
    }

    /// Fetches the instance's data (Get App Instance, with its token) and keeps it in its
    /// record as the last known.
    ///
    /// # Errors
    ///
    /// [`RefreshError::Api`] when the call fails (for a removed instance,
    /// [`ErrorKind::AppRemoved`](crate::ErrorKind::AppRemoved)); [`RefreshError::Store`] when the
    /// store does.
    pub async fn refresh(self, instance_id: &str) -> Result<Installation, RefreshError> {
        let data = self
            .app
            .instance(instance_id)
            .get_app_instance()
            .send()
            .await
            .map_err(RefreshError::Api)?
            .into_inner();
        self.app
            .0
            .installations
            .remember(instance_id, &data)
            .await
            .map_err(RefreshError::Store)
    }
}
