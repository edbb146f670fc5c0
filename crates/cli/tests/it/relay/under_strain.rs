//! The relay under strain: SIGTERM with requests in flight, bad invocations, three relays on one
//! Redis with one killed, an app slower than Wix, unverified bodies against the budget.

use super::*;

/// SIGTERM: no new connection is accepted, the request in flight is still answered 200 once
/// the app answered, and the relay exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_requests_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let (app, app_url) = App::start(vec![Duration::ZERO]).await;
    let mut relay = start_relay(
        &key,
        format!("{app_url}/relay/0"),
        vec![
            "--app-timeout".into(),
            "60".into(),
            "--lease".into(),
            "120".into(),
        ],
    )
    .await;
    // The app holds the request until the test lets it go.
    app.gate.send_replace(false);
    let url = relay.url();
    let in_flight = tokio::spawn(async move { deliver(&url, &signed("evt-drain")).await });
    // Until the app holds the request (bounded: 10 s).
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.in_flight[0].load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the app never got the event");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    relay.terminate();
    // New connections are refused from now on (bounded: 5 s), while the request is in flight.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if tokio::net::TcpStream::connect(relay.addr).await.is_err() {
            break;
        }
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!in_flight.is_finished());
    app.gate.send_replace(true);
    assert_eq!(in_flight.await.unwrap(), (200, "ok".into()));
    let status = tokio::task::block_in_place(|| relay.wait_exit(Duration::from_secs(15)));
    assert!(status.success(), "{status:?}");
    let stderr = relay.stderr.lock().unwrap().clone();
    assert!(stderr.contains("relay stopped"), "{stderr}");
}

/// Bad invocations exit 2 with one line; an unreachable Redis exits 1 without quoting its URL.
#[tokio::test]
async fn bad_invocations() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let mut cmd = Command::new(BIN);
            cmd.env_remove("WIX_INBOX_REDIS_URL")
                .args(["webhook", "relay", "--listen", "127.0.0.1:0"])
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = cmd.spawn().unwrap();
            let deadline = Instant::now() + Duration::from_secs(30);
            let status = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break status;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("the relay did not exit");
                }
                std::thread::sleep(Duration::from_millis(10));
            };
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            (status.code(), stderr)
        })
    };
    let key = key.to_str().unwrap().to_owned();
    let (code, stderr) = run(vec![
        "--public-key".into(),
        key.clone(),
        "--to".into(),
        "ftp://example/".into(),
    ])
    .await
    .unwrap();
    assert_eq!(code, Some(2));
    assert_eq!(stderr, "error: --to must be an http:// or https:// URL\n");

    let (code, stderr) = run(vec![
        "--public-key".into(),
        key.clone(),
        "--to".into(),
        "http://127.0.0.1:9/".into(),
        "--lease".into(),
        "5".into(),
    ])
    .await
    .unwrap();
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with("error: --lease (5) must be longer than --app-timeout (5)"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, stderr) = run(vec![
        "--public-key".into(),
        key,
        "--to".into(),
        "http://127.0.0.1:9/".into(),
        "--redis".into(),
        format!("redis://:hunter2@127.0.0.1:{port}/"),
    ])
    .await
    .unwrap();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.starts_with("error: cannot use Redis: "), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// Three relays on loopback sharing one Redis; the fake delivers every event to all three at
