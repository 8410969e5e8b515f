//! webhook-guard-cache: the small service that lets webhook-guard (a proxy-wasm filter in
//! Envoy) process each webhook delivery exactly once, although senders deliver at least once.
//! The filter claims a delivery's key before forwarding it, commits the claim when the
//! receiver answered 2xx, and releases it otherwise, so a sender's retry after a failure is
//! processed and a retry after a success is answered as a duplicate.
//!
//! # HTTP API
//!
//! HTTP/1.1 with keep-alive. The protocol (paths, bodies, answers, the rules for keys,
//! tokens and TTLs) is written once, in the `webhook-guard-protocol` crate, which the filter
//! uses too. Every answer is `content-type: application/json`, except `/metrics`
//! (`text/plain; version=0.0.4`). Every metric the service serves, and its log format
//! (`--log-format text|json`), are listed once, in docs/operations.md.
//!
//! # Backends
//!
//! Memory (the default; one instance, bounded by `--memory-max-entries`, TTL-evicting) and
//! Redis or Redis Cluster (several instances, and several Envoys, sharing one dedupe window;
//! keys `wg:<key>`, values `inflight:<token>` / `done:<token>`, Lua check-and-set scripts).
//! See store.rs for the semantics, memory.rs and redis_store.rs for each backend.

fn main() {
    webhook_guard_cache::server::main();
}
