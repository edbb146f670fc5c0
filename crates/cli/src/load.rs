//! `fake load`: load-test an app. Starts a fake with many sites, runs the app's command with
//! the fake's `WIX_*` variables, drives the traffic (`wix_inbox_fake::load`), stops the app and
//! reports; exit 1 when the app lost, duplicated or misdirected anything.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use tokio::process::{Child, Command};
use wix_inbox_fake::load::{LoadConfig, LoadTest, Progress, Report};
use wix_inbox_fake::ApiLimit;

use crate::{Failure, Outcome};

#[derive(Args, Debug)]
pub struct Load {
    /// App instances (sites) the fake plays.
    #[arg(long, default_value_t = 100)]
    pub sites: usize,
    /// Visitor messages a second, over every site.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Seconds the visitors write.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub duration: f64,
    /// How much faster than Wix's the resend schedule runs (3600: an hour of Wix's schedule,
    /// 1 min, 10 min, 1 h, 2 h... 47 h in all, in a second).
    #[arg(long, default_value_t = 3600.0)]
    pub time_scale: f64,
    /// The seed of the traffic: the same seed gives the same traffic.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Visitors a site has at a time.
    #[arg(long, default_value_t = 5)]
    pub visitors_per_site: u32,
    /// Messages each visitor writes.
    #[arg(long, default_value_t = 4)]
    pub messages_per_visitor: u32,
    /// The share of visitors who become contacts or members (merges), 0 to 1.
    #[arg(long, default_value_t = 0.3)]
    pub convert_share: f64,
    /// The share of events answered 200 that Wix sends again anyway, 0 to 1.
    #[arg(long, default_value_t = 0.02)]
    pub duplicate_share: f64,
    /// The share of first deliveries held back up to 200 ms (later events overtake them).
    #[arg(long, default_value_t = 0.05)]
    pub reorder_share: f64,
    /// The API calls a site may make, as CALLS/SECONDS: Wix's 200 a minute by default (429
    /// with Retry-After above it). Time-scaled tests may scale it too (`200/1`: a minute of
    /// Wix's calls in a second).
    #[arg(long, value_name = "CALLS/SECONDS", default_value = "200/60", value_parser = api_limit)]
    pub api_limit: ApiLimit,
    /// Do not enforce any limit of API calls.
    #[arg(long, conflicts_with = "api_limit")]
    pub no_api_limit: bool,
    /// Seconds to wait for the app's last replies once every delivery ended.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub grace: f64,
    /// Seconds the app has to listen on $WIX_WEBHOOK_ADDR after it starts.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub startup_timeout: f64,
    /// The path of the app's webhook URL on $WIX_WEBHOOK_ADDR.
    #[arg(long, default_value = "/webhooks")]
    pub path: String,
    /// The app's command and its arguments, after `--`. It gets WIX_BASE_URL, WIX_APP_ID,
    /// WIX_APP_SECRET, WIX_INSTANCE_ID, WIX_WEBHOOK_PUBLIC_KEY and WIX_WEBHOOK_ADDR (where to
    /// listen) in its environment.
    #[arg(last = true, required = true, value_name = "APP COMMAND")]
    pub command: Vec<String>,
}

/// `--api-limit`: CALLS/SECONDS, at least one call in more than no time.
fn api_limit(text: &str) -> Result<ApiLimit, String> {
    let usage = || format!("expected CALLS/SECONDS such as 200/60, got {text:?}");
    let (calls, seconds) = text.split_once('/').ok_or_else(usage)?;
    let calls: u32 = calls.trim().parse().map_err(|_| usage())?;
    let per = seconds
        .trim()
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .filter(|per| !per.is_zero())
        .ok_or_else(usage)?;
    match calls {
        0 => Err(format!(
            "at least one call, got {text:?} (--no-api-limit lifts it)"
        )),
        calls => Ok(ApiLimit { calls, per }),
    }
}

/// Seconds as a duration, or a usage error naming the option.
fn seconds(value: f64, option: &str) -> Result<Duration, Failure> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero() || option == "--grace")
        .ok_or_else(|| Failure::Usage(format!("{option} must be a number of seconds over 0")))
}

