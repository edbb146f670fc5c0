//! The conversation-ID directory (`wix_inbox::lifecycle`): chains, redelivery, any order of
//! delivery, refused loops and conflicts, the moves it reports, concurrency, and the events of
//! Wix's example and of the fake.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;

use crate::accessors::{delivered, fixture};
use wix_inbox::lifecycle::{
    ConversationDirectory, DirectoryError, InMemoryMergeStore, MergePlan, MergeStore, Move,
    MAX_CHAIN, MAX_SOURCES,
};
use wix_inbox::types::{ConversationsMerged, ParticipantId};
use wix_inbox::webhooks::{InboxEvent, WebhookVerifier};
use wix_inbox_fake::FakeInbox;

mod histories;

// `merge`, `moved`, `currents`, `out_of_order`, `participant_deliveries` and
// `each_reported_once` serve the Redis store's tests too (`redis_directory`).

pub(crate) fn merge(sources: &[&str], target: &str) -> ConversationsMerged {
    ConversationsMerged {
        old_conversation_ids: sources.iter().map(|s| s.to_string()).collect(),
        target_conversation_id: Some(target.into()),
        ..Default::default()
    }
}

pub(crate) fn moved(pairs: &[(&str, &str)]) -> Vec<Move> {
    pairs
        .iter()
        .map(|(from, to)| Move {
            from: from.to_string(),
            to: to.to_string(),
        })
        .collect()
}

/// Awaits the spawned `apply` of each delivery: each of the `expected` merged-away IDs is
/// reported once, whichever delivery (or redelivery) reported it.
pub(crate) async fn each_reported_once(
    tasks: Vec<tokio::task::JoinHandle<Result<Vec<Move>, DirectoryError>>>,
    expected: usize,
) {
    let mut froms = Vec::new();
    for task in tasks {
        froms.extend(task.await.unwrap().unwrap().into_iter().map(|m| m.from));
    }
    let unique: BTreeSet<&String> = froms.iter().collect();
    assert_eq!(
        froms.len(),
        expected,
        "each merged-away ID is reported once"
    );
    assert_eq!(unique.len(), expected);
}

/// The contact became a member (B → C) and that event arrived first; the visitor's merge into
/// the contact's conversation (A → B) arrives late: A leads to C, and the move says C (B's state
/// already moved there).
pub(crate) async fn out_of_order<S: MergeStore>(directory: &ConversationDirectory<S>) {
    assert_eq!(
        directory.apply(&merge(&["B"], "C")).await.unwrap(),
        moved(&[("B", "C")])
    );
    assert_eq!(
        directory.apply(&merge(&["A"], "B")).await.unwrap(),
        moved(&[("A", "C")])
    );
}

/// 300 participants, each visitor → contact → member (every third one's history listed again
/// in one more event), every event delivered twice, in an order shuffled from `seed`.
pub(crate) fn participant_deliveries(seed: u64) -> Vec<ConversationsMerged> {
    let mut events = Vec::new();
    for p in 0..300 {
        let (v, c, m) = (format!("v{p}"), format!("c{p}"), format!("m{p}"));
        events.push(merge(&[&v], &c));
        events.push(merge(&[&c], &m));
        if p % 3 == 0 {
            events.push(merge(&[&v, &c], &m)); // the whole history listed again
        }
    }
    let mut deliveries: Vec<ConversationsMerged> = events.iter().chain(&events).cloned().collect();
    Rng(seed).shuffle(&mut deliveries);
    deliveries
}

async fn current(directory: &ConversationDirectory, id: &str) -> String {
    directory.current(id).await.unwrap()
}

/// Every ID's current conversation, for comparing whole states.
pub(crate) async fn currents<S: MergeStore>(
    directory: &ConversationDirectory<S>,
    ids: &[&str],
) -> Vec<String> {
    let mut out = Vec::new();
    for id in ids {
        out.push(directory.current(id).await.unwrap());
    }
    out
}

