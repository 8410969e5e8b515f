//! Metric names. Envoy serves proxy-wasm metrics at `/stats/prometheus`; labels are encoded
//! in the name (`webhook_guard.rejected.endpoint.genesys.reason.invalid_signature`) and
//! turned back into Prometheus labels by the `stats_tags` of envoy/envoy.yaml:
//! `webhook_guard_rejected{endpoint="genesys",reason="invalid_signature"}`.
//! Endpoint names and secret ids cannot contain dots (config.rs), so the names parse back.

/// Requests for a path no endpoint serves carry this endpoint label.
pub(crate) const NO_ENDPOINT: &str = "none";

/// Deliveries forwarded, by the secret that verified them: when an old secret's counter
/// stops moving, it can be retired.
pub fn accepted(endpoint: &str, secret_id: &str) -> String {
    format!("webhook_guard.accepted.endpoint.{endpoint}.secret_id.{secret_id}")
}

/// Deliveries refused (or, in report mode, that would have been), by reason.
pub fn rejected(endpoint: &str, reason: &str, report: bool) -> String {
    let family = if report { "would_reject" } else { "rejected" };
    format!("webhook_guard.{family}.endpoint.{endpoint}.reason.{reason}")
}

/// Duplicates of processed deliveries answered 200 without calling the upstream.
pub fn duplicates(endpoint: &str) -> String {
    format!("webhook_guard.duplicates.endpoint.{endpoint}")
}

/// Cache call-outs: claims, commits and releases that failed (no answer, timeout, error).
pub(crate) fn cache_errors(op: &str) -> String {
    format!("webhook_guard.cache_errors.op.{op}")
}

/// Commits and releases the cache recorded.
pub(crate) fn cache_settled(op: &str) -> String {
    format!("webhook_guard.cache_settled.op.{op}")
}

/// What became of claims, by `outcome`: see `CLAIM_OUTCOMES` and the README's claim table.
pub fn claims(outcome: &str) -> String {
    format!("webhook_guard.claims.outcome.{outcome}")
}

/// `claimed`: granted and forwarded; `committed`: the receiver answered 2xx; `released`: the
/// receiver did not process it (non-2xx, or never sent); `kept`: the outcome is unknown, the
/// claim lapses after its in-flight TTL; `abandoned`: the claim's answer was never used (too
/// late, unusable, or the client left first), released with a tombstone.
pub(crate) const CLAIM_OUTCOMES: [&str; 5] =
    ["claimed", "committed", "released", "kept", "abandoned"];

/// Histogram of claim round trips, in milliseconds.
pub(crate) const CLAIM_LATENCY_MS: &str = "webhook_guard.cache_claim_ms";

#[cfg(test)]
mod tests;
