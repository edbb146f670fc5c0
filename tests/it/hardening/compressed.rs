//! Compressed and large answers: gzip asked for and read, the limit applied to the inflated body,
//! a gzip bomb refused, the default limit.

use super::*;

/// `bytes` gzip-compressed.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A 200 answer whose body is `body` gzip-compressed.
fn gzipped(body: &serde_json::Value) -> axum::response::Response {
    let compressed = gzip(&serde_json::to_vec(body).unwrap());
    axum::response::Response::builder()
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .header("content-length", compressed.len())
        .body(axum::body::Body::from(compressed))
        .unwrap()
}

#[tokio::test]
async fn the_client_asks_for_gzip_and_reads_a_gzip_answer() {
    let server = Server::start(|_, _| async { gzipped(&conversation("conv-1")) }).await;
    let found = get_conversation(&server.client(), "conv-1").await.unwrap();
    assert_eq!(
        found.conversation.as_ref().unwrap().id.as_deref(),
        Some("conv-1")
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let accepted = seen[0].header("accept-encoding").unwrap_or_default();
    assert!(
        accepted.split(',').any(|coding| coding.trim() == "gzip"),
        "{accepted:?}"
    );
}

#[tokio::test]
async fn the_limit_applies_to_the_inflated_body() {
    // About 100 KB of JSON that gzip makes a few hundred bytes: the compressed body (and its
    // `Content-Length`) is well under the limit, what it inflates to is far over it.
    let server = Server::start(|_, _| async { gzipped(&big_conversation(100_000)) }).await;
    let compressed = gzip(&serde_json::to_vec(&big_conversation(100_000)).unwrap()).len();
    assert!(compressed < 1024, "{compressed} bytes compressed");
    let client = server.builder().max_response_size(1024).build().unwrap();
    let e = get_conversation(&client, "conv-1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge, "{e:?}");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(200));
    assert!(e.to_string().contains("1024 bytes"), "{e}");

    // Within a limit that holds the inflated body, the same answer is read.
    let roomy = server.builder().max_response_size(200_000).build().unwrap();
    let found = get_conversation(&roomy, "conv-1").await.unwrap();
    assert_eq!(
        found.conversation.as_ref().unwrap().id.as_deref(),
        Some("conv-1")
    );
}

#[tokio::test]
async fn a_gzip_bomb_is_refused_without_inflating_it_all() {
    // A gzip stream that inflates to 100 KB of zeros per chunk and never ends: a client that
    // inflated the whole body before checking its size would wait for the end (a timeout);
    // one that counts inflated bytes stops at the limit.
    let zeros = {
        use std::io::Write as _;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&vec![0u8; 100_000]).unwrap();
        encoder.flush().unwrap(); // a sync flush: what was written can be inflated
        encoder.get_ref().clone()
    };
    assert!(zeros.len() < 1024, "{} bytes compressed", zeros.len());
    let head: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
          content-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n";
    let chunk_size = format!("{:x}\r\n", zeros.len());
    let url = stalling_after([head, chunk_size.as_bytes(), &zeros, b"\r\n"].concat()).await;
    let e = get_conversation(&kib_client(&url), "conv-1")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge, "{e:?}");
}

#[tokio::test]
async fn the_default_limit_is_16_mib() {
    const MIB: usize = 1024 * 1024;
    let server = Server::start(|seen, _| async move {
        let bytes = if seen.path.ends_with("under") {
            16 * MIB - 4096
        } else {
            16 * MIB + 4096
        };
        json(200, big_conversation(bytes), &[])
    })
    .await;
    let client = server.builder().build().unwrap();
    let found = get_conversation(&client, "under").await.unwrap();
    assert_eq!(
        found.conversation.as_ref().unwrap().id.as_deref(),
        Some("conv-1")
    );
    let e = get_conversation(&client, "over").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge, "{e:?}");
    assert!(e.to_string().contains("16777216 bytes"), "{e}");
}

#[tokio::test]
async fn a_response_of_exactly_the_limit_is_read() {
    let body = big_conversation(2000);
    let size = serde_json::to_vec(&body).unwrap().len();
    let server = Server::start(move |_, _| {
        let body = body.clone();
        async move { json(200, body, &[]) }
    })
    .await;
    let exact = server.builder().max_response_size(size).build().unwrap();
    let found = get_conversation(&exact, "conv-1").await.unwrap();
    assert_eq!(
        found.conversation.as_ref().unwrap().id.as_deref(),
        Some("conv-1")
    );
    assert_eq!(
        server.seen().len(),
        1,
        "a Content-Length of exactly the limit is not refused"
    );
    let under = server
        .builder()
        .max_response_size(size - 1)
        .build()
        .unwrap();
    let e = get_conversation(&under, "conv-1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge, "{e:?}");
}
