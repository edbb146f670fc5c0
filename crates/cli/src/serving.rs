//! What the long-running commands (`webhook relay`, `events work`) share: the stop signal,
//! the warnings on stderr and `--metrics-listen`.

use std::net::SocketAddr;

use clap::Args;
use wix_inbox::metrics::Prometheus;
use wix_inbox::webhooks::axum::ServeOptions;

use crate::Failure;

/// `--metrics-listen` and `--metrics-public`.
#[derive(Args, Debug)]
pub struct MetricsArgs {
    /// Serve the process's metrics at /metrics, in Prometheus's text format, on this address:
    /// a port (on 127.0.0.1), or HOST:PORT. Off when left out.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// Allow --metrics-listen on an address other than loopback (the metrics say how busy the
    /// app is and why deliveries fail: keep them private).
    #[arg(long, requires = "metrics_listen")]
    pub metrics_public: bool,
}

impl MetricsArgs {
    /// Binds `--metrics-listen`, if given: a port alone is on 127.0.0.1; an address that is
    /// not loopback is refused unless `--metrics-public`.
    pub async fn bind(&self) -> Result<Option<tokio::net::TcpListener>, Failure> {
        let Some(addr) = &self.metrics_listen else {
            return Ok(None);
        };
        let parsed = match addr.parse::<u16>() {
            Ok(port) => Ok(SocketAddr::from(([127, 0, 0, 1], port))),
            Err(_) => addr.parse::<SocketAddr>(),
        };
        let addr = parsed.map_err(|_| {
            Failure::Usage(format!(
                "--metrics-listen must be a port or an IP address and port, not {addr:?}"
            ))
        })?;
        if !addr.ip().is_loopback() && !self.metrics_public {
            return Err(Failure::Usage(format!(
                "--metrics-listen {addr} is not a loopback address: the metrics would be \
                 public; add --metrics-public if that is meant"
            )));
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Failure::Operation(format!("cannot listen on {addr} for metrics: {e}")))?;
        Ok(Some(listener))
    }
}

/// The metrics being served: their address and task (aborted when dropped).
pub struct MetricsServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsServer {
    /// `; metrics on http://ADDR/metrics`, for the line that says the process runs.
    pub fn line(server: Option<&MetricsServer>) -> String {
        match server {
            Some(server) => format!("; metrics on http://{}/metrics", server.addr),
            None => String::new(),
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Installs the Prometheus recorder and serves `/metrics` on `listener` with `options`.
pub fn serve_metrics(
    listener: tokio::net::TcpListener,
    options: &ServeOptions,
) -> Result<MetricsServer, Failure> {
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::Operation(format!("cannot read the metrics address: {e}")))?;
    let prometheus = Prometheus::install().map_err(|e| Failure::Operation(e.to_string()))?;
    let options = options.clone().max_connections(16);
    let task = tokio::spawn(async move {
        options.serve(listener, prometheus.router()).await;
    });
    Ok(MetricsServer { addr, task })
}

/// Warnings (a store or an app that failed) on stderr, one line each.
pub fn log_warnings() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::WARN)
        .with_target(false)
        .try_init();
}

/// Completes on SIGTERM or Ctrl-C. The handlers are installed now.
pub fn stop_signal() -> Result<impl std::future::Future<Output = ()>, Failure> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Failure::Operation(format!("cannot handle SIGTERM: {e}")))?;
    let ctrl_c = tokio::signal::ctrl_c();
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {}
            _ = ctrl_c => {}
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
    })
}

/// Prints `line` on stdout and flushes it: the first line, which tests and scripts wait for.
pub fn announce(line: &str) {
    use std::io::Write;
    println!("{line}");
    let _ = std::io::stdout().flush();
}
