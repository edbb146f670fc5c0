//! examples/bot.rs on 3 fake sites: counts across a merge, redeliveries, a token per instance.
#[path = "../../examples/bot.rs"]
#[allow(dead_code)]
pub(crate) mod example;
use std::time::Duration;
use wix_inbox::types::ParticipantId::{self, AnonymousVisitorId, ContactId};
use wix_inbox_fake::FakeInbox;

const WAIT: Duration = Duration::from_secs(10);

async fn texts(fake: &FakeInbox, site: &str, who: &ParticipantId, count: usize) -> Vec<String> {
    let texts = || fake.instance(site).unwrap().participant_texts(who);
    let enough = |_: &FakeInbox| texts().len() >= count;
    fake.wait_until("the answers", WAIT, enough).await.unwrap();
    texts()
}

#[tokio::test]
async fn the_bot_answers_three_sites_and_counts_across_merges() {
    let fake = FakeInbox::start().await.unwrap();
    let _ = [fake.add_instance(), fake.add_instance()];
    let router = example::router(fake.app()).unwrap();
    fake.add_webhook_router("/webhooks", router).unwrap();
    let (visitor, contact) = (AnonymousVisitorId("v-1".into()), ContactId("c-1".into()));
    for (n, id) in fake.instance_ids().iter().enumerate() {
        let site = fake.instance(id).unwrap();
        site.visitor_writes("v-1", &format!("hi {n}"));
        texts(&fake, id, &visitor, 2).await;
        site.visitor_becomes_contact("v-1", "c-1").unwrap(); // a new conversation
        fake.settle().await; // the merge is known before the contact writes
        site.contact_writes("c-1", "again");
        texts(&fake, id, &contact, 4).await;
    }
    for event in fake.events() {
        fake.redeliver(event.id().unwrap(), None).unwrap(); // Wix delivers more than once
    }
    fake.settle().await;
    for (n, id) in fake.instance_ids().iter().enumerate() {
        let first = [
            format!("hi {n}"),
            format!("Thanks, we got: hi {n} (message 1)"),
        ];
        let second = ["again", "Thanks, we got: again (message 2)"].map(String::from);
        let expected = [first, second].concat(); // the count followed the merge
        assert_eq!(texts(&fake, id, &contact, 4).await, expected, "site {n}");
    }
    let mut tokens = fake.requests();
    tokens.retain(|r| r.uri.starts_with("/oauth2/token"));
    assert_eq!(tokens.len(), 3, "one token request per instance");
}
