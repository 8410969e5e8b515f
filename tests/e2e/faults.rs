//! Fault injection, end to end: a cache that answers garbage, an upstream that hangs past its
//! timeout or resets, and a soak of concurrent deliveries with duplicates and failures in
//! which every delivery is processed exactly once in the end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::*;

const SECRET: &str = "faults-secret-0123456789";

fn config() -> String {
    format!(
        r#"{{
  "idempotency": {{ "cluster": "webhook_guard_cache", "timeout_ms": 500, "in_flight_ttl_seconds": 30 }},
  "endpoints": [
    {{ "name": "genesys", "path_prefix": "/webhooks/genesys", "preset": "genesys-open-messaging",
      "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ] }}
  ]
}}"#
    )
}

fn start(cache_port: u16, route_timeout_ms: u64) -> (Upstream, Envoy) {
    let upstream = Upstream::start();
    let mut opts = EnvoyOptions::new(&config(), upstream.port);
    opts.cache_port = Some(cache_port);
    opts.route_timeout_ms = route_timeout_ms;
    let envoy = Envoy::start(&opts);
    (upstream, envoy)
}

fn delivery(id: &str) -> Delivery {
    genesys_delivery(&config(), SECRET, id)
}

/// Like Genesys: retries on 429 and 5xx (here quickly, and up to `tries` times).
fn deliver_with_retries(port: u16, d: &Delivery, tries: usize) -> Response {
    let mut last = deliver(port, d);
    for _ in 1..tries {
        if last.status != 429 && last.status < 500 {
            break;
        }
        thread::sleep(Duration::from_millis(40));
        last = deliver(port, d);
    }
    last
}

/// Successful (2xx) upstream answers per delivery body.
fn processed(upstream: &Upstream) -> HashMap<Vec<u8>, usize> {
    let mut counts = HashMap::new();
    for r in upstream.requests() {
        if (200..300).contains(&r.answered) {
            *counts.entry(r.body).or_insert(0) += 1;
        }
    }
    counts
}

/// Each delivery reached the upstream with a 2xx answer exactly once.
fn assert_each_processed_once(upstream: &Upstream, deliveries: &[Delivery]) {
    let counts = processed(upstream);
    for d in deliveries {
        assert_eq!(
            counts.get(d.1.as_bytes()),
            Some(&1),
            "not processed exactly once"
        );
    }
}

