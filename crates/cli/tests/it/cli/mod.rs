//! The `wix-inbox` binary, run as a process against the fake Inbox: output parsed and checked,
//! exit codes checked, bad input answered with the right code and one clear line.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use wix_inbox::webhooks::test_signer::TestSigner;
use wix_inbox_fake::FakeInbox;

mod key_dir;
mod limits;
mod output;
mod webhook_sign;

const BIN: &str = env!("CARGO_BIN_EXE_wix-inbox");

/// The command with no Wix credentials from the test's own environment.
pub(crate) fn cli() -> Command {
    let mut cmd = Command::new(BIN);
    for var in [
        "WIX_API_KEY",
        "WIX_SITE_ID",
        "WIX_APP_ID",
        "WIX_APP_SECRET",
        "WIX_INSTANCE_ID",
        "WIX_BASE_URL",
    ] {
        cmd.env_remove(var);
    }
    crate::process::direct(&mut cmd);
    cmd.env("RUST_BACKTRACE", "1");
    cmd
}

/// The command with the fake's API key, site and base URL.
pub(crate) fn cli_for(fake: &FakeInbox) -> Command {
    let mut cmd = cli();
    cmd.env("WIX_API_KEY", fake.api_key())
        .env("WIX_SITE_ID", fake.site_id())
        .env("WIX_BASE_URL", fake.base_url());
    cmd
}

/// How long a command may run before the test kills it and fails: a bug must fail the test,
/// not hang CI.
const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs a command to its end, as `Command::output` does, within [`CHILD_TIMEOUT`].
pub(crate) trait Finish {
    fn finish(&mut self) -> Output;
}

impl Finish for Command {
    fn finish(&mut self) -> Output {
        let child = self
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        output_within(child, CHILD_TIMEOUT)
    }
}

