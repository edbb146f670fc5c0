//! The app-instance lifecycle: App Instance Installed and Removed applied in any order and any
//! number of times give the same store (a property test); a removal drops the instance's token
//! and state at once and asks for no token after it; `on_removed` runs once per removal, even
//! with two apps on one Redis; a duplicated site is reported as a copy; Get App Instance against
//! a scripted Wix stand-in.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};
use wix_inbox::installations::{
    Change, InMemoryInstallations, Installation, InstallationEvent, InstallationStore, Lifecycle,
};
use wix_inbox::webhooks::test_signer::{TestEvent, TestSigner};
use wix_inbox::webhooks::WebhookEvent;
use wix_inbox::ErrorKind;

use crate::app::{get, Wix};

/// What the stand-in answers to Get App Instance for `instance` (Wix's example, with the
/// instance's ID).
pub(crate) fn app_instance(instance: &str) -> Value {
    json!({
        "instance": {
            "instanceId": instance,
            "appName": "MY_APP",
            "appVersion": "2.10.0",
            "isFree": false,
            "billing": {
                "packageName": "premium",
                "billingCycle": "MONTHLY",
                "timeStamp": "2024-01-02T10:00:00Z",
                "expirationDate": "2024-02-02T10:00:00Z",
                "autoRenewing": true
            },
            "availablePlans": [],
            "copiedFromTemplate": false,
            "freeTrialAvailable": false
        },
        "site": {
            "locale": "en",
            "siteDisplayName": "Mysite 34",
            "url": "https://doereg11.wixsite.com/mysite-34",
            "description": "My awesome site is all about selling stuff",
            "ownerEmail": "site-owner@test.com",
            "ownerInfo": {"email": "site-owner@test.com", "emailStatus": "VERIFIED_OPT_IN"},
            "siteId": "site-of-".to_owned() + instance
        }
    })
}

/// A signed and verified lifecycle delivery, as Wix sends it: a plain `eventType`, the body
/// itself as the envelope's `data`, `iat` its time.
pub(crate) fn delivery(event_type: &str, instance: &str, body: Value, iat: i64) -> WebhookEvent {
    let mut event = TestEvent::new(event_type, body);
    event.instance_id = instance.to_owned();
    event.iat = iat;
    event.exp = Some(i64::MAX / 2);
    let signer = TestSigner::shared();
    signer
        .verifier()
        .verify(signer.sign_event(&event).as_bytes())
        .unwrap()
}

fn installed(instance: &str, iat: i64) -> WebhookEvent {
    delivery("AppInstalled", instance, json!({"appId": "app-1"}), iat)
}

fn removed(instance: &str, iat: i64) -> WebhookEvent {
    delivery("AppRemoved", instance, json!({"appId": "app-1"}), iat)
}

