//! webhook-guard-cache: the small service that lets webhook-guard (a proxy-wasm filter in
//! Envoy) process each webhook delivery exactly once, although senders deliver at least once.
//! The filter claims a delivery's key before forwarding it, commits the claim when the
//! receiver answered 2xx, and releases it otherwise, so a sender's retry after a failure is
//! processed and a retry after a success is answered as a duplicate.
//!
//! # HTTP API
//!
//! HTTP/1.1 with keep-alive. Every answer is `content-type: application/json`, except
//! `/metrics` (`text/plain; version=0.0.4`). A key is 1 to 128 characters of
//! `[0-9A-Za-z_:.-]` (the filter sends SHA-256 hex hashes); a token is 32 lowercase hex
//! characters; a TTL is 1 ms to 30 days. Request bodies are JSON objects with exactly the
//! fields shown (unknown fields are refused), at most 4096 bytes.
//!
//! ```text
//! POST /v1/claim    {"key":K,"ttl_ms":60000}
//!   200 {"result":"claimed","token":T}  K was free (or its claim expired): now in flight, owned by T, for ttl_ms
//!   200 {"result":"in_flight"}          another attempt holds an unexpired claim
//!   200 {"result":"done"}               K was committed and its done TTL has not run out
//! POST /v1/commit   {"key":K,"token":T,"ttl_ms":86400000}
//!   200 {"result":"committed"}          T held K's in-flight claim, or K was absent: K is now done for ttl_ms
//!   409 {"result":"not_owner"}          K is held by another token (in flight or done)
//! POST /v1/release  {"key":K,"token":T}
//!   200 {"result":"released"}           T held K's in-flight claim, now deleted
//!   409 {"result":"not_owner"}          anything else; a done key is never released
//! GET  /healthz     200 {"status":"ok"} | 503 {"status":"unavailable"} (backend PING failed)
//! GET  /metrics     Prometheus text: webhook_guard_cache_requests_total{op,result},
//!                   webhook_guard_cache_backend_errors_total, webhook_guard_cache_backend_seconds
//!                   (histogram), webhook_guard_cache_memory_entries (memory backend)
//! Errors: 400 {"error":"bad_request"}  404 {"error":"not_found"}  405 {"error":"method_not_allowed"}
//!         413 {"error":"too_large"}    503 {"error":"backend_unavailable"} (Redis error or 1 s timeout)
//!         503 {"error":"capacity"}     (memory backend full: fails closed, see memory.rs)
//! ```
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
