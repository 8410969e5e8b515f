//! Prometheus metrics of the service, kept in atomics and written out by hand (the
//! exposition format is a few lines; a metrics crate would be most of this binary's size).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub const OPS: [&str; 3] = ["claim", "commit", "release"];
pub const RESULTS: [&str; 9] = [
    "claimed",
    "in_flight",
    "done",
    "abandoned",
    "committed",
    "released",
    "not_owner",
    "error",
    "capacity",
];
/// Backend latency buckets, in seconds.
const BUCKETS: [f64; 8] = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 1.0];

/// The results an operation can have (only these are exported).
fn possible(op: &str, result: &str) -> bool {
    matches!(
        (op, result),
        (
            "claim",
            "claimed" | "in_flight" | "done" | "abandoned" | "capacity"
        ) | ("commit", "committed")
            | ("release", "released")
            | (_, "not_owner" | "error")
    ) && !(op == "claim" && result == "not_owner")
}

#[derive(Default)]
pub struct Metrics {
    requests: [[AtomicU64; RESULTS.len()]; OPS.len()],
    backend_errors: AtomicU64,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
}

impl Metrics {
    pub fn request(&self, op: &str, result: &str) {
        let o = OPS.iter().position(|x| *x == op);
        let r = RESULTS.iter().position(|x| *x == result);
        if let (Some(o), Some(r)) = (o, r) {
            self.requests[o][r].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn backend_error(&self) {
        self.backend_errors.fetch_add(1, Ordering::Relaxed);
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

    pub fn render(&self, entries: Option<usize>) -> String {
        let mut out = String::new();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        out.push_str("# HELP webhook_guard_cache_requests_total Claim, commit and release requests by result.\n");
        out.push_str("# TYPE webhook_guard_cache_requests_total counter\n");
        for (o, op) in OPS.iter().enumerate() {
            for (r, result) in RESULTS.iter().enumerate() {
                if !possible(op, result) {
                    continue;
                }
                let _ = writeln!(
                    out,
                    "webhook_guard_cache_requests_total{{op=\"{op}\",result=\"{result}\"}} {}",
                    get(&self.requests[o][r])
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
        if let Some(n) = entries {
            out.push_str(
                "# HELP webhook_guard_cache_memory_entries Live keys in the memory backend.\n",
            );
            out.push_str("# TYPE webhook_guard_cache_memory_entries gauge\n");
            let _ = writeln!(out, "webhook_guard_cache_memory_entries {n}");
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
        m.request("claim", "claimed");
        m.request("commit", "not_owner");
        m.request("commit", "bogus");
        m.backend_error();
        m.latency(Duration::from_micros(700));
        let text = m.render(Some(3));
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
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
        assert!(!text.contains(r#"op="claim",result="committed""#));
        assert!(!text.contains(r#"op="claim",result="not_owner""#));
        assert!(!m.render(None).contains("memory_entries"));
    }
}