#[tokio::test]
async fn a_removal_drops_the_instance_s_token_and_no_token_is_asked_for_after_it() {
    let wix = Wix::start();
    let removals = Arc::new(AtomicUsize::new(0));
    let counted = removals.clone();
    let app = wix
        .app()
        .on_removed(move |removal| {
            let counted = counted.clone();
            async move {
                assert_eq!(removal.instance_id, "inst-1");
                assert!(!removal.installation.is_installed());
                counted.fetch_add(1, Ordering::SeqCst);
            }
        })
        .build()
        .unwrap();
    let installations = app.installations();

    let first = installations
        .apply(&installed("inst-1", 100))
        .await
        .unwrap();
    let first = first.expect("App Instance Installed is a lifecycle event");
    assert_eq!(
        first.change,
        Change::Installed {
            reinstall: false,
            copy_of: None
        }
    );
    let client = app.instance("inst-1");
    get(&client, "inst-1").await.unwrap();
    get(&app.instance("inst-2"), "inst-2").await.unwrap();
    assert_eq!(wix.seen.token_requests("inst-1"), 1);

    let applied = installations.apply(&removed("inst-1", 200)).await.unwrap();
    assert_eq!(applied.unwrap().change, Change::Removed);
    assert_eq!(removals.load(Ordering::SeqCst), 1);
    // A redelivery changes nothing and runs no hook.
    let again = installations.apply(&removed("inst-1", 200)).await.unwrap();
    assert_eq!(again.unwrap().change, Change::Unchanged);
    assert_eq!(removals.load(Ordering::SeqCst), 1);
    assert!(installations.is_removed("inst-1"));

    // Calls through the instance fail with a typed error, before any request.
    for client in [client.clone(), app.instance("inst-1")] {
        let error = get(&client, "inst-1").await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AppRemoved, "{error}");
        assert!(
            error
                .to_string()
                .contains("the app was removed from the site of instance inst-1"),
            "{error}"
        );
        let hint = error.hint().unwrap_or_default().into_owned();
        assert!(hint.contains("removed the app"), "{hint}");
    }
    assert_eq!(
        wix.seen.token_requests("inst-1"),
        1,
        "no token request after the removal"
    );
    // Other instances are untouched.
    get(&app.instance("inst-2"), "inst-2").await.unwrap();
    assert_eq!(wix.seen.token_requests("inst-2"), 1);

    // An Installed older than the removal (late) leaves it removed.
    let late = installations
        .apply(&installed("inst-1", 150))
        .await
        .unwrap();
    assert_eq!(late.unwrap().change, Change::Unchanged);
    assert!(get(&client, "inst-1").await.is_err());

    // A reinstall: the same instance ID works again, with a new token (the old was dropped).
    let back = installations
        .apply(&installed("inst-1", 300))
        .await
        .unwrap();
    assert_eq!(
        back.unwrap().change,
        Change::Installed {
            reinstall: true,
            copy_of: None
        }
    );
    get(&client, "inst-1").await.unwrap();
    assert_eq!(wix.seen.token_requests("inst-1"), 2);
    assert_eq!(removals.load(Ordering::SeqCst), 1);

    let listed = installations.installed().await.unwrap();
    let mut ids: Vec<_> = listed.iter().map(|i| i.instance_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["inst-1"], "only events make an instance known");
    let record = installations.get("inst-1").await.unwrap().unwrap();
    assert_eq!(record.installed_at, DateTime::from_timestamp(300, 0));
    assert_eq!(record.removed_at, DateTime::from_timestamp(200, 0));
}

#[tokio::test]
async fn a_removed_before_its_installed_leaves_the_instance_removed() {
    let wix = Wix::start();
    let app = wix.app().build().unwrap();
    let installations = app.installations();
    let applied = installations.apply(&removed("inst-1", 200)).await.unwrap();
    // Never seen: the app may hold data of it from before, so the removal is reported.
    assert_eq!(applied.unwrap().change, Change::Removed);
    let late = installations
        .apply(&installed("inst-1", 100))
        .await
        .unwrap();
    assert_eq!(late.unwrap().change, Change::Unchanged);
    assert!(!installations
        .get("inst-1")
        .await
        .unwrap()
        .unwrap()
        .is_installed());
    let error = get(&app.instance("inst-1"), "inst-1").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AppRemoved);
    assert_eq!(wix.seen.token_requests("inst-1"), 0);
}

#[tokio::test]
async fn a_duplicated_site_is_reported_as_a_copy_of_its_origin() {
    let app = Wix::start().app().build().unwrap();
    let body = json!({"appId": "app-1", "originInstanceId": "inst-1"});
    let copy = delivery("AppInstalled", "inst-2", body, 100);
    let applied = app.installations().apply(&copy).await.unwrap().unwrap();
    assert_eq!(
        applied.change,
        Change::Installed {
            reinstall: false,
            copy_of: Some("inst-1".into())
        }
    );
    assert_eq!(applied.installation.copy_of(), Some("inst-1"));
    assert_eq!(applied.installation.instance_id, "inst-2");
    // Other events are not lifecycle events.
    let other = delivery(
        "wix.crm.inbox.v2.message_message_sent_to_business",
        "inst-2",
        json!({"id": "e1", "actionEvent": {"body": {"conversationId": "c1"}}}),
        100,
    );
    assert!(app.installations().apply(&other).await.unwrap().is_none());
}

