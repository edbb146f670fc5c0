//! The fake's contacts and members, per app instance (site): what Contacts v4 and Members v1
//! would return, kept whole ([`Contact`], [`Member`] as the `FULL` fieldset gives them). Pure
//! logic, no HTTP, like [`store`](super::store): the routes and the lifecycle drivers both go
//! through it, under the fake's one lock.
//!
//! Records are in creation order; a contact merged away is gone, but Get Contact still finds
//! the contact it was merged into (as Wix documents).

use std::collections::HashMap;

use chrono::Utc;

use wix_inbox::types::{
    Contact, ContactEmail, ContactEmails, ContactInfo, ContactPhone, ContactPhones,
    GetContactResponseType, Member, MemberActivityStatus, MemberContact, MemberPrivacyStatus,
    MemberProfile, MemberStatus, PrimaryContactInfo,
};
use wix_inbox::wire::Int32;

use super::details::MemberDetails;

/// Why two contacts cannot be merged ([`FakeInstance::merge_contacts`](super::FakeInstance::merge_contacts)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MergeContactsError {
    /// The site has no contact with this ID.
    UnknownContact(String),
    /// The source is a site member, whom Wix never deletes: members can be targets only.
    SourceIsMember(String),
    /// A contact cannot be merged into itself.
    SameContact(String),
}

impl std::fmt::Display for MergeContactsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MergeContactsError::UnknownContact(id) => write!(f, "the site has no contact {id:?}"),
            MergeContactsError::SourceIsMember(id) => write!(
                f,
                "contact {id:?} is a site member: Wix merges members as targets only"
            ),
            MergeContactsError::SameContact(id) => {
                write!(f, "contact {id:?} cannot be merged into itself")
            }
        }
    }
}

impl std::error::Error for MergeContactsError {}

/// A record and the instance (site) it is of.
#[derive(Clone, Debug)]
struct Entry<T> {
    instance: usize,
    record: T,
}

#[derive(Default)]
pub(crate) struct Directory {
    /// Contacts in creation order.
    contacts: Vec<Entry<Contact>>,
    /// Members in creation order.
    members: Vec<Entry<Member>>,
    /// A contact merged away → the contact it was merged into (always a live one).
    merged: HashMap<(usize, String), String>,
}

fn guid() -> Option<String> {
    Some(uuid::Uuid::new_v4().to_string())
}

impl Directory {
    /// The contacts of `instance`, oldest first.
    pub(crate) fn contacts(&self, instance: usize) -> impl Iterator<Item = &Contact> {
        self.contacts
            .iter()
            .filter(move |e| e.instance == instance)
            .map(|e| &e.record)
    }

    /// The members of `instance`, oldest first.
    pub(crate) fn members(&self, instance: usize) -> impl Iterator<Item = &Member> {
        self.members
            .iter()
            .filter(move |e| e.instance == instance)
            .map(|e| &e.record)
    }

    fn contact_index(&self, instance: usize, id: &str) -> Option<usize> {
        self.contacts
            .iter()
            .position(|e| e.instance == instance && e.record.id.as_deref() == Some(id))
    }

    /// Get Contact: the contact, or the one it was merged into (`MERGED`).
    pub(crate) fn get_contact(
        &self,
        instance: usize,
        id: &str,
    ) -> Option<(Contact, GetContactResponseType)> {
        if let Some(i) = self.contact_index(instance, id) {
            return Some((
                self.contacts[i].record.clone(),
                GetContactResponseType::Regular,
            ));
        }
        let target = self.merged.get(&(instance, id.to_owned()))?;
        let i = self.contact_index(instance, target)?;
        Some((
            self.contacts[i].record.clone(),
            GetContactResponseType::Merged,
        ))
    }

    /// Get Member.
    pub(crate) fn get_member(&self, instance: usize, id: &str) -> Option<Member> {
        self.members(instance)
            .find(|m| m.id.as_deref() == Some(id))
            .cloned()
    }

    /// The first contact of `instance` that has one of `info`'s emails, or (without an email)
    /// one of its phones: the duplicate Create Contact refuses.
    pub(crate) fn duplicate_of(&self, instance: usize, info: &ContactInfo) -> Option<String> {
        let emails = emails_of(info);
        let phones = phones_of(info);
        self.contacts(instance)
            .find(|c| {
                let other = c.info.clone().unwrap_or_default();
                if emails.is_empty() {
                    phones_of(&other).iter().any(|p| phones.contains(p))
                } else {
                    let theirs = emails_of(&other);
                    emails
                        .iter()
                        .any(|e| theirs.iter().any(|t| t.eq_ignore_ascii_case(e)))
                }
            })
            .and_then(|c| c.id.clone())
    }