pub async fn load(args: Load) -> Outcome {
    let config = LoadConfig {
        sites: args.sites,
        rate: args.rate,
        duration: seconds(args.duration, "--duration")?,
        time_scale: args.time_scale,
        seed: args.seed,
        visitors_per_site: args.visitors_per_site,
        messages_per_visitor: args.messages_per_visitor,
        convert_share: args.convert_share,
        duplicate_share: args.duplicate_share,
        reorder_share: args.reorder_share,
        api_limit: (!args.no_api_limit).then_some(args.api_limit),
        grace: seconds(args.grace, "--grace")?,
        ..LoadConfig::default()
    };
    config
        .validate()
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let startup = seconds(args.startup_timeout, "--startup-timeout")?;
    let path = if args.path.starts_with('/') {
        args.path.clone()
    } else {
        format!("/{}", args.path)
    };
    let test = LoadTest::start(config)
        .await
        .map_err(|e| Failure::Operation(e.to_string()))?;
    let addr = free_addr()?;
    let mut app = spawn(&args.command, &test.app_env(&addr.to_string()))?;
    if let Err(failure) = wait_listening(&mut app, addr, startup).await {
        stop(&mut app).await;
        return Err(failure);
    }
    let url = format!("http://{addr}{path}");
    eprintln!(
        "wix-inbox fake load: {} sites, {} messages at {}/s, app at {url}",
        args.sites,
        test.plan().messages,
        args.rate
    );
    let mut line = ProgressLine::new();
    let mut report = test.run(&url, |p| line.show(p)).await;
    line.finish();
    if let Ok(Some(status)) = app.try_wait() {
        report
            .failures
            .push(format!("the app exited during the test ({status})"));
    }
    stop(&mut app).await;
    print!("{}", report.table());
    if let Some(file) = &args.report {
        write_report(file, &report)?;
    }
    if report.passed() {
        Ok(())
    } else {
        Err(Failure::Operation(
            "the app lost, duplicated or misdirected messages (see the report)".to_owned(),
        ))
    }
}

/// A free port on 127.0.0.1 for the app (free now; the app binds it next).
fn free_addr() -> Result<SocketAddr, Failure> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map_err(|e| Failure::Operation(format!("cannot find a free port for the app: {e}")))
}

/// Starts the app with the fake's variables; its output goes to stderr (stdout is the
/// report's).
fn spawn(command: &[String], env: &[(&'static str, String)]) -> Result<Child, Failure> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| Failure::Usage("give the app's command after --".to_owned()))?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    #[cfg(unix)]
    {
        use std::os::fd::AsFd as _;
        if let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() {
            cmd.stdout(std::process::Stdio::from(fd));
        }
    }
    cmd.spawn()
        .map_err(|e| Failure::Operation(format!("cannot start the app ({program}): {e}")))
}

/// Waits until the app accepts connections on `addr`; fails if it exits first or takes longer
/// than `timeout`.
async fn wait_listening(app: &mut Child, addr: SocketAddr, timeout: Duration) -> Outcome {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = app.try_wait() {
            return Err(Failure::Operation(format!(
                "the app exited ({status}) before listening on {addr} ($WIX_WEBHOOK_ADDR)"
            )));
        }
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            return Err(Failure::Operation(format!(
                "the app did not listen on {addr} ($WIX_WEBHOOK_ADDR) within {:.0} s",
                timeout.as_secs_f64()
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stops the app: SIGTERM, then after 5 s a kill.
async fn stop(app: &mut Child) {
    if let Ok(Some(_)) = app.try_wait() {
        return;
    }
    #[cfg(unix)]
    if let Some(pid) = app.id().and_then(|id| i32::try_from(id).ok()) {
        // SAFETY: kill(2) with the pid of our own child, which has not been reaped yet.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        if tokio::time::timeout(Duration::from_secs(5), app.wait())
            .await
            .is_ok()
        {
            return;
        }
    }
    let _ = app.kill().await;
}

fn write_report(file: &std::path::Path, report: &Report) -> Outcome {
    let json = serde_json::to_string_pretty(report)
        .map_err(|e| Failure::Operation(format!("cannot write the report as JSON: {e}")))?;
    std::fs::write(file, json + "\n")
        .map_err(|e| Failure::Operation(format!("cannot write the report {}: {e}", file.display())))
}

/// The progress line on stderr: rewritten in place on a terminal, a line a second otherwise.
struct ProgressLine {
    terminal: bool,
    last: Option<Instant>,
}

impl ProgressLine {
    fn new() -> Self {
        ProgressLine {
            terminal: std::io::stderr().is_terminal(),
            last: None,
        }
    }

    fn show(&mut self, progress: &Progress) {
        let every = if self.terminal {
            Duration::ZERO
        } else {
            Duration::from_secs(1)
        };
        if self.last.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        self.last = Some(Instant::now());
        if self.terminal {
            eprint!("\r{progress}\x1b[K");
        } else {
            eprintln!("{progress}");
        }
    }

    fn finish(&self) {
        if self.terminal {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_limit_is_calls_over_seconds() {
        assert_eq!(api_limit("200/60"), Ok(ApiLimit::wix()));
        let scaled = ApiLimit {
            calls: 200,
            per: Duration::from_millis(500),
        };
        assert_eq!(api_limit(" 200 / 0.5 "), Ok(scaled));
        for wrong in ["200", "0/60", "200/0", "200/-1", "x/60", "200/y", "200/inf"] {
            assert!(api_limit(wrong).is_err(), "{wrong}");
        }
    }
}
