//! The Scope report model shared by every Stormscope service: the types of a probe report, their
//! wire codecs (gzip JSON and gzip msgpack as real probes send them), the merge rules the original
//! app applies, and a seeded generator of realistic reports for tests and benchmarks.

#[cfg(feature = "storage")]
pub mod allocator;
pub mod codec;
#[cfg(feature = "storage")]
pub mod ingest_health;
pub mod inspect;
#[cfg(feature = "storage")]
pub mod keys;
#[cfg(feature = "storage")]
pub mod log_limit;
pub mod merge;
pub mod model;
#[cfg(feature = "storage")]
pub mod report_cache;
pub mod report_kind;
#[cfg(feature = "storage")]
pub mod retry;
#[cfg(feature = "http")]
pub mod routes;
pub mod segment;
#[cfg(feature = "storage")]
pub mod storage;
pub mod synth;
#[cfg(feature = "storage")]
pub mod telemetry;
pub mod tenancy;
pub mod time;
pub mod upgrade;

pub use codec::{DecodeError, Format, Limit, Limits};
pub use model::{Node, Report, Topology, TopologyKind};
pub use time::Timestamp;
