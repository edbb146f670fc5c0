//! Generated merge histories in any order and redelivery, an app re-keying on moves,
//! concurrency, Wix's example and the fake's merges, merges too large to plan.

use super::*;

/// A history Wix could produce: each step merges some conversations that are still current
/// into another current or a new one. Returns the events in order and, for every ID, where it
/// leads at the end.
fn history(rng: &mut Rng, steps: usize) -> (Vec<ConversationsMerged>, BTreeMap<String, String>) {
    let mut live: Vec<String> = (0..8).map(|i| format!("c{i}")).collect();
    let mut next = live.len();
    let mut into: BTreeMap<String, String> = BTreeMap::new();
    let mut events = Vec::new();
    for _ in 0..steps {
        if live.len() < 2 {
            live.push(format!("c{next}"));
            next += 1;
        }
        let target = if rng.below(2) == 0 {
            next += 1;
            format!("c{}", next - 1)
        } else {
            live.remove(rng.below(live.len()))
        };
        let count = 1 + rng.below(live.len().min(3));
        let mut sources = Vec::new();
        for _ in 0..count {
            let source = live.remove(rng.below(live.len()));
            into.insert(source.clone(), target.clone());
            sources.push(source);
        }
        live.push(target.clone());
        events.push(ConversationsMerged {
            old_conversation_ids: sources,
            target_conversation_id: Some(target),
            ..Default::default()
        });
    }
    let end = |id: &String| {
        let mut id = id;
        while let Some(next) = into.get(id) {
            id = next;
        }
        id.clone()
    };
    let ends = into.keys().map(|id| (id.clone(), end(id))).collect();
    (events, ends)
}

#[tokio::test]
async fn any_order_and_any_redelivery_of_a_history_gives_its_final_state() {
    for seed in 1..=200u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let steps = 1 + rng.below(12);
        let (events, ends) = history(&mut rng, steps);
        let mut deliveries: Vec<&ConversationsMerged> = events.iter().collect();
        for _ in 0..rng.below(events.len() + 1) {
            deliveries.push(&events[rng.below(events.len())]);
        }
        rng.shuffle(&mut deliveries);

        let directory = ConversationDirectory::new();
        let mut froms = Vec::new();
        for event in deliveries {
            let moves = directory
                .apply(event)
                .await
                .unwrap_or_else(|e| panic!("seed {seed}: {event:?}: {e}"));
            froms.extend(moves.into_iter().map(|m| m.from));
        }
        for (id, end) in &ends {
            assert_eq!(&current(&directory, id).await, end, "seed {seed}: {id}");
        }
        froms.sort();
        let merged_away: Vec<&String> = ends.keys().collect();
        assert_eq!(
            froms.iter().collect::<Vec<_>>(),
            merged_away,
            "seed {seed}: each merged-away ID moves exactly once"
        );
        assert_eq!(directory.store().len(), ends.len(), "seed {seed}");
    }
}

