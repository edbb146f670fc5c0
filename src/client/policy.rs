//! The retry policy: how many attempts, and how long to wait before each.

use std::{
    hash::{BuildHasher, Hasher},
    time::Duration,
};

/// How the client retries.
///
/// What is retried:
/// - a response 429, 502, 503 or 504, and a connection that timed out or broke, for the operations
///   that are safe to repeat: Get Conversation, List Messages, Get Or Create Conversation (and
///   the app token request);
/// - a connection that could not be made at all, for every operation, Send Message included:
///   the request provably never reached Wix. Send Message is retried for nothing else, so a
///   message is never sent twice;
/// - a 401 of a client with app credentials, once, after getting a new access token; this does
///   not count against [`max_attempts`](Self::max_attempts).
///
/// The wait before retry `n` is drawn uniformly from zero to `initial_backoff × 2ⁿ⁻¹`, capped
/// at `max_backoff` ("full jitter"), unless Wix sent `Retry-After`: then that is waited, if it
/// is no longer than `max_retry_after` (a longer one gives up at once and the error carries it).
/// No retry starts once `max_elapsed` would be exceeded.
///
/// ```
/// use std::time::Duration;
/// use wix_inbox::RetryPolicy;
///
/// let patient = RetryPolicy::default().max_attempts(5).max_elapsed(Duration::from_secs(120));
/// let never = RetryPolicy::disabled();
/// # let _ = (patient, never);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_elapsed: Duration,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 3 attempts, backoff from 250 ms up to 8 s, 60 s in all, `Retry-After` up to 30 s.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            max_elapsed: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries: every request is sent once (an app token is still renewed once on a 401).
    pub fn disabled() -> Self {
        Self::default().max_attempts(1)
    }

    /// Attempts in all, the first included (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The cap of the wait before the first retry; it doubles for each retry after.
    pub fn initial_backoff(mut self, wait: Duration) -> Self {
        self.initial_backoff = wait;
        self
    }

    /// The largest cap of a wait computed by backoff.
    pub fn max_backoff(mut self, wait: Duration) -> Self {
        self.max_backoff = wait;
        self
    }

    /// The time, from the first attempt, after which no retry starts.
    pub fn max_elapsed(mut self, total: Duration) -> Self {
        self.max_elapsed = total;
        self
    }

    /// The longest `Retry-After` the client waits; a longer one gives up at once.
    pub fn max_retry_after(mut self, wait: Duration) -> Self {
        self.max_retry_after = wait;
        self
    }

    /// The wait before the next attempt, after `attempts` attempts were made `elapsed` ago; `None`
    /// to give up.
    pub(crate) fn delay(
        &self,
        attempts: u32,
        retry_after: Option<Duration>,
        elapsed: Duration,
    ) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let wait = match retry_after {
            Some(asked) if asked > self.max_retry_after => return None,
            Some(asked) => asked,
            None => {
                let doubling = 2u32.saturating_pow(attempts.saturating_sub(1));
                full_jitter(
                    self.initial_backoff
                        .saturating_mul(doubling)
                        .min(self.max_backoff),
                )
            }
        };
        elapsed
            .checked_add(wait)
            .is_some_and(|total| total <= self.max_elapsed)
            .then_some(wait)
    }
}

/// A wait drawn uniformly from `0..=cap`.
fn full_jitter(cap: Duration) -> Duration {
    // A fresh `RandomState` is randomly keyed: enough randomness for jitter, without a dependency.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(random % nanos.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn policy() -> RetryPolicy {
        RetryPolicy::default()
            .max_attempts(10)
            .initial_backoff(100 * MS)
            .max_backoff(1000 * MS)
            .max_elapsed(Duration::from_secs(60))
            .max_retry_after(Duration::from_secs(5))
    }

    #[test]
    fn backoff_is_full_jitter_under_a_doubling_cap() {
        // The cap before retry n is initial × 2ⁿ⁻¹, at most max_backoff; the wait is in 0..=cap.
        for (attempts, cap) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (9, 1000)] {
            let waits: Vec<_> = (0..200)
                .map(|_| policy().delay(attempts, None, Duration::ZERO).unwrap())
                .collect();
            assert!(
                waits.iter().all(|w| *w <= cap * MS),
                "{attempts}: {waits:?}"
            );
            // Jitter: the waits spread over the range rather than sit at one value.
            let above_half = waits.iter().filter(|w| **w > cap * MS / 2).count();
            assert!((40..=160).contains(&above_half), "{attempts}: {above_half}");
        }
    }

    #[test]
    fn attempts_and_total_time_bound_the_retries() {
        assert_eq!(policy().delay(10, None, Duration::ZERO), None);
        assert!(policy().delay(9, None, Duration::ZERO).is_some());
        let late = Duration::from_secs(60) - 50 * MS;
        assert_eq!(policy().delay(1, Some(100 * MS), late), None);
        assert_eq!(policy().delay(1, Some(10 * MS), late), Some(10 * MS));
    }

    #[test]
    fn retry_after_is_waited_as_asked_up_to_its_bound() {
        assert_eq!(
            policy().delay(1, Some(Duration::from_secs(5)), Duration::ZERO),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            policy().delay(1, Some(Duration::from_secs(6)), Duration::ZERO),
            None,
            "longer than max_retry_after: give up at once"
        );
        assert_eq!(
            policy().delay(1, Some(Duration::ZERO), Duration::ZERO),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn no_wait_overflows() {
        let unbounded = policy()
            .max_retry_after(Duration::MAX)
            .max_elapsed(Duration::MAX)
            .max_backoff(Duration::MAX)
            .initial_backoff(Duration::MAX);
        assert_eq!(
            unbounded.delay(1, Some(Duration::MAX), Duration::from_secs(1)),
            None
        );
        assert!(unbounded.delay(9, None, Duration::ZERO).is_some());
        assert_eq!(RetryPolicy::disabled().delay(1, None, Duration::ZERO), None);
    }

    #[test]
    fn the_defaults_are_pinned() {
        // 3 attempts, 60 s in all, `Retry-After` waited up to 30 s.
        let d = RetryPolicy::default();
        let asked = |secs| Some(Duration::from_secs(secs));
        assert!(d.delay(2, None, Duration::ZERO).is_some());
        assert_eq!(d.delay(3, None, Duration::ZERO), None, "3 attempts");
        assert_eq!(d.delay(1, asked(30), Duration::ZERO), asked(30));
        assert_eq!(d.delay(1, asked(31), Duration::ZERO), None, "30 s cap");
        assert_eq!(
            d.delay(1, asked(10), Duration::from_secs(50)),
            asked(10),
            "60 s in all"
        );
        assert_eq!(d.delay(1, asked(10), Duration::from_secs(50) + MS), None);
        // Backoff: the first wait at most 250 ms, the second at most 500 ms.
        for _ in 0..50 {
            assert!(d.delay(1, None, Duration::ZERO).unwrap() <= 250 * MS);
            assert!(d.delay(2, None, Duration::ZERO).unwrap() <= 500 * MS);
        }
    }
}
