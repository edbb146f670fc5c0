//! The Prometheus recorder (feature `prometheus`): `metrics-exporter-prometheus`'s recorder and
//! text format, served at `/metrics` by the crate's own axum server (feature `axum`).

use std::fmt;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram buckets for durations, in seconds: 5 ms to 5 minutes.
const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// Histogram buckets for sizes, in bytes: 256 B to 16 MiB.
const BYTES_BUCKETS: &[f64] = &[
    256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0,
];

/// The crate's metrics (and any other the application records through `metrics`) in
/// Prometheus's text format.
///
/// ```
/// let prometheus = wix_inbox::metrics::Prometheus::recorder().1;
/// assert!(prometheus.render().is_empty(), "nothing recorded yet");
/// ```
#[derive(Clone)]
pub struct Prometheus {
    handle: PrometheusHandle,
}

impl fmt::Debug for Prometheus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prometheus").finish_non_exhaustive()
    }
}

/// A Prometheus recorder that could not be installed: another global recorder was installed
/// first.
#[derive(Debug)]
pub struct MetricsError(String);

impl fmt::Display for MetricsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot install the Prometheus recorder: {}", self.0)
    }
}

impl std::error::Error for MetricsError {}

fn builder() -> PrometheusBuilder {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)
        .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_bytes".to_owned()), BYTES_BUCKETS))
        .expect("the buckets are not empty")
}

impl Prometheus {
    /// Installs a Prometheus recorder as the process's global `metrics` recorder, with the
    /// descriptions of the crate's metrics. Once per process: a second call (or any other
    /// global recorder installed before) is an error.
    pub fn install() -> Result<Prometheus, MetricsError> {
        let handle = builder()
            .install_recorder()
            .map_err(|e| MetricsError(e.to_string()))?;
        super::describe();
        Ok(Prometheus { handle })
    }

    /// A recorder that is not installed, and what renders it: for
    /// [`metrics::with_local_recorder`](::metrics::with_local_recorder), or to be installed
    /// behind a recorder of the application's.
    pub fn recorder() -> (metrics_exporter_prometheus::PrometheusRecorder, Prometheus) {
        let recorder = builder().build_recorder();
        let handle = recorder.handle();
        (recorder, Prometheus { handle })
    }

    /// Every metric recorded so far, in Prometheus's text format (version 0.0.4).
    pub fn render(&self) -> String {
        self.handle.run_upkeep();
        self.handle.render()
    }

    /// A router answering `GET /metrics` with [`render`](Self::render) (feature `axum`).
    #[cfg(feature = "axum")]
    pub fn router(&self) -> axum::Router {
        let prometheus = self.clone();
        axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let text = prometheus.render();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        text,
                    )
                }
            }),
        )
    }
}
