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

mod story;

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
