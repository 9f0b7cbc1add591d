//! Real server processes and network faults for Stormscope's integration tests.
//!
//! Tests talk to the same memcached and s3s-fs binaries that production-like deployments use, so
//! the harness owns those processes: it starts them on free loopback ports and lets a test hang
//! them (SIGSTOP), bring them back (SIGCONT), take them down (SIGKILL) and restart them on the same
//! port. [`FaultProxy`] covers the faults a process signal cannot: latency, resets and blackholes.
//!
//! Tests that only need a working server should use [`shared_memcached`] / [`shared_s3`]; tests
//! that disturb a server must start their own with [`Memcached::start`] / [`S3Server::start`].

mod fault_proxy;
mod memcached;
mod ports;
mod process;
mod s3;
mod stormscope;

pub use fault_proxy::{FaultMode, FaultProxy};
pub use memcached::{Memcached, MemcachedClient, shared_memcached};
pub use ports::free_port;
pub use process::ServerProcess;
pub use s3::{S3Server, shared_s3};
pub use stormscope::{CollectorProcess, app_process, s3_env, stormscope_bin};
