//! The fake's data: participants (with the IDs they have had), conversations and messages, of
//! every app instance (site) the fake serves. Pure logic, no HTTP: the server and the test
//! drivers both go through it, under one lock.
//!
//! A participant belongs to one instance (the same visitor ID on two sites is two people); a
//! conversation belongs to its participant's instance. Conversation IDs are GUIDs, unique
//! across instances: what takes a conversation ID finds it whichever instance it is of, and
//! [`Store::instance_of`] tells which.

use std::collections::HashMap;

use chrono::Utc;

use wix_inbox::types::{
    Conversation, ConversationsMerged, IdentificationData, IdentityType, Message,
    MessageVisibility, ParticipantId, SortOrder, WebhookIdentity,
};

/// One ID a participant is known by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Visitor(String),
    Contact(String),
    Member(String),
}

impl From<&ParticipantId> for Key {
    fn from(id: &ParticipantId) -> Self {
        match id {
            ParticipantId::AnonymousVisitorId(v) => Key::Visitor(v.clone()),
            ParticipantId::ContactId(c) => Key::Contact(c.clone()),
            ParticipantId::MemberId(m) => Key::Member(m.clone()),
        }
    }
}

/// A site visitor, contact or member: every ID they have, and their current conversation.
#[derive(Clone, Debug, Default)]
struct Person {
    /// The instance (site) they are a participant of.
    instance: usize,
    visitor: Option<String>,
    contact: Option<String>,
    member: Option<String>,
    conversation: Option<String>,
}

impl Person {
    fn with(instance: usize, key: &Key) -> Person {
        let mut p = Person {
            instance,
            ..Person::default()
        };
        match key {
            Key::Visitor(v) => p.visitor = Some(v.clone()),
            Key::Contact(c) => p.contact = Some(c.clone()),
            Key::Member(m) => p.member = Some(m.clone()),
        }
        p
    }

    /// The participant as Wix names it: a member by member ID (with the contact ID beside it),
    /// a contact by contact ID, otherwise the anonymous visitor ID.
    fn identification(&self) -> IdentificationData {
        let mut id = IdentificationData::default();
        if self.member.is_some() {
            id.member_id = self.member.clone();
            id.contact_id = self.contact.clone();
        } else if self.contact.is_some() {
            id.contact_id = self.contact.clone();
        } else {
            id.anonymous_visitor_id = self.visitor.clone();
        }
        id
    }

    /// Who the participant is in a webhook's `identity`.
    fn webhook_identity(&self) -> WebhookIdentity {
        let mut identity = WebhookIdentity::default();
        if let Some(member) = &self.member {
            identity.identity_type = Some(IdentityType::Member);
            identity.member_id = Some(member.clone());
        } else if let Some(visitor) = &self.visitor {
            identity.identity_type = Some(IdentityType::AnonymousVisitor);
            identity.anonymous_visitor_id = Some(visitor.clone());
        } else {
            identity.identity_type = Some(IdentityType::Unknown);
        }
        identity
    }

    /// The ID the participant is addressed by: the member ID, else the contact ID, else the
    /// visitor ID.
    fn address(&self) -> Option<Key> {
        self.keys().pop()
    }

    fn keys(&self) -> Vec<Key> {
        let mut keys = Vec::new();
        keys.extend(self.visitor.clone().map(Key::Visitor));
        keys.extend(self.contact.clone().map(Key::Contact));
        keys.extend(self.member.clone().map(Key::Member));
        keys
    }
}

#[derive(Clone, Debug)]
struct Conv {
    /// The instance (site) it is of.
    instance: usize,
    participant: IdentificationData,
    person: usize,
    /// Sorted by sequence, ascending.
    messages: Vec<Message>,
    merged_into: Option<String>,
}

/// Why a conversation cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Missing {
    /// Never existed.
    Unknown,
    /// Merged into another conversation (a participant changed type).
    Merged,
}

