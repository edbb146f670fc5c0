//! The axum receiver over real HTTP on 127.0.0.1.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use jsonwebtoken::Algorithm;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wix_inbox::webhooks::axum::WebhookReceiver;
use wix_inbox::webhooks::test_signer::encode_unsigned;
use wix_inbox::webhooks::{InboxEvent, WebhookVerifier};

use super::{good_event, good_token, signer, verifier};

async fn serve<D: wix_inbox::webhooks::Deduplicator>(receiver: WebhookReceiver<D>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = receiver.into_router("/webhooks/wix");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A reqwest client that ignores `HTTP_PROXY` and friends: the receiver is on 127.0.0.1.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn post(
    addr: SocketAddr,
    body: impl Into<reqwest::Body>,
    content_type: Option<&str>,
) -> (u16, String) {
    let mut request = http_client()
        .post(format!("http://{addr}/webhooks/wix"))
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn accepted_then_duplicate() {
    let (receiver, mut events) = WebhookReceiver::with_channel(verifier(), 16);
    let addr = serve(receiver).await;
    let token = good_token();
    assert_eq!(
        post(addr, token.clone(), Some("text/plain")).await,
        (200, "ok".into())
    );
    let event = events.recv().await.unwrap();
    assert!(matches!(event.event, InboxEvent::MessageSentToBusiness(_)));
    assert_eq!(
        post(addr, token, Some("text/plain")).await,
        (200, "duplicate".into())
    );
    assert!(events.try_recv().is_err());
}

#[tokio::test]
async fn any_content_type_or_none() {
    let (receiver, mut events) = WebhookReceiver::with_channel(verifier(), 16);
    let addr = serve(receiver).await;
    for (i, content_type) in [
        None,
        Some("application/json"),
        Some("application/x-www-form-urlencoded"),
        Some("application/octet-stream"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut event = good_event();
        event.domain_event["id"] = json!(format!("ct-{i}"));
        let (status, _) = post(addr, signer().sign_event(&event), content_type).await;
        assert_eq!(status, 200, "{content_type:?}");
        assert_eq!(events.recv().await.unwrap().id, format!("ct-{i}"));
    }
}

#[tokio::test]
async fn callback_receives_events() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let receiver =
        WebhookReceiver::new(verifier(), move |event| sink.lock().unwrap().push(event.id));
    let addr = serve(receiver).await;
    assert_eq!(post(addr, good_token(), None).await.0, 200);
    assert_eq!(
        *seen.lock().unwrap(),
        ["95c2f87d-ae78-4df9-aa21-95189231d6f7"]
    );
}

#[tokio::test]
async fn unauthorized_cases_are_401() {
    let (receiver, _events) = WebhookReceiver::with_channel(verifier(), 16);
    let addr = serve(receiver).await;
    let claims = good_event().claims();
    let mut expired = good_event();
    expired.exp = Some(expired.iat - 3600);
    let cases = [
        (
            "bad signature",
            crate::attacks_support::tampered(&good_token()),
        ),
        (
            "alg none",
            encode_unsigned(&json!({"alg": "none"}), &claims),
        ),
        (
            "RS384",
            signer().sign_with(Algorithm::RS384, &json!({"alg": "RS384"}), &claims),
        ),
        ("expired", signer().sign_event(&expired)),
    ];
    for (name, body) in cases {
        let (status, text) = post(addr, body, Some("text/plain")).await;
        assert_eq!(status, 401, "{name}");
        assert_eq!(text, "invalid webhook token");
    }
}

#[tokio::test]
async fn malformed_is_400() {
    let (receiver, _events) = WebhookReceiver::with_channel(verifier(), 16);
    let addr = serve(receiver).await;
    let broken = signer().sign_claims(&json!({"data": "{oops", "exp": i64::MAX}));
    for body in [
        "hello".to_owned(),
        "{\"payload\": \"x\"}".to_owned(),
        broken,
    ] {
        assert_eq!(post(addr, body, None).await.0, 400);
    }
    assert_eq!(post(addr, vec![0xffu8, 0xfe, 0x00], None).await.0, 400);
}

#[tokio::test]
async fn too_large_is_413() {
    let (receiver, _events) = WebhookReceiver::with_channel(verifier(), 16);
    let addr = serve(receiver).await;
    let (status, text) = post(addr, vec![b'a'; 2 * 1024 * 1024], None).await;
    assert_eq!((status, text.as_str()), (413, "webhook body too large"));
}

#[tokio::test]
async fn too_large_chunked_without_content_length_is_413() {
    let limit = 1000;
    let (receiver, _events) =
        WebhookReceiver::with_channel(verifier().with_max_body_size(limit), 16);
    let addr = serve(receiver).await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let chunk = "a".repeat(limit + 1);
    let request = format!(
        "POST /webhooks/wix HTTP/1.1\r\nhost: {addr}\r\ntransfer-encoding: chunked\r\n\
         connection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
}

#[tokio::test]
async fn full_channel_is_503_and_the_retry_is_processed() {
    let (receiver, mut events) = WebhookReceiver::with_channel(verifier(), 1);
    let addr = serve(receiver).await;
    let first = good_token();
    let mut second = good_event();
    second.domain_event["id"] = json!("second");
    let second = signer().sign_event(&second);
    assert_eq!(post(addr, first, None).await.0, 200);
    assert_eq!(post(addr, second.clone(), None).await.0, 503);
    events.recv().await.unwrap();
    assert_eq!(post(addr, second, None).await.0, 200);
    // A retry dropped as a duplicate would leave the channel empty: fail, do not hang.
    let retried = tokio::time::timeout(std::time::Duration::from_secs(10), events.recv()).await;
    assert_eq!(
        retried.expect("the retry was handed on").unwrap().id,
        "second"
    );
}

#[tokio::test]
async fn wrong_method_is_405() {
    let receiver = WebhookReceiver::new(verifier(), |_| {});
    let addr = serve(receiver).await;
    let response = http_client()
        .get(format!("http://{addr}/webhooks/wix"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let _ = WebhookVerifier::from_public_key(signer().public_key_pem()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Time and connections: a sender that is slow, short or silent cannot hold the receiver.
// These run on tokio's paused clock (client and server in one runtime), except where a test
// asserts that something does *not* happen, which a jumping clock cannot show.

use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The head of a delivery that declares `len` bytes of body.
fn head(addr: SocketAddr, len: usize) -> String {
    format!("POST /webhooks/wix HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {len}\r\n\r\n")
}

/// Reads until the server closes the connection (or resets it), for at most `limit` of
/// tokio's clock; `None` when the connection is still open then.
async fn read_until_closed(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
    limit: Duration,
) -> Option<String> {
    let mut answer = Vec::new();
    match tokio::time::timeout(limit, stream.read_to_end(&mut answer)).await {
        Ok(_) => Some(String::from_utf8_lossy(&answer).into_owned()),
        Err(_) => None,
    }
}

/// A body that stops short (`Content-Length: 1000`, 10 bytes sent, the connection kept open)
/// is answered 408 when the receiver's body deadline passes.
#[tokio::test(start_paused = true)]
async fn a_short_body_is_answered_408_at_the_deadline() {
    let (receiver, _events) = WebhookReceiver::with_channel(verifier(), 16);
    let addr = serve(receiver).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let request = head(addr, 1000) + "0123456789";
    stream.write_all(request.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(60))
        .await
        .expect("still open after 60 s: the body read has no deadline");
    let waited = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        waited >= wix_inbox::webhooks::axum::DEFAULT_BODY_TIMEOUT,
        "answered after {waited:?}"
    );
    assert!(
        waited <= wix_inbox::webhooks::axum::DEFAULT_BODY_TIMEOUT + Duration::from_secs(1),
        "answered after {waited:?}"
    );
}

/// A body dripped a byte every 500 ms (each byte well within any per-read timeout) is cut off
/// at the deadline all the same: the deadline is for the whole body.
#[tokio::test(start_paused = true)]
async fn a_dripped_body_is_answered_408_at_the_deadline() {
    let deadline = Duration::from_secs(2);
    let (receiver, _events) = WebhookReceiver::with_channel(verifier(), 16);
    let addr = serve(receiver.body_timeout(deadline)).await;
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let started = Instant::now();
    write.write_all(head(addr, 1000).as_bytes()).await.unwrap();
    let dripper = tokio::spawn(async move {
        let mut sent = 0;
        while write.write_all(b"a").await.is_ok() && sent < 999 {
            sent += 1;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        sent
    });
    let answer = read_until_closed(&mut read, Duration::from_secs(60))
        .await
        .expect("still open after 60 s: the body read has no deadline");
    let waited = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        waited >= deadline && waited <= deadline + Duration::from_secs(1),
        "answered after {waited:?}"
    );
    // The connection is closed: the dripper's writes fail soon after.
    let sent = tokio::time::timeout(Duration::from_secs(10), dripper)
        .await
        .expect("the connection is still open")
        .unwrap();
    assert!(sent < 30, "{sent} bytes dripped");
}

use wix_inbox::webhooks::axum::ServeOptions;

/// Serves `router` with `options` on a free port of 127.0.0.1.
async fn serve_with(options: ServeOptions, router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { options.serve(listener, router).await });
    addr
}

/// A whole delivery of `token` on a new connection; the answer's text once the server closes.
async fn deliver_raw(addr: SocketAddr, token: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /webhooks/wix HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{token}",
        token.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    read_until_closed(&mut stream, Duration::from_secs(600))
        .await
        .expect("no answer in 600 s")
}

/// A silent connection, headers dripped a byte at a time, and a kept-alive connection left idle
/// after its answer are all closed when the header-read timeout passes.
#[tokio::test(start_paused = true)]
async fn serve_closes_silent_dripping_and_idle_connections_at_the_header_timeout() {
    let timeout = Duration::from_secs(1);
    let (receiver, mut events) = WebhookReceiver::with_channel(verifier(), 16);
    let options = ServeOptions::new().header_read_timeout(timeout);
    let addr = serve_with(options, receiver.into_router("/webhooks/wix")).await;

    // Silent.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut silent, Duration::from_secs(60))
        .await
        .expect("a silent connection still open after 60 s");
    let waited = started.elapsed();
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(
        waited >= timeout && waited <= timeout + Duration::from_secs(1),
        "closed after {waited:?}"
    );

    // Headers dripped a byte every 100 ms, for ever.
    let (mut read, mut write) = TcpStream::connect(addr).await.unwrap().into_split();
    let started = Instant::now();
    let dripper = tokio::spawn(async move {
        for byte in head(addr, 10).bytes().cycle() {
            if write.write_all(&[byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let answer = read_until_closed(&mut read, Duration::from_secs(60))
        .await
        .expect("dripped headers still read after 60 s");
    let waited = started.elapsed();
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(
        waited <= timeout + Duration::from_secs(1),
        "closed after {waited:?}"
    );
    tokio::time::timeout(Duration::from_secs(10), dripper)
        .await
        .expect("the dripper can still write")
        .unwrap();

    // Kept alive after a real delivery, then idle.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    let token = good_token();
    let request = format!("{}{token}", head(addr, token.len()));
    idle.write_all(request.as_bytes()).await.unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    assert!(events.recv().await.is_some());
    let started = Instant::now();
    read_until_closed(&mut idle, Duration::from_secs(60))
        .await
        .expect("an idle kept-alive connection still open after 60 s");
    assert!(
        started.elapsed() <= timeout + Duration::from_secs(1),
        "closed after {:?}",
        started.elapsed()
    );
}

/// A handler that takes too long is answered 408 at the request timeout, whatever the route.
#[tokio::test(start_paused = true)]
async fn serve_answers_408_when_a_request_takes_too_long() {
    let timeout = Duration::from_secs(2);
    let router = axum::Router::new().route(
        "/slow",
        axum::routing::get(|| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            "done"
        }),
    );
    let addr = serve_with(ServeOptions::new().request_timeout(timeout), router).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    stream
        .write_all(
            format!("GET /slow HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(600))
        .await
        .expect("no answer in 600 s");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() <= timeout + Duration::from_secs(1));
}

/// More held connections than the server allows (silent, dripping headers, a body cut short)
/// do not stop a real delivery: they are closed at their deadlines and the delivery is served.
#[tokio::test(start_paused = true)]
async fn held_connections_do_not_stop_a_real_delivery() {
    let limit = 4;
    let (receiver, mut events) = WebhookReceiver::with_channel(verifier(), 16);
    let receiver = receiver.body_timeout(Duration::from_secs(1));
    let options = ServeOptions::new()
        .max_connections(limit)
        .header_read_timeout(Duration::from_secs(1))
        .request_timeout(Duration::from_secs(2));
    let addr = serve_with(options, receiver.into_router("/webhooks/wix")).await;

    let mut held = Vec::new();
    for i in 0..3 * limit {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        match i % 3 {
            0 => {}
            1 => stream
                .write_all(b"POST /webhooks/wix HTTP/1.1\r\nho")
                .await
                .unwrap(),
            _ => {
                let request = head(addr, 1000) + "0123456789";
                stream.write_all(request.as_bytes()).await.unwrap();
            }
        }
        held.push(stream);
    }
    let started = Instant::now();
    let answer = deliver_raw(addr, &good_token()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(events.recv().await.is_some());
    assert!(
        started.elapsed() <= Duration::from_secs(10),
        "served after {:?}",
        started.elapsed()
    );
    // Every held connection was closed by the server.
    for mut stream in held {
        read_until_closed(&mut stream, Duration::from_secs(10))
            .await
            .expect("a held connection is still open");
    }
}

/// The bound on open connections holds: with the limit reached by proven connections, a new
/// connection waits until one closes. (Real time: a paused clock jumps ahead and cannot show that nothing happened.)
#[tokio::test]
async fn serve_bounds_open_connections() {
    let (receiver, mut events) = WebhookReceiver::with_channel(verifier(), 16);
    let options = ServeOptions::new()
        .max_connections(2)
        .header_read_timeout(Duration::from_secs(60));
    let addr = serve_with(options, receiver.into_router("/webhooks/wix")).await;
    // Two proven connections (each had a delivery answered 200), kept alive: a newcomer does
    // not make them give way.
    let mut first = TcpStream::connect(addr).await.unwrap();
    let mut second = TcpStream::connect(addr).await.unwrap();
    for stream in [&mut first, &mut second] {
        // The first is handed on, the second answered 200 as its duplicate.
        let answer = exchange(stream, addr, &good_token()).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    assert!(events.recv().await.is_some());
    let mut third = TcpStream::connect(addr).await.unwrap();
    let token = good_token();
    let request = format!(
        "POST /webhooks/wix HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{token}",
        token.len()
    );
    third.write_all(request.as_bytes()).await.unwrap();
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(300), third.read(&mut byte)).await;
    assert!(early.is_err(), "served beyond the limit: {early:?}");

    // One of the two closes: the third is served.
    drop(first);
    let answer = read_until_closed(&mut third, Duration::from_secs(30))
        .await
        .expect("not served after a slot freed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// One request of `body` on a kept-alive connection, and the answer as one read returns it.
async fn exchange(stream: &mut TcpStream, addr: SocketAddr, body: &str) -> String {
    let request = format!(
        "POST /webhooks/wix HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = stream.read(&mut answer).await.unwrap_or(0);
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

/// One address holding every slot with kept-alive connections that send a tiny unsigned request
/// every 500 ms and reconnect when closed (the probe's: 600 such connections kept all 512 slots,
/// and 0 of 13 real deliveries were answered within Wix's 1,250 ms): each real delivery on a new
/// connection is answered within 1,250 ms, because connections that sent nothing verifiable
/// give way to newcomers; a proven connection (a delivery answered 200) is never closed for one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_sent_nothing_verifiable_give_way_to_new_ones() {
    let limit = 8;
    let receiver = WebhookReceiver::new(verifier(), |_| {});
    let options = ServeOptions::new()
        .max_connections(limit)
        .header_read_timeout(Duration::from_secs(30));
    let addr = serve_with(options, receiver.into_router("/webhooks/wix")).await;
    let mut proven = TcpStream::connect(addr).await.unwrap();
    let answer = exchange(&mut proven, addr, &good_token()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let attackers: Vec<_> = (0..2 * limit)
        .map(|_| {
            tokio::spawn(async move {
                loop {
                    let Ok(mut stream) = TcpStream::connect(addr).await else {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    while exchange(&mut stream, addr, "x")
                        .await
                        .starts_with("HTTP/1.1 400")
                    {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            })
        })
        .collect();
    // The attackers take every slot.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for round in 0..5 {
        let started = Instant::now();
        let answer = tokio::time::timeout(
            Duration::from_millis(1250),
            deliver_raw(addr, &good_token()),
        )
        .await;
        let answer = answer.unwrap_or_else(|_| panic!("delivery {round} not answered in 1,250 ms"));
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(started.elapsed() < Duration::from_millis(1250));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The proven connection is still open and served.
    let answer = exchange(&mut proven, addr, &good_token()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    for attacker in attackers {
        attacker.abort();
    }
}
