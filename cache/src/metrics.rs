//! Prometheus metrics of the service, kept in atomics and written out by hand (the
//! exposition format is a few lines; a metrics crate would be most of this binary's size).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use webhook_guard_protocol::{Operation, Outcome};

/// The `result` label of a request: an answer of the protocol, or a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Result {
    Answered(Outcome),
    Error,
    Capacity,
}

impl Result {
    /// Every label, in the exposition's order.
    const ALL: [Result; 9] = [
        Result::Answered(Outcome::Claimed),
        Result::Answered(Outcome::InFlight),
        Result::Answered(Outcome::Done),
        Result::Answered(Outcome::Abandoned),
        Result::Answered(Outcome::Committed),
        Result::Answered(Outcome::Released),
        Result::Answered(Outcome::NotOwner),
        Result::Error,
        Result::Capacity,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Result::Answered(o) => o.name(),
            Result::Error => "error",
            Result::Capacity => "capacity",
        }
    }

    fn index(self) -> usize {
        Result::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }

    /// Whether `op` can end this way (only those series are exported).
    fn possible(self, op: Operation) -> bool {
        use Outcome::*;
        matches!(
            (op, self),
            (_, Result::Error)
                | (Operation::Claim, Result::Capacity)
                | (
                    Operation::Claim,
                    Result::Answered(Claimed | InFlight | Done | Abandoned)
                )
                | (Operation::Commit, Result::Answered(Committed | NotOwner))
                | (Operation::Release, Result::Answered(Released | NotOwner))
        )
    }
}

/// Batch size buckets (ops per batch), up to `MAX_BATCH_OPS`.
const BATCH_BUCKETS: [u64; 7] = [1, 2, 4, 8, 16, 32, 64];

/// Backend latency buckets, in seconds.
const BUCKETS: [f64; 8] = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 1.0];

#[derive(Default)]
pub struct Metrics {
    requests: [[AtomicU64; Result::ALL.len()]; Operation::ALL.len()],
    backend_errors: AtomicU64,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
    batch_buckets: [AtomicU64; BATCH_BUCKETS.len()],
    batch_count: AtomicU64,
    batch_ops: AtomicU64,
    batch_bad_entries: AtomicU64,
}

