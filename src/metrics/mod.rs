//! The crate's metrics: every one is named here, once, and recorded through the
//! [`metrics`](https://docs.rs/metrics) facade.
//!
//! Nothing is recorded until the application installs a recorder (`metrics`'s
//! [`set_global_recorder`](::metrics::set_global_recorder), or [`Prometheus::install`] with the
//! feature `prometheus`); without one, a record finds its key (kept per thread) and asks the
//! unset global recorder: some tens of ns. With Prometheus's recorder a delivery's or a call's
//! records cost a few hundred ns (`benches/README.md`, "Metrics").
//! Labels are bounded: an operation of the spec, a status class, an outcome, a reason or kind.
//! No label ever holds a site, instance, conversation or event ID (an app serves thousands of
//! sites: one series per instance would not scale).
//!
//! `docs/metrics.md` has the table of every metric (name, type, labels, meaning) and example
//! alerts.

mod keys;
#[cfg(feature = "prometheus")]
mod prometheus;

use std::time::Duration;

use ::metrics::{describe_counter, describe_gauge, describe_histogram, Unit};

use keys::{counter, gauge, histogram};

#[cfg(feature = "prometheus")]
pub use prometheus::{MetricsError, Prometheus};

// ---- The client ----

/// Counter: HTTP requests the client sent (each attempt), by `operation` and `status_class`
/// (`2xx`, `3xx`, `4xx`, `5xx`, or `error`: no response).
pub const CLIENT_REQUESTS: &str = "wix_inbox_client_requests_total";
/// Counter: retries the client made (attempts after the first), by `operation`.
pub const CLIENT_RETRIES: &str = "wix_inbox_client_retries_total";
/// Counter: 429 responses (Wix's rate limit), by `operation`.
pub const CLIENT_RATE_LIMITED: &str = "wix_inbox_client_rate_limited_total";
/// Histogram (seconds): waits before a retry that Wix asked for with `Retry-After`, by
/// `operation`.
pub const CLIENT_RETRY_AFTER_WAIT: &str = "wix_inbox_client_retry_after_wait_seconds";
/// Counter: requests to the app token endpoint (each attempt), by `outcome` (`ok`, `4xx`,
/// `5xx`, `redirect`, `error`: no response, `unreadable`: a response that is not a token).
pub const CLIENT_TOKEN_REQUESTS: &str = "wix_inbox_client_token_requests_total";
/// Histogram (seconds): how long a request waited for its site's or instance's turn (pacing).
pub const CLIENT_PACING_WAIT: &str = "wix_inbox_client_pacing_wait_seconds";
/// Histogram (bytes): the size of the response bodies read, by `operation`.
pub const CLIENT_RESPONSE_SIZE: &str = "wix_inbox_client_response_size_bytes";

// ---- The webhook receiver ----

/// Counter: webhook deliveries answered, by `status` (`200`, `400`, `401`, `408`, `413`,
/// `500`, `503`) and `reason` (for 200: `handed_on`, `queued` or `duplicate`; for 401 the verification
/// failure: `bad_signature`, `wrong_algorithm`, `expired`, `not_yet_valid`, `missing_expiry`;
/// for 400: `not_a_jwt`, `missing_data`, `data_not_a_string`, `malformed`, `unreadable_body`;
/// `body_timeout`; `too_large`; for 503: `in_progress_elsewhere`, `store_unavailable`,
/// `not_handed_on`, `queue_unavailable`, `queue_timeout`; for 500: `panicked`).
pub const WEBHOOK_DELIVERIES: &str = "wix_inbox_webhook_deliveries_total";
/// Histogram (seconds): from an event's `eventTime` to the 200 that answered its delivery.
pub const WEBHOOK_EVENT_AGE: &str = "wix_inbox_webhook_event_age_seconds";
/// Counter: claims on event IDs, by `result` (`first`, `done`: a duplicate,
/// `in_progress_elsewhere`, `error`: the store failed).
pub const WEBHOOK_CLAIMS: &str = "wix_inbox_webhook_claims_total";

// ---- The event queue (`wix_inbox::queue`) ----

