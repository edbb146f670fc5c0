//! What a load test found ([`Report`]): the deliveries, the app's replies, its API calls; and
//! whether the app lost, duplicated or misdirected anything.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde::Serialize;
use wix_inbox::types::MessageDirection;

use super::plan::message_tag;
use crate::{ApiCalls, Delivery, State};

/// The deliveries to the app.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Deliveries {
    /// Deliveries of an event to the app (repeats aside).
    pub deliveries: u64,
    /// Answered 200 on the first try.
    pub first_try_200: u64,
    /// Resent at least once (not answered 200 in time on the first try).
    pub resent: u64,
    /// Out of attempts without a 200: lost, from Wix's side.
    pub given_up: u64,
    /// Still being tried when the test ended.
    pub unfinished: u64,
    /// Events sent again after a 200 (Wix's duplicates).
    pub repeats: u64,
    /// The IDs of the first events given up or unfinished (at most [`MAX_EXAMPLES`]), to look
    /// for in the app's logs.
    pub lost_examples: Vec<String>,
    /// Time from the start of a delivery to its 200, in milliseconds (repeats aside).
    pub time_to_200_ms: Percentiles,
}

/// Percentiles of a distribution, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// The median.
    pub p50: f64,
    /// The 99th percentile.
    pub p99: f64,
    /// The maximum.
    pub max: f64,
}

/// The app's replies.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Replies {
    /// Visitor messages the app never answered.
    pub zero: u64,
    /// Visitor messages answered once.
    pub one: u64,
    /// Visitor messages answered more than once.
    pub more: u64,
    /// Send Messages answered 404: to a conversation merged away (or unknown). Nothing was
    /// stored: an app that then finds the current conversation (as
    /// [`send_to_participant`](wix_inbox::Client::send_to_participant) does) loses nothing;
    /// one that does not shows in [`zero`](Self::zero).
    pub into_merged_away: u64,
    /// Replies that quote one of the app's own messages: an answer to itself.
    pub to_own_messages: u64,
    /// Replies in another conversation than the message they answer.
    pub misplaced: u64,
    /// App messages that quote no visitor message (counted for the visitor message before
    /// them in their conversation).
    pub unquoted: u64,
    /// Conversations whose replies are not in the order of the messages they answer (Wix
    /// delivers out of order: not a failure of `fake load`).
    pub out_of_order_conversations: u64,
    /// The first visitor messages never answered, by number (`N` of the tag `[load mN]`; at
    /// most [`MAX_EXAMPLES`]).
    pub unanswered_examples: Vec<u64>,
    /// The first visitor messages answered more than once, by number.
    pub repeated_examples: Vec<u64>,
    /// The first visitor messages answered in another conversation, by number.
    pub misplaced_examples: Vec<u64>,
    /// The first conversations whose replies are out of order, by ID.
    pub out_of_order_examples: Vec<String>,
}

/// The most examples of each kind a report names.
pub const MAX_EXAMPLES: usize = 10;

/// Adds `item` to `examples` unless it holds [`MAX_EXAMPLES`] already.
fn example<T>(examples: &mut Vec<T>, item: T) {
    if examples.len() < MAX_EXAMPLES {
        examples.push(item);
    }
}

/// A load test's findings; [`failures`](Self::failures) is empty when the app passed.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    /// The visitor messages written.
    pub visitor_messages: u64,
    /// Visitors who became contacts or members (merges).
    pub conversions: u64,
    /// Seconds from the first message to the end of the test.
    pub elapsed_s: f64,
    /// The deliveries to the app.
    pub deliveries: Deliveries,
    /// The app's replies.
    pub replies: Replies,
    /// Every instance's API calls (and 429s).
    pub api_calls: Vec<ApiCalls>,
    /// The app's answers other than 200, and the attempts it did not answer, by kind.
    pub app_errors: BTreeMap<String, u64>,
    /// What the app lost, duplicated or misdirected, one line each.
    pub failures: Vec<String>,
}

