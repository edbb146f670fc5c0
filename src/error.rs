//! The crate's one error type, [`Error`], which every operation's `send()` fails with.
//!
//! ```no_run
//! # async fn run(client: wix_inbox::Client) -> Result<(), wix_inbox::Error> {
//! let found = client.get_conversation().conversation_id("6202c3bb").send().await;
//! match found {
//!     Ok(response) => println!("{:?}", response.conversation),
//!     Err(e) if e.is_not_found() => println!("no such conversation"),
//!     Err(e) => {
//!         eprintln!("{e}");
//!         if let Some(hint) = e.hint() {
//!             eprintln!("{hint}");
//!         }
//!         return Err(e);
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! The generated code fails with progenitor's error; `send()` turns it into an [`Error`] and
//! completes it with what only the transport saw: how many attempts were made, the status and
//! request ID behind an unreadable body, and why an app token could not be had.
//!
//! An [`Error`] never holds a credential: not the API key, the app secret nor an access token
//! (an error response that echoes one has it replaced by `***`).

pub use crate::client::error::{Error, ErrorCode, ErrorKind};