#[tokio::test]
async fn chains_are_followed_to_their_end() {
    let directory = ConversationDirectory::new();
    assert_eq!(current(&directory, "A").await, "A", "never merged: itself");

    let first = directory.apply(&merge(&["A"], "B")).await.unwrap();
    assert_eq!(first, moved(&[("A", "B")]));
    assert_eq!(current(&directory, "A").await, "B");

    let second = directory.apply(&merge(&["B"], "C")).await.unwrap();
    assert_eq!(second, moved(&[("B", "C")]), "A followed B: only B moved");
    assert_eq!(
        currents(&directory, &["A", "B", "C"]).await,
        ["C", "C", "C"]
    );

    directory.apply(&merge(&["C"], "D")).await.unwrap();
    assert_eq!(currents(&directory, &["A", "B", "C", "D"]).await, ["D"; 4]);
    assert_eq!(current(&directory, "unknown").await, "unknown");
    assert_eq!(directory.store().len(), 3);
}

#[tokio::test]
async fn redelivered_events_change_nothing() {
    let directory = ConversationDirectory::new();
    let events = [
        merge(&["A"], "B"),
        merge(&["B"], "C"),
        merge(&["X", "Y"], "C"),
    ];
    for event in &events {
        assert!(!directory.apply(event).await.unwrap().is_empty());
    }
    let before = currents(&directory, &["A", "B", "C", "X", "Y"]).await;
    for _ in 0..3 {
        for event in &events {
            assert_eq!(directory.apply(event).await.unwrap(), [], "{event:?}");
        }
    }
    assert_eq!(
        currents(&directory, &["A", "B", "C", "X", "Y"]).await,
        before
    );
    assert_eq!(directory.store().len(), 4);
}

#[tokio::test]
async fn out_of_order_events_resolve_the_same() {
    let directory = ConversationDirectory::new();
    out_of_order(&directory).await;
    assert_eq!(currents(&directory, &["A", "B"]).await, ["C", "C"]);
}

#[tokio::test]
async fn every_order_of_a_chain_gives_the_same_state_and_each_move_once() {
    let events = [
        merge(&["A"], "B"),
        merge(&["B"], "C"),
        merge(&["C"], "D"),
        merge(&["E"], "B"),
    ];
    for order in permutations(events.len()) {
        let directory = ConversationDirectory::new();
        let mut froms = Vec::new();
        for &i in &order {
            for m in directory.apply(&events[i]).await.unwrap() {
                // `to` is current when reported.
                assert_eq!(current(&directory, &m.to).await, m.to, "{order:?}");
                froms.push(m.from);
            }
        }
        froms.sort();
        assert_eq!(froms, ["A", "B", "C", "E"], "{order:?}");
        assert_eq!(
            currents(&directory, &["A", "B", "C", "D", "E"]).await,
            ["D"; 5],
            "{order:?}"
        );
    }
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out
}

#[tokio::test]
async fn an_event_listing_the_whole_history_agrees_with_the_merges_it_repeats() {
    // A → B, then Wix lists every old ID: [A, B] → C.
    let directory = ConversationDirectory::new();
    directory.apply(&merge(&["A"], "B")).await.unwrap();
    assert_eq!(
        directory.apply(&merge(&["A", "B"], "C")).await.unwrap(),
        moved(&[("B", "C")])
    );
    assert_eq!(currents(&directory, &["A", "B"]).await, ["C", "C"]);

    // The other order: the full list first, the old merge late; it is older news.
    let directory = ConversationDirectory::new();
    assert_eq!(
        directory.apply(&merge(&["A", "B"], "C")).await.unwrap(),
        moved(&[("A", "C"), ("B", "C")])
    );
    assert_eq!(directory.apply(&merge(&["A"], "B")).await.unwrap(), []);
    assert_eq!(currents(&directory, &["A", "B"]).await, ["C", "C"]);
}

#[tokio::test]
async fn a_merge_that_would_make_a_loop_is_refused_and_changes_nothing() {
    let directory = ConversationDirectory::new();
    directory.apply(&merge(&["A"], "B")).await.unwrap();
    directory.apply(&merge(&["B"], "C")).await.unwrap();
    let ids = ["A", "B", "C", "D"];
    let before = currents(&directory, &ids).await;

    for (event, id, target) in [
        (merge(&["B"], "A"), "B", "A"),
        (merge(&["C"], "A"), "C", "A"),
        (merge(&["C"], "B"), "C", "B"),
        (merge(&["D"], "D"), "D", "D"),
        // The first source alone would be fine: the whole event is refused.
        (merge(&["D", "C"], "A"), "C", "A"),
    ] {
        let err = directory.apply(&event).await.unwrap_err();
        match &err {
            DirectoryError::Cycle { id: i, target: t } => {
                assert_eq!((i.as_str(), t.as_str()), (id, target), "{event:?}")
            }
            other => panic!("{event:?}: {other:?}"),
        }
        assert!(err.is_refused());
        assert!(err.to_string().contains(&format!("{id:?}")), "{err}");
        assert_eq!(currents(&directory, &ids).await, before, "{event:?}");
        assert_eq!(directory.store().len(), 2, "{event:?}");
    }
    assert_eq!(
        directory
            .apply(&merge(&["D"], "D"))
            .await
            .unwrap_err()
            .to_string(),
        "conversation \"D\" cannot be merged into itself"
    );
}

