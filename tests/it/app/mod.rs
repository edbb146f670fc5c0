//! `wix_inbox::App`: a client per app instance on one connection pool, with a token cache keyed
//! by instance; and `Client::for_site` for an API key. Against a Wix stand-in on 127.0.0.1 that
//! counts accepted TCP connections and token requests per instance, and refuses a token sent
//! for another instance than its own.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use axum::{
    body::Body,
    extract::Request,
    response::{IntoResponse, Response},
    serve::ListenerExt as _,
    Router,
};
use serde_json::{json, Value};
use wix_inbox::{App, Client, ErrorKind};

use crate::harness::{conversation, json};

mod settings;

const APP_ID: &str = "app-1";
const APP_SECRET: &str = "app-secret-xyz";

/// What the stand-in saw and does.
#[derive(Default)]
pub(crate) struct Seen {
    /// Accepted TCP connections.
    connections: AtomicUsize,
    /// Token requests, by instance.
    tokens: Mutex<HashMap<String, usize>>,
    /// Every token issued, by instance.
    issued: Mutex<HashMap<String, Vec<String>>>,
    /// Every token issued.
    valid: Mutex<HashSet<String>>,
    /// Tokens the API refuses with 401.
    revoked: Mutex<HashSet<String>>,
    /// API calls, with the token they carried.
    calls: Mutex<Vec<(String, String)>>,
    /// API calls, with the `X-Wix-Consistent` they carried.
    consistent: Mutex<Vec<(String, Option<String>)>>,
    /// Calls whose token was another instance's.
    crossed: AtomicUsize,
    /// `expires_in` of the tokens issued.
    expires_in: AtomicU64,
    /// How long the token endpoint takes, in ms.
    token_delay_ms: AtomicU64,
    /// How many bytes of padding each token carries (Wix's are short).
    token_padding: AtomicUsize,
}

impl Seen {
    pub(crate) fn token_requests(&self, instance: &str) -> usize {
        self.tokens
            .lock()
            .unwrap()
            .get(instance)
            .copied()
            .unwrap_or(0)
    }

    fn all_token_requests(&self) -> usize {
        self.tokens.lock().unwrap().values().sum()
    }

    /// Refuses every token of `instance` issued so far.
    fn revoke(&self, instance: &str) {
        let issued = self.issued.lock().unwrap();
        let mut revoked = self.revoked.lock().unwrap();
        revoked.extend(issued.get(instance).into_iter().flatten().cloned());
    }
}

/// A Wix stand-in: `POST /oauth2/token` issues `tok.<instance>.<n>`; any other request is an
/// API call for the instance (or site) named by its last path segment (the conversation ID the
/// tests use), answered 403 when its token is another instance's, 401 when revoked or unknown.
pub(crate) struct Wix {
    pub(crate) url: String,
    pub(crate) seen: Arc<Seen>,
}

impl Wix {
    /// On its own thread and runtime, so that it serves while a test's clock is paused.
    pub(crate) fn start() -> Wix {
        let seen = Arc::new(Seen {
            expires_in: AtomicU64::new(14_400),
            ..Seen::default()
        });
        let state = seen.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(format!("http://{}", listener.local_addr().unwrap()))
                    .unwrap();
                let counted = state.clone();
                let listener = listener.tap_io(move |_| {
                    counted.connections.fetch_add(1, Ordering::SeqCst);
                });
                let app = Router::new().fallback(move |request: Request| {
                    let seen = state.clone();
                    async move { answer(&seen, request).await }
                });
                axum::serve(listener, app).await.unwrap();
            })
        });
        Wix {
            url: rx.recv().unwrap(),
            seen,
        }
    }

    pub(crate) fn app(&self) -> wix_inbox::AppBuilder {
        App::builder()
            .app_id(APP_ID)
            .app_secret(APP_SECRET)
            .base_url(&self.url)
            .retry(crate::harness::quick_retries())
    }
}

