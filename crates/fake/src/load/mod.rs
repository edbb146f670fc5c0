//! Load-test a Wix app on one machine: the fake plays many sites and their visitors, and
//! delivers every event to the app with Wix's rules (`wix-inbox fake load` runs this).
//!
//! [`LoadTest::start`] starts a fake with `sites` app instances, Wix's resend schedule
//! ([`DeliveryPolicy::wix`], compressed by [`LoadConfig::time_scale`]) with Wix's duplicates
//! and out-of-order deliveries, and Wix's limit of API calls per instance ([`ApiLimit::wix`]).
//! Start the app with [`LoadTest::app_env`] in its environment, then [`LoadTest::run`]: the
//! visitors write at [`rate`](LoadConfig::rate) messages a second for
//! [`duration`](LoadConfig::duration), a share of them becomes contacts and members (merges),
//! and the [`Report`] says what the app made of it: deliveries, time to 200, replies per
//! visitor message, API calls and 429s per site, and what it lost, duplicated or misdirected.
//!
//! The traffic is drawn from [`seed`](LoadConfig::seed) before the test ([`Plan`]): the same
//! seed gives the same traffic. Each visitor message quotes its tag (`[load mN]`,
//! [`message_text`]); a reply is counted for the visitor message it quotes, or else for the
//! latest visitor message before it in its conversation. Time is real: the rate, the duration
//! and the API limit (calls a minute, `Retry-After` in seconds) are what the app sees; only
//! Wix's resend schedule (hours) is compressed.

mod plan;
mod report;

use std::time::{Duration, Instant};

pub use plan::{message_tag, message_text, Action, Plan, Step};
pub use report::{Deliveries, Percentiles, Replies, Report, MAX_EXAMPLES};

use super::{ApiLimit, DeliveryPolicy, FakeInbox, FakeInstance};
use wix_inbox::types::ParticipantId;

/// The most visitor messages one test may write (the fake keeps every event in memory).
pub const MAX_MESSAGES: u64 = 200_000;

/// The most sites one test may play.
pub const MAX_SITES: usize = 10_000;

/// A load test's settings; every field has a default ([`LoadConfig::default`]).
#[derive(Clone, Debug, PartialEq)]
pub struct LoadConfig {
    /// App instances (sites), 1 to [`MAX_SITES`] (default 100).
    pub sites: usize,
    /// Visitor messages a second, over every site (default 20).
    pub rate: f64,
    /// How long visitors write (default 10 s).
    pub duration: Duration,
    /// How much faster than Wix's the resend schedule runs (default 3,600: an hour in a
    /// second; Wix's 47 hours of resends then take 47 s).
    pub time_scale: f64,
    /// The seed of the traffic and of the deliveries' draws (default 1).
    pub seed: u64,
    /// Visitors a site has at a time (default 5).
    pub visitors_per_site: u32,
    /// Messages each visitor writes before a new visitor takes their place (default 4).
    pub messages_per_visitor: u32,
    /// The share of visitors who become a contact or a member (default 0.3).
    pub convert_share: f64,
    /// The share of events answered 200 that Wix sends again (default 0.02).
    pub duplicate_share: f64,
    /// The share of first deliveries held back, so later events overtake them (default 0.05).
    pub reorder_share: f64,
    /// The longest a first delivery is held back (default 200 ms).
    pub max_hold: Duration,
    /// Wix's limit of API calls per instance (default [`ApiLimit::wix`]; `None`: no limit).
    pub api_limit: Option<ApiLimit>,
    /// How long to wait for the app's last replies once every delivery ended (default 10 s;
    /// the wait ends as soon as every visitor message has a reply and nothing changed for a
    /// second).
    pub grace: Duration,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            sites: 100,
            rate: 20.0,
            duration: Duration::from_secs(10),
            time_scale: 3600.0,
            seed: 1,
            visitors_per_site: 5,
            messages_per_visitor: 4,
            convert_share: 0.3,
            duplicate_share: 0.02,
            reorder_share: 0.05,
            max_hold: Duration::from_millis(200),
            api_limit: Some(ApiLimit::wix()),
            grace: Duration::from_secs(10),
        }
    }
}

/// A setting out of range, or a fake that cannot start.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoadError {
    /// A setting is out of range: which, and why.
    Config(String),
    /// The fake could not start.
    Start(std::io::Error),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Config(why) => f.write_str(why),
            LoadError::Start(e) => write!(f, "the fake cannot start: {e}"),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Start(e) => Some(e),
            LoadError::Config(_) => None,
        }
    }
}

impl LoadConfig {
    /// How many visitor messages the test writes: `rate × duration`, rounded.
    pub fn total_messages(&self) -> u64 {
        (self.rate * self.duration.as_secs_f64()).round() as u64
    }

