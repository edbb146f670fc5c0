//! The lookup keys, in Wix's filter syntax.

use serde_json::{json, Map, Value};

/// What a lookup looks for: a field of a contact or a member, and the value it must equal.
///
/// [`filter`](Self::filter) writes it in Wix's API Query Language;
/// [`from_filter`](Self::from_filter) recognises one again, in either of the forms Wix accepts
/// for an equality (`{"field": value}` and `{"field": {"$eq": value}}`).
///
/// ```
/// use serde_json::json;
/// use wix_inbox::lookup::Key;
///
/// let key = Key::ContactEmail("jane@example.com".into());
/// let filter = key.filter();
/// assert_eq!(
///     serde_json::Value::Object(filter.clone()),
///     json!({"info.emails.email": {"$eq": "jane@example.com"}})
/// );
/// assert_eq!(Key::from_filter(&filter), Some(key));
///
/// let bare = json!({"loginEmail": "john@example.com"});
/// assert_eq!(
///     Key::from_filter(bare.as_object().unwrap()),
///     Some(Key::MemberLoginEmail("john@example.com".into()))
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Key {
    /// A contact's email address: `info.emails.email` (Query Contacts).
    ContactEmail(String),
    /// A contact's phone number as entered: `info.phones.phone` (Query Contacts).
    ContactPhone(String),
    /// A member's login email: `loginEmail` (Query Members).
    MemberLoginEmail(String),
}

impl Key {
    /// The field the key filters on, as Wix names it.
    pub fn field(&self) -> &'static str {
        match self {
            Key::ContactEmail(_) => "info.emails.email",
            Key::ContactPhone(_) => "info.phones.phone",
            Key::MemberLoginEmail(_) => "loginEmail",
        }
    }

    /// The value the field must equal.
    pub fn value(&self) -> &str {
        match self {
            Key::ContactEmail(v) | Key::ContactPhone(v) | Key::MemberLoginEmail(v) => v,
        }
    }

    /// Whether the key is one of Query Contacts' (else Query Members').
    pub fn is_contact(&self) -> bool {
        matches!(self, Key::ContactEmail(_) | Key::ContactPhone(_))
    }

    /// The filter, as the lookups send it: `{"field": {"$eq": value}}` for a contact's field,
    /// `{"loginEmail": value}` for a member's (the form of Wix's Members examples).
    pub fn filter(&self) -> Map<String, Value> {
        let condition = if self.is_contact() {
            json!({"$eq": self.value()})
        } else {
            json!(self.value())
        };
        Map::from_iter([(self.field().to_owned(), condition)])
    }

    /// The key a filter of one equality on one of the keys' fields is, in either form;
    /// `None` for any other filter (another field or operator, more than one condition, a
    /// value that is not text).
    pub fn from_filter(filter: &Map<String, Value>) -> Option<Key> {
        let mut conditions = filter.iter();
        let (field, condition) = conditions.next()?;
        if conditions.next().is_some() {
            return None;
        }
        let value = match condition {
            Value::String(value) => value,
            Value::Object(operators) if operators.len() == 1 => operators.get("$eq")?.as_str()?,
            _ => return None,
        };
        let value = value.to_owned();
        match field.as_str() {
            "info.emails.email" => Some(Key::ContactEmail(value)),
            "info.phones.phone" => Some(Key::ContactPhone(value)),
            "loginEmail" => Some(Key::MemberLoginEmail(value)),
            _ => None,
        }
    }
}
