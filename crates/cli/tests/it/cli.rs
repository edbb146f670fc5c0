//! The `wix-inbox` binary, run as a process against the fake Inbox: output parsed and checked,
//! exit codes checked, bad input answered with the right code and one clear line.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use wix_inbox::webhooks::test_signer::TestSigner;
use wix_inbox_fake::FakeInbox;

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
    // Whatever proxy the test's environment names, the child talks to 127.0.0.1 directly.
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost");
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

#[test]
fn fake_sign_then_webhook_verify_from_a_file_and_from_stdin() {
    let dir = TempDir::new();
    let (public, private, _) = keys(&dir);
    let body = sign(
        &private,
        &[
            "--event",
            "conversations-merged",
            "--conversation-id",
            "new-conv",
            "--old-conversation-id",
            "old-1",
            "--old-conversation-id",
            "old-2",
        ],
    );
    let body_file = dir.file("merged.jwt", &body);
    let out = cli()
        .args(["webhook", "verify", "--public-key"])
        .arg(&public)
        .arg("--body")
        .arg(&body_file)
        .finish();
    let event = json(&out);
    assert_eq!(event["event"]["kind"], "ConversationsMerged");
    assert_eq!(
        event["eventType"],
        "wix.crm.inbox.v2.conversation_conversations_merged"
    );
    assert_eq!(event["event"]["body"]["targetConversationId"], "new-conv");
    assert_eq!(
        event["event"]["body"]["oldConversationIds"],
        serde_json::json!(["old-1", "old-2"])
    );
    assert!(event["id"].is_string());

    let body = sign(
        &private,
        &[
            "--event",
            "message-sent-to-business",
            "--conversation-id",
            "c1",
            "--member",
            "member-7",
            "--text",
            "Is it in stock?",
        ],
    );
    let mut child = cli()
        .args(["webhook", "verify", "--public-key"])
        .arg(&public)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&body).unwrap();
    let event = json(&output_within(child, CHILD_TIMEOUT));
    assert_eq!(event["event"]["kind"], "MessageSentToBusiness");
    assert_eq!(
        event["event"]["body"]["message"]["sender"]["memberId"],
        "member-7"
    );
    assert_eq!(
        event["event"]["body"]["message"]["content"]["basic"]["items"][0]["text"],
        "Is it in stock?"
    );
}

#[test]
fn webhook_verify_rejects_garbage_and_a_wrong_key_with_exit_1() {
    let dir = TempDir::new();
    let (public, private, _) = keys(&dir);
    let garbage = dir.file("garbage.jwt", b"this is not a token");
    let out = cli()
        .args(["webhook", "verify", "--public-key"])
        .arg(&public)
        .arg("--body")
        .arg(&garbage)
        .finish();
    assert_fails(&out, 1, "not a compact JWT");

    let body = sign(
        &private,
        &["--event", "button-interacted", "--conversation-id", "c"],
    );
    let other_key = dir.file(
        "other.pem",
        TestSigner::from_private_key_pem(&TestSigner::generate_private_key_pem())
            .unwrap()
            .public_key_pem()
            .as_bytes(),
    );
    let body_file = dir.file("button.jwt", &body);
    let out = cli()
        .args(["webhook", "verify", "--public-key"])
        .arg(&other_key)
        .arg("--body")
        .arg(&body_file)
        .finish();
    assert_fails(&out, 1, "signature");
}

#[test]
fn webhook_verify_usage_errors_exit_2() {
    let dir = TempDir::new();
    let (public, _, _) = keys(&dir);
    let out = cli()
        .args([
            "webhook",
            "verify",
            "--public-key",
            "/no/such/key.pem",
            "--body",
            "-",
        ])
        .finish();
    assert_fails(&out, 2, "cannot read the public key");

    let not_a_key = dir.file("not-a-key.pem", b"hello");
    let out = cli()
        .args(["webhook", "verify", "--public-key"])
        .arg(&not_a_key)
        .finish();
    assert_fails(&out, 2, "not-a-key.pem");

    let out = cli()
        .args(["webhook", "verify", "--public-key"])
        .arg(&public)
        .arg("--no-such-flag")
        .finish();
    assert_fails(&out, 2, "unexpected argument '--no-such-flag'");
}