    /// Whether every setting is in range.
    ///
    /// # Errors
    ///
    /// [`LoadError::Config`] naming the first setting out of range.
    pub fn validate(&self) -> Result<(), LoadError> {
        let share = |v: f64| (0.0..=1.0).contains(&v);
        let problem = if !(1..=MAX_SITES).contains(&self.sites) {
            Some(format!("sites must be 1 to {MAX_SITES}"))
        } else if !(self.rate.is_finite() && self.rate > 0.0) {
            Some("rate must be a number of messages a second over 0".to_owned())
        } else if self.total_messages() == 0 {
            Some("rate × duration must make at least one message".to_owned())
        } else if self.total_messages() > MAX_MESSAGES {
            Some(format!(
                "rate × duration must make at most {MAX_MESSAGES} messages"
            ))
        } else if !(self.time_scale.is_finite() && self.time_scale >= 1.0) {
            Some("time scale must be 1 or more".to_owned())
        } else if self.visitors_per_site == 0 || self.messages_per_visitor == 0 {
            Some("visitors per site and messages per visitor must be at least 1".to_owned())
        } else if !share(self.convert_share)
            || !share(self.duplicate_share)
            || !share(self.reorder_share)
        {
            Some("the shares must be 0 to 1".to_owned())
        } else if self
            .api_limit
            .is_some_and(|l| l.calls == 0 || l.per.is_zero())
        {
            Some("the API limit must allow a call".to_owned())
        } else {
            None
        };
        problem.map_or(Ok(()), |why| Err(LoadError::Config(why)))
    }

    /// The delivery policy of the test: Wix's schedule compressed, with the repeats.
    pub fn delivery_policy(&self) -> DeliveryPolicy {
        DeliveryPolicy::wix(self.time_scale)
            .duplicates(self.duplicate_share)
            .reorder(self.reorder_share, self.max_hold)
            .seed(self.seed)
    }
}

/// Where a load test is while it runs (see [`LoadTest::run`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Time since the first message.
    pub elapsed: Duration,
    /// Visitor messages written so far.
    pub written: u64,
    /// Visitor messages in all.
    pub planned: u64,
    /// Deliveries answered 200 so far.
    pub delivered: u64,
    /// Deliveries under way.
    pub in_flight: u64,
    /// Messages the app sent so far.
    pub replies: u64,
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>6.1} s  messages {}/{}  delivered {}  in flight {}  replies {}",
            self.elapsed.as_secs_f64(),
            self.written,
            self.planned,
            self.delivered,
            self.in_flight,
            self.replies
        )
    }
}

/// A load test: its fake, started with the test's sites and rules, and its plan.
#[derive(Debug)]
pub struct LoadTest {
    config: LoadConfig,
    plan: Plan,
    fake: FakeInbox,
}

impl LoadTest {
    /// Checks `config`, draws the plan and starts the fake with `config.sites` instances.
    ///
    /// # Errors
    ///
    /// [`LoadError::Config`] for a setting out of range, [`LoadError::Start`] if the fake
    /// cannot bind a port.
    pub async fn start(config: LoadConfig) -> Result<LoadTest, LoadError> {
        config.validate()?;
        let mut builder = FakeInbox::builder()
            .delivery_policy(config.delivery_policy())
            // The log keeps the latest requests only; the report reads the counts.
            .request_log_capacity(1000);
        if let Some(limit) = config.api_limit {
            builder = builder.api_limit(limit);
        }
        let fake = builder.start().await.map_err(LoadError::Start)?;
        for _ in 1..config.sites {
            fake.add_instance();
        }
        let plan = Plan::new(&config);
        Ok(LoadTest { config, plan, fake })
    }

