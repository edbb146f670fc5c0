//! `wix_inbox::state`: replies never sent twice (a Send Message whose answer is lost, then Wix's
//! redelivery), an API-key app's own synced messages recognised by ID, and per-conversation
//! state that follows merges, concurrent updates included.

use std::sync::Arc;
use std::time::Duration;

use wix_inbox::state::{ConversationStates, Replies, ReplyOutcome, StateStore};
use wix_inbox::types::{Message, OverrideSenderOptions, ParticipantId};
use wix_inbox::webhooks::axum::WebhookReceiver;
use wix_inbox::webhooks::{InboxEvent, WebhookEvent, WebhookVerifier};
use wix_inbox_fake::FakeInbox;

use crate::bot::example as bot;
use crate::sync::example as sync;

const WAIT: Duration = Duration::from_secs(10);

fn visitor() -> ParticipantId {
    ParticipantId::AnonymousVisitorId("v-1".into())
}

/// The bot's Send Message reaches the fake (the reply is stored) but its answer is lost; the
/// handler fails, Wix delivers the event again, and the bot finds its reply in the conversation
/// instead of sending a second one.
#[tokio::test]
async fn a_resend_after_a_lost_send_answer_sends_no_second_reply() {
    let fake = FakeInbox::start().await.unwrap();
    fake.add_webhook_router("/webhooks", bot::router(fake.app()).unwrap())
        .unwrap();
    fake.drop_after_next_sends(1);
    fake.visitor_writes("v-1", "hi");
    fake.wait_until("a delivery answered 200", WAIT, |f| {
        f.deliveries().iter().any(|d| d.delivered)
    })
    .await
    .unwrap();
    fake.settle().await;
    assert_eq!(
        fake.participant_texts(&visitor()),
        ["hi", "Thanks, we got: hi (message 1)"]
    );
    let sends = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.uri == "/inbox/v2/messages");
    let sends: Vec<_> = sends.map(|r| r.status).collect();
    assert_eq!(
        sends,
        [None],
        "one Send Message, unanswered; none after the redelivery"
    );
    let delivery = fake.deliveries().into_iter().find(|d| d.delivered).unwrap();
    let statuses: Vec<_> = delivery.attempts.iter().map(|a| a.status).collect();
    assert_eq!(
        statuses,
        [Some(503), Some(200)],
        "failed once, then found the reply"
    );
}

/// The same, without the conversation check: a record that says "sent" is enough, and a key
/// sent once is never sent again, whatever the message.
#[tokio::test]
async fn a_key_whose_reply_is_recorded_is_skipped() {
    let fake = FakeInbox::start().await.unwrap();
    let (client, replies) = (fake.client(), Replies::new());
    let first = replies
        .send_once(
            &client,
            "site",
            "order-7",
            &visitor(),
            None,
            Message::reply("shipped"),
        )
        .await
        .unwrap();
    let ReplyOutcome::Sent(sent) = first else {
        panic!("{first:?}")
    };
    let again = replies
        .send_once(
            &client,
            "site",
            "order-7",
            &visitor(),
            None,
            Message::reply("other"),
        )
        .await
        .unwrap();
    assert_eq!(
        again,
        ReplyOutcome::AlreadySent {
            message_id: sent.message.id.clone()
        }
    );
    assert_eq!(fake.participant_texts(&visitor()), ["shipped"]);
}

/// An API-key app (no `appId` on its messages) syncs a message as the participant, the trap of
/// issue 27: it comes back as Message Sent To Business from the visitor. The bot's handler,
/// sharing the store the sync job remembered it in, does not answer it; without that memory it
/// would have (checked with a second handler that has its own store).
#[tokio::test]
async fn an_api_key_app_does_not_answer_its_own_synced_message() {
    let fake = FakeInbox::start().await.unwrap();
    let own = Replies::new();
    let forgetful = Replies::new();
    let verifier = WebhookVerifier::from_public_key(fake.public_key_pem()).unwrap();
    for (path, replies) in [("/shared", own.clone()), ("/forgetful", forgetful)] {
        let client = fake.client();
        let receiver =
            WebhookReceiver::with_handler(verifier.clone(), move |event: WebhookEvent| {
                let (client, replies) = (client.clone(), replies.clone());
                async move { api_key_bot(&client, &replies, event).await }
            });
        fake.add_webhook_router(path, receiver.into_router(path))
            .unwrap();
    }
    // The sync job's way (sendAs left to the caller) and the trap (sendAs PARTICIPANT).
    fake.visitor_writes("v-1", "hello");
    fake.settle().await;
    let client = fake.client();
    sync::sync(&client, &own, "jo@example.com", "by email: hi")
        .await
        .unwrap();
    fake.settle().await;
    let jo = fake.contacts().into_iter().find_map(|c| c.id).unwrap();
    let texts = fake.participant_texts(&ParticipantId::ContactId(jo));
    assert_eq!(
        texts,
        ["by email: hi"],
        "nobody answered the synced message"
    );
    // The trap: sent as the participant, with no appId, the visitor as sender.
    let synced = Message::synced("by form: hi", None);
    let participant = Some(OverrideSenderOptions::Participant);
    let sent = own
        .send_own(&client, &visitor(), synced, participant)
        .await
        .unwrap();
    assert!(
        sent.message.app_id.is_none(),
        "an API key's message has no appId"
    );
    fake.settle().await;
    let texts = fake.participant_texts(&visitor());
    let answers: Vec<_> = texts.iter().filter(|t| t.starts_with("Re:")).collect();
    // "hello" is answered by both handlers, "by form: hi" by the forgetful one only.
    assert_eq!(
        answers,
        ["Re: hello", "Re: hello", "Re: by form: hi"],
        "{texts:?}"
    );
}

