//! How the fake delivers webhooks: when it resends an event a receiver did not take, and how
//! often it sends one again although it was taken ([`DeliveryPolicy`]).

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[cfg(doc)]
use super::FakeInboxBuilder;

const HOUR: u64 = 3600;

/// Wix's resend schedule: after a delivery that was not answered 200 within 1,250 ms, Wix tries
/// up to 12 more times, after 1 min, 10 min, 1 h, 2 h, 2 h, 2 h, 4 h, 4 h, 4 h, 8 h, 8 h and
/// 12 h (about 47 hours in all). These are the waits before each resend.
pub const WIX_RESEND_SCHEDULE: [Duration; 12] = [
    Duration::from_secs(60),
    Duration::from_secs(600),
    Duration::from_secs(HOUR),
    Duration::from_secs(2 * HOUR),
    Duration::from_secs(2 * HOUR),
    Duration::from_secs(2 * HOUR),
    Duration::from_secs(4 * HOUR),
    Duration::from_secs(4 * HOUR),
    Duration::from_secs(4 * HOUR),
    Duration::from_secs(8 * HOUR),
    Duration::from_secs(8 * HOUR),
    Duration::from_secs(12 * HOUR),
];

/// How the fake delivers each event to each receiver ([`FakeInboxBuilder::delivery_policy`]).
///
/// The fake's default ([`backoff`](Self::backoff)) is quick, for tests: 5 attempts, 50 ms
/// before the first resend, doubling. [`wix`](Self::wix) is Wix's schedule
/// ([`WIX_RESEND_SCHEDULE`]) compressed by a time scale, with Wix's repeats on top when asked:
/// [`duplicates`](Self::duplicates) (an event answered 200 sent once more later, as when Wix
/// misses the answer) and [`reorder`](Self::reorder) (a first attempt held back, so the events
/// after it overtake it). The random draws come from a generator seeded with
/// [`seed`](Self::seed), in the order the deliveries start.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryPolicy {
    resends: Vec<Duration>,
    duplicate_share: f64,
    reorder_share: f64,
    max_hold: Duration,
    seed: u64,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy::backoff(5, Duration::from_millis(50))
    }
}

impl DeliveryPolicy {
    /// `attempts` in all (at least 1), the first resend after `first_wait`, each wait twice
    /// the one before, at most 30 s.
    pub fn backoff(attempts: u32, first_wait: Duration) -> Self {
        let mut wait = first_wait;
        let resends = (1..attempts.max(1))
            .map(|_| {
                let this = wait;
                wait = wait.saturating_mul(2).min(Duration::from_secs(30));
                this
            })
            .collect();
        DeliveryPolicy::with_resends(resends)
    }

    /// Wix's schedule ([`WIX_RESEND_SCHEDULE`]) with every wait divided by `time_scale` (3,600:
    /// an hour of Wix's schedule in a second; values under 1 are taken as 1).
    pub fn wix(time_scale: f64) -> Self {
        let scale = if time_scale.is_finite() {
            time_scale.max(1.0)
        } else {
            1.0
        };
        DeliveryPolicy::with_resends(
            WIX_RESEND_SCHEDULE
                .iter()
                .map(|wait| wait.div_f64(scale))
                .collect(),
        )
    }

    /// The waits before each resend, as given (no repeats).
    pub fn with_resends(resends: Vec<Duration>) -> Self {
        DeliveryPolicy {
            resends,
            duplicate_share: 0.0,
            reorder_share: 0.0,
            max_hold: Duration::ZERO,
            seed: 0,
        }
    }

    /// Sends this share (0 to 1) of the events answered 200 once more, after a random wait up
    /// to the first resend's: a new [`Delivery`](crate::Delivery) of the same event ID, marked
    /// [`repeat`](crate::Delivery::repeat).
    pub fn duplicates(mut self, share: f64) -> Self {
        self.duplicate_share = clamp_share(share);
        self
    }

    /// Holds the first attempt of this share (0 to 1) of the deliveries back for a random time
    /// up to `max_hold`: the events emitted after it arrive first.
    pub fn reorder(mut self, share: f64, max_hold: Duration) -> Self {
        self.reorder_share = clamp_share(share);
        self.max_hold = max_hold;
        self
    }

    /// The seed of the random draws (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The waits before each resend.
    pub fn resends(&self) -> &[Duration] {
        &self.resends
    }

    /// How many attempts a delivery gets: the first and the resends.
    pub fn attempts(&self) -> usize {
        self.resends.len() + 1
    }

    /// The longest a delivery can take, holds and timeouts aside: the sum of the waits.
    pub fn span(&self) -> Duration {
        self.resends.iter().sum()
    }

    /// The draws of the `n`th delivery started.
    pub(crate) fn draws(&self, n: u64) -> Draws {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let hold = if self.reorder_share > 0.0 && rng.random_bool(self.reorder_share) {
            self.max_hold.mul_f64(rng.random::<f64>())
        } else {
            Duration::ZERO
        };
        let first_wait = self.resends.first().copied().unwrap_or(Duration::ZERO);
        let duplicate = (self.duplicate_share > 0.0 && rng.random_bool(self.duplicate_share))
            .then(|| first_wait.mul_f64(rng.random::<f64>()));
        Draws { hold, duplicate }
    }
}

/// What the policy drew for one delivery.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Draws {
    /// How long the first attempt is held back.
    pub(crate) hold: Duration,
    /// When delivered, after how long to send the event once more.
    pub(crate) duplicate: Option<Duration>,
}

fn clamp_share(share: f64) -> f64 {
    if share.is_nan() {
        0.0
    } else {
        share.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wix_schedule_is_47_hours_and_compresses() {
        let total: Duration = WIX_RESEND_SCHEDULE.iter().sum();
        assert_eq!(total, Duration::from_secs(47 * HOUR + 11 * 60));
        let fast = DeliveryPolicy::wix(3600.0);
        assert_eq!(fast.attempts(), 13);
        assert_eq!(fast.resends()[2], Duration::from_secs(1));
        assert_eq!(fast.resends()[11], Duration::from_secs(12));
    }

    #[test]
    fn backoff_doubles_up_to_30_seconds() {
        let policy = DeliveryPolicy::backoff(12, Duration::from_secs(1));
        assert_eq!(policy.attempts(), 12);
        assert_eq!(policy.resends()[3], Duration::from_secs(8));
        assert_eq!(policy.resends()[10], Duration::from_secs(30));
        assert_eq!(DeliveryPolicy::backoff(0, Duration::ZERO).attempts(), 1);
    }

    #[test]
    fn draws_follow_the_seed() {
        let policy = DeliveryPolicy::wix(3600.0)
            .duplicates(0.5)
            .reorder(0.5, Duration::from_millis(100))
            .seed(7);
        let draws = |p: &DeliveryPolicy| {
            (0..64)
                .map(|n| {
                    let d = p.draws(n);
                    (d.hold, d.duplicate)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(&policy), draws(&policy.clone()));
        assert_ne!(draws(&policy), draws(&policy.clone().seed(8)));
        let held = draws(&policy).iter().filter(|d| !d.0.is_zero()).count();
        assert!((10..54).contains(&held), "{held} of 64 held");
    }
}
