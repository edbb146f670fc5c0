//! W3C trace context (`traceparent`) for the work one webhook delivery starts.
//!
//! The [receiver](crate::webhooks::axum::WebhookReceiver) opens a span `wix_inbox.delivery` for
//! each delivery it hands on, with a [`TraceContext`]: the one in the request's `traceparent`
//! header when it has a valid one (a proxy in front of the receiver may add it), a new trace
//! otherwise. The hand-off runs inside that span and with that context as
//! [`TraceContext::current`], so that the handler's work and the API calls it makes (each in a
//! span `wix_inbox.request`, carrying the `trace_id` and Wix's `x-wix-request-id`) are children
//! of the delivery in a `tracing` subscriber: one trace. Passing the trace on to another
//! service is [`TraceContext::child`] and [`TraceContext::traceparent`] as a `traceparent`
//! header, as `webhook relay` does on its POST to the app.
//!
//! ```
//! use wix_inbox::trace::TraceContext;
//!
//! let parent = TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
//!     .unwrap();
//! let child = parent.child();
//! assert_eq!(child.trace_id(), parent.trace_id());
//! assert_ne!(child.span_id(), parent.span_id());
//! assert!(child.traceparent().starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
//! ```

use std::fmt::Write as _;
use std::future::Future;

/// The `traceparent` header's name.
pub const TRACEPARENT: &str = "traceparent";

tokio::task_local! {
    static CURRENT: TraceContext;
}

/// A position in a distributed trace: a trace ID, the ID of the span in progress, and whether
/// the trace is sampled (W3C Trace Context, version 00).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    sampled: bool,
}

impl TraceContext {
    /// A new trace (random IDs), sampled.
    pub fn new_root() -> TraceContext {
        TraceContext {
            trace_id: random(),
            span_id: random(),
            sampled: true,
        }
    }

    /// A `traceparent` header's value, or `None` when it is not a valid version-00 one (or
    /// its IDs are all zeros, which W3C forbids). A later version is read as far as 00 goes.
    pub fn parse(traceparent: &str) -> Option<TraceContext> {
        let value = traceparent.trim().as_bytes();
        if value.len() < 55 || (value.len() > 55 && value[55] != b'-') {
            return None;
        }
        let (version, rest) = (hex::<1>(&value[0..2])?, &value[2..]);
        if version == [0xff] || (version == [0] && value.len() != 55) {
            return None;
        }
        if rest[0] != b'-' || rest[33] != b'-' || rest[50] != b'-' {
            return None;
        }
        let trace_id = hex::<16>(&rest[1..33])?;
        let span_id = hex::<8>(&rest[34..50])?;
        let flags = hex::<1>(&rest[51..53])?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(TraceContext {
            trace_id,
            span_id,
            sampled: flags[0] & 1 == 1,
        })
    }

    /// The same trace, with a new span ID: the context to send to a service called from here.
    pub fn child(&self) -> TraceContext {
        TraceContext {
            span_id: random(),
            ..*self
        }
    }

    /// The trace ID, 32 lowercase hex digits.
    pub fn trace_id(&self) -> String {
        to_hex(&self.trace_id)
    }

    /// The span ID, 16 lowercase hex digits.
    pub fn span_id(&self) -> String {
        to_hex(&self.span_id)
    }

    /// The `traceparent` header's value: `00-{trace ID}-{span ID}-{flags}`.
    pub fn traceparent(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            self.trace_id(),
            self.span_id(),
            u8::from(self.sampled)
        )
    }

    /// The context of the delivery being handed on in this task, if any (set by the
    /// receiver, or by [`scope`](Self::scope)).
    pub fn current() -> Option<TraceContext> {
        CURRENT.try_with(|c| *c).ok()
    }

    /// Runs `work` with this context as [`current`](Self::current).
    pub fn scope<F: Future>(self, work: F) -> impl Future<Output = F::Output> {
        CURRENT.scope(self, work)
    }

    /// The trace ID and the span ID as lowercase hex, written only when displayed: for span
    /// fields that no subscriber may record.
    pub(crate) fn hex_ids(&self) -> (Hex<'_>, Hex<'_>) {
        (Hex(&self.trace_id), Hex(&self.span_id))
    }
}

/// Bytes shown as lowercase hex digits.
pub(crate) struct Hex<'a>(&'a [u8]);

impl std::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    let _ = write!(out, "{}", Hex(bytes));
    out
}

/// `N` bytes from `2 * N` lowercase hex digits (W3C allows no uppercase).
fn hex<const N: usize>(digits: &[u8]) -> Option<[u8; N]> {
    let digit = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// `N` random bytes, not all zero.
fn random<const N: usize>() -> [u8; N] {
    let mut bytes = crate::random::bytes::<N>().unwrap_or([0; N]);
    if bytes == [0; N] {
        // Unique enough for a trace (not a secret): the standard library's random hash keys.
        use std::hash::{BuildHasher as _, Hasher as _};
        for chunk in bytes.chunks_mut(8) {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u8(1);
            let n = chunk.len();
            chunk.copy_from_slice(&hasher.finish().to_le_bytes()[..n]);
        }
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_and_writes_the_w3c_example() {
        let c = TraceContext::parse(EXAMPLE).unwrap();
        assert_eq!(c.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(c.span_id(), "00f067aa0ba902b7");
        assert_eq!(c.traceparent(), EXAMPLE);
        let unsampled = TraceContext::parse(&EXAMPLE.replace("-01", "-00")).unwrap();
        assert!(unsampled.traceparent().ends_with("-00"));
    }

    #[test]
    fn refuses_what_w3c_refuses() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceContext::parse(bad), None, "{bad:?}");
        }
        // A later version with more fields is read as far as version 00 goes.
        let later = TraceContext::parse(&format!("01{}-more", &EXAMPLE[2..])).unwrap();
        assert_eq!(later.span_id(), "00f067aa0ba902b7");
    }

    #[test]
    fn new_traces_differ_and_round_trip() {
        let (a, b) = (TraceContext::new_root(), TraceContext::new_root());
        assert_ne!(a.trace_id(), b.trace_id());
        assert_eq!(TraceContext::parse(&a.traceparent()), Some(a));
    }

    #[tokio::test]
    async fn current_is_the_scope_s() {
        assert_eq!(TraceContext::current(), None);
        let c = TraceContext::new_root();
        let seen = c.scope(async { TraceContext::current() }).await;
        assert_eq!(seen, Some(c));
    }
}