impl Report {
    /// Whether the app lost, duplicated or misdirected nothing.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The report as a table for a terminal.
    pub fn table(&self) -> String {
        let d = &self.deliveries;
        let r = &self.replies;
        let calls: u64 = self.api_calls.iter().map(|c| c.calls).sum();
        let limited: u64 = self.api_calls.iter().map(|c| c.limited).sum();
        let busiest = self.api_calls.iter().map(|c| c.calls).max().unwrap_or(0);
        let t = &d.time_to_200_ms;
        let mut out = String::new();
        let mut row = |name: &str, value: String| {
            let _ = writeln!(out, "  {name:<34} {value}");
        };
        row(
            "visitor messages",
            format!(
                "{} ({} conversions)",
                self.visitor_messages, self.conversions
            ),
        );
        row("elapsed", format!("{:.1} s", self.elapsed_s));
        row("deliveries", d.deliveries.to_string());
        row("  200 on the first try", d.first_try_200.to_string());
        row("  resent", d.resent.to_string());
        row("  given up", d.given_up.to_string());
        row("  unfinished", d.unfinished.to_string());
        row("  repeats (Wix's duplicates)", d.repeats.to_string());
        row(
            "time to 200 p50 / p99 / max",
            format!("{:.1} / {:.1} / {:.1} ms", t.p50, t.p99, t.max),
        );
        row(
            "replies per message 0 / 1 / more",
            format!("{} / {} / {}", r.zero, r.one, r.more),
        );
        row("sends refused: merged away", r.into_merged_away.to_string());
        row("replies to the app's own", r.to_own_messages.to_string());
        row("replies in another conversation", r.misplaced.to_string());
        row(
            "replies out of order",
            format!("{} conversations", r.out_of_order_conversations),
        );
        row(
            "API calls / 429s",
            format!(
                "{calls} / {limited} ({} sites, busiest {busiest})",
                self.api_calls.len()
            ),
        );
        let errors: Vec<_> = self
            .app_errors
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        row(
            "app errors",
            if errors.is_empty() {
                "none".to_owned()
            } else {
                errors.join(", ")
            },
        );
        let verdict = if self.passed() {
            "PASS: nothing lost, duplicated or misdirected".to_owned()
        } else {
            format!("FAIL: {}", self.failures.join("; "))
        };
        let _ = writeln!(out, "{verdict}");
        out
    }
}

/// The most distinct kinds of app error the report keeps (an app's error texts could vary
/// without bound).
const MAX_ERROR_KINDS: usize = 20;

/// The deliveries to `receiver` and the app's errors.
pub(crate) fn deliveries(
    all: &[Delivery],
    receiver: &str,
    errors: &mut BTreeMap<String, u64>,
) -> Deliveries {
    let mut out = Deliveries::default();
    let mut histogram =
        hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds");
    for delivery in all.iter().filter(|d| d.receiver == receiver) {
        for attempt in &delivery.attempts {
            let kind = match (attempt.status, &attempt.error) {
                (Some(200), _) => continue,
                (Some(status), _) => format!("status {status}"),
                (None, Some(e)) if e.starts_with("no answer within") => "timeout".to_owned(),
                (None, _) => "no connection".to_owned(),
            };
            if errors.len() < MAX_ERROR_KINDS || errors.contains_key(&kind) {
                *errors.entry(kind).or_default() += 1;
            }
        }
        if delivery.repeat {
            out.repeats += 1;
            continue;
        }
        out.deliveries += 1;
        let first = delivery.attempts.first().and_then(|a| a.status);
        if first == Some(200) {
            out.first_try_200 += 1;
        }
        if delivery.attempts.len() > 1 {
            out.resent += 1;
        }
        match (delivery.finished, delivery.delivered) {
            (false, _) => out.unfinished += 1,
            (true, false) => out.given_up += 1,
            (true, true) => {}
        }
        if !delivery.delivered || !delivery.finished {
            example(&mut out.lost_examples, delivery.event_id.clone());
        }
        if let Some(took) = delivery.time_to_200 {
            let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
            histogram.saturating_record(micros.max(1));
        }
    }
    let ms = |micros: u64| micros as f64 / 1000.0;
    if !histogram.is_empty() {
        out.time_to_200_ms = Percentiles {
            p50: ms(histogram.value_at_quantile(0.5)),
            p99: ms(histogram.value_at_quantile(0.99)),
            max: ms(histogram.max()),
        };
    }
    out
}