impl Metrics {
    pub fn request(&self, op: Operation, result: Result) {
        self.requests[op as usize][result.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn backend_error(&self) {
        self.backend_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// A batch of `ops` operations arrived.
    pub fn batch(&self, ops: usize) {
        let ops = ops as u64;
        for (i, le) in BATCH_BUCKETS.iter().enumerate() {
            if ops <= *le {
                self.batch_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.batch_count.fetch_add(1, Ordering::Relaxed);
        self.batch_ops.fetch_add(ops, Ordering::Relaxed);
    }

    /// A batch entry that broke the protocol's rules (answered `bad_request` alone).
    pub fn bad_request(&self) {
        self.batch_bad_entries.fetch_add(1, Ordering::Relaxed);
    }

    pub fn latency(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// The exposition; `memory`: the memory backend's (live entries, `--memory-max-entries`).
    pub fn render(&self, memory: Option<(usize, usize)>) -> String {
        let mut out = String::new();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        out.push_str("# HELP webhook_guard_cache_build_info The running version (always 1).\n");
        out.push_str("# TYPE webhook_guard_cache_build_info gauge\n");
        let _ = writeln!(
            out,
            "webhook_guard_cache_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        out.push_str("# HELP webhook_guard_cache_requests_total Claim, commit and release requests by result.\n");
        out.push_str("# TYPE webhook_guard_cache_requests_total counter\n");
        for op in Operation::ALL {
            for result in Result::ALL {
                if !result.possible(op) {
                    continue;
                }
                let _ = writeln!(
                    out,
                    "webhook_guard_cache_requests_total{{op=\"{}\",result=\"{}\"}} {}",
                    op.name(),
                    result.name(),
                    get(&self.requests[op as usize][result.index()])
                );
            }
        }
        out.push_str("# HELP webhook_guard_cache_backend_errors_total Backend (Redis) errors and timeouts.\n");
        out.push_str("# TYPE webhook_guard_cache_backend_errors_total counter\n");
        let _ = writeln!(
            out,
            "webhook_guard_cache_backend_errors_total {}",
            get(&self.backend_errors)
        );
        out.push_str("# HELP webhook_guard_cache_backend_seconds Backend operation latency.\n");
        out.push_str("# TYPE webhook_guard_cache_backend_seconds histogram\n");
        for (i, le) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "webhook_guard_cache_backend_seconds_bucket{{le=\"{le}\"}} {}",
                get(&self.latency_buckets[i])
            );
        }
        let count = get(&self.latency_count);
        let _ = writeln!(
            out,
            "webhook_guard_cache_backend_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "webhook_guard_cache_backend_seconds_sum {}",
            get(&self.latency_sum_micros) as f64 / 1e6
        );
        let _ = writeln!(out, "webhook_guard_cache_backend_seconds_count {count}");
        out.push_str("# HELP webhook_guard_cache_batch_ops Operations per /v1/batch request.\n");
        out.push_str("# TYPE webhook_guard_cache_batch_ops histogram\n");
        for (i, le) in BATCH_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "webhook_guard_cache_batch_ops_bucket{{le=\"{le}\"}} {}",
                get(&self.batch_buckets[i])
            );
        }
        let batches = get(&self.batch_count);
        let _ = writeln!(
            out,
            "webhook_guard_cache_batch_ops_bucket{{le=\"+Inf\"}} {batches}"
        );
        let _ = writeln!(
            out,
            "webhook_guard_cache_batch_ops_sum {}",
            get(&self.batch_ops)
        );
        let _ = writeln!(out, "webhook_guard_cache_batch_ops_count {batches}");
        out.push_str("# HELP webhook_guard_cache_batch_bad_entries_total Batch entries refused alone (bad_request).\n");
        out.push_str("# TYPE webhook_guard_cache_batch_bad_entries_total counter\n");
        let _ = writeln!(
            out,
            "webhook_guard_cache_batch_bad_entries_total {}",
            get(&self.batch_bad_entries)
        );
        if let Some((n, max)) = memory {
            out.push_str(
                "# HELP webhook_guard_cache_memory_entries Live keys in the memory backend.\n",
            );
            out.push_str("# TYPE webhook_guard_cache_memory_entries gauge\n");
            let _ = writeln!(out, "webhook_guard_cache_memory_entries {n}");
            // Named after the flag that sets it, as process_max_fds is to process_open_fds.
            out.push_str("# HELP webhook_guard_cache_memory_max_entries --memory-max-entries: at this many live keys, new claims answer 503 capacity.\n");
            out.push_str("# TYPE webhook_guard_cache_memory_max_entries gauge\n");
            let _ = writeln!(out, "webhook_guard_cache_memory_max_entries {max}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histogram_and_gauge() {
        let m = Metrics::default();
        m.request(Operation::Claim, Result::Answered(Outcome::Claimed));
        m.request(Operation::Commit, Result::Answered(Outcome::NotOwner));
        m.backend_error();
        m.latency(Duration::from_micros(700));
        m.batch(3);
        m.batch(64);
        let text = m.render(Some((3, 10)));
        for line in [
            r#"webhook_guard_cache_requests_total{op="claim",result="claimed"} 1"#,
            r#"webhook_guard_cache_requests_total{op="commit",result="not_owner"} 1"#,
            r#"webhook_guard_cache_requests_total{op="release",result="error"} 0"#,
            "webhook_guard_cache_backend_errors_total 1",
            r#"webhook_guard_cache_backend_seconds_bucket{le="0.0005"} 0"#,
            r#"webhook_guard_cache_backend_seconds_bucket{le="0.001"} 1"#,
            r#"webhook_guard_cache_backend_seconds_bucket{le="+Inf"} 1"#,
            "webhook_guard_cache_backend_seconds_count 1",
            "webhook_guard_cache_memory_entries 3",
            "webhook_guard_cache_memory_max_entries 10",
            concat!(
                r#"webhook_guard_cache_build_info{version=""#,
                env!("CARGO_PKG_VERSION"),
                r#""} 1"#
            ),
            r#"webhook_guard_cache_batch_ops_bucket{le="2"} 0"#,
            r#"webhook_guard_cache_batch_ops_bucket{le="4"} 1"#,
            r#"webhook_guard_cache_batch_ops_bucket{le="64"} 2"#,
            "webhook_guard_cache_batch_ops_sum 67",
            "webhook_guard_cache_batch_ops_count 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
        assert!(!text.contains(r#"op="claim",result="committed""#));
        assert!(!text.contains(r#"op="claim",result="not_owner""#));
        assert!(!m.render(None).contains("memory_entries"));
    }
}
