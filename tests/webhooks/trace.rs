//! One delivery, its handling and the API calls the handler makes are one trace: a recording
//! `tracing` subscriber sees the client's `wix_inbox.request` spans under the delivery's
//! `wix_inbox.delivery` span, with its trace ID (the one the sender's `traceparent` gave) and
//! Wix's `x-wix-request-id`.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use axum::extract::Request;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;
use wix_inbox::trace::TraceContext;
use wix_inbox::webhooks::axum::WebhookReceiver;
use wix_inbox_fake::FakeInbox;

use crate::{signer, verifier};

#[derive(Clone, Debug, Default)]
struct SpanRecord {
    name: &'static str,
    /// The parent's index in [`Recorder::spans`].
    parent: Option<usize>,
    fields: HashMap<&'static str, String>,
}

/// Every span opened, in order: its name, parent and fields (as recorded, at any time). The
/// subscriber's span IDs are reused once a span closes: each live one is mapped to its record.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Spans>>);

#[derive(Default)]
struct Spans {
    all: Vec<SpanRecord>,
    live: HashMap<u64, usize>,
}

struct Fields<'a>(&'a mut HashMap<&'static str, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name(), value.to_owned());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let parent = ctx
            .span(id)
            .and_then(|span| span.parent())
            .map(|parent| parent.id().into_u64());
        let mut spans = self.0.lock().unwrap();
        let mut record = SpanRecord {
            name: attrs.metadata().name(),
            parent: parent.and_then(|p| spans.live.get(&p).copied()),
            fields: HashMap::new(),
        };
        attrs.record(&mut Fields(&mut record.fields));
        let index = spans.all.len();
        spans.all.push(record);
        spans.live.insert(id.into_u64(), index);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        if let Some(&index) = spans.live.get(&id.into_u64()) {
            values.record(&mut Fields(&mut spans.all[index].fields));
        }
    }
}

impl Recorder {
    fn spans(&self) -> Vec<SpanRecord> {
        self.0.lock().unwrap().all.clone()
    }
}

/// A delivery of event `id`.
fn event(id: &str) -> wix_inbox::webhooks::test_signer::TestEvent {
    let mut event = crate::good_event();
    event.domain_event["id"] = id.into();
    event
}

/// Whether `ancestor` is `id` or above it.
fn descends_from(spans: &[SpanRecord], mut id: usize, ancestor: usize) -> bool {
    loop {
        if id == ancestor {
            return true;
        }
        match spans.get(id).and_then(|s| s.parent) {
            Some(parent) => id = parent,
            None => return false,
        }
    }
}

// The default, one-thread runtime: the receiver's hand-off task runs on this thread, where the
// recording subscriber is the default.
#[tokio::test]
async fn a_delivery_its_handling_and_its_api_calls_are_one_trace() {
    // A second dispatcher, alive for the whole test and made before the recorder: with a
    // single one, a callsite first reached on another test's thread (no subscriber) would be
    // cached as off for the recorder too (as in `tests/it/client_secrets.rs`).
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let recorder = Recorder::default();
    let _default =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.clone()));
    let fake = FakeInbox::start().await.unwrap();
    let conversation = fake
        .visitor_writes("visitor-1", "Hi")
        .conversation_id
        .unwrap();
    let client = fake.client();
    let seen = Arc::new(Mutex::new(None));
    let receiver = {
        let seen = seen.clone();
        WebhookReceiver::with_handler(verifier(), move |_event| {
            let (client, conversation, seen) = (client.clone(), conversation.clone(), seen.clone());
            async move {
                *seen.lock().unwrap() = TraceContext::current();
                client
                    .get_conversation()
                    .conversation_id(&conversation)
                    .send()
                    .await
                    .map(|_| ())
            }
        })
    };
    let sender = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let body = signer().sign_event(&event("trace-1"));
    let request = Request::post("/")
        .header("traceparent", sender)
        .body(body.into())
        .unwrap();
    assert_eq!(receiver.handle(request).await.status(), 200);

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let handler_saw = seen
        .lock()
        .unwrap()
        .expect("the handler runs in the delivery's trace");
    assert_eq!(handler_saw.trace_id(), trace_id);
    assert_ne!(
        handler_saw.span_id(),
        "00f067aa0ba902b7",
        "the delivery is a span of its own"
    );

    let spans = recorder.spans();
    let deliveries: Vec<_> = spans
        .iter()
        .enumerate()
        .filter(|(_, s)| s.name == "wix_inbox.delivery")
        .collect();
    assert_eq!(deliveries.len(), 1);
    let (delivery, record) = deliveries[0];
    assert_eq!(record.fields["trace_id"], trace_id);
    assert_eq!(record.fields["span_id"], handler_saw.span_id());
    assert_eq!(record.fields["event_id"], "trace-1");
    let requests: Vec<_> = spans
        .iter()
        .enumerate()
        .filter(|(_, s)| s.name == "wix_inbox.request")
        .collect();
    assert_eq!(requests.len(), 1, "one API call, one attempt");
    let (request, record) = requests[0];
    assert!(
        descends_from(&spans, request, delivery),
        "the API call is inside the delivery"
    );
    assert_eq!(record.fields["trace_id"], trace_id);
    assert_eq!(record.fields["operation"], "get_conversation");
    // The fake sends a UUID in `x-wix-request-id`, as Wix does.
    let request_id = &record.fields["request_id"];
    assert_eq!(
        request_id.len(),
        36,
        "the span carries Wix's x-wix-request-id"
    );
}

#[tokio::test]
async fn without_a_traceparent_each_delivery_starts_a_trace() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let receiver = {
        let seen = seen.clone();
        WebhookReceiver::new(verifier(), move |_| {
            seen.lock().unwrap().push(TraceContext::current());
        })
    };
    for (id, traceparent) in [("t-1", None), ("t-2", None), ("t-3", Some("garbage"))] {
        let body = signer().sign_event(&event(id));
        let mut request = Request::post("/");
        if let Some(value) = traceparent {
            request = request.header("traceparent", value);
        }
        let response = receiver.handle(request.body(body.into()).unwrap()).await;
        assert_eq!(response.status(), 200);
    }
    let seen = seen.lock().unwrap();
    let traces: std::collections::HashSet<_> = seen
        .iter()
        .map(|c| c.expect("a context for every delivery").trace_id())
        .collect();
    assert_eq!(traces.len(), 3);
}
