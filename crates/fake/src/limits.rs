//! Wix's limit of API calls per app instance ([`ApiLimit`], off unless the builder sets it)
//! and the count of every instance's API calls ([`ApiCalls`]).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::FakeInbox;
#[cfg(doc)]
use super::FakeInboxBuilder;

/// A limit of API calls per app instance ([`FakeInboxBuilder::api_limit`]): at most `calls`
/// in any window of `per`. A call over it is answered 429 with Wix's error body and a
/// `Retry-After` (whole seconds until a call of the window expires, at least 1), and is not
/// served. Wix documents 200 calls a minute per instance ([`ApiLimit::wix`]) and no
/// `Retry-After`; the fake sends one, which a well-behaved client follows either way. The
/// token endpoint is not counted; calls that fail authentication are not an instance's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiLimit {
    /// The calls allowed in a window.
    pub calls: u32,
    /// The window.
    pub per: Duration,
}

impl ApiLimit {
    /// Wix's: 200 calls a minute per instance.
    pub fn wix() -> Self {
        ApiLimit {
            calls: 200,
            per: Duration::from_secs(60),
        }
    }
}

/// The API calls of one instance so far (see [`FakeInbox::api_calls`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ApiCalls {
    /// The instance.
    pub instance_id: String,
    /// Every authenticated API call (the token endpoint aside), limited ones included.
    pub calls: u64,
    /// The calls answered 429 by the [`ApiLimit`].
    pub limited: u64,
    /// The Send Messages answered 404: to a conversation merged away, or unknown.
    pub sends_not_found: u64,
}

/// The counts and windows of every instance, by index.
#[derive(Default)]
pub(crate) struct Limits(Mutex<HashMap<usize, Counter>>);

#[derive(Default)]
struct Counter {
    calls: u64,
    limited: u64,
    sends_not_found: u64,
    /// When the calls of the current window were made, oldest first.
    window: VecDeque<Instant>,
}

impl Limits {
    /// Counts a call of `instance`; under `limit`, `Err(retry after)` when over it.
    pub(crate) fn call(&self, instance: usize, limit: Option<ApiLimit>) -> Result<(), Duration> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let counter = map.entry(instance).or_default();
        counter.calls += 1;
        let Some(limit) = limit else {
            return Ok(());
        };
        let now = Instant::now();
        while counter
            .window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= limit.per)
        {
            counter.window.pop_front();
        }
        if counter.window.len() < limit.calls as usize {
            counter.window.push_back(now);
            return Ok(());
        }
        counter.limited += 1;
        let oldest = counter.window.front().copied().unwrap_or(now);
        Err(limit.per.saturating_sub(now.duration_since(oldest)))
    }

    /// Counts a Send Message of `instance` answered 404.
    pub(crate) fn send_not_found(&self, instance: usize) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(instance).or_default().sends_not_found += 1;
    }
}

impl FakeInbox {
    /// The API calls of every instance so far, in the order of
    /// [`instance_ids`](Self::instance_ids).
    pub fn api_calls(&self) -> Vec<ApiCalls> {
        let map = self
            .inner
            .limits
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        self.instance_ids()
            .into_iter()
            .enumerate()
            .map(|(i, instance_id)| {
                let c = map.get(&i);
                ApiCalls {
                    instance_id,
                    calls: c.map_or(0, |c| c.calls),
                    limited: c.map_or(0, |c| c.limited),
                    sends_not_found: c.map_or(0, |c| c.sends_not_found),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_holds_the_limit() {
        let limits = Limits::default();
        let limit = Some(ApiLimit {
            calls: 3,
            per: Duration::from_secs(60),
        });
        for _ in 0..3 {
            limits.call(0, limit).unwrap();
        }
        let wait = limits.call(0, limit).unwrap_err();
        assert!(wait > Duration::from_secs(59) && wait <= Duration::from_secs(60));
        // Another instance has its own window; no limit counts without limiting.
        limits.call(1, limit).unwrap();
        for _ in 0..10 {
            limits.call(2, None).unwrap();
        }
        let map = limits.0.lock().unwrap();
        assert_eq!((map[&0].calls, map[&0].limited), (4, 1));
        assert_eq!((map[&2].calls, map[&2].limited), (10, 0));
    }
}