/// The app's replies to the visitor messages `0..messages`, from the conversations in `state`.
pub(crate) fn replies(state: &State, messages: u64) -> Replies {
    let mut out = Replies::default();
    let current: Vec<(String, Vec<wix_inbox::types::Message>)> = state
        .store
        .all_conversations()
        .into_iter()
        .filter_map(|c| c.id)
        .filter(|id| state.store.merged_into(id).is_none())
        .map(|id| {
            let messages = state.store.messages(&id);
            (id, messages)
        })
        .collect();
    // Where each visitor message is now.
    let mut home: HashMap<u64, &str> = HashMap::new();
    for (id, list) in &current {
        for message in list {
            if message.direction == Some(MessageDirection::ParticipantToBusiness) {
                let text = message.plain_text().unwrap_or_default();
                if let Some(n) = message_tag(&text) {
                    home.insert(n, id);
                }
            }
        }
    }
    // How many replies each got.
    let mut answers: HashMap<u64, u64> = HashMap::new();
    for (id, list) in &current {
        let mut last_visitor = None;
        let mut own: Vec<String> = Vec::new();
        let mut answered_order: Vec<u64> = Vec::new();
        for message in list {
            let text = message.plain_text().unwrap_or_default();
            match message.direction {
                Some(MessageDirection::ParticipantToBusiness) => {
                    last_visitor = message_tag(&text).or(last_visitor);
                }
                Some(MessageDirection::BusinessToParticipant) => {
                    if own
                        .iter()
                        .any(|o| text.len() > o.len() && text.contains(o.as_str()))
                    {
                        out.to_own_messages += 1;
                    }
                    let quoted = message_tag(&text);
                    if quoted.is_none() {
                        out.unquoted += 1;
                    }
                    if let Some(n) = quoted.or(last_visitor) {
                        *answers.entry(n).or_default() += 1;
                        answered_order.push(n);
                        if quoted.is_some() && home.get(&n).is_some_and(|h| h != id) {
                            out.misplaced += 1;
                            example(&mut out.misplaced_examples, n);
                        }
                    }
                    // Only a message that quotes a visitor's can be quoted back by mistake.
                    if quoted.is_some() {
                        own.push(text);
                    }
                }
                _ => {}
            }
        }
        if answered_order.windows(2).any(|w| w[0] > w[1]) {
            out.out_of_order_conversations += 1;
            example(&mut out.out_of_order_examples, id.clone());
        }
    }
    for n in 0..messages {
        match answers.get(&n).copied().unwrap_or(0) {
            0 => {
                out.zero += 1;
                example(&mut out.unanswered_examples, n);
            }
            1 => out.one += 1,
            _ => {
                out.more += 1;
                example(&mut out.repeated_examples, n);
            }
        }
    }
    out
}

/// What the app lost, duplicated or misdirected, with the first examples.
pub(crate) fn failures(report: &Report) -> Vec<String> {
    let d = &report.deliveries;
    let r = &report.replies;
    let messages =
        |numbers: &[u64]| -> Vec<String> { numbers.iter().map(|n| format!("m{n}")).collect() };
    let checks = [
        (
            r.zero,
            "visitor messages never answered (lost)",
            messages(&r.unanswered_examples),
        ),
        (
            d.given_up,
            "deliveries given up: never answered 200 (lost)",
            d.lost_examples.clone(),
        ),
        (
            d.unfinished,
            "deliveries still unanswered at the end (lost)",
            d.lost_examples.clone(),
        ),
        (
            r.more,
            "visitor messages answered more than once (duplicated)",
            messages(&r.repeated_examples),
        ),
        (
            r.to_own_messages,
            "replies to the app's own messages (misdirected)",
            Vec::new(),
        ),
        (
            r.misplaced,
            "replies in another conversation (misdirected)",
            messages(&r.misplaced_examples),
        ),
    ];
    checks
        .iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, what, examples)| match examples.as_slice() {
            [] => format!("{n} {what}"),
            some => format!("{n} {what}, first: {}", some.join(", ")),
        })
        .collect()
}
