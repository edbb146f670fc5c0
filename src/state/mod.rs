//! What an app keeps per conversation, following merges, and replies that are never sent twice.
//!
//! - [`ConversationStates`]: a typed state per conversation (a count, a dialogue step) whose
//!   entries move with Conversations Merged, merged by a function the app gives;
//! - [`Replies`]: "the reply to event E" sent once, however often Wix delivers E, even after a
//!   crash between Send Message and its answer; and the app's own messages recognised by the
//!   IDs it sent, for apps whose messages carry no `appId` (API keys).
//!
//! Both keep their data in a [`StateStore`]: [`InMemoryStateStore`] in this process, or
//! `wix_inbox::redis::RedisStateStore` (feature `redis`) shared by several processes.
//!
//! ```
//! use wix_inbox::state::{ConversationStates, Replies};
//! use wix_inbox::webhooks::{InboxEvent, WebhookEvent};
//!
//! async fn on_event(
//!     app: &wix_inbox::App,
//!     counts: &ConversationStates<u64>,
//!     replies: &Replies,
//!     event: WebhookEvent,
//! ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//!     counts.apply_event(&event).await?; // a merge moves the counts
//!     let InboxEvent::MessageSentToBusiness(sent) = &event.event else { return Ok(()) };
//!     if replies.is_own_message(&event).await? {
//!         return Ok(());
//!     }
//!     let n = counts.update_for(&event, |n| { *n += 1; *n }).await?;
//!     let text = format!("Message {n}: {}", sent.plain_text().unwrap_or_default());
//!     let reply = wix_inbox::types::Message::reply(text);
//!     replies.reply(&app.client_for(&event)?, &event, reply).await?;
//!     Ok(())
//! }
//! ```

mod conversation;
mod memory;
mod replies;
mod store;

pub use conversation::ConversationStates;
pub use memory::{InMemoryStateStore, DEFAULT_REMEMBERED, REMEMBER_FOR};
pub use replies::{Replies, ReplyError, ReplyOutcome, DEFAULT_SCAN};
pub use store::{Entry, StateError, StateStore, MAX_KEY, MAX_VALUE};
