//! Keys, event files and webhook bodies read only up to their limits.

use super::*;

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