#[tokio::test]
async fn an_app_rekeying_on_moves_keeps_every_count_under_the_current_id() {
    // A per-conversation message counter, as an app keeps it, fed out of order with redeliveries.
    let events = [
        merge(&["v"], "c"),
        merge(&["c"], "m"),
        merge(&["v2"], "m"),
        merge(&["m", "other"], "merged"),
    ];
    let directory = ConversationDirectory::new();
    let mut counts: HashMap<String, u64> = [
        ("v", 1),
        ("c", 10),
        ("m", 100),
        ("v2", 1000),
        ("other", 10000),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for i in [3, 1, 3, 0, 2, 1, 0] {
        for m in directory.apply(&events[i]).await.unwrap() {
            if let Some(n) = counts.remove(&m.from) {
                *counts.entry(m.to).or_default() += n;
            }
        }
    }
    assert_eq!(counts, HashMap::from([("merged".to_string(), 11111)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_merges_end_consistent_and_move_each_id_once() {
    // 300 participants, each visitor → contact → member, plus their events delivered twice,
    // all applied at once from many tasks on four threads.
    let store = InMemoryMergeStore::new();
    let directory = ConversationDirectory::with_store(store.clone());
    let deliveries = participant_deliveries(42);

    let tasks: Vec<_> = deliveries
        .into_iter()
        .map(|event| {
            let directory = directory.clone();
            tokio::spawn(async move { directory.apply(&event).await })
        })
        .collect();
    each_reported_once(tasks, 600).await;
    for p in 0..300 {
        for id in [format!("v{p}"), format!("c{p}"), format!("m{p}")] {
            assert_eq!(current(&directory, &id).await, format!("m{p}"));
        }
    }
    assert_eq!(store.len(), 600, "clones share one store");
}

/// Wix's example Conversations Merged event, signed and verified, goes into the directory;
/// other events move nothing.
#[tokio::test]
async fn wix_example_events_feed_the_directory() {
    let merged = delivered(
        "conversation_conversations_merged",
        fixture("ConversationsMerged"),
    );
    let sent = delivered(
        "message_message_sent_to_business",
        fixture("MessageSentToBusiness"),
    );

    let directory = ConversationDirectory::new();
    assert_eq!(directory.apply_event(&sent).await.unwrap(), []);
    assert_eq!(
        directory.apply_event(&merged).await.unwrap(),
        moved(&[(
            "ef4437da-9ccd-39db-b96e-19b9d3b5d6c2",
            "09e56fa9-4668-3250-a245-11cf1e398132"
        )])
    );
    assert_eq!(
        current(&directory, "ef4437da-9ccd-39db-b96e-19b9d3b5d6c2").await,
        "09e56fa9-4668-3250-a245-11cf1e398132"
    );
    assert_eq!(directory.apply_event(&merged).await.unwrap(), []);
}

/// The fake's merges, delivered to the directory newest first, lead where the fake says the
/// participant's conversation is.
#[tokio::test]
async fn the_fakes_merges_lead_to_the_participants_current_conversation() {
    let fake = FakeInbox::start().await.unwrap();
    let first = fake.visitor_writes("v-1", "Hi");
    fake.visitor_becomes_contact("v-1", "c-1").unwrap();
    fake.contact_becomes_member("c-1", "m-1").unwrap();
    let verifier = WebhookVerifier::from_public_key(fake.public_key_pem()).unwrap();

    let mut merges = Vec::new();
    for sent in fake.events().iter().rev() {
        let event = verifier.verify(sent.jwt.as_bytes()).unwrap();
        if matches!(event.event, InboxEvent::ConversationsMerged(_)) {
            merges.push(event);
        }
    }
    assert_eq!(merges.len(), 2);
    let directory = ConversationDirectory::new();
    let mut froms = Vec::new();
    for event in merges.iter().chain(&merges) {
        froms.extend(directory.apply_event(event).await.unwrap());
    }
    let now = fake
        .current_conversation_id(&ParticipantId::AnonymousVisitorId("v-1".into()))
        .unwrap();
    let first_id = first.conversation_id.unwrap();
    assert_eq!(current(&directory, &first_id).await, now);
    assert_eq!(froms.len(), 2);
    assert!(froms.iter().all(|m| m.to == now), "{froms:?}");
    assert!(froms.iter().any(|m| m.from == first_id), "{froms:?}");
    fake.shutdown().await;
}

/// An event listing 40,000 old IDs (the probe's, which held the write lock for 22 s on a chain
/// of 10,000 links) is refused at once as too large; so is one whose chains take more than
/// `MAX_STEPS` steps to follow; neither records anything, and both are refusals (answer 200).
#[tokio::test]
async fn merges_too_large_to_plan_are_refused_and_record_nothing() {
    let directory = ConversationDirectory::new();
    let many: Vec<String> = (0..=MAX_SOURCES).map(|i| format!("s{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let err = directory.apply(&merge(&many, "T")).await.unwrap_err();
    assert!(matches!(err, DirectoryError::TooLarge(_)), "{err:?}");
    assert!(err.is_refused());
    assert_eq!(directory.current("s0").await.unwrap(), "s0");

    // A chain of MAX_CHAIN links, and an event whose sources all lie at its start: each source
    // is walked along the whole chain.
    for i in 0..MAX_CHAIN {
        directory
            .apply(&merge(&[&format!("c{i}")], &format!("c{}", i + 1)))
            .await
            .unwrap();
    }
    let sources: Vec<String> = (0..MAX_SOURCES).map(|i| format!("c{}", i % 3)).collect();
    let sources: Vec<&str> = sources.iter().map(String::as_str).collect();
    let err = directory
        .apply(&merge(&sources, "elsewhere"))
        .await
        .unwrap_err();
    assert!(matches!(err, DirectoryError::TooLarge(_)), "{err:?}");
    assert_eq!(
        directory.current("c0").await.unwrap(),
        format!("c{MAX_CHAIN}")
    );
}
