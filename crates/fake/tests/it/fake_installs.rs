//! Sites installing and removing the app in the fake: App Instance Installed and Removed signed
//! as Wix sends them, Get App Instance, a removed instance's tokens and token requests refused,
//! and an app that applies the events asking for no token after a removal.

use serde_json::Value;
use wix_inbox::installations::Change;
use wix_inbox::webhooks::{InboxEvent, WebhookEvent};
use wix_inbox::ErrorKind;
use wix_inbox_fake::FakeInbox;

use crate::harness::http_client;

/// The last event the fake sent, verified with the app's key.
fn last_event(fake: &FakeInbox, app: &wix_inbox::App) -> WebhookEvent {
    let sent = fake.events().pop().expect("an event was sent");
    app.verify(sent.jwt.as_bytes()).unwrap()
}

fn token_requests(fake: &FakeInbox) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.uri == "/oauth2/token")
        .count()
}

async fn site_list(fake: &FakeInbox) -> Vec<Value> {
    let state: Value = http_client()
        .get(format!("{}/_fake/state", fake.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    state["instances"].as_array().unwrap().clone()
}

#[tokio::test]
async fn install_remove_and_reinstall_send_the_events_and_the_fake_answers_as_wix() {
    let fake = FakeInbox::start().await.unwrap();
    let app = fake.app();

    let id = fake.install();
    let installed = last_event(&fake, &app);
    assert_eq!(installed.instance_id.as_deref(), Some(id.as_str()));
    let InboxEvent::AppInstanceInstalled(body) = &installed.event else {
        panic!("{:?}", installed.event)
    };
    assert_eq!(body.app_id.as_deref(), Some(fake.app_id()));
    assert_eq!(body.origin_instance_id, None);
    let applied = app.installations().apply(&installed).await.unwrap();
    assert!(applied.unwrap().installation.is_installed());

    // Get App Instance, with the instance's token.
    let answer = app
        .instance(&id)
        .get_app_instance()
        .send()
        .await
        .unwrap()
        .into_inner();
    let instance = answer.instance.unwrap();
    assert_eq!(instance.instance_id.as_deref(), Some(id.as_str()));
    assert_eq!(instance.copied_from_template, Some(false));
    let site = fake.instance(&id).unwrap().site_id().to_owned();
    assert_eq!(answer.site.unwrap().site_id.as_deref(), Some(site.as_str()));
    let record = app.installations().refresh(&id).await.unwrap();
    assert!(record.instance.is_some());
    assert_eq!(token_requests(&fake), 1);

    // The site removes the app: its token stops working, its token requests are refused.
    assert!(fake.remove(&id));
    assert!(!fake.remove(&id), "removed already");
    assert!(!fake.is_installed(&id));
    let sites = site_list(&fake).await;
    let listed = sites
        .iter()
        .find(|s| s["instanceId"] == id.as_str())
        .unwrap();
    assert_eq!(
        listed["installed"], false,
        "the site list shows the removal"
    );
    let removed = last_event(&fake, &app);
    assert!(matches!(removed.event, InboxEvent::AppInstanceRemoved(_)));
    // An app that has not applied the removal yet: 401, one new token asked for, refused.
    let before = app.instance(&id).get_app_instance().send().await;
    let error = before.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Token, "{error}");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(400), "{error}");
    assert_eq!(token_requests(&fake), 2);

    // Applied: calls fail before any request, and no token is asked for.
    let applied = app.installations().apply(&removed).await.unwrap().unwrap();
    assert_eq!(applied.change, Change::Removed);
    let after = app.instance(&id).get_app_instance().send().await;
    assert_eq!(after.unwrap_err().kind(), ErrorKind::AppRemoved);
    assert_eq!(
        token_requests(&fake),
        2,
        "no token request after the removal"
    );

    // The site installs the app again: the same instance ID.
    assert!(fake.reinstall(&id));
    let back = last_event(&fake, &app);
    assert_eq!(back.instance_id.as_deref(), Some(id.as_str()));
    // Signed in the same second as the removal, it would tie (and a removal wins a tie).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(fake.remove(&id) && fake.reinstall(&id));
    let back = last_event(&fake, &app);
    let applied = app.installations().apply(&back).await.unwrap().unwrap();
    assert!(matches!(
        applied.change,
        Change::Installed {
            reinstall: true,
            ..
        }
    ));
    app.instance(&id).get_app_instance().send().await.unwrap();
    assert_eq!(
        site_list(&fake)
            .await
            .iter()
            .filter(|s| s["installed"] == true)
            .count(),
        2
    );
}

#[tokio::test]
async fn a_duplicated_site_names_its_origin() {
    let fake = FakeInbox::start().await.unwrap();
    let app = fake.app();
    let copy = fake.install_copy_of(fake.instance_id());
    let event = last_event(&fake, &app);
    let applied = app.installations().apply(&event).await.unwrap().unwrap();
    assert_eq!(
        applied.change,
        Change::Installed {
            reinstall: false,
            copy_of: Some(fake.instance_id().to_owned())
        }
    );
    let answer = app.instance(&copy).get_app_instance().send().await.unwrap();
    let instance = answer.into_inner().instance.unwrap();
    assert_eq!(instance.copied_from_template, Some(true));
    assert_eq!(
        instance.origin_instance_id.as_deref(),
        Some(fake.instance_id())
    );
    let sites = site_list(&fake).await;
    let listed = sites
        .iter()
        .find(|s| s["instanceId"] == copy.as_str())
        .unwrap();
    assert_eq!(listed["originInstanceId"], fake.instance_id());
}
