//! What the CLI prints: JSON lines of `list-all`, exports that work as printed, signed events that
//! follow the flags, fields the spec does not name, escaped controls and separators.

use super::*;

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