/// Counter: events appended to the queue (by the receiver's queue mode, or `append_event`).
pub const QUEUE_APPENDED: &str = "wix_inbox_queue_appended_total";
/// Counter: events not appended because their ID was appended before (a resend, or another
/// receiver's delivery).
pub const QUEUE_DUPLICATES: &str = "wix_inbox_queue_duplicates_total";
/// Counter: handler runs started on queued events (each delivery to a handler: first runs,
/// retries and runs after a takeover).
pub const QUEUE_STARTED: &str = "wix_inbox_queue_started_total";
/// Counter: events handled and acknowledged (the handler returned `Ok`).
pub const QUEUE_HANDLED: &str = "wix_inbox_queue_handled_total";
/// Counter: handler runs that failed, by `outcome` (`retried`: kept for a retry after a
/// backoff; `dead_lettered`: it was the event's last delivery; `lost`: the worker no longer
/// held the event).
pub const QUEUE_FAILED: &str = "wix_inbox_queue_failed_total";
/// Counter: events moved to the dead letters (their last delivery failed, or their workers
/// stopped while handling them every time).
pub const QUEUE_DEAD_LETTERED: &str = "wix_inbox_queue_dead_lettered_total";
/// Histogram (seconds): how long a handler ran on a queued event, by `outcome` (`ok`,
/// `error`).
pub const QUEUE_HANDLER_DURATION: &str = "wix_inbox_queue_handler_duration_seconds";
/// Gauge: events delivered to a worker and not yet settled (a worker reads it from the queue
/// every few seconds).
pub const QUEUE_PENDING: &str = "wix_inbox_queue_pending";
/// Gauge: events appended and not yet delivered to any worker (the consumer group's lag),
/// when the store knows.
pub const QUEUE_UNDELIVERED: &str = "wix_inbox_queue_undelivered";
/// Gauge (seconds): the age of the oldest pending event (0 with none pending).
pub const QUEUE_OLDEST_PENDING_AGE: &str = "wix_inbox_queue_oldest_pending_age_seconds";
/// Gauge: events in the dead letters.
pub const QUEUE_DEAD_LETTERS: &str = "wix_inbox_queue_dead_letters";
/// Counter: events a worker took over from another that stopped answering.
pub const QUEUE_TAKEOVERS: &str = "wix_inbox_queue_takeovers_total";
/// Histogram (seconds): how long an event of a lane waited, once due, for the events before it
/// in its lane (the same conversation).
pub const QUEUE_LANE_WAIT: &str = "wix_inbox_queue_lane_wait_seconds";

// ---- The conversation directory ----

/// Counter: Conversations Merged events the directory was given, by `result` (`applied`: it
/// moved something, `known`: a redelivery or older news, `refused`: a loop, a conflict or an
/// invalid merge, `error`: the store failed).
pub const DIRECTORY_MERGES: &str = "wix_inbox_directory_merges_total";
/// Counter: conversation IDs reported moved (each stopped being current).
pub const DIRECTORY_MOVES: &str = "wix_inbox_directory_moves_total";

