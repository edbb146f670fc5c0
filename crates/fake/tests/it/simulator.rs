//! The simulator page of the fake, in a real browser: headless Chromium driven over WebDriver
//! (chromedriver on 127.0.0.1). A visitor writes, the app answers through the API, the visitor
//! becomes a contact, faults and failed deliveries are retried: each seen on the page, live.
//!
//! Needs the Debian packages `chromium` and `chromium-driver` (`.ci/run` installs them; the
//! environment variables `CHROMIUM` and `CHROMEDRIVER` can name other binaries); without them
//! the test fails with one line saying so. A screenshot of the page is written to
//! `target/simulator.png` on every run, failed or not.

use std::net::TcpListener;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::IntoResponse as _;
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt as _;
use serde_json::{json, Value};
use wix_inbox::types::{
    Button, ButtonInteracted, GetOrCreateConversationRequest, Message, MessageContent,
    ParticipantId, PostbackProperties, SendMessageRequest, TemplateMessagePayload,
};
use wix_inbox_fake::FakeInbox;

use crate::harness::Server;

/// How long any one thing may take to show on the page.
const WAIT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// The browser

/// A program on the `PATH` (or at the path in the environment variable `env`).
fn program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

/// `target/`, from where the test binary runs (`target/debug/deps/it-…`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// Headless Chromium behind chromedriver; both are stopped when this is dropped.
struct Browser {
    client: Option<Client>,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Browser {
        let (Some(chromium), Some(chromedriver)) = (
            program(
                "CHROMIUM",
                &["chromium", "chromium-browser", "google-chrome"],
            ),
            program("CHROMEDRIVER", &["chromedriver"]),
        ) else {
            panic!(
                "chromium and chromedriver are needed for the simulator tests: \
                 apt-get install chromium chromium-driver"
            );
        };
        let port = free_port();
        let mut command = Command::new(chromedriver);
        command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group, so that the browsers it starts can be stopped with it.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command.spawn().expect("chromedriver starts");
        let profile = tempfile::tempdir().expect("a temporary profile directory");
        let mut browser = Browser {
            client: None,
            driver,
            _profile: profile,
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on port {port} within {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
            "--disable-extensions".to_owned(),
            // Never through a proxy of the machine: everything is on 127.0.0.1.
            "--no-proxy-server".to_owned(),
            "--window-size=1440,1000".to_owned(),
            format!("--user-data-dir={}", browser._profile.path().display()),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = tokio::time::timeout(
            WAIT,
            ClientBuilder::new(connector)
                .capabilities(capabilities)
                .connect(&url),
        )
        .await
        .unwrap_or_else(|_| panic!("chromedriver did not start Chromium within {WAIT:?}"))
        .unwrap_or_else(|e| panic!("chromedriver could not start Chromium: {e}"));
        browser.client = Some(client);
        browser
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("a session")
    }

    /// Writes the page as it is now to `target/simulator.png`.
    async fn screenshot(&self) -> PathBuf {
        let png = self.client().screenshot().await.expect("a screenshot");
        let path = target_dir().join("simulator.png");
        std::fs::write(&path, png).expect("the screenshot is written");
        path
    }

    /// Runs `script` (a function body) with `args`.
    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client()
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `script` (a function body, given `args`) returns something truthy, and
    /// returns it. After [`WAIT`], takes a screenshot and fails naming `what`.
    async fn wait_for(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let value = self.js(script, args.clone()).await;
            let truthy = !matches!(&value, Value::Null | Value::Bool(false))
                && value != json!("")
                && value != json!(0);
            if truthy {
                return value;
            }
            if Instant::now() > deadline {
                let shot = self.screenshot().await;
                panic!(
                    "timed out after {WAIT:?} waiting for {what} (the page is in {})",
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn type_into(&self, id: &str, text: &str) {
        let input = self.client().find(Locator::Id(id)).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    /// Clicks the element `css` names, finding it again if the page replaced it meanwhile.
    async fn click(&self, css: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let clicked = match self.client().find(Locator::Css(css)).await {
                Ok(element) => element.click().await,
                Err(e) => Err(e),
            };
            match clicked {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => {
                    let shot = self.screenshot().await;
                    panic!(
                        "cannot click {css} within {WAIT:?}: {e} (the page is in {})",
                        shot.display()
                    );
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Ends the session (Chromium quits), then chromedriver.
    async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = tokio::time::timeout(WAIT, client.close()).await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver and the browsers it started: its process group (its ID is the
        // group's).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// The story

/// A receiver that answers 503 while `fail` is above zero (counting it down), else 200.
async fn receiver(fail: Arc<AtomicUsize>) -> Server {
    Server::start(move |_, _| {
        let fail = fail.clone();
        async move {
            let failing = fail
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if failing {
                StatusCode::SERVICE_UNAVAILABLE.into_response()
            } else {
                StatusCode::OK.into_response()
            }
        }
    })
    .await
}

/// Whether an element matching `css` has `text` in it.
const HAS_TEXT: &str = "return [...document.querySelectorAll(arguments[0])]
    .some(e => e.textContent.includes(arguments[1]));";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_writes_the_app_answers_the_visitor_becomes_a_contact_and_faults_are_retried() {
    let fail = Arc::new(AtomicUsize::new(0));
    let hook = receiver(fail.clone()).await;
    let fake = FakeInbox::builder()
        .webhook_backoff(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let browser = Browser::start().await;
    let outcome = AssertUnwindSafe(story(&browser, &fake, &hook, &fail))
        .catch_unwind()
        .await;
    // On every run, as the story ended (the last event open, as a reviewer would look at it).
    let shot = browser.screenshot().await;
    if let Err(panic) = outcome {
        eprintln!("the page is in {}", shot.display());
        std::panic::resume_unwind(panic);
    }
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
    shows_text_as_text(&browser, &fake).await;
    browser.close().await;
}

/// The story, on the page: each step waited for, with what the fake holds checked too.
async fn story(b: &Browser, fake: &FakeInbox, hook: &Server, fail: &AtomicUsize) {
    let hook_url = format!("{}/webhooks", hook.url);
    b.client()
        .goto(&format!("{}/", fake.base_url()))
        .await
        .unwrap();
    b.wait_for(
        "the page to connect to the stream",
        "return document.querySelector('#live[data-live=true]') !== null",
        vec![],
    )
    .await;
    // Set in this document: still there at the end means the page was never reloaded.
    b.js("window.sameDocument = 'yes'; return true;", vec![])
        .await;

    // Register the test receiver from the page.
    b.type_into("receiver-url", &hook_url).await;
    b.click("#receiver-add").await;
    b.wait_for(
        "the receiver in the controls",
        "return document.querySelector(`#receivers li[data-url=\"${arguments[0]}\"]`) !== null",
        vec![json!(hook_url)],
    )
    .await;
    assert_eq!(fake.webhook_receivers(), vec![hook_url.clone()]);

    // The visitor writes: the message shows in the inbox, its webhook is delivered (200).
    let question = "Hi! Do you ship to Norway?";
    b.type_into("visitor-text", question).await;
    b.click("#visitor-send").await;
    b.wait_for(
        "the visitor's message in the inbox pane",
        HAS_TEXT,
        vec![
            json!("#inbox-messages .message[data-direction=PARTICIPANT_TO_BUSINESS]"),
            json!(question),
        ],
    )
    .await;
    b.wait_for(
        "the visitor's message in the chat",
        HAS_TEXT,
        vec![json!("#chat .bubble.out"), json!(question)],
    )
    .await;
    b.wait_for(
        "Message Sent To Business delivered with 200 in the deliveries pane",
        "return document.querySelector(
            '.event[data-event-type$=message_sent_to_business] .attempt[data-status=\"200\"]') !== null",
        vec![],
    )
    .await;
    fake.settle().await;
    assert_eq!(
        hook.count("/webhooks"),
        1,
        "the receiver got the event once"
    );
    let conversations = fake.conversations();
    assert_eq!(conversations.len(), 1);
    let participant = conversations[0].participant.clone().unwrap();
    let visitor_id = participant
        .anonymous_visitor_id
        .expect("the page's visitor is anonymous");
    let first_conversation = conversations[0].id.clone().unwrap();

    // The app answers through the API: the reply appears in both panes without a reload.
    let client = fake.client();
    let found = client
        .get_or_create_conversation()
        .body(GetOrCreateConversationRequest {
            participant_id: ParticipantId::AnonymousVisitorId(visitor_id.clone()),
        })
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.new_conversation, Some(false));
    let answer = "Yes, we ship to Norway in 3 days.";
    client
        .send_message()
        .body(SendMessageRequest::new(
            &first_conversation,
            Message::reply(answer),
        ))
        .send()
        .await
        .unwrap();
    b.wait_for(
        "the app's reply in the chat",
        HAS_TEXT,
        vec![json!("#chat .bubble.in"), json!(answer)],
    )
    .await;
    b.wait_for(
        "the app's reply in the inbox, sent by the business",
        HAS_TEXT,
        vec![
            json!("#inbox-messages .message[data-direction=BUSINESS_TO_PARTICIPANT]"),
            json!(answer),
        ],
    )
    .await;

    // The visitor becomes a contact: the conversations merge, in both panes.
    b.type_into("contact-id", "contact-ada").await;
    b.click("#become-contact").await;
    b.wait_for(
        "the old conversation marked merged in the inbox pane",
        "return document.querySelector(
            `.conversation.merged[data-id=\"${arguments[0]}\"][data-merged-into]`) !== null",
        vec![json!(first_conversation)],
    )
    .await;
    let target = fake
        .merged_into(&first_conversation)
        .expect("the visitor's conversation was merged");
    b.wait_for(
        "the contact's conversation in the inbox pane, with the moved messages",
        "const c = document.querySelector(`.conversation[data-id=\"${arguments[0]}\"]`);
         return c && c.dataset.kind === 'contact' && c.classList.contains('selected')
             && document.querySelectorAll('#inbox-messages .message').length === 2
             && document.querySelector('#conversation-head .merge-notice') !== null;",
        vec![json!(target)],
    )
    .await;
    b.wait_for(
        "the visitor pane following the merge as the contact",
        "return document.querySelector('#who [data-kind=contact]') !== null
            && document.querySelector(
                `#chat .merge-notice[data-from=\"${arguments[0]}\"][data-to=\"${arguments[1]}\"]`) !== null
            && document.querySelectorAll('#chat .bubble').length === 2;",
        vec![json!(first_conversation), json!(target)],
    )
    .await;
    b.wait_for(
        "Conversations Merged in the deliveries pane",
        "return document.querySelector(
            '.event[data-event-type$=conversations_merged] .attempt[data-status=\"200\"]') !== null",
        vec![],
    )
    .await;

    // The app sends a template with a postback button; the visitor presses it in the chat.
    let template = Message {
        content: Some(MessageContent {
            template: Some(TemplateMessagePayload {
                title: Some("Your order #1042".into()),
                text_lines: vec!["2 × Wool socks".into()],
                buttons: vec![Button {
                    label: Some("Track my parcel".into()),
                    postback_properties: Some(PostbackProperties {
                        interaction_id: Some("track-1042".into()),
                        app_id: None,
                        ..Default::default()
                    }),
                    launch_url: None,
                    ..Default::default()
                }],
                ..Default::default()
            }),
            preview_text: Some("Your order #1042".into()),
            ..Default::default()
        }),
        ..Message::reply("")
    };
    client
        .send_message()
        .body(SendMessageRequest::new(&target, template))
        .send()
        .await
        .unwrap();
    b.wait_for(
        "the template's button in the chat",
        "return document.querySelector('#chat button.postback[data-interaction-id=\"track-1042\"]') !== null",
        vec![],
    )
    .await;
    b.click("#chat button.postback[data-interaction-id=\"track-1042\"]")
        .await;
    b.wait_for(
        "Button Interacted delivered in the deliveries pane",
        "return document.querySelector(
            '.event[data-event-type$=button_interacted] .attempt[data-status=\"200\"]') !== null",
        vec![],
    )
    .await;
    let pressed: ButtonInteracted = fake
        .events()
        .into_iter()
        .find(|e| e.event_type == ButtonInteracted::EVENT_TYPE)
        .expect("Button Interacted was emitted")
        .domain_event
        .action_event
        .and_then(|a| a.body)
        .expect("the event has a body")
        .parse()
        .unwrap();
    assert_eq!(pressed.interaction_id.as_deref(), Some("track-1042"));
    assert_eq!(pressed.conversation_id.as_deref(), Some(target.as_str()));

    // A 503 injected from the page: the app's next call fails and the client retries it
    // (Get Or Create is safe to repeat); the request log shows both.
    b.click("#fault-inject").await; // 503, once: the form's defaults
    b.wait_for(
        "the queued 503 in the controls",
        "return document.querySelector('#pending-faults .fault[data-status=\"503\"]') !== null",
        vec![],
    )
    .await;
    assert_eq!(fake.pending_faults().len(), 1);
    // The receiver fails its next delivery with 503: the fake redelivers.
    fail.store(1, Ordering::SeqCst);
    let contact = client
        .get_or_create_conversation()
        .body(GetOrCreateConversationRequest {
            participant_id: ParticipantId::ContactId("contact-ada".into()),
        })
        .send()
        .await
        .expect("the client retries the injected 503")
        .into_inner();
    assert_eq!(
        contact.conversation.unwrap().id.as_deref(),
        Some(target.as_str())
    );
    let follow_up = "Your parcel left today.";
    client
        .send_message()
        .body(SendMessageRequest::new(&target, Message::reply(follow_up)))
        .send()
        .await
        .unwrap();
    b.wait_for(
        "the injected 503 and its retry in the request log",
        "const statuses = [...document.querySelectorAll('#requests .request')]
            .filter(r => r.textContent.includes('/inbox/v2/conversations'))
            .map(r => r.dataset.status);
         return statuses.includes('503') && statuses.filter(s => s === '200').length >= 2
            && document.querySelector('#pending-faults .fault') === null;",
        vec![],
    )
    .await;
    b.wait_for(
        "the failed delivery and its retry in the deliveries pane",
        "const e = [...document.querySelectorAll('.event[data-event-type$=message_sent_to_participant]')]
            .find(e => e.querySelector('.attempt[data-status=\"503\"]'));
         return e && [...e.querySelectorAll('.attempt')].map(a => a.dataset.status).join(',') === '503,200'
            && e.querySelector('.retries') !== null;",
        vec![],
    )
    .await;
    fake.settle().await;
    let retried = fake
        .deliveries()
        .into_iter()
        .find(|d| d.attempts.len() == 2)
        .expect("one delivery was retried");
    assert_eq!(
        retried
            .attempts
            .iter()
            .map(|a| a.status)
            .collect::<Vec<_>>(),
        [Some(503), Some(200)]
    );
    assert!(retried.delivered);

    // Open that event: its decoded form and JWT; redeliver it.
    b.click(&format!(".event[data-event-id=\"{}\"]", retried.event_id))
        .await;
    b.wait_for(
        "the event's decoded form and JWT",
        "const jwt = document.getElementById('event-jwt').textContent;
         return !document.getElementById('event-detail').hidden && jwt.split('.').length === 3
            && document.getElementById('event-decoded').textContent.includes(arguments[0]);",
        vec![json!(follow_up)],
    )
    .await;
    let before = hook.count("/webhooks");
    b.click("#redeliver").await;
    b.wait_for(
        "the redelivery in the deliveries pane",
        "const e = document.querySelector(`.event[data-event-id=\"${arguments[0]}\"]`);
         return e && e.querySelectorAll('.delivery').length === 2
            && e.querySelectorAll('.delivery[data-state=delivered]').length === 2;",
        vec![json!(retried.event_id)],
    )
    .await;
    assert_eq!(hook.count("/webhooks"), before + 1);

    // The business writes from its inbox (the contact's conversation is open there).
    b.type_into("business-text", "Thanks for your order, Ada!")
        .await;
    b.click("#business-send").await;
    b.wait_for(
        "the business's message in the chat",
        HAS_TEXT,
        vec![
            json!("#chat .bubble.in"),
            json!("Thanks for your order, Ada!"),
        ],
    )
    .await;

    assert_eq!(
        b.js("return window.sameDocument || null;", vec![]).await,
        json!("yes"),
        "the page was never reloaded"
    );
}

/// What the fake holds is shown as text, never run as HTML (after the screenshot: it is not
/// pretty).
async fn shows_text_as_text(b: &Browser, fake: &FakeInbox) {
    let hostile = "<img src=x onerror=\"window.pwned=1\"><b>bold</b>";
    fake.visitor_writes("visitor-hostile", hostile);
    b.wait_for(
        "the hostile message, as text, in the inbox's list",
        HAS_TEXT,
        vec![json!("#conversations .preview"), json!(hostile)],
    )
    .await;
    assert_eq!(
        b.js(
            "return [window.pwned === undefined, document.querySelectorAll('main img, main b').length];",
            vec![]
        )
        .await,
        json!([true, 0])
    );
}