#[tokio::test]
async fn get_app_instance_against_a_scripted_server_and_refresh_keeps_it() {
    let wix = Wix::start();
    let app = wix.app().build().unwrap();
    let answer = app
        .instance("inst-7")
        .get_app_instance()
        .send()
        .await
        .unwrap()
        .into_inner();
    let instance = answer.instance.as_ref().unwrap();
    assert_eq!(instance.instance_id.as_deref(), Some("inst-7"));
    assert_eq!(instance.app_version.as_deref(), Some("2.10.0"));
    assert_eq!(instance.is_free, Some(false));
    let billing = instance.billing.as_ref().unwrap();
    assert_eq!(billing.package_name.as_deref(), Some("premium"));
    assert_eq!(billing.auto_renewing, Some(true));
    let site = answer.site.as_ref().unwrap();
    assert_eq!(site.locale.as_deref(), Some("en"));
    assert_eq!(
        site.owner_info.as_ref().unwrap().email_status.as_deref(),
        Some("VERIFIED_OPT_IN")
    );

    let installations = app.installations();
    installations
        .apply(&installed("inst-7", 100))
        .await
        .unwrap();
    let record = installations.refresh("inst-7").await.unwrap();
    assert!(record.is_installed());
    assert_eq!(record.instance.as_ref(), Some(&answer));
    installations.apply(&removed("inst-7", 200)).await.unwrap();
    let error = installations.refresh("inst-7").await.unwrap_err();
    let wix_inbox::app::RefreshError::Api(error) = error else {
        panic!("{error}")
    };
    assert_eq!(error.kind(), ErrorKind::AppRemoved);
    // The last known data stays in the record.
    let kept = installations.get("inst-7").await.unwrap().unwrap();
    assert_eq!(kept.instance.as_ref(), Some(&answer));
}

/// One lifecycle event of a small world: 3 instances, 6 times, 2 possible origins.
fn an_event() -> impl Strategy<Value = InstallationEvent> {
    let lifecycle = prop_oneof![
        Just(Lifecycle::Removed),
        prop::option::of(prop_oneof![Just("o1"), Just("o2")]).prop_map(|origin| {
            Lifecycle::Installed {
                origin_instance_id: origin.map(str::to_owned),
            }
        }),
    ];
    (0..3u8, 0..6i64, lifecycle).prop_map(|(instance, time, lifecycle)| InstallationEvent {
        instance_id: format!("inst-{instance}"),
        lifecycle,
        at: DateTime::<Utc>::from_timestamp(1_700_000_000 + time, 0).unwrap(),
    })
}

/// The store after `events`, sorted by instance.
fn store_after(events: &[InstallationEvent]) -> (Vec<Installation>, usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = InMemoryInstallations::new();
        let mut removals = 0;
        for event in events {
            if store.apply(event).await.unwrap().change == Change::Removed {
                removals += 1;
            }
        }
        let mut all = store.list().await.unwrap();
        all.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
        (all, removals)
    })
}

/// A history, and the same events in another order with some delivered again.
fn histories() -> impl Strategy<Value = (Vec<InstallationEvent>, Vec<InstallationEvent>)> {
    (
        prop::collection::vec(an_event(), 1..16),
        prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    )
        .prop_flat_map(|(events, again)| {
            let mut other = events.clone();
            other.extend(again.iter().map(|index| index.get(&events).clone()));
            (Just(events), Just(other).prop_shuffle())
        })
}

proptest! {
    #[test]
    fn any_order_and_any_redelivery_give_the_same_store((events, other) in histories()) {
        let (expected, _) = store_after(&events);
        let (got, removals) = store_after(&other);
        prop_assert_eq!(&got, &expected);
        // Installed exactly when the latest install is later than the latest removal.
        for record in &got {
            let latest = |removal: bool| events
                .iter()
                .filter(|e| e.instance_id == record.instance_id)
                .filter(|e| (e.lifecycle == Lifecycle::Removed) == removal)
                .map(|e| e.at)
                .max();
            let installed = match (latest(false), latest(true)) {
                (Some(i), Some(r)) => i > r,
                (Some(_), None) => true,
                (None, _) => false,
            };
            prop_assert_eq!(record.is_installed(), installed);
        }
        // A removal is reported at most once per removal event, and a redelivery adds none.
        let removal_events = events.iter().filter(|e| e.lifecycle == Lifecycle::Removed).count();
        prop_assert!(removals <= removal_events);
    }
}

#[cfg(feature = "redis")]
mod on_redis {
    use super::*;
    use crate::redis_server::{RedisCluster, RedisServer, TestRedis};
    use wix_inbox::redis::RedisInstallations;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn on_removed_runs_once_with_two_apps_on_one_redis() {
        on_removed_runs_once(&RedisServer::start()).await;
    }