/// A participant's message, as stored.
pub(crate) struct Written {
    pub(crate) conversation_id: String,
    pub(crate) message: Message,
    pub(crate) identity: WebhookIdentity,
}

/// A page of List Messages.
pub(crate) struct Page {
    pub(crate) messages: Vec<Message>,
    pub(crate) last_sequence_if_more: Option<i64>,
}

#[derive(Default)]
pub(crate) struct Store {
    people: Vec<Person>,
    /// Who each ID names, per instance.
    index: HashMap<(usize, Key), usize>,
    conversations: HashMap<String, Conv>,
    /// Conversation IDs in creation order.
    order: Vec<String>,
    last_sequence: i64,
}

impl Store {
    fn person_for(&mut self, instance: usize, key: &Key) -> usize {
        let indexed = (instance, key.clone());
        if let Some(&p) = self.index.get(&indexed) {
            return p;
        }
        self.people.push(Person::with(instance, key));
        let p = self.people.len() - 1;
        self.index.insert(indexed, p);
        p
    }

    /// Who `key` names on `instance`.
    fn person(&self, instance: usize, key: &Key) -> Option<usize> {
        self.index.get(&(instance, key.clone())).copied()
    }

    fn new_conversation(&mut self, person: usize) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.conversations.insert(
            id.clone(),
            Conv {
                instance: self.people[person].instance,
                participant: self.people[person].identification(),
                person,
                messages: Vec::new(),
                merged_into: None,
            },
        );
        self.order.push(id.clone());
        self.people[person].conversation = Some(id.clone());
        id
    }

    fn wire(&self, id: &str, conv: &Conv) -> Conversation {
        Conversation {
            id: Some(id.to_owned()),
            participant: Some(conv.participant.clone()),
            ..Default::default()
        }
    }

    /// Get Or Create Conversation: the current conversation of whoever `key` names on
    /// `instance` (any ID the participant has had), created on first use. The flag is `true`
    /// when it was created.
    pub(crate) fn get_or_create(&mut self, instance: usize, key: &Key) -> (Conversation, bool) {
        let person = self.person_for(instance, key);
        let (id, created) = match self.people[person].conversation.clone() {
            Some(id) => (id, false),
            None => (self.new_conversation(person), true),
        };
        (self.wire(&id, &self.conversations[&id]), created)
    }

    /// A conversation that can be used (exists and was not merged away).
    pub(crate) fn conversation(&self, id: &str) -> Result<Conversation, Missing> {
        match self.conversations.get(id) {
            None => Err(Missing::Unknown),
            Some(c) if c.merged_into.is_some() => Err(Missing::Merged),
            Some(c) => Ok(self.wire(id, c)),
        }
    }

    /// The instance a conversation is of (merged ones included).
    pub(crate) fn instance_of(&self, id: &str) -> Option<usize> {
        self.conversations.get(id).map(|c| c.instance)
    }

    /// Every conversation of `instance`, merged ones included, in creation order.
    pub(crate) fn conversations_of(&self, instance: usize) -> Vec<Conversation> {
        self.order
            .iter()
            .filter(|id| self.conversations[*id].instance == instance)
            .map(|id| self.wire(id, &self.conversations[id]))
            .collect()
    }

    /// Every conversation, merged ones included, in creation order.
    pub(crate) fn all_conversations(&self) -> Vec<Conversation> {
        self.order
            .iter()
            .map(|id| self.wire(id, &self.conversations[id]))
            .collect()
    }

    /// Where a merged conversation went (following merges to the end).
    pub(crate) fn merged_into(&self, id: &str) -> Option<String> {
        let mut target = self.conversations.get(id)?.merged_into.clone()?;
        while let Some(next) = self
            .conversations
            .get(&target)
            .and_then(|c| c.merged_into.clone())
        {
            target = next;
        }
        Some(target)
    }

    /// The participant of a usable conversation.
    pub(crate) fn participant(&self, id: &str) -> Result<IdentificationData, Missing> {
        self.conversation(id)
            .map(|c| c.participant.unwrap_or_default())
    }

    /// The participant of a conversation as a webhook identity.
    pub(crate) fn participant_identity(&self, id: &str) -> WebhookIdentity {
        self.conversations
            .get(id)
            .map(|c| self.people[c.person].webhook_identity())
            .unwrap_or_default()
    }

    /// The next message sequence: strictly increasing, close to the time in microseconds
    /// (as Wix's are).
    fn next_sequence(&mut self) -> i64 {
        let now = Utc::now().timestamp_micros();
        self.last_sequence = now.max(self.last_sequence + 1);
        self.last_sequence
    }

    /// Stores `message` in the usable conversation `id`, giving it its ID, sequence and date.
    pub(crate) fn append(&mut self, id: &str, mut message: Message) -> Result<Message, Missing> {
        self.conversation(id)?;
        let sequence = self.next_sequence();
        message.id = Some(sequence.to_string());
        message.sequence = Some(sequence.to_string());
        message.created_date = Some(Utc::now());
        let conv = self.conversations.get_mut(id).expect("checked above");
        conv.messages.push(message.clone());
        Ok(message)
    }

    /// A participant of `instance` writes: into their current conversation (created if need
    /// be), as whoever they are now.
    pub(crate) fn participant_writes(
        &mut self,
        instance: usize,
        key: &Key,
        mut message: Message,
    ) -> Written {
        let (conversation, _) = self.get_or_create(instance, key);
        let conversation_id = conversation.id.expect("stored conversations have IDs");
        let person = self.index[&(instance, key.clone())];
        message.sender = Some(self.people[person].identification());
        let message = self
            .append(&conversation_id, message)
            .expect("a person's current conversation is usable");
        Written {
            conversation_id,
            message,
            identity: self.people[person].webhook_identity(),
        }
    }

    /// A participant of `instance` gets new IDs (`contact` and/or `member`; or, merged into
    /// another contact, that one's ID): a new conversation is created when they are addressed
    /// by another ID than before, and every conversation the participant (or whoever already
    /// had the new IDs on that instance) had is merged into it, or into the conversation of
    /// whoever already had them, messages in chronological order. `None` when there was
    /// nothing to merge.
    pub(crate) fn convert(
        &mut self,
        instance: usize,
        from: &Key,
        contact: Option<&str>,
        member: Option<&str>,
    ) -> (Option<ConversationsMerged>, WebhookIdentity) {
        let source = self.person_for(instance, from);
        let new_keys: Vec<Key> = member
            .map(|m| Key::Member(m.to_owned()))
            .into_iter()
            .chain(contact.map(|c| Key::Contact(c.to_owned())))
            .collect();
        // Someone who already has one of the new IDs (say the app created the contact's
        // conversation first) is the same participant: they are merged together.
        let existing = new_keys
            .iter()
            .filter_map(|k| self.person(instance, k))
            .find(|&p| p != source);
        let target = existing.unwrap_or(source);
        let before = self.people[target].address();
        let absorbed: Vec<usize> = [source]
            .into_iter()
            .chain(new_keys.iter().filter_map(|k| self.person(instance, k)))
            .filter(|&p| p != target)
            .collect();

        let mut old: Vec<String> = Vec::new();
        for &p in &absorbed {
            let other = std::mem::take(&mut self.people[p]);
            let t = &mut self.people[target];
            if t.visitor.is_none() {
                t.visitor = other.visitor;
            }
            if t.contact.is_none() {
                t.contact = other.contact;
            }
            if t.member.is_none() {
                t.member = other.member;
            }
            old.extend(other.conversation);
            for k in self.index.values_mut() {
                if *k == p {
                    *k = target;
                }
            }
        }
        {
            let t = &mut self.people[target];
            if let Some(c) = contact {
                t.contact = Some(c.to_owned());
            }
            if let Some(m) = member {
                t.member = Some(m.to_owned());
            }
        }
        for k in self.people[target].keys() {
            self.index.insert((instance, k), target);
        }
        let identity = self.people[target].webhook_identity();
        // The participant is addressed by another ID now (another type, or the contact they
        // were merged into): Wix starts a new conversation.
        let renamed = self.people[target].address() != before;
        let target_conv = match self.people[target].conversation.clone() {
            Some(current) if renamed => {
                old.insert(0, current);
                None
            }
            other => other,
        };
        if old.is_empty() {
            if let Some(t) = &target_conv {
                let participant = self.people[target].identification();
                if let Some(c) = self.conversations.get_mut(t) {
                    c.participant = participant;
                }
            }
            return (None, identity);
        }
        let target_conv = match target_conv {
            Some(t) => t,
            None => self.new_conversation(target),
        };
        let participant = self.people[target].identification();
        let mut moved = Vec::new();
        for id in &old {
            let c = self.conversations.get_mut(id).expect("known conversation");
            c.merged_into = Some(target_conv.clone());
            moved.append(&mut c.messages);
        }
        let t = self
            .conversations
            .get_mut(&target_conv)
            .expect("target exists");
        t.participant = participant;
        t.person = target;
        t.messages.append(&mut moved);
        t.messages.sort_by_key(sequence_of);
        self.people[target].conversation = Some(target_conv.clone());
        (
            Some(ConversationsMerged {
                old_conversation_ids: old,
                target_conversation_id: Some(target_conv),
                ..Default::default()
            }),
            identity,
        )
    }

    /// The messages of a conversation, oldest first (a merged conversation has none left).
    pub(crate) fn messages(&self, id: &str) -> Vec<Message> {
        self.conversations
            .get(id)
            .map(|c| c.messages.clone())
            .unwrap_or_default()
    }

    /// One page of List Messages: visible messages in `order`, after `after` (a sequence),
    /// at most `limit`.
    pub(crate) fn page(
        &self,
        id: &str,
        visibility: &MessageVisibility,
        order: &SortOrder,
        after: Option<i64>,
        limit: usize,
    ) -> Result<Page, Missing> {
        self.conversation(id)?;
        let conv = &self.conversations[id];
        let visible = conv.messages.iter().filter(|m| match visibility {
            MessageVisibility::Business => true,
            _ => m.visibility == Some(MessageVisibility::BusinessAndParticipant),
        });
        let ascending = !matches!(order, SortOrder::Desc);
        let mut sorted: Vec<&Message> = visible.collect();
        if !ascending {
            sorted.reverse();
        }
        let rest = sorted.into_iter().filter(|m| match after {
            None => true,
            Some(a) if ascending => sequence_of(m) > a,
            Some(a) => sequence_of(m) < a,
        });
        let mut messages: Vec<Message> = rest.take(limit + 1).cloned().collect();
        let more = messages.len() > limit;
        messages.truncate(limit);
        let last_sequence_if_more = if more {
            messages.last().map(sequence_of)
        } else {
            None
        };
        Ok(Page {
            messages,
            last_sequence_if_more,
        })
    }

    /// The current conversation, identification and webhook identity of whoever `key` names
    /// on `instance`, if they have a conversation.
    pub(crate) fn whois(
        &self,
        instance: usize,
        key: &Key,
    ) -> Option<(String, IdentificationData, WebhookIdentity)> {
        let person = &self.people[self.person(instance, key)?];
        Some((
            person.conversation.clone()?,
            person.identification(),
            person.webhook_identity(),
        ))
    }

    /// The ID of the current conversation of whoever `key` names on `instance`, if they have
    /// one.
    pub(crate) fn current_conversation(&self, instance: usize, key: &Key) -> Option<String> {
        let p = self.person(instance, key)?;
        self.people[p].conversation.clone()
    }
}

