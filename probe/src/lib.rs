//! `stormscope probe`: a local Weave Scope probe. It walks /proc for this host, its processes
//! and their TCP endpoints and connections, builds the report a real Scope probe would send
//! (its /proc walker, without Docker, Kubernetes or conntrack), and posts it to a collector
//! every few seconds with a Scope probe's headers.
//!
//! * [`Sampler`] makes one report per call;
//! * [`Probe`] / [`run`] publish them until told to stop.

mod endpoints;
mod host;
mod netif;
mod processes;
mod publish;
mod sampler;

pub use publish::{
    DEFAULT_COLLECTOR, DEFAULT_INTERVAL, HANDSHAKE_MAX_BACKOFF, Probe, ProbeConfig, ProbeError,
    random_probe_id, run,
};
pub use sampler::{PROBE_VERSION, Sampler};
