//! What a [`Client`](crate::Client) keeps beside the generated code.

use std::{
    fmt,
    sync::{Arc, Mutex, PoisonError},
};

use reqwest::header::HeaderValue;

use super::{credentials::Credentials, policy::RetryPolicy};

/// The state a [`Client`](crate::Client) keeps beside the generated code: its credentials (and
/// the cached app token), its retry policy, its response size limit, and Wix's latest
/// read-your-writes token (`X-Wix-Consistent`). Made by
/// [`ClientBuilder::build`](crate::ClientBuilder::build); clones of a client share it, and
/// nothing else does: two clients (for two sites or app instances) never see each other's.
#[derive(Clone)]
pub struct ClientState(Arc<Shared>);

struct Shared {
    credentials: Credentials,
    policy: RetryPolicy,
    max_response_size: usize,
    /// The latest `X-Wix-Consistent` of a response to this client.
    consistent: Mutex<Option<HeaderValue>>,
}

impl ClientState {
    pub(crate) fn new(
        credentials: Credentials,
        policy: RetryPolicy,
        max_response_size: usize,
    ) -> Self {
        Self(Arc::new(Shared {
            credentials,
            policy,
            max_response_size,
            consistent: Mutex::new(None),
        }))
    }

    /// The latest `X-Wix-Consistent` a response carried, to send on the next request.
    pub(crate) fn consistent(&self) -> Option<HeaderValue> {
        self.0
            .consistent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Keeps a response's `X-Wix-Consistent`.
    pub(crate) fn keep_consistent(&self, value: &HeaderValue) {
        let mut kept = self
            .0
            .consistent
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if kept.as_ref() != Some(value) {
            *kept = Some(value.clone());
        }
    }

    pub(crate) fn credentials(&self) -> &Credentials {
        &self.0.credentials
    }

    pub(crate) fn policy(&self) -> &RetryPolicy {
        &self.0.policy
    }

    pub(crate) fn max_response_size(&self) -> usize {
        self.0.max_response_size
    }
}

impl fmt::Debug for ClientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The read-your-writes token is left out: it is not a credential, but nothing to show.
        f.debug_struct("ClientState")
            .field("credentials", &self.0.credentials)
            .field("policy", &self.0.policy)
            .field("max_response_size", &self.0.max_response_size)
            .finish_non_exhaustive()
    }
}
