//! Exactly-once processing, end to end: a real Envoy with the built filter, the real cache
//! service (memory and Redis backends, Redis a real redis-server) and a real upstream.

use std::thread;
use std::time::{Duration, Instant};

use crate::common::*;

const SECRET: &str = "idempotency-secret-0123";

fn config(cache_timeout_ms: u64, on_unavailable: &str) -> String {
    format!(
        r#"{{
  "idempotency": {{ "cluster": "webhook_guard_cache", "timeout_ms": {cache_timeout_ms},
                   "in_flight_ttl_seconds": 30, "done_ttl_seconds": 3600,
                   "on_unavailable": "{on_unavailable}" }},
  "endpoints": [
    {{ "name": "genesys", "path_prefix": "/webhooks/genesys", "preset": "genesys-open-messaging",
      "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ] }}
  ]
}}"#
    )
}

struct Setup {
    upstream: Upstream,
    envoy: Envoy,
    config: String,
}

fn setup(cache_port: u16, timeout_ms: u64, on_unavailable: &str, concurrency: u32) -> Setup {
    let upstream = Upstream::start();
    let config = config(timeout_ms, on_unavailable);
    let mut opts = EnvoyOptions::new(&config, upstream.port);
    opts.cache_port = Some(cache_port);
    opts.concurrency = concurrency;
    let envoy = Envoy::start(&opts);
    Setup {
        upstream,
        envoy,
        config,
    }
}

fn delivery(config: &str, id: &str) -> Delivery {
    genesys_delivery(config, SECRET, id)
}

/// Sends `d` until the answer is a duplicate: the commit travels through the root context
/// after the first answer, so the very next attempt may still see the claim in flight.
fn until_duplicate(port: u16, d: &Delivery) -> Response {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = deliver(port, d);
        if r.status != 429 || Instant::now() > deadline {
            return r;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn is_duplicate(r: &Response) -> bool {
    r.status == 200 && r.body == br#"{"status":"duplicate"}"#
}

/// A burst of the same delivery from many clients at once reaches the upstream once.
fn burst_reaches_upstream_once(s: &Setup) {
    s.upstream.set_delay(Duration::from_millis(400));
    let d = delivery(&s.config, "burst-1");
    let port = s.envoy.port;
    let answers: Vec<Response> = (0..16)
        .map(|_| {
            let d = d.clone();
            thread::spawn(move || deliver(port, &d))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("client thread"))
        .collect();
    s.upstream.set_delay(Duration::ZERO);
    let processed = answers
        .iter()
        .filter(|r| r.status == 200 && r.body == b"ok")
        .count();
    let in_flight = answers
        .iter()
        .filter(|r| {
            r.status == 429 && r.error() == "in_flight" && r.header("retry-after").is_some()
        })
        .count();
    let duplicates = answers.iter().filter(|r| is_duplicate(r)).count();
    assert_eq!(processed, 1, "{answers:?}");
    assert_eq!(
        processed + in_flight + duplicates,
        answers.len(),
        "{answers:?}"
    );
    assert_eq!(s.upstream.requests().len(), 1);
    let key = s.upstream.requests()[0].header("x-webhook-guard-idempotency-key");
    assert_eq!(key.as_deref().map(str::len), Some(64));

    // Retries after the first attempt succeeded are duplicates, answered 200.
    assert!(is_duplicate(&until_duplicate(port, &d)));
    assert_eq!(s.upstream.requests().len(), 1);
    // The security log names the delivery by its key hash, never by its content.
    let key = key.unwrap_or_default();
    assert!(
        s.envoy
            .events()
            .iter()
            .any(|e| e["idempotency_key"] == key.as_str()),
        "no log line with the key hash"
    );
    let log = s.envoy.log();
    assert!(
        !log.contains("burst-1") && !filter_strings(&log).contains("burst-1"),
        "payload in the log"
    );
}

/// The receiver fails the first attempt: the claim is released and the retry is processed.
fn failed_attempt_is_retried_and_processed_once(s: &Setup) {
    let d = delivery(&s.config, "fails-first");
    s.upstream.set_status(500);
    assert_eq!(deliver(s.envoy.port, &d).status, 500);
    s.upstream.set_status(200);
    // The release travels after the answer: retry until the claim is free.
    let r = until_duplicate(s.envoy.port, &d);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]));
    assert!(is_duplicate(&until_duplicate(s.envoy.port, &d)));
    let attempts: Vec<_> = s
        .upstream
        .requests()
        .into_iter()
        .filter(|r| r.body == d.1.as_bytes())
        .collect();
    assert_eq!(attempts.len(), 2, "one failed attempt, one processed");
}

