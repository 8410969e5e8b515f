//! Metric names, built here only. Envoy serves proxy-wasm metrics at `/stats/prometheus`;
//! labels are encoded in the name
//! (`webhook_guard_filter.rejected_total.endpoint.genesys.reason.invalid_signature`, Envoy's
//! internal name `wasmcustom.` + that) and turned back into Prometheus labels by the
//! `stats_tags` of envoy/envoy.yaml:
//! `webhook_guard_filter_rejected_total{endpoint="genesys",reason="invalid_signature"}`.
//! Endpoint names and secret ids cannot contain dots (config), so the names parse back.
//!
//! Prometheus conventions: Envoy adds no `_total` to counters, so the names end in it; the
//! `webhook_guard_filter_` prefix keeps the filter's (client-side) view of the cache apart
//! from the cache service's own `webhook_guard_cache_*` series.

/// Every series of the filter starts with this (then `_` in Prometheus, `.` in Envoy).
pub const PREFIX: &str = "webhook_guard_filter";

/// Requests for a path no endpoint serves carry this endpoint label.
pub(crate) const NO_ENDPOINT: &str = "none";

/// What a metric is to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Deliveries forwarded, by the secret that verified them: when an old secret's counter
/// stops moving, it can be retired.
pub fn accepted(endpoint: &str, secret_id: &str) -> String {
    format!("{PREFIX}.accepted_total.endpoint.{endpoint}.secret_id.{secret_id}")
}

/// Deliveries refused (or, in report mode, that would have been), by reason.
pub fn rejected(endpoint: &str, reason: &str, report: bool) -> String {
    let family = if report {
        "would_reject_total"
    } else {
        "rejected_total"
    };
    format!("{PREFIX}.{family}.endpoint.{endpoint}.reason.{reason}")
}

/// Duplicates of processed deliveries answered 200 without calling the upstream.
pub fn duplicates(endpoint: &str) -> String {
    format!("{PREFIX}.duplicates_total.endpoint.{endpoint}")
}

/// Cache call-outs: claims, commits and releases that failed (no answer, timeout, error),
/// every attempt (a retried commit counts each time).
pub(crate) fn cache_errors(op: &str) -> String {
    format!("{PREFIX}.cache_errors_total.op.{op}")
}

/// Commits and releases the cache recorded.
pub(crate) fn cache_settled(op: &str) -> String {
    format!("{PREFIX}.cache_settled_total.op.{op}")
}

/// What became of claims, by `outcome`: see `CLAIM_OUTCOMES` and the claim table of docs/deduplication.md.
pub fn claims(outcome: &str) -> String {
    format!("{PREFIX}.claims_total.outcome.{outcome}")
}

/// Commits and releases the filter stopped trying to send (the claim then lapses after its
/// in-flight TTL), by operation (`commit`, `release`) and `GiveUp` reason.
pub fn settlements_given_up(op: &str, reason: GiveUp) -> String {
    format!(
        "{PREFIX}.settlements_given_up_total.op.{op}.reason.{}",
        reason.name()
    )
}

/// The operations whose settlements can be given up (a claim is answered, not settled).
pub const SETTLEMENT_OPS: [&str; 2] = ["commit", "release"];

/// Why a commit or release was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// Every attempt failed (`MAX_ATTEMPTS`).
    RetriesExhausted,
    /// The cache answered that it would not (not the owner any more, bad request).
    Refused,
    /// No room to keep it for a send (the batcher's, the retries', or the shared queue).
    QueueFull,
}

impl GiveUp {
    pub const ALL: [GiveUp; 3] = [GiveUp::RetriesExhausted, GiveUp::Refused, GiveUp::QueueFull];

    pub fn name(self) -> &'static str {
        match self {
            GiveUp::RetriesExhausted => "retries_exhausted",
            GiveUp::Refused => "refused",
            GiveUp::QueueFull => "queue_full",
        }
    }
}

/// A gauge always 1, labelled with the filter's version: which build runs where. The
/// version has dots, so its tag regex takes the rest of the name (envoy/envoy.yaml).
pub fn build_info(version: &str) -> String {
    format!("{PREFIX}.build_info.version.{version}")
}

/// This build's version, for `build_info`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `claimed`: granted and forwarded; `committed`: the receiver answered 2xx; `released`: the
/// receiver did not process it (non-2xx, or never sent); `kept`: the outcome is unknown, the
/// claim lapses after its in-flight TTL; `abandoned`: the claim's answer was never used (too
/// late, unusable, or the client left first), released with a tombstone.
pub(crate) const CLAIM_OUTCOMES: [&str; 5] =
    ["claimed", "committed", "released", "kept", "abandoned"];

/// Histogram of claim round trips. Its unit is milliseconds, and so is its name: a
/// proxy-wasm histogram records integers into Envoy's fixed buckets (0.5, 1, 5, 10, 25, ...
/// 3600000) and Envoy converts nothing, so whole seconds would put every claim in the
/// first bucket.
pub(crate) const CLAIM_DURATION_MS: &str = "webhook_guard_filter.claim_duration_milliseconds";

#[cfg(test)]
mod tests;
