//! `app instance` (Get App Instance) against the fake, and `fake sign` of the plain
//! app-instance events (App Instance Installed and Removed), verified back.

use wix_inbox::webhooks::InboxEvent;
use wix_inbox_fake::FakeInbox;

use crate::cli::{assert_fails, cli, cli_for, json, keys, run, sign, Finish, TempDir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_instance_prints_the_instance_of_the_credentials() {
    let fake = FakeInbox::start().await.unwrap();
    let copy = fake.install_copy_of(fake.instance_id());
    let mut cmd = cli();
    cmd.env("WIX_APP_ID", fake.app_id())
        .env("WIX_APP_SECRET", fake.app_secret())
        .env("WIX_INSTANCE_ID", &copy)
        .args(["--base-url", fake.base_url()])
        .args(["app", "instance"]);
    let out = json(&run(cmd).await);
    assert_eq!(out["instance"]["instanceId"], copy.as_str());
    assert_eq!(out["instance"]["originInstanceId"], fake.instance_id());
    assert_eq!(out["instance"]["copiedFromTemplate"], true);
    let site = fake.instance(&copy).unwrap().site_id().to_owned();
    assert_eq!(out["site"]["siteId"], site.as_str());
    let asked: Vec<_> = fake.requests().into_iter().map(|r| r.uri).collect();
    assert!(
        asked.iter().any(|uri| uri == "/apps/v1/instance"),
        "{asked:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_instance_with_an_api_key_or_a_removed_instance_fails_in_one_line() {
    let fake = FakeInbox::start().await.unwrap();
    let mut cmd = cli_for(&fake);
    cmd.args(["app", "instance"]);
    assert_fails(&run(cmd).await, 1, "needs an app's access token");

    let gone = fake.install();
    assert!(fake.remove(&gone));
    let mut cmd = cli();
    cmd.env("WIX_APP_ID", fake.app_id())
        .env("WIX_APP_SECRET", fake.app_secret())
        .env("WIX_INSTANCE_ID", &gone)
        .args(["--base-url", fake.base_url(), "app", "instance"]);
    let out = run(cmd).await;
    assert_fails(&out, 1, "400");
    assert!(!String::from_utf8_lossy(&out.stderr).contains(fake.app_secret()));
}

/// `fake sign --event app-instance-installed|app-instance-removed` signs the plain events of
/// the spec: the body verifies, and decodes into its own variant with the flags' values.
#[test]
fn fake_sign_makes_the_app_instance_events() {
    let dir = TempDir::new();
    let (public, private, signer) = keys(&dir);
    let body = sign(
        &private,
        &[
            "--event",
            "app-instance-installed",
            "--instance-id",
            "i-copy",
            "--app-id",
            "app-1",
            "--origin-instance-id",
            "i-origin",
        ],
    );
    let event = signer.verifier().verify(body.trim_ascii()).unwrap();
    let InboxEvent::AppInstanceInstalled(installed) = &event.event else {
        panic!("{:?}", event.event)
    };
    assert_eq!(installed.app_id.as_deref(), Some("app-1"));
    assert_eq!(installed.origin_instance_id.as_deref(), Some("i-origin"));
    assert_eq!(event.instance_id.as_deref(), Some("i-copy"));
    assert!(event.id.starts_with("AppInstalled:i-copy:"), "{}", event.id);
    assert!(event.event_time.is_some(), "the JWT's iat is its time");

    let body = sign(
        &private,
        &[
            "--event",
            "app-instance-removed",
            "--instance-id",
            "i-copy",
            "--app-id",
            "app-1",
        ],
    );
    let event = signer.verifier().verify(body.trim_ascii()).unwrap();
    let InboxEvent::AppInstanceRemoved(removed) = &event.event else {
        panic!("{:?}", event.event)
    };
    assert_eq!(removed.app_id.as_deref(), Some("app-1"));
    // `webhook verify` prints it as the same event.
    let file = dir.file("removed.jwt", &body);
    let out = cli()
        .args(["webhook", "verify", "--public-key"])
        .arg(&public)
        .arg("--body")
        .arg(&file)
        .finish();
    let printed = json(&out);
    assert_eq!(printed["event"]["kind"], "AppInstanceRemoved");
    assert_eq!(printed["eventType"], "AppRemoved");

    // An origin belongs to an install only; the error lists the plain events too.
    let out = cli()
        .args(["fake", "sign", "--private-key"])
        .arg(&private)
        .args([
            "--event",
            "app-instance-removed",
            "--origin-instance-id",
            "x",
        ])
        .finish();
    assert_fails(&out, 2, "--origin-instance-id");
    let out = cli()
        .args(["fake", "sign", "--private-key"])
        .arg(&private)
        .args(["--event", "app-instance"])
        .finish();
    assert_fails(&out, 2, "app-instance-installed");
}
