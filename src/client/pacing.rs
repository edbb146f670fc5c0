//! Pacing the requests of one site or app instance, so that a burst waits its turn instead of
//! collecting 429s (Wix allows 200 requests a minute per app instance).
//!
//! A [`Pacer`] is the generic cell rate algorithm (GCRA), the algorithm of the `governor` crate,
//! as a token bucket of `n` requests refilled at `n` per period: up to `n` go at once, then one
//! every `period / n`. Each caller *reserves* its slot before it waits, so waiting callers go in
//! the order they came and none spins. It is hand-written, not `governor`'s, for three reasons:
//! `governor`'s keyed limiter keeps its keys in a map that only grows (unless pruned by a
//! timer), while a pacer lives in the bounded cache of sites and instances and goes with its
//! entry; `governor` waits on its own clock, which tokio's paused clock (the tests') does not
//! move; and its `check` refuses rather than reserves, so a waiting caller could be overtaken
//! forever.

use std::{
    sync::{Mutex, PoisonError},
    time::Duration,
};

use tokio::time::Instant;

/// At most `requests` at once, refilled at `requests` per `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rate {
    /// The wait between two requests once the burst is spent: `period / requests`.
    interval: Duration,
    /// `period`: how far ahead of now the reservations may run before a caller waits.
    period: Duration,
}

impl Rate {
    /// The wait between two requests once the burst is spent.
    pub(crate) fn interval(&self) -> Duration {
        self.interval
    }

    /// How far ahead of now the reservations may run before a caller waits.
    pub(crate) fn period(&self) -> Duration {
        self.period
    }

    /// `None` for a rate that lets nothing through or everything (0 requests, a zero period).
    pub(crate) fn new(requests: u32, period: Duration) -> Option<Rate> {
        if requests == 0 || period.is_zero() {
            return None;
        }
        Some(Rate {
            interval: period / requests,
            period,
        })
    }
}

/// The pacing state of one site or instance: when the bucket will be full again (the GCRA's
/// "theoretical arrival time").
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    full_at: Mutex<Option<Instant>>,
}

impl Pacer {
    /// Reserves the next slot and waits for it. A caller that is dropped while it waits leaves
    /// its slot unused (the bucket refills as if it had gone).
    pub(crate) async fn wait(&self, rate: &Rate) {
        let now = Instant::now();
        let go_at = {
            let mut full_at = self.full_at.lock().unwrap_or_else(PoisonError::into_inner);
            let from = full_at.filter(|t| *t > now).unwrap_or(now);
            let next = from + rate.interval;
            *full_at = Some(next);
            // The request may go once the reservations run no more than a period ahead.
            next.checked_sub(rate.period).filter(|at| *at > now)
        };
        if let Some(at) = go_at {
            tracing::debug!(
                wait_ms = (at - now).as_millis() as u64,
                "pacing: waiting for the site's turn"
            );
            tokio::time::sleep_until(at).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_goes_at_once_then_one_per_interval() {
        let rate = Rate::new(3, Duration::from_secs(3)).unwrap();
        let pacer = Pacer::default();
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..6 {
            pacer.wait(&rate).await;
            at.push((Instant::now() - start).as_secs());
        }
        assert_eq!(at, [0, 0, 0, 1, 2, 3]);
        // Idle for a period: the bucket is full again.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let start = Instant::now();
        for _ in 0..3 {
            pacer.wait(&rate).await;
        }
        assert_eq!(Instant::now(), start);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_never_exceed_the_rate() {
        let rate = Rate::new(5, Duration::from_secs(1)).unwrap();
        let pacer = std::sync::Arc::new(Pacer::default());
        let start = Instant::now();
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let pacer = pacer.clone();
                tokio::spawn(async move {
                    pacer.wait(&rate).await;
                    Instant::now() - start
                })
            })
            .collect();
        let mut times = Vec::new();
        for t in tasks {
            times.push(t.await.unwrap());
        }
        times.sort();
        // 5 at once, then one every 200 ms: the 20th at 3 s.
        assert_eq!(times[4], Duration::ZERO);
        assert_eq!(times[5], Duration::from_millis(200));
        assert_eq!(times[19], Duration::from_millis(3000));
    }

    #[test]
    fn a_rate_of_nothing_is_no_rate() {
        assert_eq!(Rate::new(0, Duration::from_secs(60)), None);
        assert_eq!(Rate::new(200, Duration::ZERO), None);
    }
}
