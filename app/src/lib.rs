//! Stormscope's app: answers queries about a tenant's topology from the reports of a recent
//! window. So far: finding and fetching that window's reports through the cache, falling back
//! to the object store, and saying what is missing ([`window`]); the raw merged report and the
//! probe list over HTTP ([`http`]). Scope's rendered views build on the same window.

pub mod config;
pub mod decoded_cache;
pub mod http;
pub mod kept_heads;
pub mod live;
pub mod quanta;
pub mod render;
pub mod rendered;
pub mod server;
pub mod window;

pub use config::AppConfig;
pub use server::App;
pub use window::{Degraded, Window, WindowReader};
