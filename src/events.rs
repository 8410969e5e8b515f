//! The filter's log lines: each one JSON object with a stable `event` field, so a log
//! pipeline parses every line the filter writes (after Envoy's `wasm log <plugin> <root_id>
//! <vm_id>: ` prefix) without a regex per message. The names are here only; docs/operations.md
//! lists each event with its level and fields.
//!
//! Never in a line: a secret (of any JSON type), a signature, a payload byte. Fields carry
//! names from the configuration (endpoint, secret id, cluster), codes, counts, the
//! idempotency key's SHA-256 hash and header values cut to 128 bytes (request and delivery
//! ids).

use serde_json::{Map, Value};

/// What a line is about. `name()` is its `event` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A delivery refused (info).
    Rejected,
    /// In `report` mode: what would have been refused, forwarded (info).
    WouldReject,
    /// A delivery verified and forwarded (debug).
    Accepted,
    /// A claim kept until its in-flight TTL: the outcome is unknown (info).
    ClaimKept,
    /// A claim given up (its answer too late or unusable, or the client left) (info).
    ClaimAbandoned,
    /// The cache did not answer a claim and `on_unavailable: allow` forwards the delivery
    /// without deduplication (warn). With `reject`, the refusal is a `webhook_rejected`.
    CacheUnavailable,
    /// A claim that could not be sent (no random source, no room, root not reachable) (warn).
    ClaimNotSent,
    /// A configuration accepted (info).
    ConfigLoaded,
    /// A configuration refused (error): the reason names the field.
    ConfigRejected,
    /// An optional secret whose variable is not set (info).
    SecretSlotSkipped,
    /// A replaced configuration handed its pending commits and releases on (info).
    SettlementsHandedOn,
    /// A commit or release the filter stopped trying to send (warn).
    SettlementGivenUp,
    /// A commit or release that waits for the next batch (the root could not be woken) (warn).
    SettlementDelayed,
    /// A call-out to the cache cluster could not be made (warn): the cluster is missing.
    CacheClusterUnreachable,
    /// Envoy refused the filter's local reply (warn).
    LocalReplyFailed,
}

impl Event {
    pub const ALL: [Event; 15] = [
        Event::Rejected,
        Event::WouldReject,
        Event::Accepted,
        Event::ClaimKept,
        Event::ClaimAbandoned,
        Event::CacheUnavailable,
        Event::ClaimNotSent,
        Event::ConfigLoaded,
        Event::ConfigRejected,
        Event::SecretSlotSkipped,
        Event::SettlementsHandedOn,
        Event::SettlementGivenUp,
        Event::SettlementDelayed,
        Event::CacheClusterUnreachable,
        Event::LocalReplyFailed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Event::Rejected => "webhook_rejected",
            Event::WouldReject => "webhook_would_reject",
            Event::Accepted => "webhook_accepted",
            Event::ClaimKept => "webhook_claim_kept",
            Event::ClaimAbandoned => "webhook_claim_abandoned",
            Event::CacheUnavailable => "webhook_cache_unavailable",
            Event::ClaimNotSent => "claim_not_sent",
            Event::ConfigLoaded => "config_loaded",
            Event::ConfigRejected => "config_rejected",
            Event::SecretSlotSkipped => "secret_slot_skipped",
            Event::SettlementsHandedOn => "settlements_handed_on",
            Event::SettlementGivenUp => "settlement_given_up",
            Event::SettlementDelayed => "settlement_delayed",
            Event::CacheClusterUnreachable => "cache_cluster_unreachable",
            Event::LocalReplyFailed => "local_reply_failed",
        }
    }
}

/// The line for `event` with `fields` (a JSON object; anything else is put under
/// `detail`): `{"event":"...",...}`, its keys sorted, on one line.
pub fn line(event: Event, fields: Value) -> String {
    let mut map = match fields {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        other => {
            let mut m = Map::new();
            m.insert("detail".into(), other);
            m
        }
    };
    map.insert("event".into(), Value::from(event.name()));
    Value::Object(map).to_string()
}

#[cfg(test)]
mod tests;