    /// The same on a Redis Cluster of three masters and three replicas.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn on_removed_runs_once_with_two_apps_on_a_cluster() {
        on_removed_runs_once(&RedisCluster::start()).await;
    }

    async fn on_removed_runs_once(server: &impl TestRedis) {
        let wix = Wix::start();
        let removals = Arc::new(AtomicUsize::new(0));
        let mut apps = Vec::new();
        for _ in 0..2 {
            let store = RedisInstallations::connect_with(&server.config())
                .await
                .unwrap()
                .prefix("two-apps:");
            let counted = removals.clone();
            let app = wix
                .app()
                .installations(store)
                .on_removed(move |_| {
                    let counted = counted.clone();
                    async move {
                        counted.fetch_add(1, Ordering::SeqCst);
                    }
                })
                .build()
                .unwrap();
            apps.push(app);
        }
        for round in 0..20 {
            let instance = format!("inst-{round}");
            apps[round % 2]
                .installations()
                .apply(&installed(&instance, 100))
                .await
                .unwrap();
            get(&apps[0].instance(&instance), &instance).await.unwrap();
            get(&apps[1].instance(&instance), &instance).await.unwrap();
            // Both receive the same removal at once (two deliveries of one event).
            let event = removed(&instance, 200);
            let (a, b) = tokio::join!(
                apps[0].installations().apply(&event),
                apps[1].installations().apply(&event)
            );
            let changes = [a.unwrap().unwrap().change, b.unwrap().unwrap().change];
            assert_eq!(
                changes.iter().filter(|c| **c == Change::Removed).count(),
                1,
                "{changes:?}"
            );
            assert_eq!(removals.load(Ordering::SeqCst), round + 1);
            // Both processes dropped the instance: neither asks for a token again.
            let before = wix.seen.token_requests(&instance);
            for app in &apps {
                let error = get(&app.instance(&instance), &instance).await.unwrap_err();
                assert_eq!(error.kind(), ErrorKind::AppRemoved);
            }
            assert_eq!(wix.seen.token_requests(&instance), before);
        }
        // Both see the same records.
        let a = apps[0].installations().list().await.unwrap().len();
        let b = apps[1].installations().list().await.unwrap().len();
        assert_eq!((a, b), (20, 20));
    }

    #[tokio::test]
    async fn a_removal_drops_the_fleet_s_shared_token_too() {
        let server = RedisServer::start();
        let wix = Wix::start();
        let fleet = || async {
            wix_inbox::redis::RedisFleet::connect(&server.url())
                .await
                .unwrap()
                .prefix("fleet-removal:")
        };
        let a = wix.app().fleet(fleet().await).build().unwrap();
        let b = wix.app().fleet(fleet().await).build().unwrap();
        a.installations().apply(&installed("x", 1)).await.unwrap();
        get(&a.instance("x"), "x").await.unwrap();
        get(&b.instance("x"), "x").await.unwrap();
        assert_eq!(wix.seen.token_requests("x"), 1, "one token for the fleet");
        a.installations().apply(&removed("x", 2)).await.unwrap();
        a.installations().apply(&installed("x", 3)).await.unwrap();
        // The fleet's token of before the removal is gone: the next call asks for a new one.
        let c = wix.app().fleet(fleet().await).build().unwrap();
        get(&c.instance("x"), "x").await.unwrap();
        assert_eq!(wix.seen.token_requests("x"), 2);
    }

    #[tokio::test]
    async fn a_process_that_did_not_apply_the_removal_learns_it_by_sync() {
        let server = RedisServer::start();
        let wix = Wix::start();
        let store = || async {
            RedisInstallations::connect(&server.url())
                .await
                .unwrap()
                .prefix("sync:")
        };
        let receiver = wix.app().installations(store().await).build().unwrap();
        let caller = wix.app().installations(store().await).build().unwrap();
        receiver
            .installations()
            .apply(&installed("a", 1))
            .await
            .unwrap();
        receiver
            .installations()
            .apply(&installed("b", 1))
            .await
            .unwrap();
        get(&caller.instance("a"), "a").await.unwrap();
        receiver
            .installations()
            .apply(&removed("a", 2))
            .await
            .unwrap();
        assert_eq!(caller.installations().sync().await.unwrap(), 1);
        let error = get(&caller.instance("a"), "a").await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AppRemoved);
        get(&caller.instance("b"), "b").await.unwrap();
    }

    #[tokio::test]
    async fn a_redis_that_is_gone_is_a_store_error() {
        let mut server = RedisServer::start();
        let store = RedisInstallations::connect(&server.url()).await.unwrap();
        server.stop();
        let event = InstallationEvent {
            instance_id: "a".into(),
            lifecycle: Lifecycle::Removed,
            at: Utc::now(),
        };
        let error = store.apply(&event).await.unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("the installation store failed"),
            "{error}"
        );
    }
}