#[test]
fn webhook_verify_leeway_and_missing_exp_mirror_the_verifier() {
    let dir = TempDir::new();
    let (public, private, signer) = keys(&dir);
    // Expired 10 minutes ago: beyond the default leeway, within an hour of leeway.
    let expired = sign(
        &private,
        &[
            "--event",
            "button-interacted",
            "--conversation-id",
            "c",
            "--expires-in=-600",
        ],
    );
    let expired = dir.file("expired.jwt", &expired);
    let verify = |extra: &[&str], body: &std::path::Path| {
        cli()
            .args(["webhook", "verify", "--public-key"])
            .arg(&public)
            .arg("--body")
            .arg(body)
            .args(extra)
            .finish()
    };
    assert_fails(&verify(&[], &expired), 1, "expired");
    assert!(verify(&["--leeway", "3600"], &expired).status.success());

    // No `exp` at all.
    let mut claims = wix_inbox::webhooks::test_signer::TestEvent::new(
        "wix.crm.inbox.v2.message_button_interacted",
        serde_json::json!({"id": "e1", "entityFqdn": "wix.crm.inbox.v2.message", "slug": "button_interacted", "actionEvent": {"body": {}}}),
    );
    claims.exp = None;
    let no_exp = dir.file("no-exp.jwt", signer.sign_event(&claims).as_bytes());
    assert_fails(&verify(&[], &no_exp), 1, "exp");
    assert!(verify(&["--allow-missing-exp"], &no_exp).status.success());
}

#[test]
fn fake_sign_usage_errors() {
    let dir = TempDir::new();
    let (_, private, _) = keys(&dir);
    let out = cli()
        .args(["fake", "sign", "--private-key"])
        .arg(&private)
        .args(["--event", "conversations-merged", "--conversation-id", "t"])
        .finish();
    assert_fails(&out, 2, "--old-conversation-id");
    let out = cli()
        .args([
            "fake",
            "sign",
            "--private-key",
            "/no/such/private.pem",
            "--event",
            "button-interacted",
        ])
        .finish();
    assert_fails(&out, 2, "cannot read the private key");
    // A public key (or any other text) where the private key should be.
    let other = TempDir::new();
    let public_as_private = dir.file(
        "not-private.pem",
        keys(&other).2.public_key_pem().as_bytes(),
    );
    let out = cli()
        .args(["fake", "sign", "--private-key"])
        .arg(&public_as_private)
        .args(["--event", "button-interacted", "--conversation-id", "c"])
        .finish();
    assert_fails(&out, 2, "the signing key is not usable");
    let out = cli()
        .args(["fake", "sign", "--private-key"])
        .arg(&private)
        .args(["--event", "no-such-event"])
        .finish();
    assert_fails(&out, 2, "invalid value 'no-such-event'");
    // The error names the spec's events.
    assert_fails(&out, 2, "contact-created");
}

