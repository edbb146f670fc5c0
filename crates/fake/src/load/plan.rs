//! The traffic of a load test, drawn from its seed before it runs: who writes when, who becomes
//! a contact or a member. The same configuration gives the same plan.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use wix_inbox::types::ParticipantId;

use super::LoadConfig;

/// What a participant does at a moment of the test.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// The participant writes visitor message number `message` ([`message_text`]).
    Write {
        /// Who writes: the visitor, or the contact or member they became.
        participant: ParticipantId,
        /// The message's number in the test, from 0.
        message: u64,
    },
    /// The visitor becomes a contact (a merge).
    BecomeContact {
        /// The anonymous visitor ID.
        visitor: String,
        /// The new contact ID.
        contact: String,
    },
    /// The visitor registers as a member directly (a merge).
    BecomeMember {
        /// The anonymous visitor ID.
        visitor: String,
        /// The new contact ID.
        contact: String,
        /// The new member ID.
        member: String,
    },
    /// The contact registers as a member (a merge).
    ContactBecomesMember {
        /// The contact ID.
        contact: String,
        /// The new member ID.
        member: String,
    },
}

/// One step of the plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// When, from the start of the test.
    pub at: Duration,
    /// On which site: the index in [`FakeInbox::instance_ids`](crate::FakeInbox::instance_ids).
    pub site: usize,
    /// What happens.
    pub action: Action,
}

/// The steps of a load test, in time order.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The steps.
    pub steps: Vec<Step>,
    /// How many visitor messages the steps write.
    pub messages: u64,
    /// How many conversions (merges) they make.
    pub conversions: u64,
}

/// The text of visitor message `n`: its tag `[load mN]`, which a reply that quotes it carries
/// (see [`message_tag`]).
pub fn message_text(n: u64) -> String {
    format!("[load m{n}] Hello! Is this in stock?")
}

/// The number of the first visitor message quoted in `text` (its `[load mN]` tag).
pub fn message_tag(text: &str) -> Option<u64> {
    let start = text.find("[load m")? + "[load m".len();
    let rest = &text[start..];
    let end = rest.find(']')?;
    rest[..end].parse().ok()
}

/// How a converting visitor converts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Conversion {
    Contact,
    Member,
    ContactThenMember,
}

/// A visitor slot: its current visitor (generation), what they wrote, who they are now.
struct Slot {
    generation: u64,
    written: u32,
    conversion: Option<Conversion>,
    now: ParticipantId,
}