    /// The fake.
    pub fn fake(&self) -> &FakeInbox {
        &self.fake
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// What the app needs in its environment: `WIX_BASE_URL`, `WIX_APP_ID`,
    /// `WIX_APP_SECRET`, `WIX_INSTANCE_ID` (the first site's), `WIX_WEBHOOK_PUBLIC_KEY`, and
    /// `WIX_WEBHOOK_ADDR`, the address it must listen on (`webhook_addr`).
    pub fn app_env(&self, webhook_addr: &str) -> Vec<(&'static str, String)> {
        let fake = &self.fake;
        vec![
            ("WIX_BASE_URL", fake.base_url().to_owned()),
            ("WIX_APP_ID", fake.app_id().to_owned()),
            ("WIX_APP_SECRET", fake.app_secret().to_owned()),
            ("WIX_INSTANCE_ID", fake.instance_id().to_owned()),
            ("WIX_WEBHOOK_PUBLIC_KEY", fake.public_key_pem().to_owned()),
            ("WIX_WEBHOOK_ADDR", webhook_addr.to_owned()),
        ]
    }

    /// Runs the plan against the app at `app_url` (its webhook URL, e.g.
    /// `http://127.0.0.1:3000/webhooks`), calling `progress` about twice a second, then waits
    /// until every delivery ended and the app's replies settled ([`LoadConfig::grace`]), and
    /// reports.
    pub async fn run(&self, app_url: &str, mut progress: impl FnMut(&Progress)) -> Report {
        let fake = &self.fake;
        fake.add_webhook_receiver(app_url);
        let sites: Vec<FakeInstance> = fake
            .instance_ids()
            .iter()
            .filter_map(|id| fake.instance(id))
            .collect();
        let started = tokio::time::Instant::now();
        let mut written = 0;
        let mut last_progress = started;
        let tick = Duration::from_millis(500);
        for step in &self.plan.steps {
            tokio::time::sleep_until(started + step.at).await;
            if let Some(site) = sites.get(step.site) {
                written += act(site, &step.action);
            }
            if last_progress.elapsed() >= tick {
                last_progress = tokio::time::Instant::now();
                progress(&self.progress(started.into_std(), written));
            }
        }
        // Every delivery ends within the schedule (holds, timeouts and repeats aside).
        let policy = self.config.delivery_policy();
        let timeouts = Duration::from_millis(1250) * policy.attempts() as u32;
        let bound = policy.span() * 2 + timeouts + self.config.max_hold + Duration::from_secs(5);
        let deadline = tokio::time::Instant::now() + bound;
        self.wait(deadline, started, written, &mut progress, |_| true)
            .await;
        // The app's last replies (and their deliveries to it).
        let grace = tokio::time::Instant::now() + self.config.grace;
        let planned = self.plan.messages;
        self.wait(grace, started, written, &mut progress, |fake| {
            report::replies(&fake.inner.state(), planned).zero == 0
        })
        .await;
        let report = self.report(started.elapsed());
        progress(&self.progress(started.into_std(), written));
        report
    }

    /// Waits until `deadline`, or until no delivery is under way, nothing changed for a second
    /// and `done` holds; reports progress on the way.
    async fn wait(
        &self,
        deadline: tokio::time::Instant,
        started: tokio::time::Instant,
        written: u64,
        progress: &mut impl FnMut(&Progress),
        done: impl Fn(&FakeInbox) -> bool,
    ) {
        let mut seen = None;
        let mut quiet_since = Instant::now();
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = self.progress(started.into_std(), written);
            progress(&now);
            let key = (now.delivered, now.in_flight, now.replies);
            if seen != Some(key) {
                seen = Some(key);
                quiet_since = Instant::now();
            } else if now.in_flight == 0
                && quiet_since.elapsed() >= Duration::from_secs(1)
                && done(&self.fake)
            {
                return;
            }
        }
    }

    fn progress(&self, started: Instant, written: u64) -> Progress {
        let in_flight = *self.fake.inner.in_flight.borrow() as u64;
        let state = self.fake.inner.state();
        let delivered = state.deliveries.iter().filter(|d| d.delivered).count() as u64;
        let replies = state
            .events
            .iter()
            .filter(|e| e.event_type == wix_inbox::types::MessageSentToParticipant::EVENT_TYPE)
            .count() as u64;
        Progress {
            elapsed: started.elapsed(),
            written,
            planned: self.plan.messages,
            delivered,
            in_flight,
            replies,
        }
    }

    /// The report of the test so far.
    pub fn report(&self, elapsed: Duration) -> Report {
        let mut out = Report {
            visitor_messages: self.plan.messages,
            conversions: self.plan.conversions,
            elapsed_s: elapsed.as_secs_f64(),
            api_calls: self.fake.api_calls(),
            ..Report::default()
        };
        let receivers = self.fake.webhook_receivers();
        let state = self.fake.inner.state();
        if let Some(app) = receivers.last() {
            out.deliveries = report::deliveries(&state.deliveries, app, &mut out.app_errors);
        }
        out.replies = report::replies(&state, self.plan.messages);
        drop(state);
        out.replies.into_merged_away = out.api_calls.iter().map(|c| c.sends_not_found).sum();
        out.failures = report::failures(&out);
        out
    }
}

/// Plays one step on its site; 1 for a visitor message written.
fn act(site: &FakeInstance, action: &Action) -> u64 {
    match action {
        Action::Write {
            participant,
            message,
        } => {
            let text = message_text(*message);
            match participant {
                ParticipantId::AnonymousVisitorId(id) => site.visitor_writes(id, &text),
                ParticipantId::ContactId(id) => site.contact_writes(id, &text),
                ParticipantId::MemberId(id) => site.member_writes(id, &text),
            };
            1
        }
        Action::BecomeContact { visitor, contact } => {
            site.visitor_becomes_contact(visitor, contact.as_str());
            0
        }
        Action::BecomeMember {
            visitor,
            contact,
            member,
        } => {
            site.visitor_becomes_member(visitor, contact.as_str(), member.as_str());
            0
        }
        Action::ContactBecomesMember { contact, member } => {
            site.contact_becomes_member(contact, member.as_str());
            0
        }
    }
}
