//! The axum receiver trusts no size the sender declares.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wix_inbox::webhooks::axum::WebhookReceiver;

use super::{good_token, verifier};

#[tokio::test]
async fn a_lying_content_length_reserves_nothing_even_without_a_limit() {
    let (receiver, mut events) =
        WebhookReceiver::with_channel(verifier().with_max_body_size(usize::MAX), 4);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = receiver.into_router("/webhooks/wix");
    tokio::spawn(async move { axum::serve(listener, app).await });

    // Declares 8 EiB, sends a few bytes and stops: the answer is 400, and the process lives.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /webhooks/wix HTTP/1.1\r\nhost: x\r\n\
              content-length: 9223372036854775807\r\n\r\nabc",
        )
        .await
        .unwrap();
    stream.shutdown().await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );

    // The receiver still takes a genuine delivery.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let token = good_token();
    let request = format!(
        "POST /webhooks/wix HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{token}",
        token.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(events.recv().await.is_some());
}
