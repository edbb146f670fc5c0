//! Codecs for the wire quirks of Wix's JSON that the spec's types rely on.
//!
//! These are not wire types: the spec defines every message. They are the primitives that
//! `build.rs` maps spec constructs to, because typify's defaults would reject payloads Wix
//! really sends.

use std::{fmt, marker::PhantomData, str::FromStr};

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// An `integer`/`int32` of the spec as Wix sends it.
///
/// Wix's protobuf-JSON gateway sends integers as `1200`, but also as `1200.0` and, like every
/// protobuf-JSON producer may, as the string `"1200"`. All three deserialize; a fraction or a
/// value outside `i32` is an error. It serializes as a plain JSON integer.
///
/// ```
/// use wix_inbox::wire::Int32;
/// let width: Int32 = serde_json::from_str("1200.0").unwrap();
/// assert_eq!(width.get(), 1200);
/// assert_eq!(serde_json::to_string(&width).unwrap(), "1200");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Int32(pub i32);

impl Int32 {
    /// The value.
    pub const fn get(self) -> i32 {
        self.0
    }
}

impl From<i32> for Int32 {
    fn from(value: i32) -> Self {
        Self(value)
    }
}

impl From<Int32> for i32 {
    fn from(value: Int32) -> Self {
        value.0
    }
}

impl PartialEq<i32> for Int32 {
    fn eq(&self, other: &i32) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for Int32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Int32 {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().parse().map(Self)
    }
}

impl Serialize for Int32 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i32(self.0)
    }
}

impl<'de> Deserialize<'de> for Int32 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Int32;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a 32-bit integer (as a number, an integral float or a string)")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int32, E> {
                i32::try_from(v)
                    .map(Int32)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int32, E> {
                i32::try_from(v)
                    .map(Int32)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Int32, E> {
                if v.fract() == 0.0 && v >= f64::from(i32::MIN) && v <= f64::from(i32::MAX) {
                    Ok(Int32(v as i32))
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(v), &self))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Int32, E> {
                v.parse()
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const NOT_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A path parameter (a conversation, contact or member ID) as one path segment: every character
/// but the unreserved ones is percent-encoded, so `/`, `\`, `%`, `?` or `#` cannot change which endpoint
/// is called, and `""`, `.` and `..`, which a URL parser drops or resolves, are refused. Used by
/// the generated code in place of progenitor's `encode_path`.
// The error is the generated code's own, so that its `?` takes it; the path is cold.
#[allow(clippy::result_large_err)]
pub(crate) fn path_segment(
    value: &str,
) -> Result<String, crate::GeneratedError<crate::types::ErrorResponse>> {
    if matches!(value, "" | "." | "..") {
        return Err(crate::GeneratedError::InvalidRequest(format!(
            "an ID in the path (a conversation, contact or member ID) must not be empty, `.` or `..`; got {value:?}"
        )));
    }
    Ok(percent_encoding::utf8_percent_encode(value, NOT_UNRESERVED).to_string())
}

/// Reads an array field that may be `null` as the empty array. Wix leaves empty arrays out, but
/// a `null` must not fail a whole answer; the generated code uses this for every array field.
pub(crate) fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<Vec<T>>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// Defines an open enum of the spec: build.rs writes one invocation per string enum of
/// `components/schemas` (its description, its values and their `x-enum-descriptions`), and this
/// macro is the code of every open enum. Known values are variants; any other value is kept
/// verbatim in `Other` and serializes back exactly as it came.
macro_rules! open_enum {
    (
        #[doc = $doc:expr]
        $name:ident, $other:ident {
            $( $variant:ident = $value:literal $(: $value_doc:literal)?, )*
        }
    ) => {
        #[doc = $doc]
        #[doc = ""]
        #[doc = concat!(
            "An open enum: a value this version of the crate does not know (Wix adds values over \
             time) deserializes to [`", stringify!($name), "::Other`] and serializes back exactly \
             as it came. It is `#[non_exhaustive]`: a value the spec adds later becomes a variant \
             without breaking a `match`."
        )]
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $( #[doc = concat!("`", $value, "`" $(, ": ", $value_doc)?)] $variant, )*
            /// A value the spec did not list when this crate was generated.
            Other($other),
        }

        #[doc = concat!("A value of [`", stringify!($name), "`] this crate does not know, kept verbatim.")]
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $other(String);

        impl $other {
            /// The value as it came over the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl $name {
            /// Every value the spec lists, in its order.
            pub const KNOWN: &'static [&'static str] = &[$($value),*];

            /// The value as it goes over the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $value, )*
                    Self::Other(other) => &other.0,
                }
            }

            /// Whether this is a value the spec lists.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Other(_))
            }
        }

        impl ::std::convert::From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $( $value => Self::$variant, )*
                    other => Self::Other($other(other.to_string())),
                }
            }
        }

        impl ::std::convert::From<String> for $name {
            fn from(value: String) -> Self {
                match value.as_str() {
                    $( $value => Self::$variant, )*
                    _ => Self::Other($other(value)),
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Ok(Self::from(value))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str($crate::wire::OpenEnumVisitor::<Self>::new(stringify!($name)))
            }
        }
    };
}
pub(crate) use open_enum;

