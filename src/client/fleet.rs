//! What the processes of one app share about its instances, so that the whole fleet acts as one
//! client: **one access token per instance** (one token request at a time across processes, the
//! others reading its result) and **one pacing per instance** (200 calls a minute for the fleet,
//! not per process).
//!
//! The store is a [`FleetStore`]; [`RedisFleet`](crate::redis::RedisFleet) (feature `redis`) is
//! the one the crate ships. An [`App`](crate::App) uses it when given one
//! ([`AppBuilder::fleet`](crate::AppBuilder::fleet)); each process still keeps the tokens it
//! got in front of it, so a call whose token is cached locally costs no round trip.
//!
//! A store that fails (Redis down, slow) never fails a call: the process falls back to what it
//! does alone (its own token request, its own pacing), and says so in a warning. The fleet's
//! guarantees hold again once the store answers.

use std::fmt;
use std::time::Duration;

use futures_util::future::BoxFuture;

/// A token as the fleet keeps it: its `Authorization` value and how long it is good for.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedToken {
    /// The `Authorization` value (the raw access token). Never shown by `Debug`.
    pub authorization: String,
    /// How long until it should be renewed (its renewal margin already taken off).
    pub renew_in: Duration,
    /// How long until it expires.
    pub expires_in: Duration,
}

impl fmt::Debug for SharedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedToken")
            .field("authorization", &"<redacted>")
            .field("renew_in", &self.renew_in)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// The right to request an instance's token for the fleet, held by one process at a time until
/// it ends ([`FleetStore::finish_fetch`]) or its lease runs out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchLease(pub String);

/// A fleet store that failed: the process goes on alone for this call.
#[derive(Debug)]
pub struct FleetError(pub Box<dyn std::error::Error + Send + Sync>);

impl fmt::Display for FleetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the fleet store failed: {}", self.0)
    }
}

impl std::error::Error for FleetError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// Where the processes of one app keep its instances' tokens and pacing. Every method is one
/// atomic step of the store; see [`RedisFleet`](crate::redis::RedisFleet).
pub trait FleetStore: Send + Sync + 'static {
    /// The instance's token, if the fleet has one that is not yet due for renewal.
    fn token<'a>(
        &'a self,
        instance_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<SharedToken>, FleetError>>;

    /// Takes the right to request the instance's token for `lease`, or `None` when another
    /// process holds it.
    fn begin_fetch<'a>(
        &'a self,
        instance_id: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<FetchLease>, FleetError>>;

    /// Ends a fetch: keeps `token` (when the request succeeded) and gives the right up, if
    /// `lease` still holds it.
    fn finish_fetch<'a>(
        &'a self,
        instance_id: &'a str,
        lease: FetchLease,
        token: Option<&'a SharedToken>,
    ) -> BoxFuture<'a, Result<(), FleetError>>;

    /// Reserves the instance's next request slot in a rate of one request every `interval`,
    /// at most `period` ahead (the GCRA, as the local pacing): how long the caller must wait.
    fn reserve<'a>(
        &'a self,
        instance_id: &'a str,
        interval: Duration,
        period: Duration,
    ) -> BoxFuture<'a, Result<Duration, FleetError>>;

    /// Drops what the fleet keeps for the instance (its token, its pacing): the app was removed
    /// from that site.
    fn forget<'a>(&'a self, instance_id: &'a str) -> BoxFuture<'a, Result<(), FleetError>>;
}
