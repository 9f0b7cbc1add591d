//! The Prometheus recorder, installed once per process (tests run several services in one).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let buckets = [
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let builder = PrometheusBuilder::new()
            .set_buckets(&buckets)
            .expect("non-empty buckets");
        match builder.install_recorder() {
            Ok(handle) => handle,
            // Another recorder is installed (an embedding program's): render from a detached one.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}

/// The text exposition of every metric recorded so far.
pub fn render() -> String {
    let handle = prometheus();
    handle.run_upkeep();
    handle.render()
}
