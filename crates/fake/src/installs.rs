//! Sites installing and removing the app: App Instance Installed and Removed, signed and
//! delivered as Wix does, and the fake's answers after a removal.

use super::instances::InstanceIds;
use super::{webhooks, FakeInbox};
use wix_inbox::types::{AppInstanceInstalled, AppInstanceRemoved};

impl FakeInbox {
    /// A new site installs the app: a new instance (as [`add_instance`](Self::add_instance)),
    /// and App Instance Installed sent for it. Returns its instance ID.
    pub fn install(&self) -> String {
        self.install_with(None)
    }

    /// A site duplicated from the site of `origin_instance_id` installs the app: a new
    /// instance, and App Instance Installed sent for it with `originInstanceId`. Returns its
    /// instance ID.
    pub fn install_copy_of(&self, origin_instance_id: &str) -> String {
        self.install_with(Some(origin_instance_id.to_owned()))
    }

    fn install_with(&self, origin: Option<String>) -> String {
        let id = self.add_instance();
        let ids = {
            let mut state = self.inner.state();
            let ids = state.instances.iter_mut().find(|i| i.instance_id == id);
            let ids = ids.expect("just added");
            ids.origin = origin;
            ids.clone()
        };
        self.send_installed(&ids);
        id
    }

    /// The site of `instance_id` installs the app again after removing it (the same instance
    /// ID, as on Wix): App Instance Installed is sent, and its token requests are answered
    /// again. `false` (nothing sent) if the fake has no such instance or it is not removed.
    pub fn reinstall(&self, instance_id: &str) -> bool {
        let ids = {
            let mut state = self.inner.state();
            let Some(ids) = state
                .instances
                .iter_mut()
                .find(|i| i.instance_id == instance_id && i.removed)
            else {
                return false;
            };
            ids.removed = false;
            ids.clone()
        };
        self.send_installed(&ids);
        true
    }

    /// The site of `instance_id` removes the app: App Instance Removed is sent; the
    /// instance's access tokens stop working (401, as an unknown token) and its token requests
    /// are refused as for a site the app is not installed on (400 `INSTANCE_NOT_FOUND`: Wix
    /// documents no answer of its own for a removed instance). Its conversations stay. `false`
    /// (nothing sent) if the fake has no such instance or it is removed already.
    pub fn remove(&self, instance_id: &str) -> bool {
        let ids = {
            let mut state = self.inner.state();
            let Some(index) = state
                .instances
                .iter()
                .position(|i| i.instance_id == instance_id && !i.removed)
            else {
                return false;
            };
            state.instances[index].removed = true;
            state.tokens.retain(|_, token| token.instance != index);
            state.instances[index].clone()
        };
        let body = AppInstanceRemoved {
            app_id: Some(self.inner.config.app_id.clone()),
            ..Default::default()
        };
        webhooks::emit_plain(&self.inner, AppInstanceRemoved::EVENT_TYPE, &ids, &body);
        true
    }

    /// Whether the site of `instance_id` has the app installed now (`false` for an unknown
    /// instance).
    pub fn is_installed(&self, instance_id: &str) -> bool {
        let state = self.inner.state();
        state
            .instances
            .iter()
            .any(|i| i.instance_id == instance_id && !i.removed)
    }

    fn send_installed(&self, ids: &InstanceIds) {
        let body = AppInstanceInstalled {
            app_id: Some(self.inner.config.app_id.clone()),
            origin_instance_id: ids.origin.clone(),
            ..Default::default()
        };
        webhooks::emit_plain(&self.inner, AppInstanceInstalled::EVENT_TYPE, ids, &body);
    }
}
