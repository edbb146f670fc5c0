//! What the metrics cost: a webhook delivery handled by `WebhookReceiver` and a Get
//! Conversation round trip through `wix_inbox::Client`, each with the Prometheus recorder
//! recording against without a recorder, alternating in one run. Goal: ≤ 1.03× per delivery and
//! per call.
//!
//! ```sh
//! cargo bench --bench metrics --features prometheus
//! ```
//!
//! A process has one global recorder: the bench installs one that forwards to the Prometheus
//! recorder while switched on, and records nothing (as no recorder) while off. The delivery is
//! handled in-process (no HTTP), the same signed token each time after the first: verified,
//! claimed (found done), answered 200, counted; the call goes over loopback HTTP to a local
//! server answering Wix's example.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::PrometheusRecorder;
use wix_inbox::metrics::Prometheus;
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
    loopback::alternating_medians(
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
    println!("client (one Get Conversation, loopback HTTP):");
    loopback::alternating_medians(
        &rt,
        ("no recorder", || {
            off();
            loopback::get_conversation(&client)
        }),
        ("prometheus", || {
            on();
            loopback::get_conversation(&client)
        }),
    );

    // What was recorded while on: the counters moved.
    let text = rendered.render();
    assert!(
        text.contains("wix_inbox_webhook_deliveries_total"),
        "{text}"
    );
    assert!(text.contains("wix_inbox_client_requests_total"), "{text}");
}
