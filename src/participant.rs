//! Which ID addresses a conversation's participant.
//!
//! A participant's life on a site goes anonymous visitor → contact → member, though a step can be
//! skipped (a visitor can become a contact and a member at once):
//!
//! - an **anonymous visitor** has an `anonymousVisitorId` from the first visit;
//! - a visitor who gives contact details (a form, a purchase, signing up) becomes a **contact**
//!   of the site, with a `contactId`;
//! - a visitor or contact who registers becomes a **member**, with a `memberId`, and always also
//!   has a contact ID.
//!
//! When a participant changes type, Wix creates a new conversation and merges the old one into
//! it (the Conversations Merged webhook). So the conversation must be addressed by the most
//! advanced ID the participant has: **a member by member ID, a contact by contact ID, otherwise
//! the anonymous visitor ID** — and before sending, Get Or Create Conversation with that ID
//! gives the current conversation ID.
//!
//! The IDs to use arrive as the sender of a Message Sent To Business webhook
//! (`message.sender`, an [`IdentificationData`]); [`IdentificationData::participant_id`] picks
//! the right one. A sender that is the business (a `wixUserId`) or an app (an `appId`) is not a
//! participant and has none. An empty ID counts as absent.
//!
//! ```
//! use wix_inbox::types::{IdentificationData, ParticipantId};
//!
//! let sender = IdentificationData {
//!     contact_id: Some("c-1".into()),
//!     member_id: Some("m-1".into()),
//!     ..Default::default()
//! };
//! assert_eq!(sender.participant_id(), Some(ParticipantId::MemberId("m-1".into())));
//! ```

use std::fmt;

use crate::types::{IdentificationData, ParticipantId};

impl IdentificationData {
    /// The ID that addresses this sender's conversation: the member ID, else the contact ID, else
    /// the anonymous visitor ID; `None` for the business (`wixUserId`) or an app (`appId`).
    pub fn participant_id(&self) -> Option<ParticipantId> {
        let present = |id: &Option<String>| id.clone().filter(|id| !id.is_empty());
        present(&self.member_id)
            .map(ParticipantId::MemberId)
            .or_else(|| present(&self.contact_id).map(ParticipantId::ContactId))
            .or_else(|| present(&self.anonymous_visitor_id).map(ParticipantId::AnonymousVisitorId))
    }
}

/// Why an [`IdentificationData`] has no [`ParticipantId`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotAParticipant {
    /// The site owner or a contributor (`wixUserId`): the business side.
    BusinessUser,
    /// An app (`appId`).
    App,
    /// No ID at all.
    Anonymous,
}

impl fmt::Display for NotAParticipant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BusinessUser => "the sender is a Wix user of the business, not a participant",
            Self::App => "the sender is an app, not a participant",
            Self::Anonymous => "the sender has no member, contact or anonymous visitor ID",
        })
    }
}

impl std::error::Error for NotAParticipant {}

impl TryFrom<&IdentificationData> for ParticipantId {
    type Error = NotAParticipant;

    /// [`IdentificationData::participant_id`], saying why there is none.
    fn try_from(sender: &IdentificationData) -> Result<Self, NotAParticipant> {
        let present = |id: &Option<String>| id.as_deref().is_some_and(|id| !id.is_empty());
        sender
            .participant_id()
            .ok_or(if present(&sender.wix_user_id) {
                NotAParticipant::BusinessUser
            } else if present(&sender.app_id) {
                NotAParticipant::App
            } else {
                NotAParticipant::Anonymous
            })
    }
}
