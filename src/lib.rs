//! webhook-guard: a proxy-wasm filter that verifies inbound webhooks (source IP, method,
//! size, signature, freshness, payload schema) and deduplicates them before any byte
//! reaches the upstream.
//!
//! # The map
//!
//! Six layers, each a folder or a file; every import points to the same layer or one below
//! (never up), and no two modules import each other. `tests.rs` beside this file checks
//! both rules against the table below (`make lint` runs it).
//!
//! | layer | modules | what they hold |
//! |---|---|---|
//! | 0 ground | `answer`, `metrics`, `events`, `request`, `payload` | the answers, metric names and log events; what a request carries before its body (headers and the filter's own, path spellings, source CIDRs); strict JSON, RFC 3339, payload schemas |
//! | 1 vocabulary | `keys`, `scheme::signature`, `scheme::template`, `scheme::timestamp`, `scheme::delivery`, `dedupe::key` | secrets and public keys and matching them; signature formats, signed-content templates, timestamps, what a delivery is (methods, challenges, the path below a prefix); the idempotency key |
//! | 2 cache client | `dedupe::client`, `dedupe::batch`, `dedupe::fate` | the cache protocol's client side, batching, what the receiver's answer means for a claim |
//! | 3 schemes and configuration | `scheme`, `scheme::presets`, `config`, `sign` | the scheme and its rules (`Scheme::check`), the preset table, the configuration, the sender side |
//! | 4 verdict | `verify` | one delivery's verdict, whole or as the body arrives; challenges |
//! | 5 glue | `filter` | the proxy-wasm contexts: host calls, root, request, the link between them, metric ids |
//!
//! Everything but `filter` is host-free and unit-tested natively (each module's tests in
//! the sibling `tests.rs`); `filter` is the thin glue that maps a verdict to an Envoy action,
//! tested natively against a fake host and end to end against a real Envoy (`tests/`).

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

#[cfg(test)]
mod tests;