#[test]
fn memory_backend_processes_each_delivery_once() {
    if !e2e_ready() {
        return;
    }
    let cache = Cache::start(0, &[]);
    let s = setup(cache.port, 1000, "reject", 2);
    burst_reaches_upstream_once(&s);
    failed_attempt_is_retried_and_processed_once(&s);
    assert!(
        s.envoy
            .metric(r#"webhook_guard_filter_duplicates_total{endpoint="genesys"}"#)
            >= 2
    );
    assert!(
        s.envoy
            .metric(r#"webhook_guard_filter_cache_settled_total{op="commit"}"#)
            >= 2
    );
    s.envoy.assert_no_panic();
}

#[test]
fn redis_backend_processes_each_delivery_once() {
    if !e2e_ready() {
        return;
    }
    let redis = Redis::start();
    let cache = Cache::start(0, &["--redis", &redis.url()]);
    let s = setup(cache.port, 1000, "reject", 1);
    burst_reaches_upstream_once(&s);
    failed_attempt_is_retried_and_processed_once(&s);
    s.envoy.assert_no_panic();
}

#[test]
fn two_envoys_sharing_redis_deduplicate_across_them() {
    if !e2e_ready() {
        return;
    }
    let redis = Redis::start();
    let cache_a = Cache::start(0, &["--redis", &redis.url()]);
    let cache_b = Cache::start(0, &["--redis", &redis.url()]);
    let a = setup(cache_a.port, 1000, "reject", 1);
    let b = setup(cache_b.port, 1000, "reject", 1);
    let d = delivery(&a.config, "shared-1");
    assert_eq!(deliver(a.envoy.port, &d).body, b"ok");
    // The sender's retry lands on the other Envoy.
    assert!(is_duplicate(&until_duplicate(b.envoy.port, &d)));
    assert_eq!(a.upstream.requests().len() + b.upstream.requests().len(), 1);
}

#[test]
fn cache_down_or_slow_fails_closed() {
    if !e2e_ready() {
        return;
    }
    // Stopped: the call-out gets no answer.
    let mut cache = Cache::start(0, &[]);
    let s = setup(cache.port, 250, "reject", 1);
    cache.stop();
    let r = deliver(s.envoy.port, &delivery(&s.config, "down-1"));
    assert_eq!(
        (r.status, r.error()),
        (503, "idempotency_unavailable".into())
    );
    assert!(r.header("retry-after").is_some());

    // Slow: accepts, never answers; the call-out times out after 250 ms.
    let slow = setup(silent_server(), 250, "reject", 1);
    let started = Instant::now();
    let r = deliver(slow.envoy.port, &delivery(&slow.config, "slow-1"));
    assert_eq!(
        (r.status, r.error()),
        (503, "idempotency_unavailable".into())
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the timeout did not apply"
    );

    assert_eq!(
        s.upstream.heads() + slow.upstream.heads(),
        0,
        "nothing forwarded"
    );
    assert!(
        s.envoy
            .metric(r#"webhook_guard_filter_cache_errors_total{op="claim"}"#)
            >= 1
    );
}

/// A cache cluster the configuration names but Envoy does not have (a changed Service port
/// or namespace, a `Sidecar` egress scope that prunes it): every claim is a 503, and the log
/// says which cluster is missing, so the operator can find why (docs/troubleshooting.md).
#[test]
fn a_missing_cache_cluster_fails_closed_and_is_named_in_the_log() {
    if !e2e_ready() {
        return;
    }
    let cache = Cache::start(0, &[]);
    let upstream = Upstream::start();
    let config = config(250, "reject").replace(
        r#""cluster": "webhook_guard_cache""#,
        r#""cluster": "outbound|8081||webhook-guard-cache.elsewhere.svc.cluster.local""#,
    );
    let mut opts = EnvoyOptions::new(&config, upstream.port);
    opts.cache_port = Some(cache.port);
    let envoy = Envoy::start(&opts);
    let r = deliver(envoy.port, &delivery(&config, "no-cluster-1"));
    assert_eq!(
        (r.status, r.error()),
        (503, "idempotency_unavailable".into())
    );
    assert_eq!(upstream.heads(), 0, "nothing forwarded");
    let named = envoy.events().iter().any(|e| {
        e["event"] == "cache_cluster_unreachable"
            && e["cluster"] == "outbound|8081||webhook-guard-cache.elsewhere.svc.cluster.local"
    });
    assert!(named, "{}", envoy.log());
}

#[test]
fn cache_down_with_on_unavailable_allow_forwards() {
    if !e2e_ready() {
        return;
    }
    let s = setup(silent_server(), 250, "allow", 1);
    let r = deliver(s.envoy.port, &delivery(&s.config, "allow-1"));
    assert_eq!(r.status, 200);
    assert_eq!(s.upstream.requests().len(), 1);
}

#[test]
fn cache_restart_with_redis_loses_no_claim() {
    if !e2e_ready() {
        return;
    }
    let redis = Redis::start();
    let mut cache = Cache::start(0, &["--redis", &redis.url()]);
    let port = cache.port;
    let s = setup(port, 1000, "reject", 1);
    let d = delivery(&s.config, "restart-1");

    // The first attempt is in flight at the receiver while the cache service restarts.
    s.upstream.set_delay(Duration::from_millis(1500));
    let envoy_port = s.envoy.port;
    let first = {
        let d = d.clone();
        thread::spawn(move || deliver(envoy_port, &d))
    };
    thread::sleep(Duration::from_millis(500));
    cache.stop();
    let cache = Cache::start(port, &["--redis", &redis.url()]);
    // The claim survived in Redis: a retry now is told to come back later.
    let r = deliver(envoy_port, &d);
    assert_eq!((r.status, r.error()), (429, "in_flight".into()));
    assert_eq!(first.join().expect("first attempt").body, b"ok");
    s.upstream.set_delay(Duration::ZERO);
    // The commit reached the restarted service: later retries are duplicates.
    assert!(is_duplicate(&until_duplicate(envoy_port, &d)));
    assert_eq!(s.upstream.requests().len(), 1);
    drop(cache);
}