/// Every metric of the crate: what [`describe`] registers.
const ALL: &[Metric] = &[
    Metric {
        name: CLIENT_REQUESTS,
        kind: Kind::Counter,
        unit: Unit::Count,
        help: "HTTP requests sent to Wix (each attempt), by operation and status class",
    },
    Metric {
        name: CLIENT_RETRIES,
        kind: Kind::Counter,
        unit: Unit::Count,
        help: "Retries of requests to Wix, by operation",
    },
    Metric {
        name: CLIENT_RATE_LIMITED,
        kind: Kind::Counter,
        unit: Unit::Count,
        help: "429 responses from Wix, by operation",
    },
    Metric {
        name: CLIENT_RETRY_AFTER_WAIT,
        kind: Kind::Histogram,
        unit: Unit::Seconds,
        help: "Waits before a retry that Wix asked for with Retry-After, by operation",
    },
    Metric {
        name: CLIENT_TOKEN_REQUESTS,
        kind: Kind::Counter,
        unit: Unit::Count,
        help: "Requests to the app token endpoint, by outcome",
    },
    Metric {
        name: CLIENT_PACING_WAIT,
        kind: Kind::Histogram,
        unit: Unit::Seconds,
        help: "Waits for a site's or instance's turn (pacing)",
    },
    Metric {
        name: CLIENT_RESPONSE_SIZE,
        kind: Kind::Histogram,
        unit: Unit::Bytes,
        help: "Sizes of Wix's response bodies, by operation",
    },
    Metric {
        name: WEBHOOK_DELIVERIES,
        kind: Kind::Counter,
        unit: Unit::Count,
        help: "Webhook deliveries answered, by status and reason",
    },
    Metric {
        name: WEBHOOK_EVENT_AGE,
        kind: Kind::Histogram,
        unit: Unit::Seconds,
        help: "Time from an event's eventTime to the 200 for its delivery",
    },
    Metric {
        name: WEBHOOK_CLAIMS,
        kind: Kind::Counter,
        unit: Unit::Count,
        help: "Claims on webhook event IDs, by result",
    },
    Metric {
        name: QUEUE_APPENDED,
        kind: Kind::Counter,
        unit: Unit::Count,
        help: "Events appended to the queue",
    },
    Metric {
        name: QUEUE_DUPLICATES,
        kind: Kind::Counter,
        unit: Unit::Count,
        help: "Events not appended: their ID was appended before",
    },
    Metric {
        name: QUEUE_STARTED,
        kind: Kind::Counter,
        unit: Unit::Count,
        help: "Handler runs started on queued events",
    },
    Metric {
        name: QUEUE_HANDLED,
        kind: Kind::Counter,
        unit: Unit::Count,
        help: "Queued events handled and acknowledged",
    },
    Metric {
        name: QUEUE_FAILED,
        kind: Kind::Counter,
        unit: Unit::Count,
        help: "Handler runs on queued events that failed, by outcome",
    },
    Metric {
        name: QUEUE_DEAD_LETTERED,
        kind: Kind::Counter,
        unit: Unit::Count,
        help: "Queued events moved to the dead letters",
    },
    Metric {
        name: QUEUE_HANDLER_DURATION,
        kind: Kind::Histogram,
        unit: Unit::Seconds,
        help: "Time a handler ran on a queued event, by outcome",
    },
    Metric {
        name: QUEUE_PENDING,
        kind: Kind::Gauge,
        unit: Unit::Count,
        help: "Queued events delivered to a worker and not yet settled",
    },
    Metric {
        name: QUEUE_UNDELIVERED,
        kind: Kind::Gauge,
        unit: Unit::Count,
        help: "Queued events not yet delivered to any worker",
    },
    Metric {
        name: QUEUE_OLDEST_PENDING_AGE,
        kind: Kind::Gauge,
        unit: Unit::Seconds,
        help: "Age of the oldest pending queued event",
    },
    Metric {
        name: QUEUE_DEAD_LETTERS,
        kind: Kind::Gauge,
        unit: Unit::Count,
        help: "Events in the dead letters",
    },
    Metric {
        name: QUEUE_TAKEOVERS,
        kind: Kind::Counter,
        unit: Unit::Count,
        help: "Queued events taken over from a worker that stopped",
    },
    Metric {
        name: QUEUE_LANE_WAIT,
        kind: Kind::Histogram,
        unit: Unit::Seconds,
        help: "Time a queued event waited for the events before it in its lane",
    },
    Metric {
        name: DIRECTORY_MERGES,
        kind: Kind::Counter,
        unit: Unit::Count,
        help: "Conversations Merged events given to the directory, by result",
    },
    Metric {
        name: DIRECTORY_MOVES,
        kind: Kind::Counter,
        unit: Unit::Count,
        help: "Conversation IDs reported moved by the directory",
    },
];

/// One metric: its name, its type, its unit and its help text (`# HELP`).
struct Metric {
    name: &'static str,
    kind: Kind,
    unit: Unit,
    help: &'static str,
}

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Gives the installed recorder the type, unit and help text of every metric of the crate (the
/// `# HELP` lines of Prometheus's text format). [`Prometheus::install`] calls it.
pub fn describe() {
    for &Metric {
        name,
        kind,
        unit,
        help,
    } in ALL
    {
        match kind {
            Kind::Counter => describe_counter!(name, unit, help),
            Kind::Gauge => describe_gauge!(name, unit, help),
            Kind::Histogram => describe_histogram!(name, unit, help),
        }
    }
}

/// The names of every metric of the crate.
pub fn names() -> impl Iterator<Item = &'static str> {
    ALL.iter().map(|metric| metric.name)
}

/// `2xx` for 200, and so on.
fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// One attempt of an API call: its status (`None`: no response) and the size of its body.
pub(crate) fn client_response(operation: &'static str, status: Option<u16>, size: Option<u64>) {
    let class = status.map_or("error", status_class);
    counter(
        CLIENT_REQUESTS,
        [("operation", operation), ("status_class", class)],
    )
    .increment(1);
    if status == Some(429) {
        counter(CLIENT_RATE_LIMITED, [("operation", operation)]).increment(1);
    }
    if let Some(size) = size {
        histogram(CLIENT_RESPONSE_SIZE, [("operation", operation)]).record(size as f64);
    }
}

