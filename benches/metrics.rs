//! What the metrics cost: a webhook delivery handled by `WebhookReceiver` and a Get
//! Conversation round trip through `wix_inbox::Client`, each with the Prometheus recorder
//! recording against without a recorder, alternating in one run. Goal: ≤ 1.03× per delivery and
//! per call.
//!
//! ```sh
//! cargo bench --bench metrics --features prometheus,axum
//! ```
//!
//! A process has one global recorder: the bench installs one that forwards to the Prometheus
//! recorder while switched on, and records nothing (as no recorder) while off. The delivery is
//! handled in-process (no HTTP), the same signed token each time after the first: verified,
//! claimed (found done), answered 200, counted; the call goes over loopback HTTP to a local
//! server answering Wix's example.
//!
//! The end-to-end ratio is within the noise of a loaded machine; the recording alone is not:
//! the bench also times what one call and one delivery record (no I/O, 100,000 calls a block,
//! alternating blocks, medians), in ns, and states it as a share of the round trip measured
//! above without a recorder. A control row times the call without a recorder against itself:
//! what the order of the blocks and the noise give alone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::PrometheusRecorder;
use wix_inbox::metrics::{__bench as record, Prometheus};
use wix_inbox::webhooks::axum::WebhookReceiver;
use wix_inbox::webhooks::test_signer::TestSigner;
use wix_inbox::Client;

#[allow(dead_code)]
mod common;
#[path = "common/loopback.rs"]
mod loopback;

/// Forwards to the Prometheus recorder while on; no-op handles (what no recorder gives) while
/// off.
struct Switch {
    on: AtomicBool,
    prometheus: PrometheusRecorder,
}

impl Recorder for Switch {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.prometheus.describe_counter(key, unit, description);
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.prometheus.describe_gauge(key, unit, description);
    }
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.prometheus.describe_histogram(key, unit, description);
    }
    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        if self.on.load(Ordering::Relaxed) {
            self.prometheus.register_counter(key, metadata)
        } else {
            Counter::noop()
        }
    }
    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        if self.on.load(Ordering::Relaxed) {
            self.prometheus.register_gauge(key, metadata)
        } else {
            Gauge::noop()
        }
    }
    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        if self.on.load(Ordering::Relaxed) {
            self.prometheus.register_histogram(key, metadata)
        } else {
            Histogram::noop()
        }
    }
}

/// The switch the global recorder reads.
struct Shared(Arc<Switch>);

impl Recorder for Shared {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0.describe_counter(key, unit, description);
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0.describe_gauge(key, unit, description);
    }
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0.describe_histogram(key, unit, description);
    }
    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.0.register_counter(key, metadata)
    }
    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.0.register_gauge(key, metadata)
    }
    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        self.0.register_histogram(key, metadata)
    }
}

fn main() {
    let (prometheus, rendered) = Prometheus::recorder();
    let switch = Arc::new(Switch {
        on: AtomicBool::new(false),
        prometheus,
    });
    metrics::set_global_recorder(Shared(switch.clone())).expect("the only recorder");
    wix_inbox::metrics::describe();
    let off = || switch.on.store(false, Ordering::Relaxed);
    let on = || switch.on.store(true, Ordering::Relaxed);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // The receiver: one delivery, in-process.
    let signer = TestSigner::shared();
    let (_, event_type, fixture) = common::EVENTS[1];
    let token = signer.sign_event(&common::event(event_type, fixture));
    let receiver = WebhookReceiver::new(signer.verifier(), |_| {});
    let deliver = |token: &str| {
        let request = Request::post("/webhooks/wix")
            .body(Body::from(token.to_owned()))
            .unwrap();
        let receiver = receiver.clone();
        async move {
            let response = receiver.handle(request).await;
            assert_eq!(response.status(), 200);
        }
    };
    rt.block_on(deliver(&token));
    println!("receiver (one delivery, in-process):");
    let delivery_medians = loopback::alternating_medians_of(
        &rt,
        ("no recorder", || {
            off();
            deliver(&token)
        }),
        ("prometheus", || {
            on();
            deliver(&token)
        }),
    );

    // The client: one Get Conversation over loopback.
    let url = loopback::server(Router::new());
    let client = Client::builder()
        .base_url(&url)
        .api_key("bench-key")
        .site_id("bench-site")
        .build()
        .unwrap();
    rt.block_on(loopback::get_conversation(&client));
    let without = || {
        off();
        loopback::get_conversation(&client)
    };
    println!("client (one Get Conversation, loopback HTTP):");
    let call_medians = loopback::alternating_medians_of(
        &rt,
        ("no recorder", &without),
        ("prometheus", || {
            on();
            loopback::get_conversation(&client)
        }),
    );

    // The same call against itself: what the order of the blocks and the machine's noise give
    // with nothing recorded in either.
    println!("client, no recorder against itself (control):");
    loopback::alternating_medians_of(
        &rt,
        ("no recorder", &without),
        ("no recorder again", &without),
    );

    // The recording alone, against the round trips above (without a recorder).
    if let (Some((delivery, _)), Some((call, _))) = (delivery_medians, call_medians) {
        let size = 1_024;
        println!("recording alone (no I/O):");
        recording(
            "a delivery (duplicate: claim, 200)",
            delivery,
            &switch.on,
            record::delivery_duplicate,
        );
        recording(
            "a delivery (handed on: claim, event age, 200)",
            delivery,
            &switch.on,
            || record::delivery_handed_on(Duration::from_millis(40)),
        );
        recording(
            "a call (one attempt: requests, response size)",
            call,
            &switch.on,
            || record::client_attempt("get_conversation", 200, size),
        );
        recording(
            "a call retried once (429 + retry + Retry-After wait + 200, paced)",
            call,
            &switch.on,
            || {
                record::pacing_wait(Duration::from_millis(5));
                record::client_attempt("get_conversation", 429, 64);
                record::client_retry("get_conversation", Duration::from_secs(1));
                record::client_attempt("get_conversation", 200, size);
            },
        );
    }

    // What was recorded while on: the counters moved.
    let text = rendered.render();
    assert!(
        text.contains("wix_inbox_webhook_deliveries_total"),
        "{text}"
    );
    assert!(text.contains("wix_inbox_client_requests_total"), "{text}");
}

/// Times `record` alone with the Prometheus recorder (`on`) against none, in alternating blocks,
/// and prints the medians and the difference as a share of `round_trip`.
fn recording(what: &str, round_trip: Duration, on: &AtomicBool, record: impl Fn()) {
    const ROUNDS: usize = 21;
    const CALLS: u32 = 100_000;
    let block = |switched: bool| {
        on.store(switched, Ordering::Relaxed);
        let started = Instant::now();
        for _ in 0..CALLS {
            record();
        }
        started.elapsed().as_secs_f64() * 1e9 / f64::from(CALLS)
    };
    let (mut off, mut prometheus) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        off.push(block(false));
        prometheus.push(block(true));
    }
    off.sort_by(f64::total_cmp);
    prometheus.sort_by(f64::total_cmp);
    let (off, prometheus) = (off[ROUNDS / 2], prometheus[ROUNDS / 2]);
    let cost = prometheus - off;
    println!(
        "  {what}: no recorder {off:.0} ns, prometheus {prometheus:.0} ns; \
         {cost:.0} ns of a {:.1} µs round trip: {:.2} %",
        round_trip.as_secs_f64() * 1e6,
        cost / (round_trip.as_secs_f64() * 1e9) * 100.0
    );
}