impl Plan {
    /// The plan of `config` (assumed [valid](LoadConfig::validate)).
    pub fn new(config: &LoadConfig) -> Plan {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let per_site = config.visitors_per_site.max(1) as usize;
        let slots = config.sites.max(1) * per_site;
        let per_visitor = config.messages_per_visitor.max(1);
        // A converting visitor converts right after their first message (its reply races the
        // merge), and a contact who becomes a member right after their second.
        let convert_after = 1;
        let total = config.total_messages();
        let mut table: Vec<Option<Slot>> = (0..slots).map(|_| None).collect();
        let mut plan = Plan {
            steps: Vec::new(),
            messages: total,
            conversions: 0,
        };
        for n in 0..total {
            let at = Duration::from_secs_f64(n as f64 / config.rate);
            let index = rng.random_range(0..slots);
            let site = index / per_site;
            let fresh = |generation: u64, rng: &mut ChaCha8Rng| {
                let converts = rng.random_bool(config.convert_share);
                Slot {
                    generation,
                    written: 0,
                    conversion: converts.then(|| match rng.random_range(0..3) {
                        0 => Conversion::Contact,
                        1 => Conversion::Member,
                        _ => Conversion::ContactThenMember,
                    }),
                    now: ParticipantId::AnonymousVisitorId(format!("v{index}g{generation}")),
                }
            };
            if table[index]
                .as_ref()
                .is_none_or(|s| s.written >= per_visitor)
            {
                let generation = table[index].as_ref().map_or(0, |s| s.generation + 1);
                table[index] = Some(fresh(generation, &mut rng));
            }
            let Some(slot) = table[index].as_mut() else {
                continue;
            };
            slot.written += 1;
            plan.steps.push(Step {
                at,
                site,
                action: Action::Write {
                    participant: slot.now.clone(),
                    message: n,
                },
            });
            let ids = |kind: &str| format!("{kind}{index}g{}", slot.generation);
            let action = match (slot.conversion, slot.written) {
                (Some(Conversion::Contact | Conversion::ContactThenMember), w)
                    if w == convert_after =>
                {
                    Some(Action::BecomeContact {
                        visitor: ids("v"),
                        contact: ids("c"),
                    })
                }
                (Some(Conversion::Member), w) if w == convert_after => Some(Action::BecomeMember {
                    visitor: ids("v"),
                    contact: ids("c"),
                    member: ids("m"),
                }),
                (Some(Conversion::ContactThenMember), w) if w == convert_after + 1 => {
                    Some(Action::ContactBecomesMember {
                        contact: ids("c"),
                        member: ids("m"),
                    })
                }
                _ => None,
            };
            if let Some(action) = action {
                slot.now = match &action {
                    Action::BecomeContact { contact, .. } => {
                        ParticipantId::ContactId(contact.clone())
                    }
                    Action::BecomeMember { member, .. }
                    | Action::ContactBecomesMember { member, .. } => {
                        ParticipantId::MemberId(member.clone())
                    }
                    Action::Write { .. } => unreachable!("a conversion"),
                };
                plan.conversions += 1;
                plan.steps.push(Step { at, site, action });
            }
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(seed: u64) -> LoadConfig {
        LoadConfig {
            sites: 4,
            rate: 50.0,
            duration: Duration::from_secs(4),
            seed,
            ..LoadConfig::default()
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_traffic() {
        let plan = Plan::new(&config(1));
        assert_eq!(plan, Plan::new(&config(1)));
        assert_ne!(plan, Plan::new(&config(2)));
        assert_eq!(plan.messages, 200);
        let writes = plan
            .steps
            .iter()
            .filter(|s| matches!(s.action, Action::Write { .. }))
            .count();
        assert_eq!(writes, 200);
        assert!(plan.conversions > 0, "some visitors convert");
        assert!(plan.steps.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(plan.steps.iter().all(|s| s.site < 4));
        assert_eq!(plan.steps.last().unwrap().at, Duration::from_secs_f64(3.98));
    }

    #[test]
    fn a_converted_visitor_writes_as_who_they_became() {
        let plan = Plan::new(&LoadConfig {
            convert_share: 1.0,
            visitors_per_site: 1,
            ..config(3)
        });
        let (mut gone, mut contacts) = (Vec::new(), Vec::new());
        for step in &plan.steps {
            match &step.action {
                Action::BecomeContact { visitor, contact } => {
                    gone.push(visitor.clone());
                    contacts.push(contact.clone());
                }
                Action::BecomeMember { visitor, .. } => gone.push(visitor.clone()),
                Action::ContactBecomesMember { contact, .. } => {
                    assert!(contacts.contains(contact));
                    gone.push(contact.clone());
                }
                Action::Write { participant, .. } => match participant {
                    ParticipantId::AnonymousVisitorId(v) => assert!(!gone.contains(v)),
                    ParticipantId::ContactId(c) => {
                        assert!(contacts.contains(c) && !gone.contains(c))
                    }
                    _ => {}
                },
            }
        }
        assert!(
            plan.conversions >= 4,
            "every visitor converts: {}",
            plan.conversions
        );
    }

    #[test]
    fn tags_are_read_back() {
        assert_eq!(message_tag(&message_text(42)), Some(42));
        assert_eq!(
            message_tag(&format!("Thanks, we got: {}", message_text(7))),
            Some(7)
        );
        assert_eq!(message_tag("no tag [load mx]"), None);
    }
}