/// A retry after `wait`; `asked` when the wait is the server's `Retry-After`.
pub(crate) fn client_retry(operation: &'static str, wait: Duration, asked: bool) {
    counter(CLIENT_RETRIES, [("operation", operation)]).increment(1);
    if asked {
        histogram(CLIENT_RETRY_AFTER_WAIT, [("operation", operation)]).record(wait.as_secs_f64());
    }
}

/// One attempt at the token endpoint: `status` of its response (`None`: no response), and
/// whether a token could be read from it.
pub(crate) fn token_request(status: Option<u16>, token_read: bool) {
    let outcome = match status {
        None => "error",
        Some(200..=299) if token_read => "ok",
        Some(200..=299) => "unreadable",
        Some(300..=399) => "redirect",
        Some(400..=499) => "4xx",
        Some(_) => "5xx",
    };
    counter(CLIENT_TOKEN_REQUESTS, [("outcome", outcome)]).increment(1);
}

/// A wait for a site's or instance's turn.
pub(crate) fn pacing_wait(wait: Duration) {
    histogram(CLIENT_PACING_WAIT, []).record(wait.as_secs_f64());
}

/// A delivery answered `status` for `reason`.
// Recorded by the webhook receiver (feature `axum`).
#[cfg_attr(not(feature = "axum"), allow(dead_code))]
pub(crate) fn delivery(status: u16, reason: &'static str) {
    let status = match status {
        200 => "200",
        400 => "400",
        401 => "401",
        408 => "408",
        413 => "413",
        500 => "500",
        503 => "503",
        _ => "other",
    };
    counter(WEBHOOK_DELIVERIES, [("status", status), ("reason", reason)]).increment(1);
}

/// An event answered 200 `age` after its `eventTime` (0 for an `eventTime` in the future).
// Recorded by the webhook receiver (feature `axum`).
#[cfg_attr(not(feature = "axum"), allow(dead_code))]
pub(crate) fn event_age(age: Duration) {
    histogram(WEBHOOK_EVENT_AGE, []).record(age.as_secs_f64());
}

/// A claim on an event ID came to `result`.
// Recorded by the webhook receiver (feature `axum`).
#[cfg_attr(not(feature = "axum"), allow(dead_code))]
pub(crate) fn claim(result: &'static str) {
    counter(WEBHOOK_CLAIMS, [("result", result)]).increment(1);
}

/// The directory was given a merge that came to `result`, moving `moves` IDs.
pub(crate) fn directory_merge(result: &'static str, moves: usize) {
    counter(DIRECTORY_MERGES, [("result", result)]).increment(1);
    if moves > 0 {
        counter(DIRECTORY_MOVES, []).increment(moves as u64);
    }
}

/// An event offered to the queue: appended (`true`) or refused as a duplicate.
pub(crate) fn queue_appended(new: bool) {
    if new {
        counter(QUEUE_APPENDED, []).increment(1);
    } else {
        counter(QUEUE_DUPLICATES, []).increment(1);
    }
}

/// A handler run started on a queued event.
pub(crate) fn queue_started() {
    counter(QUEUE_STARTED, []).increment(1);
}

/// A handler ran for `took`, successfully (`ok`) or not.
pub(crate) fn queue_handler_ran(ok: bool, took: Duration) {
    let outcome = if ok { "ok" } else { "error" };
    histogram(QUEUE_HANDLER_DURATION, [("outcome", outcome)]).record(took.as_secs_f64());
}

/// A handled event was acknowledged.
pub(crate) fn queue_handled() {
    counter(QUEUE_HANDLED, []).increment(1);
}

/// A handler run failed, then `outcome` (`retried`, `dead_lettered`, `lost`).
pub(crate) fn queue_failed(outcome: &'static str) {
    counter(QUEUE_FAILED, [("outcome", outcome)]).increment(1);
}

/// An event was moved to the dead letters.
pub(crate) fn queue_dead_lettered() {
    counter(QUEUE_DEAD_LETTERED, []).increment(1);
}

/// A worker took over `n` events.
pub(crate) fn queue_takeovers(n: usize) {
    if n > 0 {
        counter(QUEUE_TAKEOVERS, []).increment(n as u64);
    }
}

