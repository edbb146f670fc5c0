//! `wix-inbox fake load`, run as a process with an app of this test binary (it runs itself
//! again, as `load::app`, in the mode `LOAD_TEST_APP` names): examples/bot.rs passes; an app
//! that answers twice, or never, fails with exit 1 and the right counts.
use crate::bot;

use std::process::{Command, Output, Stdio};

use serde_json::Value;
use wix_inbox::types::{Message, SendMessageRequest};
use wix_inbox::webhooks::{InboxEvent, WebhookEvent};

const BIN: &str = env!("CARGO_BIN_EXE_wix-inbox");

/// Runs `fake load` on 3 sites for 10 messages with `app` as the app (half the visitors of
/// the bot become contacts or members, none of the others'); its output and report.
fn fake_load(app: &str, extra: &[&str]) -> (Output, Value) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let me = std::env::current_exe().unwrap();
    let mut cmd = Command::new(BIN);
    let output = crate::process::direct(&mut cmd)
        .env("LOAD_TEST_APP", app)
        .args([
            "fake",
            "load",
            "--sites",
            "3",
            "--rate",
            "10",
            "--duration",
            "1",
        ])
        .args(["--time-scale", "36000", "--grace", "2", "--seed", "5"])
        .args(["--convert-share", if app == "bot" { "0.5" } else { "0" }])
        .arg("--report")
        .arg(&report)
        .args(extra)
        .arg("--")
        .arg(me)
        .args(["--ignored", "--exact", "load::app", "--nocapture"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let json = std::fs::read_to_string(&report)
        .map(|text| serde_json::from_str(&text).unwrap())
        .unwrap_or(Value::Null);
    (output, json)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_bot_passes_and_the_report_says_so() {
    let (output, report) = fake_load("bot", &[]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert!(stdout.contains("PASS: nothing lost"), "{stdout}");
    assert_eq!(report["visitor_messages"], 10);
    assert_eq!(report["replies"]["one"], 10);
    assert_eq!(report["replies"]["zero"], 0);
    assert_eq!(report["deliveries"]["given_up"], 0);
    assert_eq!(report["api_calls"].as_array().unwrap().len(), 3);
    assert_eq!(report["failures"], serde_json::json!([]));
}

/// `--api-limit` scales Wix's limit with the test: at 2 calls a second a site, the bot's calls
/// are answered 429 at times (counted in the report), and it still answers every message once.
#[test]
fn a_scaled_api_limit_answers_429_and_the_bot_still_answers_once() {
    let (output, report) = fake_load("bot", &["--api-limit", "2/1"]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    let calls = report["api_calls"].as_array().unwrap();
    let limited: u64 = calls.iter().map(|c| c["limited"].as_u64().unwrap()).sum();
    assert!(limited > 0, "no call was limited: {report}");
    assert_eq!(report["replies"]["one"], 10, "{report}");

    let (output, _) = fake_load("bot", &["--api-limit", "0/1"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("--api-limit"));
}

#[test]
fn an_app_that_answers_twice_exits_1_with_the_duplicates_counted() {
    let (output, report) = fake_load("twice", &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!(report["replies"]["more"], 10, "{report}");
    assert_eq!(report["replies"]["one"], 0);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("10 visitor messages answered more than once"),
        "{stdout}"
    );
}

#[test]
fn an_app_that_drops_events_exits_1_with_the_losses_counted() {
    let (output, report) = fake_load("silent", &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!(report["replies"]["zero"], 10, "{report}");
    // Delivered (answered 200), yet lost: the app dropped them.
    assert_eq!(report["deliveries"]["given_up"], 0);
    assert!(text(&output.stdout).contains("10 visitor messages never answered (lost)"));
}

#[test]
fn an_app_that_never_listens_is_a_clear_error() {
    let (output, _) = fake_load("exit", &["--startup-timeout", "20"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("the app exited") && stderr.contains("before listening on 127.0.0.1:"),
        "{stderr}"
    );
}

#[test]
fn bad_options_are_usage_errors() {
    let output = Command::new(BIN)
        .args(["fake", "load", "--rate", "0", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("rate must be"));
    let output = Command::new(BIN)
        .args(["fake", "load", "--sites", "3"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "the app command is required");
}

/// The app `fake load` runs: run by the tests above, through `LOAD_TEST_APP`.
#[test]
#[ignore = "the app of the tests above; nothing to do on its own"]
fn app() {
    type BoxError = Box<dyn std::error::Error + Send + Sync>;
    let mode = std::env::var("LOAD_TEST_APP").unwrap_or_default();
    if mode == "bot" {
        bot::main().unwrap();
        return;
    }
    if mode == "exit" || mode.is_empty() {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let var = |name: &str| std::env::var(name).unwrap();
        let app = wix_inbox::App::builder()
            .app_id(var("WIX_APP_ID"))
            .app_secret(var("WIX_APP_SECRET"))
            .public_key(&var("WIX_WEBHOOK_PUBLIC_KEY"))
            .base_url(var("WIX_BASE_URL"))
            .build()
            .unwrap();
        let replies = if mode == "twice" { 2 } else { 0 };
        let handler_app = app.clone();
        let router = app
            .webhook_router(move |event: WebhookEvent| {
                let app = handler_app.clone();
                async move {
                    let InboxEvent::MessageSentToBusiness(sent) = &event.event else {
                        return Ok::<(), BoxError>(());
                    };
                    if event.is_from_app(app.app_id()) {
                        return Ok(());
                    }
                    let text = sent.plain_text().unwrap_or_default();
                    let conversation = sent.conversation_id.clone().unwrap_or_default();
                    let client = app.client_for(&event)?;
                    for _ in 0..replies {
                        let reply = Message::reply(format!("Got: {text}"));
                        let request = SendMessageRequest::new(&conversation, reply);
                        client.send_message().body(request).send().await?;
                    }
                    Ok(())
                }
            })
            .unwrap();
        let listener = tokio::net::TcpListener::bind(var("WIX_WEBHOOK_ADDR"))
            .await
            .unwrap();
        axum::serve(listener, router).await.unwrap();
    });
}
