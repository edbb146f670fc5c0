//! Servers on 127.0.0.1 for the tests: one programmable HTTP server (axum) that records every
//! request (a Wix stand-in for the client tests, a webhook receiver for the fake's), and a raw
//! TCP server that misbehaves below HTTP (resets, truncations).

#![allow(dead_code)]

use std::{
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, Request, StatusCode},
    response::{IntoResponse, Response},
    Router,
};
use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpSocket},
};
use wix_inbox::{types, Client, ClientBuilder, ResponseValue, RetryPolicy};

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// The query's `(name, value)` pairs, in order, as sent (not percent-decoded).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        if self.query.is_empty() {
            return Vec::new();
        }
        self.query
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    pub fn query_value(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == name).then(|| v.to_string())
        })
    }

    /// The body as text (a webhook's JWT, say).
    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).unwrap()
    }
}

pub struct Server {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    /// A server answering each request with `handler(request, how many came before it)`.
    pub async fn start<F, Fut>(handler: F) -> Server
    where
        F: Fn(Seen, usize) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let handler = Arc::new(handler);
        let app = Router::new().fallback(move |req: Request<Body>| {
            let log = log.clone();
            let handler = handler.clone();
            async move {
                let (parts, body) = req.into_parts();
                let seen = Seen {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_string(),
                    query: parts.uri.query().unwrap_or("").to_string(),
                    headers: parts.headers,
                    body: axum::body::to_bytes(body, 1 << 20).await.unwrap(),
                };
                let n = {
                    let mut log = log.lock().unwrap();
                    log.push(seen.clone());
                    log.len() - 1
                };
                handler(seen, n).await
            }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server { url, seen }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn count(&self, path: &str) -> usize {
        self.seen().iter().filter(|s| s.path == path).count()
    }

    /// A builder pointed at this server with an API key and quick retries.
    pub fn builder(&self) -> ClientBuilder {
        Client::builder()
            .base_url(&self.url)
            .api_key("test-key")
            .site_id("site-1")
            .retry(quick_retries())
    }

    pub fn client(&self) -> Client {
        self.builder().build().unwrap()
    }
}

/// Get Conversation through `client`, with the crate's error: the call most tests make.
pub async fn get_conversation(
    client: &Client,
    id: &str,
) -> Result<ResponseValue<types::GetConversationResponse>, wix_inbox::Error> {
    client.get_conversation().conversation_id(id).send().await
}

/// The default policy with millisecond waits, so that tests are fast.
pub fn quick_retries() -> RetryPolicy {
    RetryPolicy::default()
        .initial_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(20))
}

/// A JSON answer with a status and extra headers.
pub fn json(status: u16, body: Value, headers: &[(&str, &str)]) -> Response {
    let mut response = (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
    for (k, v) in headers {
        response.headers_mut().insert(
            header_name(k),
            axum::http::HeaderValue::from_str(v).unwrap(),
        );
    }
    response
}

/// An answer with a raw body.
pub fn raw(status: u16, body: &'static str, headers: &[(&str, &str)]) -> Response {
    let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
    for (k, v) in headers {
        response.headers_mut().insert(
            header_name(k),
            axum::http::HeaderValue::from_str(v).unwrap(),
        );
    }
    response
}

fn header_name(name: &str) -> axum::http::HeaderName {
    axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap()
}

pub fn conversation(id: &str) -> Value {
    serde_json::json!({"conversation": {"id": id, "participant": {"contactId": "c-1"}}})
}

/// What the raw server does with one connection.
#[derive(Clone, Copy, Debug)]
pub enum Misbehave {
    /// Headers and part of the body, then a TCP reset.
    ResetMidAnswer,
    /// A `Content-Length` longer than the body, then a normal close.
    Truncate,
    /// Read the request, then close without answering.
    CloseSilently,
    /// A complete answer: `200` with a conversation.
    Answer,
}

/// A TCP server that treats connection `n` as `plan[n]` (the last entry repeats), counting the
/// requests it read in full.
pub async fn raw_server(plan: Vec<Misbehave>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = requests.clone();
    tokio::spawn(async move {
        let mut n = 0;
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let what = plan[n.min(plan.len() - 1)];
            n += 1;
            let log = log.clone();
            tokio::spawn(async move {
                let head = read_request(&mut stream).await;
                log.lock().unwrap().push(head);
                let body = r#"{"conversation":{"id":"conv-1"}}"#;
                match what {
                    Misbehave::ResetMidAnswer => {
                        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 400\r\n\r\n{\"conversation\":";
                        stream.write_all(head.as_bytes()).await.unwrap();
                        stream.flush().await.unwrap();
                        tokio::time::sleep(Duration::from_millis(30)).await;
                        // Linger 0: close with a reset, at once (so nothing blocks).
                        #[allow(deprecated)]
                        stream.set_linger(Some(Duration::ZERO)).unwrap();
                        drop(stream);
                    }
                    Misbehave::Truncate => {
                        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 400\r\nconnection: close\r\n\r\n{\"conversation\":";
                        stream.write_all(head.as_bytes()).await.unwrap();
                        stream.shutdown().await.unwrap();
                    }
                    Misbehave::CloseSilently => {
                        stream.shutdown().await.unwrap();
                    }
                    Misbehave::Answer => {
                        let answer = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                        stream.write_all(answer.as_bytes()).await.unwrap();
                        stream.shutdown().await.unwrap();
                    }
                }
            });
        }
    });
    (url, requests)
}

/// Reads one request (head and `content-length` body); returns its request line.
async fn read_request(stream: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the client closed before sending a request");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0);
        buf.extend_from_slice(&chunk[..n]);
    }
    head.lines().next().unwrap().to_string()
}

/// A reqwest client for raw requests to 127.0.0.1 that ignores `HTTP_PROXY` and friends:
/// tests never leave the machine, whatever the environment says.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A URL on which nothing listens, reserved for as long as this guard lives.
pub struct RefusedUrl {
    pub url: String,
    /// Bound to the URL's port but never listening: a connection is refused (on Linux), and no
    /// other test can take the port meanwhile.
    _socket: TcpSocket,
}

/// A URL on which nothing listens (a port bound, never listened on); keep the guard alive for
/// as long as the URL is used.
pub fn refused_url() -> RefusedUrl {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
    let url = format!("http://{}", socket.local_addr().unwrap());
    RefusedUrl {
        url,
        _socket: socket,
    }
}

/// An example's story ran to its end (`result` is `Ok`) and its `lines` say each of `steps`;
/// else the test fails showing every line.
pub fn assert_told<E: std::fmt::Debug>(result: Result<(), E>, lines: &[String], steps: &[&str]) {
    let text = lines.join("\n");
    assert!(result.is_ok(), "{result:?}\n{text}");
    for step in steps {
        assert!(text.contains(step), "no {step:?} in:\n{text}");
    }
}
