//! The rules of the directory, independent of where its links are kept: what recording one
//! merge adds, and what it refuses.

use std::cell::Cell;
use std::collections::HashMap;

use super::error::DirectoryError;

/// How many links a chain may have before it is taken for a loop
/// ([`DirectoryError::Corrupt`]). A participant's conversation is merged a few times in its
/// life (visitor → contact → member, contacts merged by the business); this is far beyond.
pub const MAX_CHAIN: usize = 10_000;

/// The most old conversation IDs one merge event may list ([`DirectoryError::TooLarge`]
/// beyond). Wix lists the few conversations of one participant's history.
pub const MAX_SOURCES: usize = 1_000;

/// The most links one plan may follow, all chains together ([`DirectoryError::TooLarge`]
/// beyond): a few walks along a chain as long as [`MAX_CHAIN`], a few milliseconds of work. It
/// bounds the time a store holds a lock (or spends in round trips) for one event, whatever
/// the event lists and however long the chains are.
pub const MAX_STEPS: usize = 8 * MAX_CHAIN;

/// One conversation ID that was current and no longer is, after a merge: whatever an app keeps
/// under `from` belongs under `to` now.
///
/// `to` is where `from` leads after the merge, the end of the chain: the event's target, or
/// the conversation the target was itself merged into when that merge was learned first.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Move {
    /// The conversation ID that was current before the merge.
    pub from: String,
    /// The current conversation ID it leads to now.
    pub to: String,
}

/// A link a merge adds to a store: conversation `from` was merged into `into` (the event's
/// target as sent, not the end of its chain: [`Move::to`] is that).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Link {
    /// The conversation that was merged. It had no link before.
    pub from: String,
    /// The conversation it was merged into.
    pub into: String,
}

/// What recording one merge changes in a store: the links to add, and the moves to report.
///
/// A store that keeps its links elsewhere (Redis, a database) reads the chains the merge
/// touches, builds the plan with [`MergePlan::new`], and writes [`links`](Self::links) in the
/// same atomic step as the reads (a transaction that fails when a read key changed, then
/// retried): the rules stay the same for every store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergePlan {
    /// The links to add: each source merged into the event's target. Every
    /// [`from`](Link::from) had no link before.
    pub links: Vec<Link>,
    /// The IDs that stop being current, and where they lead now (one per link).
    pub moves: Vec<Move>,
}

impl MergePlan {
    /// Plans recording that `sources` were merged into `target`, given `merged_into`, which
    /// answers the link a store holds for an ID (`None`: not merged).
    ///
    /// The rules, for each source `s`:
    ///
    /// 1. `s` already leads through `target` (a redelivery, or the event learned after a later
    ///    one): nothing to do;
    /// 2. `s` is `target`, or `target` already leads to `s`: [`DirectoryError::Cycle`];
    /// 3. `s` was not merged: add the link `s → target`;
    /// 4. `s` was merged into another chain: nothing to do when that chain ends where
    ///    `target`'s does (an older event, e.g. `A → B` learned after `[A, B] → C`), otherwise
    ///    [`DirectoryError::Conflict`].
    ///
    /// Rule 4 is judged after the links of the event's other sources, so that an event that
    /// lists every ID of a history (`[A, B] → C` after `A → B`) is consistent with it. Any
    /// refusal refuses the whole event: the plan is all or nothing.
    pub fn new<'a, F>(
        sources: &[String],
        target: &str,
        merged_into: F,
    ) -> Result<Self, DirectoryError>
    where
        F: Fn(&str) -> Option<&'a str>,
    {
        if target.is_empty() {
            return Err(DirectoryError::Invalid(
                "the target conversation ID is empty",
            ));
        }
        if sources.iter().any(|s| s.is_empty()) {
            return Err(DirectoryError::Invalid("a source conversation ID is empty"));
        }
        if sources.len() > MAX_SOURCES {
            return Err(DirectoryError::TooLarge(
                "the event lists more than 1,000 old conversation IDs",
            ));
        }
        // Every link followed is counted; past the budget the walks see the end of every chain
        // and the plan is refused below, whatever it found.
        let steps = Cell::new(0usize);
        let merged_into = |id: &str| {
            steps.set(steps.get() + 1);
            if steps.get() > MAX_STEPS {
                None
            } else {
                merged_into(id)
            }
        };
        let planned = Self::plan(sources, target, merged_into);
        if steps.get() > MAX_STEPS {
            return Err(DirectoryError::TooLarge(
                "following its chains takes more than 80,000 steps",
            ));
        }
        planned
    }

    fn plan<'a, F>(sources: &[String], target: &str, merged_into: F) -> Result<Self, DirectoryError>
    where
        F: Fn(&str) -> Option<&'a str>,
    {
        // The links planned so far, looked up before the store's.
        let mut planned: HashMap<&str, &str> = HashMap::new();
        let mut order: Vec<&str> = Vec::new();
        let mut merged_elsewhere: Vec<&str> = Vec::new();
        for source in sources {
            let source = source.as_str();
            let link = |id: &str| planned.get(id).copied().or_else(|| merged_into(id));
            if leads_through(source, target, link)? {
                continue; // rule 1
            }
            if source == target || leads_through(target, source, link)? {
                return Err(cycle(source, target)); // rule 2
            }
            if link(source).is_none() {
                planned.insert(source, target); // rule 3
                order.push(source);
            } else {
                merged_elsewhere.push(source); // rule 4, once the others are planned
            }
        }
        let link = |id: &str| planned.get(id).copied().or_else(|| merged_into(id));
        let end = resolve(target, link)?;
        for source in merged_elsewhere {
            if leads_through(source, target, link)? {
                continue;
            }
            if leads_through(target, source, link)? {
                return Err(cycle(source, target));
            }
            let current = resolve(source, link)?;
            if current != end {
                return Err(DirectoryError::Conflict {
                    id: source.to_owned(),
                    current: current.to_owned(),
                    target: end.to_owned(),
                });
            }
        }
        Ok(MergePlan {
            links: order
                .iter()
                .map(|&s| Link {
                    from: s.to_owned(),
                    into: target.to_owned(),
                })
                .collect(),
            moves: order
                .iter()
                .map(|&s| Move {
                    from: s.to_owned(),
                    to: end.to_owned(),
                })
                .collect(),
        })
    }
}

fn cycle(id: &str, target: &str) -> DirectoryError {
    DirectoryError::Cycle {
        id: id.to_owned(),
        target: target.to_owned(),
    }
}

/// The end of `id`'s chain: the conversation it leads to now (`id` itself when it was never
/// merged), following the links `merged_into` answers. [`DirectoryError::Corrupt`] when the
/// chain is longer than [`MAX_CHAIN`] (a loop).
pub fn resolve<'a>(
    mut id: &'a str,
    merged_into: impl Fn(&str) -> Option<&'a str>,
) -> Result<&'a str, DirectoryError> {
    for _ in 0..=MAX_CHAIN {
        match merged_into(id) {
            Some(next) => id = next,
            None => return Ok(id),
        }
    }
    Err(DirectoryError::Corrupt { id: id.to_owned() })
}

/// Whether the chain from `id` (`id` excluded) passes through `through`.
fn leads_through<'a>(
    mut id: &'a str,
    through: &str,
    merged_into: impl Fn(&str) -> Option<&'a str>,
) -> Result<bool, DirectoryError> {
    for _ in 0..=MAX_CHAIN {
        match merged_into(id) {
            Some(next) if next == through => return Ok(true),
            Some(next) => id = next,
            None => return Ok(false),
        }
    }
    Err(DirectoryError::Corrupt { id: id.to_owned() })
}