fn sequence_of(m: &Message) -> i64 {
    m.sequence
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &str) -> Message {
        Message {
            visibility: Some(MessageVisibility::BusinessAndParticipant),
            content: Some(wix_inbox::types::MessageContent {
                preview_text: Some(t.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn get_or_create_is_idempotent_and_any_old_id_leads_to_the_current_conversation() {
        let mut s = Store::default();
        let v = Key::Visitor("v".into());
        let (c1, new1) = s.get_or_create(0, &v);
        let (c2, new2) = s.get_or_create(0, &v);
        assert!(new1 && !new2);
        assert_eq!(c1.id, c2.id);
        let (merged, _) = s.convert(0, &v, Some("c"), None);
        let merged = merged.unwrap();
        assert_eq!(merged.old_conversation_ids, vec![c1.id.clone().unwrap()]);
        let (c3, new3) = s.get_or_create(0, &v);
        assert!(!new3);
        assert_eq!(c3.id, merged.target_conversation_id);
        assert_eq!(
            c3.participant.unwrap().contact_id.as_deref(),
            Some("c"),
            "the new conversation is the contact's"
        );
        assert_eq!(
            s.conversation(c1.id.as_deref().unwrap()),
            Err(Missing::Merged)
        );
    }

    #[test]
    fn merging_into_an_existing_contact_conversation_keeps_chronological_order() {
        let mut s = Store::default();
        let v = Key::Visitor("v".into());
        let c = Key::Contact("c".into());
        let a = s.participant_writes(0, &v, text("1"));
        let b = s.participant_writes(0, &c, text("2"));
        let d = s.participant_writes(0, &v, text("3"));
        assert_ne!(a.conversation_id, b.conversation_id);
        let (merged, _) = s.convert(0, &v, Some("c"), None);
        let merged = merged.unwrap();
        assert_eq!(
            merged.target_conversation_id.as_deref(),
            Some(b.conversation_id.as_str())
        );
        assert_eq!(merged.old_conversation_ids, vec![a.conversation_id.clone()]);
        let texts: Vec<_> = s
            .messages(&b.conversation_id)
            .into_iter()
            .map(|m| m.content.unwrap().preview_text.unwrap())
            .collect();
        assert_eq!(texts, ["1", "2", "3"]);
        assert_eq!(d.conversation_id, a.conversation_id);
    }

    #[test]
    fn conversion_without_a_conversation_merges_nothing() {
        let mut s = Store::default();
        let (merged, _) = s.convert(0, &Key::Visitor("v".into()), Some("c"), Some("m"));
        assert!(merged.is_none());
        let (conv, created) = s.get_or_create(0, &Key::Visitor("v".into()));
        assert!(created);
        let p = conv.participant.unwrap();
        assert_eq!(p.member_id.as_deref(), Some("m"));
        assert_eq!(p.contact_id.as_deref(), Some("c"));
        assert_eq!(p.anonymous_visitor_id, None);
    }

    #[test]
    fn the_same_id_on_two_instances_is_two_participants() {
        let mut s = Store::default();
        let v = Key::Visitor("v".into());
        let a = s.participant_writes(0, &v, text("on site 0"));
        let b = s.participant_writes(1, &v, text("on site 1"));
        assert_ne!(a.conversation_id, b.conversation_id);
        assert_eq!(s.instance_of(&a.conversation_id), Some(0));
        assert_eq!(s.instance_of(&b.conversation_id), Some(1));
        // A conversion on one instance merges nothing of the other.
        let (merged, _) = s.convert(1, &v, Some("c"), None);
        assert_eq!(
            merged.unwrap().old_conversation_ids,
            vec![b.conversation_id.clone()]
        );
        assert_eq!(
            s.current_conversation(0, &v),
            Some(a.conversation_id.clone())
        );
        assert_eq!(s.current_conversation(0, &Key::Contact("c".into())), None);
        assert_eq!(s.conversations_of(0).len(), 1);
        assert_eq!(s.conversations_of(1).len(), 2);
    }
}
