//! `webhook verify` and `fake sign`: files and stdin, garbage and wrong keys, usage errors, leeway,
//! every event of the spec.

use super::*;

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
