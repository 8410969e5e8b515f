//! webhook-guard: a proxy-wasm filter that verifies inbound webhooks (source IP, size,
//! HMAC signature, freshness, payload schema) and deduplicates them before any byte reaches
//! the upstream.
//!
//! Everything but `filter` is host-free and unit-tested natively; `filter` is the thin
//! proxy-wasm glue that maps a verdict to an Envoy action, tested natively against a fake
//! host and end to end against a real Envoy.

// A panic kills the VM and fails every later request on that worker: no unwrap, expect or
// panic outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod answer;
pub mod batch;
pub mod cache_client;
pub mod cidr;
pub mod config;
pub mod delivery;
pub mod headers;
pub mod idempotency;
pub mod json;
pub mod lifecycle;
pub mod metrics;
pub mod path;
pub mod presets;
pub mod rfc3339;
pub mod schema;
pub mod secrets;
pub mod sign;
pub mod signature;
pub mod stream;
pub mod timestamp;
pub mod verify;

// Natively the glue has no entry point (its callers are Envoy and the tests).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod filter;