/// An event of a lane started `wait` after it was due.
pub(crate) fn queue_lane_wait(wait: Duration) {
    histogram(QUEUE_LANE_WAIT, []).record(wait.as_secs_f64());
}

/// The state of the queue, read from its store: the gauges.
pub(crate) fn queue_gauges(
    pending: u64,
    undelivered: Option<u64>,
    oldest_pending_age: Option<Duration>,
    dead_letters: u64,
) {
    gauge(QUEUE_PENDING, []).set(pending as f64);
    if let Some(undelivered) = undelivered {
        gauge(QUEUE_UNDELIVERED, []).set(undelivered as f64);
    }
    gauge(QUEUE_OLDEST_PENDING_AGE, []).set(oldest_pending_age.unwrap_or_default().as_secs_f64());
    gauge(QUEUE_DEAD_LETTERS, []).set(dead_letters as f64);
}

/// What one call or delivery records, for `benches/metrics.rs` (the recording alone, without
/// the I/O around it). Not part of the API.
#[doc(hidden)]
pub mod __bench {
    use std::time::Duration;

    /// What the client records for one attempt answered `status` with a body of `size` bytes.
    pub fn client_attempt(operation: &'static str, status: u16, size: u64) {
        super::client_response(operation, Some(status), Some(size));
    }

    /// What the client records for a retry after a `Retry-After` of `wait`.
    pub fn client_retry(operation: &'static str, wait: Duration) {
        super::client_retry(operation, wait, true);
    }

    /// What the client records for a wait for a site's turn.
    pub fn pacing_wait(wait: Duration) {
        super::pacing_wait(wait);
    }

    /// What the receiver records for a delivery handed on `age` after its `eventTime`.
    pub fn delivery_handed_on(age: Duration) {
        super::claim("first");
        super::event_age(age);
        super::delivery(200, "handed_on");
    }

    /// What the receiver records for a duplicate delivery.
    pub fn delivery_duplicate() {
        super::claim("done");
        super::delivery(200, "duplicate");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_prometheus_style_and_given_once() {
        let names: Vec<_> = names().collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "a name given twice");
        for name in names {
            assert!(name.starts_with("wix_inbox_"), "{name}");
            assert!(name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
        }
    }

    /// The keys are kept per thread, the recorder is not: a recorder set after the first records
    /// (here a local one; [`Prometheus::install`] later in a process is the same), and each new
    /// recorder after it, gets every record made while it is set, once.
    #[cfg(feature = "prometheus")]
    #[test]
    fn a_recorder_set_after_the_first_records_gets_every_record() {
        let record = || {
            client_response("get_conversation", Some(200), Some(300));
            client_response("get_conversation", Some(429), None);
            client_retry("get_conversation", Duration::from_secs(2), true);
            delivery(200, "duplicate");
            pacing_wait(Duration::from_millis(5));
        };
        // No recorder: the keys are made and kept, nothing is recorded.
        record();
        for round in 0..3 {
            let (recorder, prometheus) = Prometheus::recorder();
            ::metrics::with_local_recorder(&recorder, record);
            let text = prometheus.render();
            for line in [
                r#"wix_inbox_client_requests_total{operation="get_conversation",status_class="2xx"} 1"#,
                r#"wix_inbox_client_requests_total{operation="get_conversation",status_class="4xx"} 1"#,
                r#"wix_inbox_client_rate_limited_total{operation="get_conversation"} 1"#,
                r#"wix_inbox_client_retries_total{operation="get_conversation"} 1"#,
                r#"wix_inbox_client_retry_after_wait_seconds_sum{operation="get_conversation"} 2"#,
                r#"wix_inbox_client_response_size_bytes_count{operation="get_conversation"} 1"#,
                r#"wix_inbox_webhook_deliveries_total{status="200",reason="duplicate"} 1"#,
                "wix_inbox_client_pacing_wait_seconds_count 1",
            ] {
                assert!(
                    text.lines().any(|l| l == line),
                    "round {round}: {line} in\n{text}"
                );
            }
        }
        // On another thread (its own keys), into a recorder set there.
        let (recorder, prometheus) = Prometheus::recorder();
        std::thread::spawn(move || ::metrics::with_local_recorder(&recorder, record))
            .join()
            .unwrap();
        assert!(prometheus
            .render()
            .contains(r#"wix_inbox_webhook_deliveries_total{status="200",reason="duplicate"} 1"#));
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(429), "4xx");
        assert_eq!(status_class(503), "5xx");
    }
}
