//! How the crate records: `counter`, `gauge` and `histogram`, as the `metrics` macros, with the
//! keys made once per thread and kept.
//!
//! The `metrics` macros build a [`Key`] with a new label vector on every record unless the name
//! and every label are literals, and a recorder such as Prometheus's copies that key again to
//! look it up. Here each (name, labels) is made once per thread, with its labels shared, and found
//! again by the addresses of its `&'static str`s: a record allocates nothing and hashes no
//! strings. Only keys are kept, never a recorder's handles: the current recorder is asked on
//! every record, so one installed later (or a local one) gets every record made after it.

use std::cell::RefCell;
use std::collections::HashMap;

use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder};
use rustc_hash::FxBuildHasher;

/// Up to this many labels a key.
const MAX_LABELS: usize = 2;

/// A `&'static str` by its address and length: two strings with the same text at different
/// addresses are two entries with equal keys (there are as many as the literals, a bounded
/// number), and one address always holds the same text.
type Id = (usize, usize);

/// A name and its labels, by [`Id`].
type Ids = [Id; 1 + 2 * MAX_LABELS];

fn id(text: &'static str) -> Id {
    (text.as_ptr() as usize, text.len())
}

thread_local! {
    /// This thread's keys. Bounded: the crate's names times their label values, all literals.
    static KEYS: RefCell<HashMap<Ids, Key, FxBuildHasher>> = RefCell::default();
}

/// Runs `f` with the key of `name` and `labels` (at most [`MAX_LABELS`]).
fn with_key<const N: usize, R>(
    name: &'static str,
    labels: Labels<N>,
    f: impl FnOnce(&Key) -> R,
) -> R {
    const { assert!(N <= MAX_LABELS) };
    let mut ids: Ids = [(0, 0); 1 + 2 * MAX_LABELS];
    ids[0] = id(name);
    for (i, (label, value)) in labels.iter().enumerate() {
        ids[1 + 2 * i] = id(label);
        ids[2 + 2 * i] = id(value);
    }
    // Cloned out of the map (a reference count; no allocation), so that `f` may record too.
    // (None while the thread's locals are being destroyed: the key is made for this record.)
    let kept = KEYS
        .try_with(|keys| keys.borrow().get(&ids).cloned())
        .ok()
        .flatten();
    let key = kept.unwrap_or_else(|| {
        let labels = labels
            .iter()
            .map(|&(label, value)| Label::from_static_parts(label, value))
            .collect::<Vec<_>>();
        let key = Key::from_parts(name, labels).to_retained();
        let _ = KEYS.try_with(|keys| {
            if let Ok(mut keys) = keys.try_borrow_mut() {
                keys.insert(ids, key.clone());
            }
        });
        key
    });
    f(&key)
}

/// Where the records come from, as the `metrics` macros would tell the recorder.
static METADATA: Metadata<'static> = Metadata::new(TARGET, Level::INFO, Some(TARGET));

/// `wix_inbox::metrics`, where the records are made.
const TARGET: &str = concat!(env!("CARGO_CRATE_NAME"), "::metrics");

// The `counter!`, `gauge!` and `histogram!` macros of `metrics`, with the key kept: the
// current recorder is asked on every record.

/// What the current recorder's `register` gives for the key of `name` with `labels`.
fn register<const N: usize, T>(
    name: &'static str,
    labels: Labels<N>,
    register: impl FnOnce(&dyn Recorder, &Key) -> T,
) -> T {
    with_key(name, labels, |key| {
        ::metrics::with_recorder(|recorder| register(recorder, key))
    })
}

/// The labels of a record: each one's name and value.
type Labels<const N: usize> = [(&'static str, &'static str); N];

/// The current recorder's counter of `name` with `labels`.
pub(super) fn counter<const N: usize>(name: &'static str, labels: Labels<N>) -> Counter {
    register(name, labels, |r, key| r.register_counter(key, &METADATA))
}

/// The current recorder's gauge of `name` with `labels`.
pub(super) fn gauge<const N: usize>(name: &'static str, labels: Labels<N>) -> Gauge {
    register(name, labels, |r, key| r.register_gauge(key, &METADATA))
}

/// The current recorder's histogram of `name` with `labels`.
pub(super) fn histogram<const N: usize>(name: &'static str, labels: Labels<N>) -> Histogram {
    register(name, labels, |r, key| r.register_histogram(key, &METADATA))
}