async fn api_key_bot(
    client: &wix_inbox::Client,
    replies: &Replies,
    event: WebhookEvent,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let InboxEvent::MessageSentToBusiness(sent) = &event.event else {
        return Ok(());
    };
    if replies.is_own_message(&event).await? {
        return Ok(());
    }
    let reply = Message::reply(format!("Re: {}", sent.plain_text().unwrap_or_default()));
    replies.reply(client, &event, reply).await?;
    Ok(())
}

/// Counts in A and B, A merged into B, B into C (events in the wrong order, and again): C holds
/// the sum, A and B lead to it, and each state was moved once.
pub(crate) async fn states_follow_merges<S: StateStore>(store: S) {
    let counts = ConversationStates::with_store(store).merge_with(|a: u64, b| a + b);
    counts.update("i-1", "A", |n| *n += 1).await.unwrap();
    counts.update("i-1", "B", |n| *n += 10).await.unwrap();
    counts.update("i-1", "C", |n| *n += 100).await.unwrap();
    counts.update("i-2", "A", |n| *n += 1000).await.unwrap(); // another instance's A
    for _ in 0..2 {
        counts.merge("i-1", &["B".into()], "C").await.unwrap();
        counts.merge("i-1", &["A".into()], "B").await.unwrap();
    }
    for id in ["A", "B", "C"] {
        assert_eq!(counts.get("i-1", id).await.unwrap(), Some(111), "{id}");
    }
    let refused = counts.merge("i-1", &["C".into()], "A").await.unwrap_err();
    assert!(refused.is_refused(), "a loop is refused: {refused}");
    assert_eq!(counts.get("i-1", "C").await.unwrap(), Some(111));
    // Without a merge function the target's state is kept.
    let kept = ConversationStates::<String>::new();
    kept.update("i", "X", |s| s.push('x')).await.unwrap();
    kept.update("i", "Y", |s| s.push('y')).await.unwrap();
    kept.merge("i", &["X".into()], "Y").await.unwrap();
    assert_eq!(kept.get("i", "X").await.unwrap().as_deref(), Some("y"));
}

#[tokio::test]
async fn in_memory_states_follow_merges() {
    states_follow_merges(wix_inbox::state::InMemoryStateStore::new()).await;
}

/// 200 increments from 20 tasks while A is merged into B: none is lost.
pub(crate) async fn concurrent_updates_are_not_lost<S: StateStore + Clone>(store: S) {
    let counts = Arc::new(ConversationStates::with_store(store).merge_with(|a: u64, b| a + b));
    let tasks: Vec<_> = (0..20)
        .map(|t| {
            let counts = counts.clone();
            tokio::spawn(async move {
                for _ in 0..10 {
                    let id = if t % 2 == 0 { "A" } else { "B" };
                    counts.update("i", id, |n| *n += 1).await.unwrap();
                }
            })
        })
        .collect();
    tokio::task::yield_now().await;
    counts.merge("i", &["A".into()], "B").await.unwrap();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(counts.get("i", "B").await.unwrap(), Some(200));
    assert_eq!(counts.get("i", "A").await.unwrap(), Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_concurrent_updates_are_not_lost() {
    concurrent_updates_are_not_lost(wix_inbox::state::InMemoryStateStore::new()).await;
}

#[tokio::test]
async fn oversized_state_is_refused_before_anything_is_written() {
    let states = ConversationStates::<String>::new();
    let big = "x".repeat(wix_inbox::state::MAX_VALUE);
    let refused = states
        .update("i", "A", |s| s.push_str(&big))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, wix_inbox::state::StateError::TooLarge(_)),
        "{refused}"
    );
    assert_eq!(states.get("i", "A").await.unwrap(), None);
    let refused = states.update("i", "", |s| s.push('x')).await.unwrap_err();
    assert!(refused.to_string().contains("conversation ID"), "{refused}");
}
