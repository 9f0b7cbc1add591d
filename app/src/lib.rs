//! Stormscope's app: answers queries about a tenant's topology from the reports of a recent
//! window. So far: finding and fetching that window's reports through the cache, falling back
//! to the object store, and saying what is missing ([`window`]). Rendering Scope's views and
//! the HTTP API build on it.

pub mod decoded_cache;
pub mod window;

pub use window::{Degraded, Window, WindowReader};
