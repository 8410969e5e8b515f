//! Fault injection, end to end: a cache that answers garbage, an upstream that hangs past its
//! timeout or resets, and a soak of concurrent deliveries with duplicates and failures in
//! which every delivery is processed exactly once in the end.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

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
        envoy.metric(r#"webhook_guard_claims{outcome="abandoned"}"#),
        1
    );
    envoy.assert_no_panic();
}

// An upstream that hangs past the route timeout or resets after reading the request keeps
// its claim until the in-flight TTL: tests/claims.rs.

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

    let counts = processed(&upstream);
    for d in &deliveries {
        assert_eq!(
            counts.get(d.1.as_bytes()),
            Some(&1),
            "not processed exactly once"
        );
    }
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
