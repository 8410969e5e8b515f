//! Metric ids, defined once per configuration (names: `crate::metrics`), so that a request
//! only increments.

use crate::answer::{Reject, REFUSALS};
use crate::config::Config;
use crate::metrics::{self, GiveUp, Kind};
use webhook_guard_protocol::Operation;

use super::host::Host;

#[derive(Default)]
pub struct Metrics {
    /// Per endpoint (config order), then one slot for requests that matched no endpoint.
    endpoints: Vec<EndpointMetrics>,
    /// By `Operation`: claim, commit, release.
    cache_errors: [u32; 3],
    cache_settled: [u32; 3],
    /// By `metrics::CLAIM_OUTCOMES`.
    claims: [u32; 5],
    /// By `metrics::SETTLEMENT_OPS`, then `GiveUp::ALL`.
    given_up: [[u32; 3]; 2],
    pub claim_latency: u32,
}

#[derive(Default)]
struct EndpointMetrics {
    /// Per secret, in config order.
    accepted: Vec<u32>,
    /// Per reason, in `REFUSALS` order.
    rejected: Vec<u32>,
    would_reject: Vec<u32>,
    duplicates: u32,
}

/// What became of a claim: `metrics::CLAIM_OUTCOMES`, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimOutcome {
    Claimed,
    Committed,
    Released,
    Kept,
    Abandoned,
}

impl Metrics {
    pub fn define_all(host: &impl Host, config: &Config) -> Metrics {
        let counter = |name: String| host.define_metric(Kind::Counter, &name);
        let reasons = |ep: &str, report: bool| -> Vec<u32> {
            REFUSALS
                .iter()
                .map(|r| counter(metrics::rejected(ep, r.code(), report)))
                .collect()
        };
        let mut endpoints: Vec<EndpointMetrics> = config
            .endpoints
            .iter()
            .map(|ep| EndpointMetrics {
                accepted: ep
                    .secrets
                    .iter()
                    .map(|s| counter(metrics::accepted(&ep.name, &s.id)))
                    .collect(),
                rejected: reasons(&ep.name, false),
                would_reject: reasons(&ep.name, true),
                duplicates: counter(metrics::duplicates(&ep.name)),
            })
            .collect();
        endpoints.push(EndpointMetrics {
            rejected: reasons(metrics::NO_ENDPOINT, false),
            ..EndpointMetrics::default()
        });
        let ops = |f: fn(&str) -> String| Operation::ALL.map(|op| counter(f(op.name())));
        Metrics {
            endpoints,
            cache_errors: ops(metrics::cache_errors),
            cache_settled: ops(metrics::cache_settled),
            claims: metrics::CLAIM_OUTCOMES.map(|o| counter(metrics::claims(o))),
            given_up: metrics::SETTLEMENT_OPS
                .map(|op| GiveUp::ALL.map(|r| counter(metrics::settlements_given_up(op, r)))),
            claim_latency: host.define_metric(Kind::Histogram, metrics::CLAIM_DURATION_MS),
        }
    }

    /// Sets `build_info{version}` to 1 (a gauge: every root sets it, none adds).
    pub fn build_info(host: &impl Host) {
        let id = host.define_metric(Kind::Gauge, &metrics::build_info(metrics::VERSION));
        host.record(id, 1);
    }

    fn endpoint(&self, index: Option<usize>) -> Option<&EndpointMetrics> {
        match index {
            Some(i) => self.endpoints.get(i),
            None => self.endpoints.last(),
        }
    }

    pub fn rejected(
        &self,
        host: &impl Host,
        endpoint: Option<usize>,
        reject: &Reject,
        report: bool,
    ) {
        let Some(m) = self.endpoint(endpoint) else {
            return;
        };
        if *reject == Reject::Duplicate {
            return host.increment(m.duplicates);
        }
        let slot = REFUSALS.iter().position(|r| r.code() == reject.code());
        let ids = if report { &m.would_reject } else { &m.rejected };
        if let Some(id) = slot.and_then(|i| ids.get(i)) {
            host.increment(*id);
        }
    }

    pub fn accepted(&self, host: &impl Host, endpoint: usize, secret: usize) {
        if let Some(id) = self
            .endpoint(Some(endpoint))
            .and_then(|m| m.accepted.get(secret))
        {
            host.increment(*id);
        }
    }

    pub fn claim(&self, host: &impl Host, outcome: ClaimOutcome) {
        host.increment(self.claims[outcome as usize]);
    }

    /// A cache call that failed (no answer, timeout, error, garbage).
    pub fn cache_error(&self, host: &impl Host, op: Operation) {
        host.increment(self.cache_errors[op as usize]);
    }

    pub fn cache_settled(&self, host: &impl Host, op: Operation) {
        host.increment(self.cache_settled[op as usize]);
    }

    /// A commit or release the filter stopped trying to send.
    pub fn given_up(&self, host: &impl Host, op: Operation, reason: GiveUp) {
        let slot = metrics::SETTLEMENT_OPS
            .iter()
            .position(|o| *o == op.name())
            .and_then(|i| self.given_up.get(i));
        if let Some(ids) = slot {
            host.increment(ids[reason as usize]);
        }
    }
}

#[cfg(test)]
mod tests;