async fn answer(seen: &Seen, request: Request<Body>) -> Response {
    let path = request.uri().path().to_owned();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let site = request
        .headers()
        .get("wix-site-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let consistent = request
        .headers()
        .get("x-wix-consistent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if path == "/oauth2/token" {
        let body = axum::body::to_bytes(request.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["client_id"], APP_ID);
        assert_eq!(body["client_secret"], APP_SECRET);
        let instance = body["instance_id"].as_str().unwrap().to_owned();
        let delay = seen.token_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let n = {
            let mut tokens = seen.tokens.lock().unwrap();
            let n = tokens.entry(instance.clone()).or_default();
            *n += 1;
            *n
        };
        let token = match seen.token_padding.load(Ordering::SeqCst) {
            0 => format!("tok.{instance}.{n}"),
            padding => format!("tok.{instance}.{n}.{}", "x".repeat(padding)),
        };
        seen.valid.lock().unwrap().insert(token.clone());
        seen.issued
            .lock()
            .unwrap()
            .entry(instance)
            .or_default()
            .push(token.clone());
        let expires_in = seen.expires_in.load(Ordering::SeqCst);
        return json(
            200,
            json!({"access_token": token, "token_type": "Bearer", "expires_in": expires_in}),
            &[],
        );
    }
    let instance = path.rsplit('/').next().unwrap_or_default().to_owned();
    let n = {
        let mut calls = seen.calls.lock().unwrap();
        calls.push((instance.clone(), authorization.clone()));
        calls.len()
    };
    seen.consistent
        .lock()
        .unwrap()
        .push((instance.clone(), consistent));
    // Each answer carries a new read-your-writes token, naming whom it was for.
    let consistent = format!("rw.{instance}.{n}");
    if authorization == "test-key" {
        // An API key: the site it names is the one the call is for.
        return match site {
            Some(site) if site == instance => json(
                200,
                conversation(&instance),
                &[("x-wix-consistent", &consistent)],
            ),
            _ => json(403, json!({"message": "wrong site"}), &[]),
        };
    }
    let known = seen.valid.lock().unwrap().contains(&authorization);
    if !known || seen.revoked.lock().unwrap().contains(&authorization) {
        return json(401, json!({"message": "invalid token"}), &[]);
    }
    if path == "/apps/v1/instance" {
        // Get App Instance: the instance is the token's (`tok.<instance>.<n>`).
        let instance = authorization.split('.').nth(1).unwrap_or_default();
        return json(200, crate::installations::app_instance(instance), &[]);
    }
    if !authorization.starts_with(&format!("tok.{instance}.")) {
        seen.crossed.fetch_add(1, Ordering::SeqCst);
        return json(403, json!({"message": "token of another instance"}), &[]);
    }
    (
        [
            ("content-type", "application/json"),
            ("x-wix-consistent", consistent.as_str()),
        ],
        conversation(&instance).to_string(),
    )
        .into_response()
}

pub(crate) async fn get(client: &Client, instance: &str) -> Result<(), wix_inbox::Error> {
    crate::harness::get_conversation(client, instance)
        .await
        .map(drop)
}

#[tokio::test]
async fn ten_thousand_instances_called_one_after_the_other_use_a_handful_of_connections() {
    let wix = Wix::start();
    let app = wix.app().build().unwrap();
    for i in 0..10_000 {
        let instance = format!("inst-{i}");
        get(&app.instance(&instance), &instance).await.unwrap();
    }
    let seen = &wix.seen;
    assert_eq!(seen.all_token_requests(), 10_000, "one token per instance");
    assert_eq!(seen.token_requests("inst-9999"), 1);
    assert_eq!(seen.crossed.load(Ordering::SeqCst), 0);
    let connections = seen.connections.load(Ordering::SeqCst);
    assert!(
        connections <= 4,
        "20,000 requests over {connections} connections: the app has one pool"
    );
    assert_eq!(app.cached_instances(), 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_calls_over_a_hundred_new_instances_make_a_hundred_token_requests() {
    let wix = Wix::start();
    // Slow tokens: every instance's callers pile up behind its one request.
    wix.seen.token_delay_ms.store(50, Ordering::SeqCst);
    let app = wix.app().build().unwrap();
    let calls: Vec<_> = (0..1_000)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let instance = format!("inst-{}", i % 100);
                get(&app.instance(&instance), &instance).await
            })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    let seen = &wix.seen;
    assert_eq!(seen.all_token_requests(), 100);
    for i in 0..100 {
        assert_eq!(seen.token_requests(&format!("inst-{i}")), 1, "inst-{i}");
    }
    // Every call carried its own instance's token (the stand-in answers 403 otherwise, and
    // the calls above succeeded).
    assert_eq!(seen.crossed.load(Ordering::SeqCst), 0);
    let calls = seen.calls.lock().unwrap();
    assert_eq!(calls.len(), 1_000);
    assert!(calls
        .iter()
        .all(|(instance, token)| token.starts_with(&format!("tok.{instance}."))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_is_never_sent_for_another_instance_under_concurrency() {
    let wix = Wix::start();
    let app = wix.app().build().unwrap();
    // Tokens renewed all the while: every instance's tokens are revoked again and again.
    let calls: Vec<_> = (0..400)
        .map(|i| {
            let app = app.clone();
            let seen = wix.seen.clone();
            tokio::spawn(async move {
                let instance = format!("inst-{}", i % 8);
                let client = app.instance(&instance);
                for round in 0..5 {
                    if (i + round) % 7 == 0 {
                        seen.revoke(&instance);
                    }
                    // A revoked token gets one renewal; a second revocation meanwhile may
                    // refuse the retry too: what matters is where each token went.
                    let _ = get(&client, &instance).await;
                }
            })
        })
        .collect();
    for call in calls {
        call.await.unwrap();
    }
    let seen = &wix.seen;
    assert_eq!(seen.crossed.load(Ordering::SeqCst), 0);
    let calls = seen.calls.lock().unwrap();
    assert!(calls.len() >= 2_000);
    for (instance, token) in calls.iter() {
        assert!(
            token.starts_with(&format!("tok.{instance}.")),
            "{token} was sent for {instance}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn each_instance_s_token_is_renewed_shortly_before_it_expires() {
    let wix = Wix::start();
    wix.seen.expires_in.store(100, Ordering::SeqCst);
    let _clock = crate::client_retry::hold_clock();
    let app = wix.app().build().unwrap();
    let (a, b) = (app.instance("inst-a"), app.instance("inst-b"));
    get(&a, "inst-a").await.unwrap();
    tokio::time::advance(Duration::from_secs(50)).await;
    get(&b, "inst-b").await.unwrap();
    // A 100 s token is renewed 10 s before it expires: a's at 90 s, b's at 140 s.
    tokio::time::advance(Duration::from_millis(39_999)).await;
    get(&a, "inst-a").await.unwrap();
    get(&b, "inst-b").await.unwrap();
    assert_eq!(wix.seen.token_requests("inst-a"), 1, "still fresh");
    tokio::time::advance(Duration::from_millis(1)).await;
    get(&a, "inst-a").await.unwrap();
    get(&b, "inst-b").await.unwrap();
    assert_eq!(wix.seen.token_requests("inst-a"), 2, "renewed at 90 s");
    assert_eq!(wix.seen.token_requests("inst-b"), 1, "b's lives on");
    tokio::time::advance(Duration::from_secs(50)).await;
    // A client made anew for the instance uses the instance's token: it is the app's.
    get(&app.instance("inst-b"), "inst-b").await.unwrap();
    assert_eq!(wix.seen.token_requests("inst-b"), 2, "renewed at 140 s");
    assert_eq!(wix.seen.token_requests("inst-a"), 2);
}

#[tokio::test]
async fn an_evicted_instance_gets_a_new_token_and_the_least_recently_used_goes_first() {
    let wix = Wix::start();
    let app = wix.app().max_instances(2).build().unwrap();
    for instance in ["inst-a", "inst-b"] {
        get(&app.instance(instance), instance).await.unwrap();
    }
    // a is used again: b is now the least recently used, and goes when c comes.
    get(&app.instance("inst-a"), "inst-a").await.unwrap();
    get(&app.instance("inst-c"), "inst-c").await.unwrap();
    assert_eq!(app.cached_instances(), 2);
    get(&app.instance("inst-a"), "inst-a").await.unwrap();
    assert_eq!(wix.seen.token_requests("inst-a"), 1, "a was kept");
    get(&app.instance("inst-b"), "inst-b").await.unwrap();
    assert_eq!(
        wix.seen.token_requests("inst-b"),
        2,
        "b was evicted: a new token"
    );
    assert_eq!(app.cached_instances(), 2);
    assert_eq!(wix.seen.crossed.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_401_renews_the_token_of_that_instance_only() {
    let wix = Wix::start();
    let app = wix.app().build().unwrap();
    for instance in ["inst-a", "inst-b"] {
        get(&app.instance(instance), instance).await.unwrap();
    }
    wix.seen.revoke("inst-a");
    get(&app.instance("inst-a"), "inst-a").await.unwrap();
    get(&app.instance("inst-b"), "inst-b").await.unwrap();
    assert_eq!(wix.seen.token_requests("inst-a"), 2, "a renewed once");
    assert_eq!(wix.seen.token_requests("inst-b"), 1, "b untouched");
    let calls = wix.seen.calls.lock().unwrap().clone();
    let a_calls: Vec<&str> = calls
        .iter()
        .filter(|(i, _)| i == "inst-a")
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(a_calls, ["tok.inst-a.1", "tok.inst-a.1", "tok.inst-a.2"]);
    // Both refused: each renews its own, once.
    wix.seen.revoke("inst-a");
    wix.seen.revoke("inst-b");
    get(&app.instance("inst-b"), "inst-b").await.unwrap();
    get(&app.instance("inst-a"), "inst-a").await.unwrap();
    assert_eq!(wix.seen.token_requests("inst-a"), 3);
    assert_eq!(wix.seen.token_requests("inst-b"), 2);
    assert_eq!(wix.seen.crossed.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_app_and_its_clients_are_cheap_to_clone_and_share_the_tokens() {
    let wix = Wix::start();
    let app = wix.app().build().unwrap();
    let copy = app.clone();
    get(&app.instance("inst-a"), "inst-a").await.unwrap();
    get(&copy.instance("inst-a"), "inst-a").await.unwrap();
    get(&app.instance("inst-a").clone(), "inst-a")
        .await
        .unwrap();
    assert_eq!(wix.seen.token_requests("inst-a"), 1);
    assert_eq!(copy.cached_instances(), 1);
    assert_eq!(wix.seen.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_api_key_client_for_each_site_shares_one_pool() {
    let wix = Wix::start();
    let client = Client::builder()
        .api_key("test-key")
        .site_id("site-0")
        .base_url(&wix.url)
        .build()
        .unwrap();
    get(&client, "site-0").await.unwrap();
    for i in 0..500 {
        let site = format!("site-{i}");
        get(&client.for_site(&site), &site).await.unwrap();
    }
    // The client built for site-0 still acts for site-0.
    get(&client, "site-0").await.unwrap();
    let e = get(&client, "site-1").await.unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(403));
    let connections = wix.seen.connections.load(Ordering::SeqCst);
    assert!(connections <= 2, "{connections} connections");
    assert_eq!(wix.seen.all_token_requests(), 0);
}