/// Waits for `child` (its stdout and stderr piped) and collects its output; after `timeout` it
/// is killed and the test fails with what it printed so far.
fn output_within(mut child: std::process::Child, timeout: Duration) -> Output {
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = stderr.join().unwrap_or_default();
            panic!(
                "the command did not finish within {timeout:?} and was killed; stderr: {}",
                String::from_utf8_lossy(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

pub(crate) async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.finish())
        .await
        .unwrap()
}

pub(crate) fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// Exit code `code` and exactly one line on stderr that contains `needle`, no backtrace.
pub(crate) fn assert_fails(out: &Output, code: i32, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
    assert!(
        !stderr.contains("backtrace") && !stderr.contains("panicked"),
        "{stderr}"
    );
    if code == 1 {
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    }
}

/// A directory of its own for each test (tests run in parallel), deleted on drop.
pub(crate) struct TempDir(std::path::PathBuf);

impl TempDir {
    pub(crate) fn new() -> TempDir {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("wix-inbox-cli-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// A file `name` in the directory, with `content`.
    pub(crate) fn file(&self, name: &str, content: &[u8]) -> std::path::PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed and waited for on drop, so that a failing test leaves none behind.
struct KillOnDrop(Option<std::process::Child>);

impl KillOnDrop {
    fn new(child: std::process::Child) -> Self {
        KillOnDrop(Some(child))
    }

    fn child(&mut self) -> &mut std::process::Child {
        self.0.as_mut().expect("the child is there until dropped")
    }

    /// The child, no longer killed on drop.
    fn into_inner(mut self) -> std::process::Child {
        self.0.take().expect("the child is there until dropped")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_get_or_create_then_get() {
    let fake = FakeInbox::start().await.unwrap();
    let mut cmd = cli_for(&fake);
    cmd.args(["conversations", "get-or-create", "--visitor", "visitor-1"]);
    let first = json(&run(cmd).await);
    assert_eq!(first["newConversation"], true);
    let id = first["conversation"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        first["conversation"]["participant"]["anonymousVisitorId"],
        "visitor-1"
    );

    let mut cmd = cli_for(&fake);
    cmd.args(["conversations", "get-or-create", "--visitor", "visitor-1"]);
    assert_eq!(json(&run(cmd).await)["newConversation"], false);

    let mut cmd = cli_for(&fake);
    cmd.args(["conversations", "get", &id]);
    assert_eq!(json(&run(cmd).await)["conversation"]["id"], id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_error_is_one_line_with_the_request_id_and_no_secret() {
    let fake = FakeInbox::start().await.unwrap();
    let mut cmd = cli_for(&fake);
    cmd.args([
        "conversations",
        "get",
        "00000000-0000-4000-8000-000000000000",
    ]);
    let out = run(cmd).await;
    assert_fails(&out, 1, "CONVERSATION_NOT_FOUND");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("request ID"), "{stderr}");
    assert!(
        !stderr.contains(fake.api_key()),
        "the API key leaked: {stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_api_key_is_an_auth_error_without_the_key() {
    let fake = FakeInbox::start().await.unwrap();
    let mut cmd = cli_for(&fake);
    cmd.env("WIX_API_KEY", "IST.secret-that-is-wrong");
    cmd.args(["conversations", "get-or-create", "--member", "m1"]);
    let out = run(cmd).await;
    assert_fails(&out, 1, "401");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("secret-that-is-wrong"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_credentials_work_too() {
    let fake = FakeInbox::start().await.unwrap();
    let mut cmd = cli();
    cmd.env("WIX_APP_ID", fake.app_id())
        .env("WIX_APP_SECRET", fake.app_secret())
        .env("WIX_INSTANCE_ID", fake.instance_id())
        .args(["--base-url", fake.base_url()])
        .args(["conversations", "get-or-create", "--contact", "contact-9"]);
    let out = json(&run(cmd).await);
    assert_eq!(out["conversation"]["participant"]["contactId"], "contact-9");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_mixed_credentials_are_usage_errors() {
    let mut cmd = cli();
    cmd.args(["conversations", "get", "x"]);
    assert_fails(&run(cmd).await, 2, "no credentials");

    let mut cmd = cli();
    cmd.env("WIX_API_KEY", "k")
        .args(["conversations", "get", "x"]);
    assert_fails(&run(cmd).await, 2, "WIX_SITE_ID");

    let mut cmd = cli();
    cmd.env("WIX_API_KEY", "k")
        .env("WIX_SITE_ID", "s")
        .env("WIX_APP_ID", "a")
        .args(["conversations", "get", "x"]);
    assert_fails(&run(cmd).await, 2, "choose one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_or_create_takes_exactly_one_participant() {
    let mut cmd = cli();
    cmd.args(["conversations", "get-or-create"]);
    assert_fails(&run(cmd).await, 2, "required");
    let mut cmd = cli();
    cmd.args([
        "conversations",
        "get-or-create",
        "--visitor",
        "v",
        "--member",
        "m",
    ]);
    assert_fails(&run(cmd).await, 2, "cannot be used with");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_send_list_and_list_all() {
    let fake = FakeInbox::start().await.unwrap();
    let written = fake.visitor_writes("visitor-2", "first");
    let conversation = written.conversation_id.unwrap();
    for i in 0..34 {
        fake.visitor_writes("visitor-2", &format!("message {i}"));
    }

    let mut cmd = cli_for(&fake);
    cmd.args([
        "messages",
        "send",
        &conversation,
        "--text",
        "We ship to Norway.",
    ]);
    let sent = json(&run(cmd).await);
    assert_eq!(
        sent["message"]["content"]["basic"]["items"][0]["text"],
        "We ship to Norway."
    );
    assert_eq!(sent["message"]["direction"], "BUSINESS_TO_PARTICIPANT");

    // One page: Wix's default of 30, newest first.
    let mut cmd = cli_for(&fake);
    cmd.args(["messages", "list", &conversation]);
    let page = json(&run(cmd).await);
    assert_eq!(page["messages"].as_array().unwrap().len(), 30);
    assert_eq!(
        page["messages"][0]["content"]["previewText"],
        "We ship to Norway."
    );
    assert!(page["pagingMetadata"]["cursors"]["next"].is_string());

    // Every page.
    let mut cmd = cli_for(&fake);
    cmd.args([
        "messages",
        "list",
        &conversation,
        "--all",
        "--visibility",
        "business",
    ]);
    let out = run(cmd).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One JSON object per line.
    let all: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a line is a JSON object"))
        .collect();
    assert_eq!(all.len(), 36);
    assert_eq!(all[0]["content"]["previewText"], "We ship to Norway.");
    assert_eq!(fake.messages(&conversation).len(), 36);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_visibility_is_a_usage_error() {
    let mut cmd = cli();
    cmd.args(["messages", "list", "c", "--visibility", "everyone"]);
    assert_fails(&run(cmd).await, 2, "invalid value 'everyone'");
}

/// A new key pair, written to `dir` as `public.pem` and `private.pem`.
pub(crate) fn keys(dir: &TempDir) -> (std::path::PathBuf, std::path::PathBuf, TestSigner) {
    let private = TestSigner::generate_private_key_pem();
    let signer = TestSigner::from_private_key_pem(&private).unwrap();
    let public = dir.file("public.pem", signer.public_key_pem().as_bytes());
    let private = dir.file("private.pem", private.as_bytes());
    (public, private, signer)
}

pub(crate) fn sign(private: &std::path::Path, args: &[&str]) -> Vec<u8> {
    let out = cli()
        .args(["fake", "sign", "--private-key"])
        .arg(private)
        .args(args)
        .finish();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_serve_prints_how_to_reach_it_and_answers() {
    let dir = TempDir::new();
    // Killed and waited for however the test ends.
    let mut serve = KillOnDrop::new(
        cli()
            .args(["fake", "serve", "--key-dir"])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = serve.child().stdout.take().unwrap();
    let lines = read_lines_until(stdout, |l| l.starts_with("# private key:")).await;
    let get = |prefix: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {lines:?}"))
            .to_owned()
    };
    let base_url = get("export WIX_BASE_URL=");
    let public_key = get("# public key: ");
    assert!(base_url.starts_with("http://127.0.0.1:"));
    // The examples read the key's contents: the export line reads the file.
    let export = get("export WIX_WEBHOOK_PUBLIC_KEY=");
    assert_eq!(export, format!("\"$(cat {public_key})\""));
    // The simulator's page, on the same address.
    let simulator = get("# simulator: ");
    assert_eq!(simulator, format!("{base_url}/ (open it in a browser)"));
    let page = crate::harness::http_client()
        .get(format!("{base_url}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Fake Wix Inbox"));
    assert!(std::fs::read_to_string(&public_key)
        .unwrap()
        .contains("BEGIN PUBLIC KEY"));

    let mut cmd = cli();
    cmd.env("WIX_BASE_URL", &base_url)
        .env("WIX_API_KEY", get("export WIX_API_KEY="))
        .env("WIX_SITE_ID", get("export WIX_SITE_ID="))
        .args(["conversations", "get-or-create", "--member", "member-1"]);
    let out = run(cmd).await;
    drop(serve);
    assert_eq!(json(&out)["newConversation"], true);

    // The key it wrote signs bodies its public key verifies.
    let body = sign(
        &dir.path().join("private.pem"),
        &[
            "--event",
            "message-sent-to-participant",
            "--conversation-id",
            "c",
        ],
    );
    let body_file = dir.file("participant.jwt", &body);
    let out = cli()
        .args(["webhook", "verify", "--public-key", &public_key, "--body"])
        .arg(&body_file)
        .finish();
    assert_eq!(json(&out)["event"]["kind"], "MessageSentToParticipant");
}

/// The lines `out` prints up to and including the first for which `last` holds, within
/// [`CHILD_TIMEOUT`] (the test fails after that; its child is killed on drop, which ends the
/// reading thread).
async fn read_lines_until(
    out: impl Read + Send + 'static,
    last: impl Fn(&str) -> bool + Send + 'static,
) -> Vec<String> {
    let reading = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let done = last(&line);
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    });
    tokio::time::timeout(CHILD_TIMEOUT, reading)
        .await
        .unwrap_or_else(|_| panic!("not the expected lines within {CHILD_TIMEOUT:?}"))
        .unwrap()
}

/// The harness itself: a child that never ends (it waits for a stdin that stays open) fails the
/// test after the timeout, and is killed, instead of hanging it.
#[test]
fn a_hanging_child_fails_the_test_instead_of_hanging_it() {
    let dir = TempDir::new();
    let (public, _, _) = keys(&dir);
    let mut child = cli()
        .args(["webhook", "verify", "--public-key"])
        .arg(&public)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take();
    let pid = child.id();
    let started = Instant::now();
    let outcome =
        std::panic::catch_unwind(move || output_within(child, Duration::from_millis(300)));
    let message = *outcome
        .expect_err("a child that waits for stdin finished")
        .downcast::<String>()
        .unwrap();
    assert!(message.contains("did not finish within 300ms"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(30));
    // Killed and reaped: nothing of it is left.
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the child {pid} is still there"
    );
    drop(stdin);
}

/// `fake serve` with `args`; waits for it to either print its key paths or end. The lines it
/// printed, its output if it ended, and the process if it is serving (killed on drop).
async fn fake_serve(
    args: &[&std::ffi::OsStr],
) -> (Vec<String>, Option<Output>, Option<KillOnDrop>) {
    let mut serve = KillOnDrop::new(
        cli()
            .args(["fake", "serve"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = serve.child().stdout.take().unwrap();
    let lines = read_lines_until(stdout, |l| l.starts_with("# private key:")).await;
    if lines.iter().any(|l| l.starts_with("# private key:")) {
        return (lines, None, Some(serve));
    }
    // Its output ended without the key paths: it is exiting.
    let child = serve.into_inner();
    let out = tokio::task::spawn_blocking(move || output_within(child, CHILD_TIMEOUT))
        .await
        .unwrap();
    (lines, Some(out), None)
}
