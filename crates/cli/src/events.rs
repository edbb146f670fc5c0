//! `events stats|dead-letters|redrive|replay`: the event queue in Redis, as JSON Lines; and
//! `events work`, a worker process forwarding the queue's events to the app.

use std::time::Duration;

use clap::{Args, Subcommand};
use wix_inbox::queue::QueueStore;
use wix_inbox::redis::RedisQueue;

use crate::forward::{self, Forwarder, WorkerArgs};
use crate::redis_target::RedisTarget;
use crate::serving::{self, MetricsArgs, MetricsServer};
use crate::{Failure, Outcome};

/// The most entries one `replay` or `redrive --all` copies: 1,000,000.
const MAX_COPIED: usize = 1_000_000;

#[derive(Subcommand, Debug)]
pub enum Events {
    /// Forward the queue's events to the app until SIGTERM or Ctrl-C: a worker process for
    /// relays run with `webhook relay --queue --no-worker`. Each event is POSTed to --to,
    /// signed the Standard Webhooks way, with retries, backoff and dead letters; the events of
    /// one conversation one at a time, in order. Run as many as the app needs: an event of one
    /// that dies is taken over by another after --visibility.
    Work(Box<Work>),
    /// The queue's length, pending entries, oldest pending age, dead letters, per consumer.
    Stats(Queue),
    /// The dead letters, oldest first, with their last error (one JSON line each).
    DeadLetters {
        #[command(flatten)]
        queue: Queue,
        /// The most listed.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Appends dead letters to the queue again and removes them from the dead letters.
    Redrive {
        #[command(flatten)]
        queue: Queue,
        /// Dead-letter IDs (as `dead-letters` prints them).
        #[arg(value_name = "ID", required_unless_present = "all")]
        ids: Vec<String>,
        /// Every dead letter.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
    /// Appends again the retained events appended from --since to --until (handled or not).
    Replay {
        #[command(flatten)]
        queue: Queue,
        /// RFC 3339 time, e.g. 2026-12-07T10:00:00Z.
        #[arg(long, value_name = "TIME")]
        since: String,
        /// RFC 3339 time; now when left out.
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct Queue {
    /// The Redis of the queue.
    #[command(flatten)]
    pub redis: RedisTarget,
    /// The queue's name.
    #[arg(long, value_name = "NAME", default_value = wix_inbox::redis::DEFAULT_QUEUE_NAME)]
    pub queue: String,
}

#[derive(Args, Debug)]
pub struct Work {
    #[command(flatten)]
    pub queue: Queue,
    /// The app's URL: each event is POSTed there as JSON (what `webhook verify` prints).
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Seconds the app has to answer a POST; then the event is retried later.
    #[arg(long, value_name = "SECONDS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub app_timeout: u64,
    #[command(flatten)]
    pub worker: WorkerArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

async fn connect(queue: &Queue) -> Result<RedisQueue, Failure> {
    Ok(RedisQueue::connect_with(&queue.redis.required()?)
        .await
        .map_err(|e| Failure::Operation(format!("cannot use Redis: {e}")))?
        .name(&queue.queue))
}

fn failed(e: wix_inbox::queue::QueueError) -> Failure {
    Failure::Operation(e.to_string())
}

fn line(value: &impl serde::Serialize) -> Outcome {
    let text = serde_json::to_string(value)
        .map_err(|e| Failure::Operation(format!("cannot print the result as JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

fn millis(time: &str) -> Result<u64, Failure> {
    chrono::DateTime::parse_from_rfc3339(time)
        .ok()
        .and_then(|t| u64::try_from(t.timestamp_millis()).ok())
        .ok_or_else(|| Failure::Usage(format!("not an RFC 3339 time: {time:?}")))
}

pub async fn events(command: Events) -> Outcome {
    match command {
        Events::Work(work) => run_worker(*work).await,
        Events::Stats(queue) => line(&connect(&queue).await?.stats().await.map_err(failed)?),
        Events::DeadLetters { queue, limit } => {
            let letters = connect(&queue)
                .await?
                .dead_letters(limit)
                .await
                .map_err(failed)?;
            letters.iter().try_for_each(line)
        }
        Events::Redrive { queue, ids, all } => {
            let max = if all { MAX_COPIED } else { ids.len() };
            let moved = connect(&queue)
                .await?
                .redrive(&ids, max)
                .await
                .map_err(failed)?;
            line(&serde_json::json!({ "redriven": moved }))
        }
        Events::Replay {
            queue,
            since,
            until,
        } => {
            let since = millis(&since)?;
            let until = match until {
                Some(until) => millis(&until)?,
                None => u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0),
            };
            if until < since {
                return Err(Failure::Usage("--until is before --since".to_owned()));
            }
            let (copied, _) = connect(&queue)
                .await?
                .replay(since, until, MAX_COPIED)
                .await
                .map_err(failed)?;
            line(&serde_json::json!({ "replayed": copied }))
        }
    }
}

/// `events work`: checks everything (the URL, the secrets, the metrics address, Redis) before
/// it says it runs; then forwards until SIGTERM or Ctrl-C, lets the POSTs in flight finish,
/// acknowledges them and exits.
async fn run_worker(args: Work) -> Outcome {
    let stop = serving::stop_signal()?;
    serving::log_warnings();
    let forwarder = Forwarder {
        to: forward::app_url(&args.to)?,
        signer: args.worker.signer()?,
        http: forward::app_client(Duration::from_secs(args.app_timeout))?,
    };
    let metrics = args.metrics.bind().await?;
    let queue = connect(&args.queue).await?;
    // Redis answers now, not only at the first read.
    queue.stats().await.map_err(|e| {
        Failure::Operation(format!("cannot use the queue {}: {e}", args.queue.queue))
    })?;
    let metrics = metrics
        .map(|listener| serving::serve_metrics(listener, &Default::default()))
        .transpose()?;
    let worker = forward::worker(queue, &args.worker);
    serving::announce(&format!(
        "worker {} forwarding the queue {}{}; stop it with SIGTERM or Ctrl-C",
        worker.consumer_name(),
        args.queue.queue,
        MetricsServer::line(metrics.as_ref()),
    ));
    let worked = forward::work(worker, forwarder, stop).await;
    drop(metrics);
    worked.map_err(|e| Failure::Operation(format!("the worker stopped with an error: {e}")))?;
    eprintln!("worker stopped; the events in flight were forwarded and settled");
    Ok(())
}
