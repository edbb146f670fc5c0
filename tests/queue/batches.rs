//! Starting and acknowledging in batches (`QueueStore::start_batch`, `ack_batch`): an answer
//! per entry, as if each were asked alone, whether some entries of a batch pass and others not.

use std::time::Duration;

use wix_inbox::queue::{InMemoryQueue, QueueStore, Start, StoredEntry};

use crate::redis_server::RedisServer;
use crate::{append, event, queue, redis};

const VISIBILITY: Duration = Duration::from_secs(30);

/// Two events in lane `c1`, one in `c2`, read by consumer `a`.
async fn three_read<S: QueueStore>(store: &S) -> Vec<StoredEntry> {
    append(store, &event("e1", "c1")).await;
    append(store, &event("e2", "c1")).await;
    append(store, &event("e3", "c2")).await;
    let read = store.read_new("a", 10).await.expect("read");
    assert_eq!(read.len(), 3);
    read
}

/// One batch answers as one after another would: the second entry of a lane waits for the
/// first; the other lane goes; an entry held by another consumer is gone.
async fn a_start_batch_answers_per_entry<S: QueueStore>(store: S) {
    let read = three_read(&store).await;
    let entries: Vec<&StoredEntry> = read.iter().collect();
    let answers = store.start_batch("a", &entries, VISIBILITY, 5).await;
    let answers: Vec<Start> = answers.into_iter().map(|a| a.expect("answered")).collect();
    assert_eq!(answers, [Start::Go(1), Start::Wait, Start::Go(1)]);
    // Consumer `b` holds none of them.
    let answers = store.start_batch("b", &entries, VISIBILITY, 5).await;
    assert!(answers.into_iter().all(|a| matches!(a, Ok(Start::Gone))));
    // Acknowledged: the lane's next one goes.
    let acked = store.ack_batch("a", &[&read[0], &read[2]]).await;
    assert!(acked.into_iter().all(|a| a.expect("answered")));
    let answers = store.start_batch("a", &[&read[1]], VISIBILITY, 5).await;
    assert!(matches!(answers[..], [Ok(Start::Go(1))]), "{answers:?}");
    assert_eq!(store.stats().await.expect("stats").pending, 1);
}

#[tokio::test]
async fn a_start_batch_answers_per_entry_in_memory() {
    a_start_batch_answers_per_entry(InMemoryQueue::new()).await;
}

#[tokio::test]
async fn a_start_batch_answers_per_entry_in_redis() {
    let server = RedisServer::start();
    a_start_batch_answers_per_entry(queue(&server).await).await;
}

/// An acknowledgement batch that passes for some entries only: the one taken over by another
/// worker meanwhile is refused (and stays pending for it), the others are acknowledged; a
/// batch Redis never answered is an error for each of its entries, which stay pending.
#[tokio::test]
async fn an_ack_batch_that_fails_half_way_answers_per_entry() {
    let mut server = RedisServer::start_persistent();
    let store = queue(&server).await;
    for (id, lane) in [("e0", "c0"), ("e1", "c1"), ("e2", "c1"), ("e3", "c2")] {
        append(&store, &event(id, lane)).await;
    }
    let read = store.read_new("a", 10).await.expect("read");
    let [e0, e1, e2, e3] = [&read[0], &read[1], &read[2], &read[3]];
    let started = store.start_batch("a", &[e0, e1, e3], VISIBILITY, 5).await;
    assert!(
        started.iter().all(|s| matches!(s, Ok(Start::Go(1)))),
        "{started:?}"
    );
    // Worker `b` takes e1 over (its lock, once free, will be its to take).
    let mut log = redis(&server).await;
    let claimed: Vec<String> = ::redis::cmd("XCLAIM")
        .arg("{wix-inbox:queue}:stream")
        .arg("workers")
        .arg("b")
        .arg(0)
        .arg(&e1.id)
        .arg("JUSTID")
        .query_async(&mut log)
        .await
        .unwrap();
    assert_eq!(claimed, vec![e1.id.as_str()]);
    let acked = store.ack_batch("a", &[e0, e1, e3]).await;
    let acked: Vec<bool> = acked.into_iter().map(|a| a.expect("answered")).collect();
    assert_eq!(acked, [true, false, true]);
    let stats = store.stats().await.expect("stats");
    assert_eq!(
        stats.pending, 2,
        "e1 (now b's) and e2 (a's, never started): {stats:?}"
    );

    // Redis gone: every entry of the batch has its error, none is acknowledged.
    let started = store.start_batch("a", &[e2], VISIBILITY, 5).await;
    assert!(matches!(started[..], [Ok(Start::Wait)]), "{started:?}");
    server.stop();
    let acked = store.ack_batch("a", &[e1, e2]).await;
    assert_eq!(acked.len(), 2);
    assert!(acked.iter().all(Result::is_err), "{acked:?}");
    server.restart();
    let stats = store.stats().await.expect("stats after the restart");
    assert_eq!(stats.pending, 2, "nothing acknowledged: {stats:?}");
}

/// An entry started the maximum number of times (its workers died while handling it) is
/// dead-lettered by the next start of a batch, with its JSON and its count of deliveries.
async fn a_start_batch_dead_letters_an_entry_delivered_too_often<S: QueueStore>(store: S) {
    let read = three_read(&store).await;
    for delivery in 1..=2 {
        let answers = store.start_batch("a", &[&read[2]], VISIBILITY, 2).await;
        assert!(
            matches!(answers[..], [Ok(Start::Go(d))] if d == delivery),
            "{answers:?}"
        );
    }
    let answers = store
        .start_batch("a", &[&read[0], &read[2]], VISIBILITY, 2)
        .await;
    assert!(
        matches!(answers[..], [Ok(Start::Go(1)), Ok(Start::Dead)]),
        "{answers:?}"
    );
    let dead = store.dead_letters(10).await.expect("dead letters");
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!((dead[0].event_id.as_str(), dead[0].deliveries), ("e3", 2));
    assert_eq!(dead[0].json, read[2].json);
}

#[tokio::test]
async fn a_start_batch_dead_letters_an_entry_delivered_too_often_in_memory() {
    a_start_batch_dead_letters_an_entry_delivered_too_often(InMemoryQueue::new()).await;
}

#[tokio::test]
async fn a_start_batch_dead_letters_an_entry_delivered_too_often_in_redis() {
    let server = RedisServer::start();
    a_start_batch_dead_letters_an_entry_delivered_too_often(queue(&server).await).await;
}
