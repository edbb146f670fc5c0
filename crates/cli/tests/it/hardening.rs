//! The command as a `ClientBuilder` user and a key holder: the environment's proxy, `fake sign`'s
//! expiry bound, `fake serve`'s private key.

/// The CLI (a `ClientBuilder` user) in an environment whose `HTTP_PROXY` is a dead port: a
/// loopback base URL is reached directly. A child process, so that this test's environment is
/// never changed under the other tests' feet.
#[tokio::test]
async fn a_loopback_base_url_is_reached_without_the_environments_proxy() {
    let fake = wix_inbox_fake::FakeInbox::start().await.unwrap();
    let base_url = fake.base_url().replace("127.0.0.1", "localhost");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wix-inbox"));
    cmd.args(["conversations", "get-or-create", "--visitor", "visitor-1"])
        .env("WIX_API_KEY", fake.api_key())
        .env("WIX_SITE_ID", fake.site_id())
        .env("WIX_BASE_URL", &base_url)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        // Nothing listens on port 9: a request sent to this proxy fails to connect.
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("http_proxy", "http://127.0.0.1:9")
        .env("ALL_PROXY", "http://127.0.0.1:9");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fake.conversations().len(), 1);
}

/// `fake sign` with an `--expires-in` past the end of time: a usage error, not a panic.
#[test]
fn fake_sign_refuses_an_expiry_out_of_range() {
    let dir = std::env::temp_dir().join(format!("wix-inbox-expiry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("private.pem");
    std::fs::write(
        &key,
        wix_inbox::webhooks::test_signer::TestSigner::generate_private_key_pem(),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wix-inbox"))
        .args(["fake", "sign", "--private-key"])
        .arg(&key)
        .args([
            "--event",
            "conversations-merged",
            "--conversation-id",
            "c1",
            "--old-conversation-id",
            "c0",
            "--expires-in",
            "9223372036854775807",
        ])
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--expires-in"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `fake serve` without `--key-dir` makes a fresh directory only this user can enter, and a
/// private key only this user can read.
#[cfg(unix)]
#[test]
fn fake_serve_keeps_its_private_key_private() {
    use std::io::BufRead as _;
    use std::os::unix::fs::PermissionsExt as _;

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wix-inbox"))
        .args(["fake", "serve"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let private_path = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("# private key: ").map(str::to_owned));
    let _ = child.kill();
    let _ = child.wait();
    let private_path = std::path::PathBuf::from(private_path.expect("the key path is printed"));
    let dir = private_path.parent().unwrap().to_owned();
    let dir_mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    let key_mode = std::fs::metadata(&private_path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(dir_mode, 0o700, "{}", dir.display());
    assert_eq!(key_mode, 0o600);
    assert!(dir
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("wix-inbox-fake-"));
}

/// The CLI (a `ClientBuilder` user) with a base URL that is not this machine and `HTTP_PROXY`
/// set: the request goes to the proxy, a recording server on 127.0.0.1 (nothing leaves the
/// machine: the proxy answers itself).
#[tokio::test]
async fn a_base_url_elsewhere_goes_through_the_environments_proxy() {
    let (proxy, requests) =
        crate::harness::raw_server(vec![crate::harness::Misbehave::Answer]).await;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wix-inbox"));
    cmd.args(["conversations", "get", "conv-1"])
        .env("WIX_API_KEY", "key-1")
        .env("WIX_SITE_ID", "site-1")
        .env("WIX_BASE_URL", "http://inbox.wix.invalid")
        .env_remove("WIX_APP_ID")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .env("HTTP_PROXY", &proxy)
        .env("http_proxy", &proxy);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["conversation"]["id"], "conv-1");
    assert_eq!(
        *requests.lock().unwrap(),
        ["GET http://inbox.wix.invalid/inbox/v2/conversations/conv-1 HTTP/1.1"]
    );
}
