//! What an App does per instance beside tokens: clear errors for misuse, pacing, X-Wix-Consistent,
//! and the bounds of its instance cache.

use super::*;

#[tokio::test]
async fn misuse_is_a_clear_config_error_not_a_panic() {
    let wix = Wix::start();
    let app = wix.app().build().unwrap();
    let e = get(&app.instance(""), "x").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("instance ID is empty"), "{e}");

    let key_client = Client::builder()
        .api_key("test-key")
        .site_id("site-0")
        .base_url(&wix.url)
        .build()
        .unwrap();
    for (site, says) in [
        ("", "site ID is empty"),
        ("a\nb", "not a valid HTTP header"),
    ] {
        let e = get(&key_client.for_site(site), "x").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains(says), "{e}");
    }
    let e = get(&app.instance("inst-a").for_site("site-1"), "site-1")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("App::instance"), "{e}");
    assert!(
        wix.seen.calls.lock().unwrap().is_empty(),
        "nothing was sent"
    );

    let no_secret = App::builder().app_id(APP_ID).build().unwrap_err();
    assert_eq!(no_secret.kind(), ErrorKind::Config);
    assert!(no_secret.to_string().contains(".app_secret(..)"));
    let bad_url = wix.app().base_url("ftp://x").build().unwrap_err();
    assert!(bad_url.to_string().contains("http or https"), "{bad_url}");
    let bad_key = wix.app().public_key("not a key").build().unwrap_err();
    assert_eq!(bad_key.kind(), ErrorKind::Config);
    let no_rate = wix
        .app()
        .rate_limit_per_instance(0, Duration::from_secs(60))
        .build()
        .unwrap_err();
    assert!(no_rate.to_string().contains("rate limit"), "{no_rate}");
    let no_room = wix.app().max_instances(0).build().unwrap_err();
    assert!(no_room.to_string().contains("max_instances"), "{no_room}");

    // Nothing shows the secret.
    let shown = format!("{app:?} {:?} {:?}", wix.app(), app.instance("inst-a"));
    assert!(!shown.contains(APP_SECRET), "{shown}");
}

#[tokio::test(start_paused = true)]
async fn pacing_holds_back_a_burst_to_one_instance_and_not_the_others() {
    let wix = Wix::start();
    let _clock = crate::client_retry::hold_clock();
    let app = wix
        .app()
        .rate_limit_per_instance(3, Duration::from_secs(3))
        .build()
        .unwrap();
    let start = tokio::time::Instant::now();
    for _ in 0..3 {
        get(&app.instance("inst-a"), "inst-a").await.unwrap();
    }
    assert_eq!(tokio::time::Instant::now(), start, "the burst goes at once");
    let fourth = tokio::spawn({
        let client = app.instance("inst-a");
        async move { get(&client, "inst-a").await }
    });
    // Another instance is not slowed by a's wait.
    get(&app.instance("inst-b"), "inst-b").await.unwrap();
    assert_eq!(tokio::time::Instant::now(), start);
    assert!(!fourth.is_finished());
    let waited = crate::client_retry::advance_until("the 4th call", || fourth.is_finished()).await;
    fourth.await.unwrap().unwrap();
    assert!(
        // Time moves in steps while the call itself runs on a loaded machine: the bound tells
        // one interval (1 s) from the whole window (3 s), no more.
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(2),
        "waited {waited:?}: one interval"
    );
    let a_calls = wix
        .seen
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|(i, _)| i == "inst-a")
        .count();
    assert_eq!(a_calls, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn x_wix_consistent_is_kept_per_instance_and_per_site_never_carried_across() {
    let wix = Wix::start();
    let app = wix.app().build().unwrap();
    // Interleaved calls for three instances, from clients made anew each time and from
    // clones: each call carries the latest value an answer *for its instance* carried.
    let calls: Vec<_> = (0..60)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let instance = format!("inst-{}", i % 3);
                let client = app.instance(&instance);
                for _ in 0..3 {
                    get(&client, &instance).await.unwrap();
                }
            })
        })
        .collect();
    for call in calls {
        call.await.unwrap();
    }
    let key = Client::builder()
        .api_key("test-key")
        .site_id("site-0")
        .base_url(&wix.url)
        .build()
        .unwrap();
    for site in ["site-0", "site-1", "site-0", "site-1"] {
        get(&key.for_site(site), site).await.unwrap();
    }
    let seen = wix.seen.consistent.lock().unwrap().clone();
    let mut carried_some = HashSet::new();
    for (instance, carried) in &seen {
        // None: the first calls of an instance, which went together, had none to carry.
        if let Some(value) = carried {
            assert!(
                value.starts_with(&format!("rw.{instance}.")),
                "{value} was sent for {instance}"
            );
            carried_some.insert(instance.clone());
        }
    }
    assert_eq!(carried_some.len(), 5, "{carried_some:?}");
    // Sequential calls of one instance carry exactly the previous answer's value.
    let single = app.instance("inst-solo");
    for _ in 0..3 {
        get(&single, "inst-solo").await.unwrap();
    }
    let seen = wix.seen.consistent.lock().unwrap().clone();
    let calls = wix.seen.calls.lock().unwrap().len();
    let solo: Vec<_> = seen
        .iter()
        .enumerate()
        .filter(|(_, (i, _))| i == "inst-solo")
        .map(|(n, (_, c))| (n + 1, c.clone()))
        .collect();
    assert_eq!(solo.len(), 3);
    assert_eq!(solo[0].1, None);
    assert_eq!(solo[1].1, Some(format!("rw.inst-solo.{}", solo[0].0)));
    assert_eq!(solo[2].1, Some(format!("rw.inst-solo.{}", solo[1].0)));
    assert_eq!(calls, seen.len());
}

