//! Stormscope's app: answers queries about a tenant's topology from the reports of a recent
//! window, as Scope's app answers them. A query finds and fetches the window's reports through
//! the cache, falling back to the object store, and says what is missing ([`window`]); merges
//! them, incrementally for live windows ([`live`]) and by cached quanta for history
//! ([`quanta`]); renders Scope's views ([`render`]), sharing renders between requests
//! ([`rendered`]) and taking over what did not change from the previous one ([`kept_heads`]);
//! and answers over HTTP and websockets ([`http`], [`server`]).

pub mod budget;
pub mod config;
pub mod decoded_cache;
pub mod first_answer;
pub mod http;
pub mod ingest;
pub mod kept_heads;
pub mod live;
pub mod quanta;
pub mod rate_limit;
pub mod render;
pub mod rendered;
pub mod server;
pub mod size;
pub mod sockets;
pub mod ticks;
pub mod window;

pub use config::AppConfig;
pub use server::App;
pub use window::{Degraded, Window, WindowReader};