#[tokio::test]
async fn a_merge_contradicting_a_recorded_one_is_refused() {
    let directory = ConversationDirectory::new();
    directory.apply(&merge(&["A"], "B")).await.unwrap();
    let err = directory.apply(&merge(&["A"], "X")).await.unwrap_err();
    assert!(
        matches!(&err, DirectoryError::Conflict { id, current, target }
            if id == "A" && current == "B" && target == "X"),
        "{err:?}"
    );
    assert!(err.is_refused());
    assert_eq!(currents(&directory, &["A", "X"]).await, ["B", "X"]);
    assert_eq!(directory.store().len(), 1);
}

#[tokio::test]
async fn events_that_are_no_merge_are_invalid() {
    let directory = ConversationDirectory::new();
    for event in [
        ConversationsMerged {
            old_conversation_ids: vec!["A".into()],
            target_conversation_id: None,
            ..Default::default()
        },
        merge(&["A"], ""),
        merge(&["A", ""], "B"),
    ] {
        let err = directory.apply(&event).await.unwrap_err();
        assert!(
            matches!(err, DirectoryError::Invalid(_)),
            "{event:?}: {err:?}"
        );
        assert!(err.is_refused());
    }
    assert!(directory.store().is_empty());
    // No source: nothing to record, nothing moves.
    assert_eq!(directory.apply(&merge(&[], "B")).await.unwrap(), []);
    assert!(matches!(
        directory.current("").await,
        Err(DirectoryError::Invalid(_))
    ));
}

/// A store whose links form a loop (written by something else) is reported, not followed
/// forever.
#[test]
fn a_loop_in_a_store_is_an_error_not_a_hang() {
    let links: HashMap<&str, &str> = [("A", "B"), ("B", "A")].into();
    let err = wix_inbox::lifecycle::resolve("A", |id| links.get(id).copied()).unwrap_err();
    assert!(matches!(err, DirectoryError::Corrupt { .. }), "{err:?}");
    assert!(!err.is_refused());
    let err = MergePlan::new(&["C".into()], "A", |id| links.get(id).copied()).unwrap_err();
    assert!(matches!(err, DirectoryError::Corrupt { .. }), "{err:?}");

    // A long chain that is no loop is followed.
    let ids: Vec<String> = (0..=MAX_CHAIN).map(|i| format!("c{i}")).collect();
    let chain: HashMap<&str, &str> = ids
        .windows(2)
        .map(|w| (w[0].as_str(), w[1].as_str()))
        .collect();
    assert_eq!(
        wix_inbox::lifecycle::resolve("c0", |id| chain.get(id).copied()).unwrap(),
        format!("c{MAX_CHAIN}")
    );
}

/// A store that fails, as a Redis store does when its server is gone.
struct Unreachable;

impl MergeStore for Unreachable {
    fn apply(
        &self,
        _: &[String],
        _: &str,
    ) -> impl Future<Output = Result<Vec<Move>, DirectoryError>> + Send {
        std::future::ready(Err(DirectoryError::store("connection refused")))
    }

    fn current(&self, _: &str) -> impl Future<Output = Result<String, DirectoryError>> + Send {
        std::future::ready(Err(DirectoryError::store("connection refused")))
    }
}

#[tokio::test]
async fn store_failures_are_errors_that_are_not_refusals() {
    let directory = ConversationDirectory::with_store(Unreachable);
    let err = directory.apply(&merge(&["A"], "B")).await.unwrap_err();
    assert!(!err.is_refused());
    assert_eq!(
        err.to_string(),
        "the merge store failed: connection refused"
    );
    assert!(std::error::Error::source(&err).is_some());
    assert!(directory.current("A").await.is_err());
}

/// A small deterministic generator (xorshift), so that failures can be replayed by seed (also
/// `redis_directory`'s).
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}