/// once and redelivers what is not answered 200; relay 0 is killed (SIGKILL) while it hands
/// events on. Every event reaches the app; each event ID whose first POST the app answered
/// 2xx to a relay that lived is seen exactly once; an event relay 0 held when it died is handed
/// on again by another relay after its lease, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_relays_one_redis_one_killed_nothing_lost_nothing_twice() {
    const EVENTS: usize = 30;
    const KILL_AFTER: usize = 10;
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    // Relay 0's app calls are slow: the kill finds some in flight.
    let (app, app_url) = App::start(vec![
        Duration::from_millis(300),
        Duration::from_millis(5),
        Duration::from_millis(5),
    ])
    .await;
    let mut relays = Vec::new();
    for n in 0..3 {
        relays.push(
            start_relay(
                &key,
                format!("{app_url}/relay/{n}"),
                vec![
                    "--redis".into(),
                    redis.url(),
                    "--lease".into(),
                    "2".into(),
                    "--app-timeout".into(),
                    "1".into(),
                ],
            )
            .await,
        );
    }
    let fake = FakeInbox::builder()
        .webhook_attempts(12)
        .webhook_backoff(Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    for relay in &relays {
        fake.add_webhook_receiver(relay.url());
    }
    let killed_url = relays[0].url();

    let mut killed_in_flight = 0;
    for i in 0..EVENTS {
        if i == KILL_AFTER {
            // Until relay 0 is handing an event on (bounded: 20 s), then SIGKILL.
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                killed_in_flight = app.in_flight[0].load(Ordering::SeqCst);
                if killed_in_flight > 0 {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "relay 0 never handed an event on"
                );
                fake.visitor_writes("visitor-nudge", "so that relay 0 gets one");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let killed = relays.remove(0);
            drop(killed);
        }
        fake.visitor_writes(&format!("visitor-{i}"), &format!("message {i}"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(killed_in_flight > 0);

    // Until every event reached the app and every delivery to a living relay got its 200
    // (bounded: 90 s). Deliveries to the dead relay run out of attempts on their own.
    let events: Vec<String> = fake
        .events()
        .iter()
        .map(|e| e.domain_event.id.clone().unwrap())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let seen: std::collections::HashSet<String> =
            app.received().into_iter().map(|r| r.event_id).collect();
        let living_done = fake
            .deliveries()
            .iter()
            .filter(|d| d.receiver != killed_url)
            .all(|d| d.delivered);
        if living_done && events.iter().all(|id| seen.contains(id)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not everything arrived: {} of {} events seen; deliveries: {:?}",
            events.iter().filter(|id| seen.contains(*id)).count(),
            events.len(),
            fake.deliveries()
                .iter()
                .filter(|d| !d.delivered && d.receiver != killed_url)
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Per event ID: which relays POSTed it, in order.
    let mut by_event: HashMap<String, Vec<usize>> = HashMap::new();
    for r in app.received() {
        by_event.entry(r.event_id).or_default().push(r.relay);
    }
    let mut handed_on_again = 0;
    for id in &events {
        let relays = &by_event[id];
        let from_living = relays.iter().filter(|&&r| r != 0).count();
        let from_dead = relays.len() - from_living;
        assert!(from_living <= 1 && from_dead <= 1, "{id}: {relays:?}");
        if relays[0] != 0 {
            // The first POST went to a relay that lived and got 2xx: exactly once.
            assert_eq!(relays.len(), 1, "{id}: {relays:?}");
        } else if relays.len() == 2 {
            handed_on_again += 1;
        }
    }
    assert!(
        handed_on_again >= 1,
        "an event relay 0 held when it died was handed on again: {by_event:?}"
    );
    assert_eq!(by_event.len(), events.len());
    fake.shutdown().await;
}

/// An app slower than Wix's 1,250 ms (3 s), the fake playing Wix: the sender hangs up, the
/// relay's POST to the app goes on to its end, each event reaches the app exactly once, and
/// Wix's next resend is answered 200. The hang-up is logged. (Before: every resend was handed
/// on again, and no delivery was ever confirmed to Wix.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_slower_than_wix_gets_each_event_once_and_wix_gets_its_200() {
    const EVENTS: usize = 3;
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let (app, app_url) = App::start(vec![Duration::from_secs(3)]).await;
    let relay = start_relay(&key, format!("{app_url}/relay/0"), vec![]).await;
    let fake = FakeInbox::builder()
        .webhook_attempts(10)
        .webhook_backoff(Duration::from_millis(400))
        .start()
        .await
        .unwrap();
    fake.add_webhook_receiver(relay.url());
    for i in 0..EVENTS {
        fake.visitor_writes(&format!("visitor-{i}"), "hello");
    }
    let deadline = Instant::now() + Duration::from_secs(40);
    while !(fake.deliveries().len() == EVENTS && fake.deliveries().iter().all(|d| d.finished)) {
        assert!(Instant::now() < deadline, "{:?}", fake.deliveries());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for delivery in fake.deliveries() {
        assert!(delivery.delivered, "{delivery:?}");
        assert_eq!(delivery.attempts[0].status, None, "{delivery:?}");
        let per_event = app
            .received()
            .iter()
            .filter(|r| r.event_id == delivery.event_id)
            .count();
        assert_eq!(per_event, 1, "{delivery:?}");
    }
    assert_eq!(app.received().len(), EVENTS);
    let stderr = relay.stderr.lock().unwrap().clone();
    assert!(stderr.contains("hung up"), "{stderr}");
    fake.shutdown().await;
}

/// The peak resident memory of process `pid` (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/PID/status");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kb * 1024
}

/// 512 unauthenticated connections each sending a body of nearly 1 MiB (the verifier's limit)
/// as fast as they can: the relay's peak memory stays under 128 MB (75 MB measured, 19 MB idle), because bodies not yet
/// verified share one budget (16 MiB) and the connections past it are answered 503 and closed
/// (the probe's: ~0.8 GB). A real delivery afterwards is handed on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_bodies_cannot_grow_the_relay_past_its_budget() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let (app, app_url) = App::start(vec![Duration::ZERO]).await;
    let relay = start_relay(&key, format!("{app_url}/relay/0"), vec![]).await;
    let addr = relay.url();
    let addr = addr
        .strip_prefix("http://")
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let before = peak_rss(relay.child.id());
    let size = 1_000_000;
    let senders: Vec<_> = (0..512)
        .map(|_| {
            let addr = addr.clone();
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt as _;
                let Ok(mut stream) = tokio::net::TcpStream::connect(&addr).await else {
                    return;
                };
                let head =
                    format!("POST / HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {size}\r\n\r\n");
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b'a'; 64 * 1024];
                let mut sent = 0;
                while sent < size {
                    let n = chunk.len().min(size - sent);
                    if stream.write_all(&chunk[..n]).await.is_err() {
                        return;
                    }
                    sent += n;
                }
                // Held open until the relay answers or closes.
                let _ = tokio::time::timeout(
                    Duration::from_secs(5),
                    tokio::io::AsyncReadExt::read(&mut stream, &mut [0u8; 64]),
                )
                .await;
            })
        })
        .collect();
    for sender in senders {
        let _ = sender.await;
    }
    let peak = peak_rss(relay.child.id());
    assert!(
        peak < 128 * 1024 * 1024,
        "the relay's peak RSS grew from {} MB to {} MB",
        before / 1_000_000,
        peak / 1_000_000
    );
    eprintln!(
        "peak RSS: {} MB before, {} MB after 512 bodies of 1 MB",
        before / 1_000_000,
        peak / 1_000_000
    );
    assert_eq!(
        deliver(&relay.url(), &signed("evt-after-bodies")).await,
        (200, "ok".into())
    );
    assert_eq!(app.received().len(), 1);
}
