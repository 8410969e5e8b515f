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
pub mod config;
pub mod dedupe;
pub mod events;
pub mod keys;
pub mod metrics;
pub mod payload;
pub mod request;
pub mod scheme;
pub mod sign;
pub mod verify;

// Natively the glue has no entry point (its callers are Envoy and the tests).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod filter;
