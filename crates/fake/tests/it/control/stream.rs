//! The control API's state, its live stream (and the stream's own limit), and the page without
//! secrets.

use super::*;

// ---------------------------------------------------------------------------------------------
// The state, the stream, the page

#[tokio::test]
async fn the_state_shows_the_fake_without_its_secrets() {
    let fake = fake().await;
    write(&fake, "v1", "Hello").await;
    post(
        &fake,
        "receivers/add",
        json!({"url": "http://127.0.0.1:9/hook"}),
    )
    .await;
    fake.settle().await;
    let (status, state) = get(&fake, "/_fake/state").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["fake"]["baseUrl"], json!(fake.base_url()));
    assert_eq!(state["fake"]["siteId"], json!(fake.site_id()));
    assert_eq!(
        state["instances"][0]["instanceId"],
        json!(fake.instance_id())
    );
    assert_eq!(state["receivers"], json!(["http://127.0.0.1:9/hook"]));
    let conversation = &state["conversations"][0];
    assert_eq!(conversation["kind"], "visitor");
    assert_eq!(conversation["participant"], visitor("v1"));
    assert_eq!(
        conversation["messages"][0]["content"]["previewText"],
        "Hello"
    );
    let event = &state["webhooks"]["events"][0];
    assert!(event["eventType"]
        .as_str()
        .unwrap()
        .ends_with("message_sent_to_business"));
    assert_eq!(event["instanceId"], json!(fake.instance_id()));
    assert_eq!(event["identity"]["id"], "v1");
    assert_eq!(state["webhooks"]["total"], 1);

    let text = state.to_string();
    let page = http_client()
        .get(format!("{}/", fake.base_url()))
        .send()
        .await
        .unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let page = page.text().await.unwrap();
    assert!(page.contains("/_fake/ui/app.js"));
    for secret in [fake.api_key(), fake.app_secret()] {
        assert!(!text.contains(secret), "the state shows a secret");
        assert!(!page.contains(secret), "the page shows a secret");
    }
    // Nothing the page loads comes from the network.
    for asset in ["/", "/_fake/ui/app.js", "/_fake/ui/style.css"] {
        let body = http_client()
            .get(format!("{}{asset}", fake.base_url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!body.contains("https://"), "{asset} loads from the network");
        assert!(!body.contains("innerHTML"), "{asset} writes HTML from data");
    }
}

/// Reads the next Server-Sent Event's data from `stream`, within 10 s.
async fn next_snapshot(stream: &mut reqwest::Response, buffer: &mut String) -> Value {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                    assert!(event.contains("event: state"), "{event}");
                    return serde_json::from_str(data).unwrap();
                }
                continue; // a keep-alive comment
            }
            let chunk = stream.chunk().await.unwrap().expect("the stream goes on");
            buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    })
    .await
    .expect("a snapshot within 10 s")
}

#[tokio::test]
async fn the_stream_sends_the_state_now_and_after_each_change() {
    let fake = fake().await;
    let response = http_client()
        .get(format!("{}/_fake/stream", fake.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut stream = response;
    let mut buffer = String::new();
    let first = next_snapshot(&mut stream, &mut buffer).await;
    assert_eq!(first["conversations"], json!([]));

    // A change made by Rust code (not through the control API) is streamed too.
    fake.visitor_writes("v1", "Hello");
    let second = next_snapshot(&mut stream, &mut buffer).await;
    assert_eq!(
        second["conversations"][0]["messages"][0]["content"]["previewText"],
        "Hello"
    );

    fake.fail_next(1, Fault::Drop);
    let third = next_snapshot(&mut stream, &mut buffer).await;
    assert_eq!(third["pendingFaults"], json!([{"kind": "drop"}]));
}

/// More streams than the fake keeps for them (8): the next is refused 503 at once, and the
/// Inbox API and the control API still answer (the probe's 150 streams, which lasted about an
/// hour each, locked the API out of the fake's 100 connections).
#[tokio::test]
async fn streams_have_a_limit_of_their_own_and_cannot_lock_out_the_api() {
    let fake = fake().await;
    let url = format!("{}/_fake/stream", fake.base_url());
    let mut streams = Vec::new();
    for _ in 0..8 {
        let response = http_client().get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        streams.push(response);
    }
    let refused = http_client().get(&url).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let state = http_client()
        .get(format!("{}/_fake/state", fake.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(state.status(), StatusCode::OK);
    fake.visitor_writes("v1", "Hello");
    assert_eq!(fake.conversations().len(), 1);
    drop(streams);
}