#[test]
fn a_cache_answering_garbage_fails_closed() {
    if !e2e_ready() {
        return;
    }
    let (upstream, envoy) = start(garbage_server(), 10_000);
    let r = deliver(envoy.port, &delivery("garbage-1"));
    assert_eq!(
        (r.status, r.error()),
        (503, "idempotency_unavailable".into())
    );
    assert_eq!(upstream.heads(), 0);
    // The claim it may have made is given up (released with a tombstone).
    assert_eq!(
        envoy.metric(r#"webhook_guard_filter_claims_total{outcome="abandoned"}"#),
        1
    );
    envoy.assert_no_panic();
}

// An upstream that hangs past the route timeout or resets after reading the request keeps
// its claim until the in-flight TTL: tests/e2e/claims.rs.

#[test]
fn soak_every_delivery_is_processed_exactly_once() {
    if !e2e_ready() {
        return;
    }
    let redis = Redis::start();
    let cache = Cache::start(0, &["--redis", &redis.url()]);
    let (upstream, envoy) = start(cache.port, 10_000);
    // A flaky receiver: every 4th request it gets fails with 500.
    upstream.set_fail_every(4);

    let ids = 60;
    let copies = 3;
    let deliveries: Vec<Delivery> = (0..ids).map(|i| delivery(&format!("soak-{i}"))).collect();
    // Every delivery sent `copies` times, interleaved across 6 senders.
    let work: Vec<Delivery> = (0..copies)
        .flat_map(|_| deliveries.iter().cloned())
        .collect();
    let queue = Arc::new(Mutex::new(work));
    let port = envoy.port;
    let started = Instant::now();
    let senders: Vec<_> = (0..6)
        .map(|_| {
            let queue = Arc::clone(&queue);
            thread::spawn(move || {
                let mut answers = Vec::new();
                loop {
                    let next = queue.lock().expect("lock").pop();
                    let Some(d) = next else { break };
                    answers.push(deliver_with_retries(port, &d, 100).status);
                }
                answers
            })
        })
        .collect();
    let statuses: Vec<u16> = senders
        .into_iter()
        .flat_map(|s| s.join().expect("sender"))
        .collect();
    assert_eq!(statuses.len(), ids * copies);
    assert!(
        statuses.iter().all(|s| *s == 200),
        "a delivery was never accepted: {statuses:?}"
    );

    assert_each_processed_once(&upstream, &deliveries);
    let failed = upstream
        .requests()
        .iter()
        .filter(|r| r.answered == 500)
        .count();
    assert!(
        failed > 0,
        "the receiver never failed: the soak proved nothing"
    );
    eprintln!(
        "soak: {} deliveries x {copies}, {failed} failed attempts, {} upstream requests, {:?}",
        ids,
        upstream.requests().len(),
        started.elapsed()
    );
    envoy.assert_no_panic();
}

/// Sends every delivery of `work` from `senders` threads at once, each retried like Genesys
/// (up to `tries`); the final statuses.
fn deliver_all(port: u16, work: Vec<Delivery>, senders: usize, tries: usize) -> Vec<u16> {
    let queue = Arc::new(Mutex::new(work));
    let threads: Vec<_> = (0..senders)
        .map(|_| {
            let queue = Arc::clone(&queue);
            thread::spawn(move || {
                let mut answers = Vec::new();
                loop {
                    let next = queue.lock().expect("lock").pop();
                    let Some(d) = next else { break };
                    answers.push(deliver_with_retries(port, &d, tries).status);
                }
                answers
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().expect("sender"))
        .collect()
}

/// Concurrent deliveries share cache requests: while one batch is at the cache (here the
/// first is held 300 ms), the claims and commits that arrive wait and travel together. Each
/// delivery is still processed exactly once, and its copies are answered as duplicates.
#[test]
fn concurrent_deliveries_travel_in_batches_and_each_is_processed_once() {
    if !e2e_ready() {
        return;
    }
    let cache = Cache::start(0, &[]);
    let slow = SlowCache::start(cache.port, 1, Duration::from_millis(300));
    let (upstream, envoy) = start(slow.port, 10_000);
    let ids = 40;
    let deliveries: Vec<Delivery> = (0..ids).map(|i| delivery(&format!("batch-{i}"))).collect();
    let work: Vec<Delivery> = (0..2).flat_map(|_| deliveries.iter().cloned()).collect();
    let statuses = deliver_all(envoy.port, work, 12, 100);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_each_processed_once(&upstream, &deliveries);
    let batches = cache_sample(cache.port, "webhook_guard_cache_batch_ops_count");
    let ops = cache_sample(cache.port, "webhook_guard_cache_batch_ops_sum");
    let alone = cache_sample(
        cache.port,
        r#"webhook_guard_cache_batch_ops_bucket{le="1"}"#,
    );
    eprintln!("{ops} ops in {batches} batches, {alone} of one op");
    assert!(
        batches > 0 && alone < batches,
        "no batch of more than one op"
    );
    assert!(ops > batches, "{ops} ops in {batches} batches");
    // Every claim and every commit went through the batch endpoint.
    assert_eq!(
        cache_sample(
            cache.port,
            r#"webhook_guard_cache_requests_total{op="commit",result="committed"}"#
        ),
        ids as u64
    );
    envoy.assert_no_panic();
}

/// A flaky cache path: every third batch answered with its claims' entries cut out (the
/// cache acted on them), and every fifth connection reset after the cache acted. The
/// deliveries whose answers were lost get 503 and their claims are given up; the senders'
/// retries go through, and each delivery is processed exactly once.
#[test]
fn half_answered_and_reset_batches_lose_nothing_and_run_nothing_twice() {
    if !e2e_ready() {
        return;
    }
    let cache = Cache::start(0, &[]);
    let flaky = FlakyCache::start(cache.port, |n, path, body| {
        if path != "/v1/batch" {
            return Mangle::Pass;
        }
        if n % 5 == 4 {
            return Mangle::Reset;
        }
        if n % 3 != 2 {
            return Mangle::Pass;
        }
        // Keep only the entries that are not a claim's answer.
        let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(body) else {
            return Mangle::Pass;
        };
        if let Some(results) = v["results"].as_array_mut() {
            results.retain(|r| {
                r.get("token").is_none() && r["result"] != "in_flight" && r["result"] != "done"
            });
        }
        Mangle::Body(serde_json::to_vec(&v).expect("json"))
    });
    let (upstream, envoy) = start(flaky.port, 10_000);
    let ids = 30;
    let deliveries: Vec<Delivery> = (0..ids).map(|i| delivery(&format!("flaky-{i}"))).collect();
    let work: Vec<Delivery> = (0..2).flat_map(|_| deliveries.iter().cloned()).collect();
    let statuses = deliver_all(envoy.port, work, 6, 200);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_each_processed_once(&upstream, &deliveries);
    assert!(
        envoy.metric(r#"webhook_guard_filter_claims_total{outcome="abandoned"}"#) > 0,
        "no answer was lost: the test proves nothing ({} requests)",
        flaky.requests()
    );
    envoy.assert_no_panic();
}

/// Batches that time out: every delivery waiting in them is answered 503 as a lone claim
/// was, each claim sent is given up (released with a tombstone), and when the late claims
/// land they are refused, so the senders' retries are processed, once.
#[test]
fn batches_that_time_out_fail_closed_and_leave_no_orphan_claim() {
    if !e2e_ready() {
        return;
    }
    let cache = Cache::start(0, &[]);
    let copies = 8;
    // Every batch carrying one of the first 8 claims is held 600 ms; the filter waits 500.
    let slow = SlowCache::start(cache.port, copies, Duration::from_millis(600));
    let upstream = Upstream::start();
    let mut opts = EnvoyOptions::new(&config(), upstream.port);
    opts.cache_port = Some(slow.port);
    let envoy = Envoy::start(&opts);
    let deliveries: Vec<Delivery> = (0..copies)
        .map(|i| delivery(&format!("timeout-{i}")))
        .collect();
    let port = envoy.port;
    let first: Vec<u16> = deliveries
        .iter()
        .cloned()
        .map(|d| thread::spawn(move || deliver(port, &d)))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| {
            let r = t.join().expect("sender");
            assert_eq!(r.error(), "idempotency_unavailable", "{r:?}");
            r.status
        })
        .collect();
    assert_eq!(first, vec![503; copies]);
    assert_eq!(upstream.heads(), 0, "nothing forwarded without its claim");
    assert_eq!(
        envoy.metric(r#"webhook_guard_filter_cache_errors_total{op="claim"}"#),
        copies as u64
    );
    // Those sent are given up; one that waited out the timeout behind the slow batch was
    // never sent and has nothing to give up.
    let abandoned = envoy.metric(r#"webhook_guard_filter_claims_total{outcome="abandoned"}"#);
    assert!((1..=copies as u64).contains(&abandoned), "{abandoned}");
    // The late claims land; the retries are not blocked by them.
    thread::sleep(Duration::from_millis(1500));
    for d in &deliveries {
        let r = deliver_with_retries(envoy.port, d, 50);
        assert_eq!(r.status, 200, "{r:?}");
    }
    assert_each_processed_once(&upstream, &deliveries);
    envoy.assert_no_panic();
}