/// `fake sign --event` takes every event of the spec: those it cannot fill from flags get an
/// empty body where their kind says, which the verifier decodes as that event.
#[test]
fn fake_sign_makes_every_event_of_the_spec() {
    let dir = TempDir::new();
    let (public, private, _) = keys(&dir);
    for (event, kind, contact) in [
        ("contact-created", "ContactCreated", Some("entity")),
        ("contact-updated", "ContactUpdated", Some("currentEntity")),
        ("contact-deleted", "ContactDeleted", None),
    ] {
        let body = sign(&private, &["--event", event, "--contact", "c-7"]);
        let body_file = dir.file(&format!("{event}.jwt"), &body);
        let out = cli()
            .args(["webhook", "verify", "--public-key"])
            .arg(&public)
            .arg("--body")
            .arg(&body_file)
            .finish();
        let decoded = json(&out);
        assert_eq!(decoded["event"]["kind"], kind, "{event}");
        assert_eq!(decoded["entityId"], "c-7", "{event}");
        if let Some(field) = contact {
            assert_eq!(decoded["event"]["body"][field]["id"], "c-7", "{event}");
        }
    }
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

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_serve_refuses_a_key_dir_others_can_write_to_or_that_is_not_ours() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    for mode in [0o777, 0o770, 0o722] {
        let dir = TempDir::new();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        let (_, out, _serving) = fake_serve(&["--key-dir".as_ref(), dir.path().as_os_str()]).await;
        let out = out.unwrap_or_else(|| panic!("served with a key dir of mode {mode:o}"));
        assert_fails(&out, 2, "writable by");
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "a file was written in a directory of mode {mode:o}"
        );
    }

    // Another user's directory (as root: one given to `nobody`; otherwise: `/`, root's).
    let dir = TempDir::new();
    let ours = std::fs::metadata(dir.path()).unwrap().uid();
    let foreign = if ours == 0 {
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).unwrap();
        dir.path().to_owned()
    } else {
        std::path::PathBuf::from("/")
    };
    let (_, out, _serving) = fake_serve(&["--key-dir".as_ref(), foreign.as_os_str()]).await;
    let out = out.expect("served with another user's key dir");
    assert_fails(&out, 2, "belongs to another user");
    assert!(!foreign.join("private.pem").exists());
}

/// A `private.pem` (or `public.pem`) that is a symlink to another file: the key does not go
/// through it; the link is replaced by a file of this user's only.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_serve_writes_keys_without_following_symlinks() {
    use std::os::unix::fs::PermissionsExt;
    let victims = TempDir::new();
    let profile = victims.file("profile", b"export PATH=/usr/bin\n");
    let notes = victims.file("notes", b"my notes\n");
    let dir = TempDir::new();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&profile, dir.path().join("private.pem")).unwrap();
    std::os::unix::fs::symlink(&notes, dir.path().join("public.pem")).unwrap();

    let (lines, out, _serving) = fake_serve(&["--key-dir".as_ref(), dir.path().as_os_str()]).await;
    assert!(out.is_none(), "fake serve ended: {out:?}");
    assert!(lines.iter().any(|l| l.starts_with("# private key:")));
    assert_eq!(
        std::fs::read_to_string(&profile).unwrap(),
        "export PATH=/usr/bin\n",
        "the key went through the symlink"
    );
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes\n");
    assert_eq!(
        std::fs::metadata(&profile).unwrap().permissions().mode() & 0o777,
        0o644
    );
    let private = dir.path().join("private.pem");
    let meta = std::fs::symlink_metadata(&private).unwrap();
    assert!(meta.file_type().is_file(), "{meta:?}");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&private)
        .unwrap()
        .contains("PRIVATE KEY"));
    assert!(std::fs::symlink_metadata(dir.path().join("public.pem"))
        .unwrap()
        .file_type()
        .is_file());
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

/// `--key-dir` naming a symbolic link to a directory elsewhere (what an attacker swaps in
/// between the check and the writes: the probe got the key pair written elsewhere 5 times of
/// 5): refused, and nothing is written where it points. The directory is opened once without
/// following a link, and the keys are created relative to that handle, so a swap after the
/// check is written into the directory that was checked.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_serve_refuses_a_key_dir_that_is_a_symlink_and_writes_nothing_through_it() {
    use std::os::unix::fs::PermissionsExt;
    let elsewhere = TempDir::new();
    std::fs::set_permissions(elsewhere.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let parent = TempDir::new();
    let link = parent.path().join("keys");
    std::os::unix::fs::symlink(elsewhere.path(), &link).unwrap();
    let (_, out, _serving) = fake_serve(&["--key-dir".as_ref(), link.as_os_str()]).await;
    let out = out.expect("fake serve refused the link");
    assert_fails(&out, 2, "symbolic link");
    assert_eq!(
        std::fs::read_dir(elsewhere.path()).unwrap().count(),
        0,
        "a key was written through the link"
    );
}