#[tokio::test]
async fn an_instance_whose_token_has_expired_is_dropped_from_the_cache() {
    let wix = Wix::start();
    wix.seen.expires_in.store(1, Ordering::SeqCst);
    let app = wix.app().build().unwrap();
    get(&app.instance("inst-a"), "inst-a").await.unwrap();
    get(&app.instance("inst-a"), "inst-a").await.unwrap();
    assert_eq!(wix.seen.token_requests("inst-a"), 1);
    let _ = app.instance("inst-a");
    assert_eq!(app.cached_instances(), 1, "kept while its token lives");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        app.cached_instances(),
        0,
        "its 1 s token has expired: the instance goes"
    );
}

/// Tokens of 60 KB (the probe's: 10,000 of them kept 720 MB): an app keeps no more instances
/// than fit in its cache's bytes (`max_cache_size`), the most recent among them; with the
/// default (32 MiB) forty fit. Short tokens are bounded by count alone (the 10,000-instance
/// test above).
#[tokio::test]
async fn the_instance_cache_is_bounded_by_bytes_as_well_as_by_count() {
    let wix = Wix::start();
    wix.seen.token_padding.store(60_000, Ordering::SeqCst);
    let budget = 1 << 20;
    let small = wix.app().max_cache_size(budget).build().unwrap();
    let default = wix.app().build().unwrap();
    for i in 0..40 {
        let instance = format!("inst-{i}");
        get(&small.instance(&instance), &instance).await.unwrap();
        get(&default.instance(&instance), &instance).await.unwrap();
    }
    let kept = small.cached_instances();
    assert!(
        kept > 0 && kept <= budget / 60_000,
        "{kept} instances of 60 KB kept in 1 MiB"
    );
    assert_eq!(default.cached_instances(), 40);
    // The latest is kept: a second call needs no new token.
    let requests = wix.seen.token_requests("inst-39");
    get(&small.instance("inst-39"), "inst-39").await.unwrap();
    assert_eq!(wix.seen.token_requests("inst-39"), requests);
    assert!(wix_inbox::App::builder()
        .app_id(APP_ID)
        .app_secret(APP_SECRET)
        .max_cache_size(1023)
        .build()
        .is_err());
}
