//! What a visitor gives when they become a contact, and a contact when they register as a
//! member: the inputs of the fake's lifecycle drivers. A bare ID converts into either, so
//! `fake.visitor_becomes_contact("v-1", "c-1")` keeps working; the builders add the details
//! Wix would store (name, emails, phones; the login email).

use wix_inbox::types::{
    ContactEmail, ContactEmails, ContactInfo, ContactName, ContactPhone, ContactPhones,
};

/// A bare ID converts into the details of that ID (none given).
macro_rules! from_id {
    ($details:ident) => {
        impl From<&str> for $details {
            fn from(id: &str) -> Self {
                $details::new(id)
            }
        }

        impl From<String> for $details {
            fn from(id: String) -> Self {
                $details::new(id)
            }
        }

        impl From<&String> for $details {
            fn from(id: &String) -> Self {
                $details::new(id.as_str())
            }
        }
    };
}

/// A contact's ID and the details a visitor gave (a form, a chat's "leave your details"): what
/// [`FakeInstance::visitor_becomes_contact`](super::FakeInstance::visitor_becomes_contact) stores as
/// the contact, which Query Contacts then finds.
///
/// ```
/// use wix_inbox_fake::ContactDetails;
///
/// let jane = ContactDetails::new("c-1")
///     .name("Jane", "Doe")
///     .email("jane@example.com")
///     .phone("+47 912 34 567");
/// assert_eq!(jane.id(), "c-1");
/// // A bare ID is a contact with no details.
/// assert_eq!(ContactDetails::from("c-2").info().emails, None);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContactDetails {
    id: String,
    info: ContactInfo,
}

impl ContactDetails {
    /// A contact with this ID and no details yet.
    pub fn new(id: impl Into<String>) -> Self {
        ContactDetails {
            id: id.into(),
            info: ContactInfo::default(),
        }
    }

    /// The contact's first and last name.
    pub fn name(mut self, first: impl Into<String>, last: impl Into<String>) -> Self {
        self.info.name = Some(ContactName {
            first: Some(first.into()),
            last: Some(last.into()),
            ..Default::default()
        });
        self
    }

    /// One more email address (the first one given is the primary one).
    pub fn email(mut self, email: impl Into<String>) -> Self {
        let emails = self.info.emails.get_or_insert_with(ContactEmails::default);
        emails.items.push(ContactEmail {
            email: Some(email.into()),
            ..Default::default()
        });
        self
    }

    /// One more phone number, as entered (the first one given is the primary one).
    pub fn phone(mut self, phone: impl Into<String>) -> Self {
        let phones = self.info.phones.get_or_insert_with(ContactPhones::default);
        phones.items.push(ContactPhone {
            phone: Some(phone.into()),
            ..Default::default()
        });
        self
    }

    /// The contact ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The details, in the shape Create Contact takes them.
    pub fn info(&self) -> &ContactInfo {
        &self.info
    }

    pub(crate) fn into_parts(self) -> (String, ContactInfo) {
        (self.id, self.info)
    }
}

from_id!(ContactDetails);

/// A member's ID and what they registered with: what
/// [`FakeInstance::contact_becomes_member`](super::FakeInstance::contact_becomes_member) stores as
/// the member, which Query Members then finds.
///
/// Without a login email, the member logs in with their contact's primary email (as a visitor
/// who registers with the email they gave before).
///
/// ```
/// use wix_inbox_fake::MemberDetails;
///
/// let member = MemberDetails::new("m-1").login_email("jane@example.com").nickname("Jane");
/// assert_eq!(member.id(), "m-1");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberDetails {
    id: String,
    login_email: Option<String>,
    nickname: Option<String>,
}

impl MemberDetails {
    /// A member with this ID.
    pub fn new(id: impl Into<String>) -> Self {
        MemberDetails {
            id: id.into(),
            ..Default::default()
        }
    }

    /// The email the member logs in with.
    pub fn login_email(mut self, email: impl Into<String>) -> Self {
        self.login_email = Some(email.into());
        self
    }

    /// The profile's nickname (by default the contact's name, else the login email's local
    /// part).
    pub fn nickname(mut self, nickname: impl Into<String>) -> Self {
        self.nickname = Some(nickname.into());
        self
    }

    /// The member ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn login(&self) -> Option<&str> {
        self.login_email.as_deref()
    }

    pub(crate) fn nick(&self) -> Option<&str> {
        self.nickname.as_deref()
    }
}

from_id!(MemberDetails);
