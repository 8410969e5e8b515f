//! webhook-guard-cache as a library: the service's parts, for its binary, its tests and the
//! fuzz targets (`api::parse_request`). The HTTP API is the `webhook-guard-protocol` crate's.
//!
//! Backends: memory (the default; one instance, bounded, TTL-evicting) and Redis or Redis
//! Cluster (several instances, and several Envoys, sharing one dedupe window).

pub mod api;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod redis_store;
pub mod server;
pub mod store;
