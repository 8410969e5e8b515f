//! webhook-guard-cache as a library: the service's parts, for its binary (main.rs, whose doc
//! describes the HTTP API), its tests and the fuzz targets (`api::parse_request`).
//!
//! Backends: memory (the default; one instance, bounded, TTL-evicting) and Redis or Redis
//! Cluster (several instances, and several Envoys, sharing one dedupe window).

pub mod api;
pub mod log;
pub mod memory;
pub mod metrics;
pub mod redis_store;
pub mod server;
pub mod store;
