//! What a [`Client`](crate::Client) keeps beside the generated code.

use std::{fmt, sync::Arc};

use super::{credentials::Credentials, policy::RetryPolicy};

/// The state a [`Client`](crate::Client) keeps beside the generated code: its credentials (and
/// the cached app token), its retry policy and its response size limit. Made by
/// [`ClientBuilder::build`](crate::ClientBuilder::build); clones of a client share it.
#[derive(Clone)]
pub struct ClientState(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    credentials: Credentials,
    policy: RetryPolicy,
    max_response_size: usize,
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
        }))
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
        self.0.fmt(f)
    }
}