    /// Creates the contact `id` of `instance` with `info` (IDs of its emails and phones and
    /// the primary ones set as Wix sets them), or adds `info` to it if it exists (a name it
    /// lacks, emails and phones it does not have). Returns the contact as stored.
    pub(crate) fn upsert_contact(
        &mut self,
        instance: usize,
        id: &str,
        info: ContactInfo,
    ) -> Contact {
        let now = Utc::now();
        let i = match self.contact_index(instance, id) {
            Some(i) => i,
            None => {
                self.contacts.push(Entry {
                    instance,
                    record: Contact {
                        id: Some(id.to_owned()),
                        created_date: Some(now),
                        info: Some(ContactInfo::default()),
                        ..Default::default()
                    },
                });
                self.contacts.len() - 1
            }
        };
        let contact = &mut self.contacts[i].record;
        add_info(contact.info.get_or_insert_with(Default::default), info);
        contact.revision = Some(Int32(
            contact.revision.map_or(0, Int32::get).saturating_add(1),
        ));
        contact.updated_date = Some(now);
        set_primary_info(contact);
        contact.clone()
    }

    /// The contact `id` of `instance` exists, with `info` added to it (created if need be;
    /// left as it is when `info` is empty). The ID of a contact merged away stands for the
    /// contact it was merged into.
    pub(crate) fn ensure_contact(&mut self, instance: usize, id: &str, info: ContactInfo) {
        let id = match self.merged.get(&(instance, id.to_owned())) {
            Some(target) => target.clone(),
            None => id.to_owned(),
        };
        if !self.has_contact(instance, &id) || info != ContactInfo::default() {
            self.upsert_contact(instance, &id, info);
        }
    }

    /// Whether `instance` has the contact `id` (not merged away).
    pub(crate) fn has_contact(&self, instance: usize, id: &str) -> bool {
        self.contact_index(instance, id).is_some()
    }

    /// Whether the contact `id` of `instance` is a member's.
    pub(crate) fn is_member_contact(&self, instance: usize, id: &str) -> bool {
        self.members(instance)
            .any(|m| m.contact_id.as_deref() == Some(id))
    }

    /// Merges the contact `source` into `target` (both of `instance`, checked by the caller):
    /// the target keeps its data and gains the source's emails and phones it lacks (not
    /// primary), and a name if it had none; the source is deleted, and Get Contact with its ID
    /// (or the ID of one merged into it before) finds the target.
    pub(crate) fn merge_contacts(&mut self, instance: usize, source: &str, target: &str) {
        let Some(s) = self.contact_index(instance, source) else {
            return;
        };
        let removed = self.contacts.remove(s).record;
        let mut info = removed.info.unwrap_or_default();
        for item in info.emails.iter_mut().flat_map(|e| e.items.iter_mut()) {
            item.primary = Some(false);
        }
        for item in info.phones.iter_mut().flat_map(|p| p.items.iter_mut()) {
            item.primary = Some(false);
        }
        self.upsert_contact(instance, target, info);
        for (key, to) in self.merged.iter_mut() {
            if key.0 == instance && to == source {
                *to = target.to_owned();
            }
        }
        self.merged
            .insert((instance, source.to_owned()), target.to_owned());
    }