/// A key dir that does not exist yet is created for this user only.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_serve_creates_a_private_key_dir() {
    use std::os::unix::fs::PermissionsExt;
    let parent = TempDir::new();
    let dir = parent.path().join("keys");
    let (_, out, _serving) = fake_serve(&["--key-dir".as_ref(), dir.as_os_str()]).await;
    assert!(out.is_none(), "fake serve ended: {out:?}");
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

/// Streams `byte` into `child`'s stdin, up to `most` bytes, until the child stops reading;
/// how many bytes it wrote.
fn feed_stdin(
    child: &mut std::process::Child,
    byte: u8,
    most: usize,
) -> std::thread::JoinHandle<usize> {
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        let chunk = vec![byte; 64 * 1024];
        let mut sent = 0;
        while sent < most {
            match stdin.write(&chunk) {
                Ok(n) => sent += n,
                Err(_) => break, // the child closed its end
            }
        }
        sent
    })
}

#[test]
fn webhook_verify_reads_a_body_only_up_to_the_verifiers_limit() {
    let limit = wix_inbox::webhooks::DEFAULT_MAX_BODY_SIZE;
    let dir = TempDir::new();
    let (public, _, _) = keys(&dir);

    // A file one byte over the limit.
    let big = dir.file("big.jwt", &vec![b'a'; limit + 1]);
    let out = cli()
        .args(["webhook", "verify", "--public-key"])
        .arg(&public)
        .arg("--body")
        .arg(&big)
        .finish();
    assert_fails(&out, 1, &format!("over the limit of {limit} bytes"));

    // An endless stream on stdin (64 MiB at most): read no further than the limit.
    let most = 64 * 1024 * 1024;
    let mut child = cli()
        .args(["webhook", "verify", "--public-key"])
        .arg(&public)
        .args(["--body", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let feeder = feed_stdin(&mut child, b'y', most);
    let out = output_within(child, CHILD_TIMEOUT);
    let sent = feeder.join().unwrap();
    assert_fails(&out, 1, &format!("over the limit of {limit} bytes"));
    assert!(sent < most, "the whole {most} bytes were read");
}

#[test]
fn keys_and_event_files_are_read_only_up_to_their_limits() {
    let dir = TempDir::new();
    let (public, private, _) = keys(&dir);
    let body = dir.file("body.jwt", b"a.b.c");

    // A public key of 20 KiB (a PEM key is well under 2 KiB).
    let mut big_key = signer_pem_padded(&std::fs::read_to_string(&public).unwrap());
    big_key.truncate(20 * 1024);
    let big_key = dir.file("big-public.pem", big_key.as_bytes());
    let out = cli()
        .args(["webhook", "verify", "--public-key"])
        .arg(&big_key)
        .arg("--body")
        .arg(&body)
        .finish();
    assert_fails(&out, 2, "over the limit of 16384 bytes");

    // An endless key on stdin.
    let most = 64 * 1024 * 1024;
    let mut child = cli()
        .args(["webhook", "verify", "--public-key", "-", "--body"])
        .arg(&body)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let feeder = feed_stdin(&mut child, b'A', most);
    let out = output_within(child, CHILD_TIMEOUT);
    assert!(feeder.join().unwrap() < most, "the whole stream was read");
    assert_fails(&out, 2, "over the limit of 16384 bytes");

    // A private key of 20 KiB.
    let big_private = dir.file("big-private.pem", &vec![b'A'; 20 * 1024]);
    let out = cli()
        .args(["fake", "sign", "--private-key"])
        .arg(&big_private)
        .args(["--event", "button-interacted", "--conversation-id", "c"])
        .finish();
    assert_fails(&out, 2, "over the limit of 16384 bytes");

    // An event file over the verifier's body limit.
    let limit = wix_inbox::webhooks::DEFAULT_MAX_BODY_SIZE;
    let mut event = serde_json::to_vec(&serde_json::json!({
        "id": "e1", "entityFqdn": "wix.crm.inbox.v2.message", "slug": "button_interacted",
        "actionEvent": {"body": {}}
    }))
    .unwrap();
    event.pop();
    event.extend_from_slice(b", \"padding\": \"");
    event.resize(limit + 10, b'x');
    event.extend_from_slice(b"\"}");
    let event = dir.file("big-event.json", &event);
    let out = cli()
        .args(["fake", "sign", "--private-key"])
        .arg(&private)
        .arg("--event-file")
        .arg(&event)
        .finish();
    assert_fails(&out, 2, &format!("over the limit of {limit} bytes"));
}

/// `pem` followed by comment lines, to make a key file large.
fn signer_pem_padded(pem: &str) -> String {
    let mut text = pem.to_owned();
    while text.len() < 32 * 1024 {
        text.push_str("# padding padding padding padding padding padding padding\n");
    }
    text
}

/// A List Messages server that never ends: every page holds one message and a new cursor.
async fn endless_pages() -> String {
    use axum::extract::Query;
    async fn page(
        Query(query): Query<std::collections::HashMap<String, String>>,
    ) -> axum::Json<Value> {
        let n: u64 = query
            .get("paging.cursor")
            .and_then(|c| c.strip_prefix("page-"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        axum::Json(serde_json::json!({
            "messages": [{"id": format!("message-{n}"), "sequence": n.to_string()}],
            "pagingMetadata": {"count": 1, "cursors": {"next": format!("page-{}", n + 1)}}
        }))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/inbox/v2/messages", axum::routing::get(page));
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// `messages list --all` prints each message as a JSON line as its page arrives: against a
/// server whose pages never end, the first lines come at once (before, it collected every page
/// first and printed nothing, for ever), and it stops quietly when its reader goes away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_list_all_streams_json_lines() {
    let base_url = endless_pages().await;
    let mut list = KillOnDrop::new(
        cli()
            .env("WIX_API_KEY", "key")
            .env("WIX_SITE_ID", "site")
            .env("WIX_BASE_URL", &base_url)
            .args(["messages", "list", "conversation-1", "--all"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = list.child().stdout.take().unwrap();
    let lines = read_lines_until(stdout, |l| l.contains("\"message-99\"")).await;
    assert_eq!(lines.len(), 100, "{lines:?}");
    for (n, line) in lines.iter().enumerate() {
        let message: Value = serde_json::from_str(line).unwrap();
        assert_eq!(message["id"], format!("message-{n}"));
    }
    // The reader is gone (its end of the pipe closed): the command ends, without a panic.
    let child = list.into_inner();
    let out = tokio::task::spawn_blocking(move || output_within(child, CHILD_TIMEOUT))
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("internal error") && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

/// `fake serve` prints shell lines: `export` for one way to authenticate (the API key by
/// default, the app with `--auth app`), the other way as comments. Running exactly what it
/// printed, then a command, works: before, both ways were printed and exporting them all made
/// every command fail ("both WIX_API_KEY and WIX_APP_ID are set").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_serve_prints_exports_that_work_as_printed() {
    for (auth, exported, commented) in [
        (
            None,
            ["WIX_API_KEY", "WIX_SITE_ID"],
            ["WIX_APP_ID", "WIX_APP_SECRET"],
        ),
        (
            Some("app"),
            ["WIX_APP_ID", "WIX_APP_SECRET"],
            ["WIX_API_KEY", "WIX_SITE_ID"],
        ),
    ] {
        let dir = TempDir::new();
        let mut args: Vec<&std::ffi::OsStr> = vec!["--key-dir".as_ref(), dir.path().as_os_str()];
        if let Some(auth) = auth {
            args.extend([std::ffi::OsStr::new("--auth"), std::ffi::OsStr::new(auth)]);
        }
        let (lines, out, _serving) = fake_serve(&args).await;
        assert!(out.is_none(), "fake serve ended: {out:?}");
        for name in exported {
            let prefix = format!("export {name}=");
            assert!(
                lines.iter().any(|l| l.starts_with(&prefix)),
                "{auth:?}: {lines:?}"
            );
        }
        for name in commented {
            let export = format!("export {name}=");
            assert!(
                !lines.iter().any(|l| l.starts_with(&export)),
                "{auth:?}: {lines:?}"
            );
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with('#') && l.contains(&format!("{name}="))),
                "{auth:?}: {name} not shown as a comment: {lines:?}"
            );
        }
        // Every line is shell: a comment or an export.
        for line in &lines {
            assert!(
                line.starts_with("# ") || line.starts_with("export WIX_"),
                "{line}"
            );
        }
        // Paste what it printed into a shell, then call the fake.
        let script = format!(
            "{}\nexec \"$0\" conversations get-or-create --member member-1",
            lines.join("\n")
        );
        let mut cmd = cli();
        cmd.arg0_sh(&script);
        let out = run(cmd).await;
        assert_eq!(
            json(&out)["conversation"]["participant"]["memberId"],
            "member-1"
        );
    }
}

/// A command that runs `script` with `sh`, the binary as `$0`.
trait Sh {
    fn arg0_sh(&mut self, script: &str) -> &mut Self;
}

impl Sh for Command {
    fn arg0_sh(&mut self, script: &str) -> &mut Self {
        let mut sh = Command::new("sh");
        sh.arg("-c").arg(script).arg(BIN);
        for (name, value) in self.get_envs() {
            match value {
                Some(value) => sh.env(name, value),
                None => sh.env_remove(name),
            };
        }
        *self = sh;
        self
    }
}

/// The envelope `fake sign` makes: its `instanceId` is `--instance-id`, else `WIX_INSTANCE_ID`
/// (what `fake serve` prints), and its `identity` follows `--visitor`/`--contact`/`--member`.
#[test]
fn fake_sign_instance_and_identity_follow_the_flags() {
    let dir = TempDir::new();
    let (public, private, _) = keys(&dir);
    let verify = |body: Vec<u8>| {
        let body = dir.file("body.jwt", &body);
        json(
            &cli()
                .args(["webhook", "verify", "--public-key"])
                .arg(&public)
                .arg("--body")
                .arg(&body)
                .finish(),
        )
    };
    let message = [
        "--event",
        "message-sent-to-business",
        "--conversation-id",
        "c1",
    ];

    let event = verify(sign(
        &private,
        &[
            &message[..],
            &["--member", "m-7", "--instance-id", "inst-1"],
        ]
        .concat(),
    ));
    assert_eq!(event["instanceId"], "inst-1");
    assert_eq!(event["identity"]["identityType"], "MEMBER");
    assert_eq!(event["identity"]["memberId"], "m-7");
    assert_eq!(
        event["event"]["body"]["message"]["sender"]["memberId"],
        "m-7"
    );

    let event = verify(sign(
        &private,
        &[&message[..], &["--visitor", "v-3"]].concat(),
    ));
    assert_eq!(event["identity"]["identityType"], "ANONYMOUS_VISITOR");
    assert_eq!(event["identity"]["anonymousVisitorId"], "v-3");
    assert!(event["identity"]["memberId"].is_null());

    // A contact has no field of its own in a webhook identity (as the fake sends it).
    let event = verify(sign(
        &private,
        &[&message[..], &["--contact", "c-9"]].concat(),
    ));
    assert_eq!(event["identity"]["identityType"], "UNKNOWN");
    assert!(event["identity"]["anonymousVisitorId"].is_null());

    // The business's reply: a Wix user, the one in the message's sender.
    let event = verify(sign(
        &private,
        &[
            "--event",
            "message-sent-to-participant",
            "--conversation-id",
            "c1",
        ],
    ));
    assert_eq!(event["identity"]["identityType"], "WIX_USER");
    assert_eq!(
        event["identity"]["wixUserId"],
        event["event"]["body"]["message"]["sender"]["wixUserId"]
    );

    // The instance from the environment, as `fake serve` exports it.
    let out = cli()
        .env("WIX_INSTANCE_ID", "inst-from-env")
        .args(["fake", "sign", "--private-key"])
        .arg(&private)
        .args([
            "--event",
            "button-interacted",
            "--conversation-id",
            "c",
            "--member",
            "m",
        ])
        .finish();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let event = verify(out.stdout);
    assert_eq!(event["instanceId"], "inst-from-env");
    assert_eq!(event["identity"]["memberId"], "m");
}

/// The CLI prints what Wix sent, fields the spec does not name included (issue 11): the answers
/// of `conversations get`, `messages list` and `messages list --all` come out whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_prints_fields_the_spec_does_not_name() {
    let message = serde_json::json!({
        "id": "1640851963799825",
        "sequence": "1640851963799825",
        "content": {"basic": {"items": [{"text": "hi", "reactions": ["👍"]}]}, "tone": "warm"},
        "threadId": "t-1",
    });
    let conversation = serde_json::json!({"conversation": {
        "id": "6202c3bb-f263-3c16-8c90-d6387d9ed420",
        "participant": {"anonymousVisitorId": "v-1", "verified": true},
        "archived": false,
        "labels": [{"key": "vip"}],
    }});
    let page = serde_json::json!({
        "messages": [message],
        "pagingMetadata": {"count": 1, "hasNext": false},
        "unreadCount": 3,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (get, list) = (conversation.clone(), page.clone());
    let app = axum::Router::new()
        .route(
            "/inbox/v2/conversations/{id}",
            axum::routing::get(move || async move { axum::Json(get) }),
        )
        .route(
            "/inbox/v2/messages",
            axum::routing::get(move || async move { axum::Json(list) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let command = |args: &[&str]| {
        let mut cmd = cli();
        cmd.env("WIX_API_KEY", "key")
            .env("WIX_SITE_ID", "site")
            .env("WIX_BASE_URL", format!("http://{addr}"))
            .args(args);
        cmd
    };
    let id = "6202c3bb-f263-3c16-8c90-d6387d9ed420";
    let got = json(&run(command(&["conversations", "get", id])).await);
    assert_eq!(got, conversation);
    let got = json(&run(command(&["messages", "list", "c-1"])).await);
    assert_eq!(got, page);
    let out = run(command(&["messages", "list", "c-1", "--all"])).await;
    assert_eq!(json(&out), message);
}

/// A participant's text with bidi controls, line and paragraph separators, a zero-width space,
/// DEL, a C1 control and a supplementary format character: the CLI's JSON (pretty, and one
/// line per item) holds none of them raw, writes them as `\u` escapes (surrogate pairs beyond
/// U+FFFF), and still parses back to the very text (serde_json escapes only C0 itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_escapes_bidi_controls_and_separators() {
    let fake = FakeInbox::start().await.unwrap();
    let text = "abc\u{202E}evil\u{2028}line\u{2029}\u{200B}\u{7f}\u{85}\u{E0001}é";
    let written = fake.visitor_writes("visitor-bidi", text);
    let conversation = written.conversation_id.unwrap();
    for all in [false, true] {
        let mut cmd = cli_for(&fake);
        cmd.args(["messages", "list", &conversation]);
        if all {
            cmd.arg("--all");
        }
        let out = run(cmd).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        for raw in [
            '\u{202E}',
            '\u{2028}',
            '\u{2029}',
            '\u{200B}',
            '\u{7f}',
            '\u{85}',
            '\u{E0001}',
        ] {
            assert!(!stdout.contains(raw), "{raw:?} raw in {stdout:?}");
        }
        assert!(
            stdout.contains(r"abc\u202eevil\u2028line\u2029\u200b\u007f\u0085\udb40\udc01é"),
            "{stdout}"
        );
        let first: Value = serde_json::from_str(if all {
            stdout.lines().next().unwrap()
        } else {
            &stdout
        })
        .unwrap();
        let message = if all { &first } else { &first["messages"][0] };
        assert_eq!(message["content"]["basic"]["items"][0]["text"], text);
    }
}
