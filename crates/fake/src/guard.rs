//! The locked state of the fake ([`StateGuard`]).

use std::sync::MutexGuard;

use tokio::sync::Notify;

#[cfg(doc)]
use super::FakeInbox;
use super::State;

/// The locked state. Changing it (anything that needs `&mut State`) wakes whoever waits for a
/// change ([`FakeInbox::wait_until`]) when the lock is released; reading it does not.
pub(crate) struct StateGuard<'a> {
    pub(crate) guard: MutexGuard<'a, State>,
    pub(crate) changed: &'a Notify,
    pub(crate) dirty: bool,
}

impl std::ops::Deref for StateGuard<'_> {
    type Target = State;

    fn deref(&self) -> &State {
        &self.guard
    }
}

impl std::ops::DerefMut for StateGuard<'_> {
    fn deref_mut(&mut self) -> &mut State {
        self.dirty = true;
        &mut self.guard
    }
}

impl Drop for StateGuard<'_> {
    fn drop(&mut self) {
        if self.dirty {
            self.changed.notify_waiters();
        }
    }
}
