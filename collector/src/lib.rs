//! Stormscope's collector: takes probe reports over HTTP, makes each durable in a local spool
//! before answering, writes it to the cache for the app to see at once, and moves it to the
//! object store in the background, one segment per tenant per flush interval.

pub mod config;
pub mod error;
pub mod http;
pub mod ingest_health;
pub mod server;
pub mod spool;
pub mod state;
pub use stormscope_shared::telemetry;
pub mod write_behind;

pub use config::CollectorConfig;
pub use server::Collector;