/// Deserializes the open enums from a string without an extra copy when the deserializer
/// hands over an owned `String`. Used by [`open_enum!`] only.
pub(crate) struct OpenEnumVisitor<T> {
    name: &'static str,
    _t: PhantomData<fn() -> T>,
}

impl<T> OpenEnumVisitor<T> {
    pub(crate) fn new(name: &'static str) -> Self {
        Self {
            name,
            _t: PhantomData,
        }
    }
}

impl<T> de::Visitor<'_> for OpenEnumVisitor<T>
where
    T: for<'a> From<&'a str> + From<String>,
{
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a string value of {}", self.name)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok(T::from(v))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<T, E> {
        Ok(T::from(v))
    }
}

/// A JSON value kept as its text, for a field whose schema is only known later (a webhook's
/// `actionEvent.body` depends on the event).
///
/// Deserializing it copies the value's text once and builds no tree; [`parse`](Self::parse)
/// decodes it into the type that fits when that is known.
///
/// ```
/// use wix_inbox::wire::RawJson;
/// let raw: RawJson = serde_json::from_str(r#"{"targetConversationId": "c2"}"#).unwrap();
/// let body: wix_inbox::types::ConversationsMerged = raw.parse().unwrap();
/// assert_eq!(body.target_conversation_id.as_deref(), Some("c2"));
/// ```
#[derive(Clone, Debug)]
pub struct RawJson(Box<serde_json::value::RawValue>);

impl RawJson {
    /// The JSON text of `value`, serialized straight to text (no `Value` tree on the way).
    pub fn new<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Self> {
        serde_json::value::to_raw_value(value).map(Self)
    }

    /// The JSON text, as it came.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// Decodes the value as `T`.
    pub fn parse<T: de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_str(self.0.get())
    }

    /// The value as a [`serde_json::Value`].
    pub fn to_value(&self) -> serde_json::Value {
        // Valid JSON by construction; a parse can only fail on a nesting limit.
        self.parse().unwrap_or(serde_json::Value::Null)
    }
}

impl From<serde_json::Value> for RawJson {
    fn from(value: serde_json::Value) -> Self {
        // A `Value` always serializes.
        Self::new(&value).expect("a Value serializes")
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Serialize for RawJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<serde_json::value::RawValue>::deserialize(deserializer).map(Self)
    }
}

/// A `string` of `format: password` in the spec (an app secret, an access token): it goes over
/// the wire as a plain string, but its `Debug` output hides it, and it has no `Display`, so a
/// generated type holding one can be logged without leaking it.
///
/// ```
/// use wix_inbox::wire::Secret;
/// let secret = Secret::from("s3cr3t".to_string());
/// assert_eq!(format!("{secret:?}"), "Secret(***)");
/// assert_eq!(secret.expose(), "s3cr3t");
/// assert_eq!(serde_json::to_string(&secret).unwrap(), "\"s3cr3t\"");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}
