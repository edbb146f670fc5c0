//! Building a [`Client`](crate::Client), and what it adds to the generated operations:
//! credentials, retries, bounded responses, typed errors.
//!
//! ```no_run
//! use wix_inbox::{types::MessageVisibility, AppCredentials};
//!
//! # async fn run() -> Result<(), wix_inbox::Error> {
//! // An API key of the site's account, with the site's ID ...
//! let client = wix_inbox::Client::builder()
//!     .api_key(std::env::var("WIX_API_KEY").unwrap_or_default())
//!     .site_id("0d3c7c5a-2d3b-4a8e-9d9a-7d1d2b6f2a41")
//!     .build()?;
//! // ... or an app's credentials, for the instance of the app on the site.
//! let app = wix_inbox::Client::builder()
//!     .app(AppCredentials {
//!         app_id: "app-id".into(),
//!         app_secret: std::env::var("WIX_APP_SECRET").unwrap_or_default(),
//!         instance_id: "instance-id".into(),
//!     })
//!     .build()?;
//!
//! let page = client
//!     .list_messages()
//!     .conversation_id("6202c3bb-f263-3c16-8c90-d6387d9ed420")
//!     .visibility(MessageVisibility::BusinessAndParticipant)
//!     .send()
//!     .await?;
//! # let _ = (app, page);
//! # Ok(()) }
//! ```
//!
//! # How a call flows
//!
//! The operations are generated from the spec; each one's `send()` builds its request, then the
//! credentials are added (an app token from the cache, or from the token endpoint when none is
//! fresh), and the request is sent and retried as the [`RetryPolicy`] says, each attempt in a
//! tracing span `wix_inbox.request` with the operation, attempt, method, status and request ID.
//! The response body is read whole, within
//! [`max_response_size`](ClientBuilder::max_response_size), before it is parsed. A failure is an
//! [`Error`](crate::Error), whose [`hint`](crate::Error::hint) says what to do about it.

// The layers, each module using only the ones before it in this list (ARCHITECTURE.md says
// more):
// - `http`: sending one request and reading its body within the limit, the request ID,
//   `Retry-After`, the retryable statuses, redaction of echoed credentials;
// - `operations`: the spec's name of each operation, and whether it may be repeated;
// - `policy`: `RetryPolicy`;
// - `error`: the `Error` type (printed with the crate's sanitiser, `crate::text`); `advice`:
//   `Error::hint`;
// - `call`: the record of the call in progress, and `convert`, which every `send()` goes
//   through to turn the generated error into an `Error`;
// - `attempts`: the one attempt-and-retry loop, for API calls and token requests;
// - `token`: the token endpoint call; `credentials`: API key or app, and an instance's token;
// - `pacing`: the pacing of one site's or instance's requests;
// - `tenant`: what is kept per site or instance, and the bounded cache of them;
// - `state`: `ClientState`, what a `Client` keeps; `hooks`: the generated client's `pre` and
//   `exec`; `builder`: `ClientBuilder`, `Client::for_site`.

mod advice;
mod attempts;
mod builder;
pub(crate) mod call;
mod credentials;
pub(crate) mod env;
pub(crate) mod error;
pub mod fleet;
mod hooks;
mod http;
mod operations;
mod pacing;
mod policy;
mod state;
mod tenant;
mod token;

pub(crate) use builder::{settings_setters, Settings};
pub use builder::{AppCredentials, ClientBuilder, DEFAULT_BASE_URL, USER_AGENT};
pub(crate) use credentials::Credentials;
pub(crate) use operations::Operation;
pub use policy::RetryPolicy;
pub use state::ClientState;
pub(crate) use tenant::{DEFAULT_CAPACITY, DEFAULT_MAX_BYTES};
pub(crate) use token::TokenEndpoint;