    /// Creates the member `details.id()` of `instance` for the contact `contact_id` (or gives
    /// an existing one the login email and nickname given), as `FULL` returns it.
    pub(crate) fn upsert_member(
        &mut self,
        instance: usize,
        contact_id: &str,
        details: &MemberDetails,
    ) -> Member {
        let now = Utc::now();
        let contact = self
            .get_contact(instance, contact_id)
            .map(|(c, _)| c)
            .unwrap_or_default();
        let info = contact.info.clone().unwrap_or_default();
        let name = info.name.clone().unwrap_or_default();
        let index = self
            .members
            .iter()
            .position(|e| e.instance == instance && e.record.id.as_deref() == Some(details.id()));
        let i = match index {
            Some(i) => i,
            None => {
                self.members.push(Entry {
                    instance,
                    record: Member {
                        id: Some(details.id().to_owned()),
                        status: Some(MemberStatus::Approved),
                        privacy_status: Some(MemberPrivacyStatus::Public),
                        activity_status: Some(MemberActivityStatus::Active),
                        created_date: Some(now),
                        ..Default::default()
                    },
                });
                self.members.len() - 1
            }
        };
        let member = &mut self.members[i].record;
        member.contact_id = Some(contact_id.to_owned());
        if let Some(login) = details.login() {
            member.login_email = Some(login.to_owned());
        }
        if member.login_email.is_none() {
            member.login_email = contact.primary_info.as_ref().and_then(|p| p.email.clone());
        }
        let mut member_contact = MemberContact {
            first_name: name.first.clone(),
            last_name: name.last.clone(),
            emails: emails_of(&info),
            phones: phones_of(&info),
            ..Default::default()
        };
        member_contact
            .extra
            .insert("contactId".into(), contact_id.into());
        member.contact = Some(member_contact);
        let nickname = details.nick().map(str::to_owned).or_else(|| {
            let full = [name.first.as_deref(), name.last.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let login = member.login_email.as_deref();
            let local = login.and_then(|e| e.split('@').next());
            Some(full)
                .filter(|f| !f.is_empty())
                .or(local.map(str::to_owned))
        });
        // The profile page's slug: the nickname's letters and digits, lower case.
        let slug = nickname.as_deref().map(|n| {
            let kept: String = n.chars().filter(char::is_ascii_alphanumeric).collect();
            kept.to_ascii_lowercase()
        });
        let profile = member.profile.get_or_insert_with(MemberProfile::default);
        if details.nick().is_some() || profile.nickname.is_none() {
            profile.nickname = nickname;
            profile.slug = slug;
        }
        member.updated_date = Some(now);
        member.clone()
    }
}

/// Adds `new` to `info`: a name it lacks, and the emails and phones it does not have, each
/// with an ID and a tag.
fn add_info(info: &mut ContactInfo, new: ContactInfo) {
    if info.name.is_none() {
        info.name = new.name;
    }
    let emails = info.emails.get_or_insert_with(ContactEmails::default);
    for mut email in new.emails.map(|e| e.items).unwrap_or_default() {
        let known = emails.items.iter().any(|e| {
            e.email
                .as_deref()
                .zip(email.email.as_deref())
                .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
        });
        if !known {
            email.id = email.id.or_else(guid);
            email.tag = email.tag.or(Some(wix_inbox::types::EmailTag::Untagged));
            emails.items.push(email);
        }
    }
    let phones = info.phones.get_or_insert_with(ContactPhones::default);
    for mut phone in new.phones.map(|p| p.items).unwrap_or_default() {
        if !phones.items.iter().any(|p| p.phone == phone.phone) {
            phone.id = phone.id.or_else(guid);
            phone.tag = phone.tag.or(Some(wix_inbox::types::PhoneTag::Untagged));
            phones.items.push(phone);
        }
    }
    for (key, value) in new.extra {
        info.extra.entry(key).or_insert(value);
    }
}

/// One primary email and phone (the first marked so, else the first), and `primaryInfo`.
fn set_primary_info(contact: &mut Contact) {
    let info = contact.info.get_or_insert_with(Default::default);
    let emails = info.emails.as_mut().map(|e| &mut e.items);
    let email = emails.and_then(|items| primary(items, |e: &mut ContactEmail| &mut e.primary));
    let email = email.and_then(|i| info.emails.as_ref()?.items[i].email.clone());
    let phones = info.phones.as_mut().map(|p| &mut p.items);
    let phone = phones.and_then(|items| primary(items, |p: &mut ContactPhone| &mut p.primary));
    let phone = phone.and_then(|i| info.phones.as_ref()?.items[i].phone.clone());
    contact.primary_info = (email.is_some() || phone.is_some()).then(|| PrimaryContactInfo {
        email,
        phone,
        ..Default::default()
    });
}

/// Marks one item primary (the first marked, else the first) and the others not; its index.
fn primary<T>(items: &mut [T], flag: impl Fn(&mut T) -> &mut Option<bool>) -> Option<usize> {
    let chosen = items
        .iter_mut()
        .position(|item| *flag(item) == Some(true))
        .or((!items.is_empty()).then_some(0))?;
    for (i, item) in items.iter_mut().enumerate() {
        *flag(item) = Some(i == chosen);
    }
    Some(chosen)
}

fn emails_of(info: &ContactInfo) -> Vec<String> {
    let items = info.emails.iter().flat_map(|e| &e.items);
    items.filter_map(|e| e.email.clone()).collect()
}

fn phones_of(info: &ContactInfo) -> Vec<String> {
    let items = info.phones.iter().flat_map(|p| &p.items);
    items.filter_map(|p| p.phone.clone()).collect()
}
