//! The one attempt-and-retry loop: API calls and app token requests both go through
//! [`with_retries`], each saying through [`Attempt`] how one attempt is made and what its outcome
//! calls for.

use std::{future::Future, time::Duration};

use tokio::time::Instant;
use tracing::{Instrument as _, Span};

use super::policy::RetryPolicy;

/// What an attempt's outcome calls for.
pub(crate) enum Step<I, T> {
    /// Return the outcome.
    Done(T),
    /// Try again with `next` after the policy's wait (`Retry-After`, if the server sent one), or
    /// return the outcome if the policy says to stop.
    Retry {
        outcome: T,
        retry_after: Option<Duration>,
        next: I,
    },
    /// Try again with `next` at once, outside the policy's count (a 401 answered by a new app
    /// token).
    RetryUncounted(I),
}

/// One kind of request, tried as [`with_retries`] says.
pub(crate) trait Attempt {
    /// What an attempt is made with (the request to send).
    type Input;
    /// What an attempt comes to.
    type Outcome;

    /// What the attempts are for, as the metrics' `operation` label.
    fn operation(&self) -> &'static str;

    /// The tracing span of attempt `n` (from 1).
    fn span(&self, n: u32) -> Span;

    /// Makes attempt `n` with `input`, recording what it saw in `span`.
    fn attempt(
        &mut self,
        n: u32,
        input: Self::Input,
        span: &Span,
    ) -> impl Future<Output = Step<Self::Input, Self::Outcome>> + Send;
}

/// Makes attempts, from `first`, until one is done or the policy says to stop; returns the last
/// outcome. The wait before a retry is [`RetryPolicy`]'s, counted from the first attempt.
pub(crate) async fn with_retries<A: Attempt>(
    policy: &RetryPolicy,
    mut attempt: A,
    first: A::Input,
) -> A::Outcome {
    let started = Instant::now();
    let mut input = first;
    let mut retries = 0;
    let mut n = 0;
    loop {
        n += 1;
        let span = attempt.span(n);
        let step = attempt
            .attempt(n, input, &span)
            .instrument(span.clone())
            .await;
        match step {
            Step::Done(outcome) => return outcome,
            Step::RetryUncounted(next) => input = next,
            Step::Retry {
                outcome,
                retry_after,
                next,
            } => {
                retries += 1;
                let Some(wait) = policy.delay(retries, retry_after, started.elapsed()) else {
                    return outcome;
                };
                drop(outcome);
                crate::metrics::client_retry(attempt.operation(), wait, retry_after.is_some());
                span.in_scope(|| tracing::info!(wait_ms = wait.as_millis() as u64, "retrying"));
                tokio::time::sleep(wait).await;
                input = next;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Attempts whose outcomes are given in advance; records when each was made.
    struct Scripted {
        outcomes: Vec<Step<(), &'static str>>,
        made: Vec<Duration>,
        started: Instant,
    }

    impl Attempt for &mut Scripted {
        type Input = ();
        type Outcome = &'static str;

        fn operation(&self) -> &'static str {
            "scripted"
        }

        fn span(&self, _: u32) -> Span {
            Span::none()
        }

        async fn attempt(&mut self, _: u32, _: (), _: &Span) -> Step<(), &'static str> {
            self.made.push(self.started.elapsed());
            self.outcomes.remove(0)
        }
    }

    fn retry(outcome: &'static str, secs: u64) -> Step<(), &'static str> {
        Step::Retry {
            outcome,
            retry_after: Some(Duration::from_secs(secs)),
            next: (),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn waits_as_asked_and_returns_the_last_outcome_when_attempts_run_out() {
        let mut script = Scripted {
            outcomes: vec![retry("a", 2), retry("b", 5), retry("c", 1)],
            made: vec![],
            started: Instant::now(),
        };
        let out = with_retries(&RetryPolicy::default(), &mut script, ()).await;
        assert_eq!(out, "c");
        let secs: Vec<_> = script.made.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [0, 2, 7], "3 attempts, each after the wait asked");
        assert!(script.outcomes.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn again_is_at_once_and_outside_the_count() {
        let mut script = Scripted {
            outcomes: vec![
                Step::RetryUncounted(()),
                retry("a", 1),
                Step::RetryUncounted(()),
                retry("b", 1),
                Step::Done("done"),
            ],
            made: vec![],
            started: Instant::now(),
        };
        let policy = RetryPolicy::default().max_attempts(3);
        let out = with_retries(&policy, &mut script, ()).await;
        assert_eq!(out, "done");
        let secs: Vec<_> = script.made.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [0, 0, 1, 1, 2]);
    }

    #[tokio::test(start_paused = true)]
    async fn no_retry_starts_past_the_total_time() {
        let mut script = Scripted {
            outcomes: vec![retry("a", 30), retry("b", 31)],
            made: vec![],
            started: Instant::now(),
        };
        let policy = RetryPolicy::default()
            .max_attempts(10)
            .max_retry_after(Duration::MAX);
        let out = with_retries(&policy, &mut script, ()).await;
        assert_eq!(out, "b", "30 s + 31 s is past the 60 s allowed");
        assert_eq!(Instant::now() - script.started, Duration::from_secs(30));
    }
}
