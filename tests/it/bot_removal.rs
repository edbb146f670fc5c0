//! examples/bot.rs and a site that removes the app: its messages get no reply and ask for no
//! token, and Wix gets its 200 (no resends); the other sites are answered as before.
use super::bot::example;
use std::time::Duration;
use wix_inbox::types::ParticipantId::AnonymousVisitorId;
use wix_inbox_fake::FakeInbox;

/// The texts of visitor `v-1`'s conversation on `site`, once there are at least `n`.
async fn at_least(fake: &FakeInbox, site: &str, n: usize) -> Vec<String> {
    let visitor = AnonymousVisitorId("v-1".into());
    let texts = || fake.instance(site).unwrap().participant_texts(&visitor);
    let enough = |_: &FakeInbox| texts().len() >= n;
    let wait = fake.wait_until("the answers", Duration::from_secs(10), enough);
    wait.await.unwrap();
    texts()
}

#[tokio::test]
async fn the_bot_ignores_the_messages_of_a_site_that_removed_the_app() {
    let fake = FakeInbox::start().await.unwrap();
    let router = example::router(fake.app()).unwrap();
    fake.add_webhook_router("/webhooks", router).unwrap();
    let (kept, gone) = (fake.install(), fake.install());
    for site in [&kept, &gone] {
        fake.instance(site).unwrap().visitor_writes("v-1", "hi");
        at_least(&fake, site, 2).await; // answered while installed
    }
    assert!(fake.remove(&gone));
    fake.settle().await; // App Instance Removed delivered and applied
    let tokens = || {
        let requests = fake.requests().into_iter();
        requests
            .filter(|r| r.uri.starts_with("/oauth2/token"))
            .count()
    };
    let tokens_before = tokens();
    for site in [&kept, &gone] {
        fake.instance(site).unwrap().visitor_writes("v-1", "again");
    }
    assert_eq!(
        at_least(&fake, &kept, 4).await[3],
        "Thanks, we got: again (message 2)"
    );
    fake.settle().await;
    let gone_texts = at_least(&fake, &gone, 3).await;
    assert_eq!(
        gone_texts.len(),
        3,
        "no reply to a removed site: {gone_texts:?}"
    );
    assert_eq!(gone_texts[2], "again");
    assert_eq!(
        tokens(),
        tokens_before,
        "no token asked for the removed site"
    );
    for delivery in fake.deliveries() {
        assert!(delivery.delivered, "answered 200: {delivery:?}");
        assert_eq!(delivery.attempts.len(), 1, "no resend: {delivery:?}");
    }
}
