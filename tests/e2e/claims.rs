//! Every way out of a claim, end to end: a real Envoy with the built filter, the real cache
//! service (memory, and Redis where a claim must survive the service), a real upstream, and
//! faults on both sides. The rule under test (src/lifecycle.rs): commit on the receiver's
//! 2xx; release when the receiver is known not to have processed the delivery; keep the
//! claim until its in-flight TTL when the outcome is unknown; and release (with a tombstone)
//! any claim whose answer the filter never used.
//!
//! Paths covered elsewhere: receiver 2xx and 5xx, cache down and slow-to-503
//! (tests/e2e/idempotency.rs), cache answering garbage (tests/e2e/faults.rs).

use std::thread;
use std::time::{Duration, Instant};

use crate::common::*;

const SECRET: &str = "claims-secret-0123456789";
/// Short, so that the tests can see a kept claim lapse and its delivery get through.
const IN_FLIGHT_TTL_SECONDS: u64 = 3;

fn config(cache_timeout_ms: u64) -> String {
    format!(
        r#"{{
  "idempotency": {{ "cluster": "webhook_guard_cache", "timeout_ms": {cache_timeout_ms},
                   "in_flight_ttl_seconds": {IN_FLIGHT_TTL_SECONDS}, "done_ttl_seconds": 3600 }},
  "endpoints": [
    {{ "name": "genesys", "path_prefix": "/webhooks/genesys", "preset": "genesys-open-messaging",
      "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ] }}
  ]
}}"#
    )
}

fn envoy(
    cache_port: u16,
    cache_timeout_ms: u64,
    upstream_port: u16,
    route_timeout_ms: u64,
) -> Envoy {
    let mut opts = EnvoyOptions::new(&config(cache_timeout_ms), upstream_port);
    opts.cache_port = Some(cache_port);
    opts.route_timeout_ms = route_timeout_ms;
    Envoy::start(&opts)
}

fn delivery(id: &str) -> Delivery {
    genesys_delivery(&config(1000), SECRET, id)
}

fn is_processed(r: &Response) -> bool {
    r.status == 200 && r.body == b"ok"
}

fn is_in_flight(r: &Response) -> bool {
    r.status == 429 && r.error() == "in_flight"
}

/// Sends `d` every 100 ms until `done` says so (or 15 s pass), like a sender retrying.
fn retry_until(port: u16, d: &Delivery, done: impl Fn(&Response) -> bool) -> Response {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = deliver(port, d);
        if done(&r) || Instant::now() > deadline {
            return r;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// How many times the receiver got `d`'s body.
fn received(upstream: &Upstream, d: &Delivery) -> usize {
    upstream
        .requests()
        .iter()
        .filter(|r| r.body == d.1.as_bytes())
        .count()
}

fn claims(envoy: &Envoy, outcome: &str) -> u64 {
    envoy.metric(&format!(
        r#"webhook_guard_filter_claims_total{{outcome="{outcome}"}}"#
    ))
}

/// A `webhook_guard_cache_requests_total` sample of the cache service itself.
fn cache_metric(cache_port: u16, op: &str, result: &str) -> u64 {
    let r = send(cache_port, "GET", "/metrics", &[], b"");
    let series = format!(r#"webhook_guard_cache_requests_total{{op="{op}",result="{result}"}} "#);
    String::from_utf8_lossy(&r.body)
        .lines()
        .find_map(|l| l.strip_prefix(&series)?.trim().parse().ok())
        .unwrap_or(0)
}

/// Asserts that retries are told to wait while the claim is kept, and that once its
/// in-flight TTL has run out the delivery is processed: kept, never lost.
fn kept_then_processed_after_the_ttl(envoy: &Envoy, upstream: &Upstream, d: &Delivery) {
    let r = deliver(envoy.port, d);
    assert!(is_in_flight(&r), "a retry right away must wait: {r:?}");
    assert!(r.header("retry-after").is_some());
    upstream.set_behaviour(Behaviour::Answer);
    upstream.set_delay(Duration::ZERO);
    let r = retry_until(envoy.port, d, |r| !is_in_flight(r));
    assert!(
        is_processed(&r),
        "after the TTL the retry is processed: {r:?}"
    );
    assert_eq!(claims(envoy, "kept"), 1);
    // The kept claim's log line names the request (Envoy's request.id, read in the
    // response phase) and carries no payload.
    let line = envoy
        .events()
        .into_iter()
        .find(|e| e["event"] == "webhook_claim_kept")
        .expect("a webhook_claim_kept line");
    assert!(line["request_id"].is_string(), "{line}");
    assert!(!line.to_string().contains(&d.1), "{line}");
    envoy.assert_no_panic();
}

#[test]
fn a_connection_refused_releases_the_claim() {
    if !e2e_ready() {
        return;
    }
    let cache = Cache::start(0, &[]);
    // Nothing listens on the receiver's port yet: Envoy never sends the request.
    let port = free_port();
    let envoy = envoy(cache.port, 1000, port, 2000);
    let d = delivery("refused-1");
    let r = deliver(envoy.port, &d);
    assert_eq!(r.status, 503, "{r:?}");
    let upstream = Upstream::start_on(port);
    // Released: the sender's retry goes through well before the in-flight TTL.
    let r = retry_until(envoy.port, &d, |r| !is_in_flight(r));
    assert!(is_processed(&r), "{r:?}");
    assert_eq!(received(&upstream, &d), 1);
    assert_eq!(claims(&envoy, "released"), 1);
    assert_eq!(claims(&envoy, "kept"), 0);
    envoy.assert_no_panic();
}

#[test]
fn a_route_timeout_keeps_the_claim_until_its_ttl() {
    if !e2e_ready() {
        return;
    }
    let cache = Cache::start(0, &[]);
    let upstream = Upstream::start();
    let envoy = envoy(cache.port, 1000, upstream.port, 500);
    let d = delivery("timeout-1");
    // The receiver has the request and is still working on it when Envoy gives up (504).
    upstream.set_behaviour(Behaviour::Hang);
    assert_eq!(deliver(envoy.port, &d).status, 504);
    kept_then_processed_after_the_ttl(&envoy, &upstream, &d);
    assert_eq!(
        received(&upstream, &d),
        2,
        "the hung attempt, then one after the TTL"
    );
}

#[test]
fn an_upstream_reset_after_the_request_was_sent_keeps_the_claim() {
    if !e2e_ready() {
        return;
    }
    let cache = Cache::start(0, &[]);
    let upstream = Upstream::start();
    let envoy = envoy(cache.port, 1000, upstream.port, 5000);
    let d = delivery("reset-1");
    // The receiver read the whole request, then the connection died: did it process it?
    upstream.set_behaviour(Behaviour::Reset);
    assert_eq!(deliver(envoy.port, &d).status, 503);
    kept_then_processed_after_the_ttl(&envoy, &upstream, &d);
}

#[test]
fn a_client_gone_after_forwarding_keeps_the_claim() {
    if !e2e_ready() {
        return;
    }
    let cache = Cache::start(0, &[]);
    let upstream = Upstream::start();
    let envoy = envoy(cache.port, 1000, upstream.port, 5000);
    let d = delivery("gone-after-1");
    // The review's case: the receiver takes 1.2 s, the client hangs up at 0.4 s and retries.
    upstream.set_delay(Duration::from_millis(1200));
    send_and_hang_up(
        envoy.port,
        "/webhooks/genesys",
        &as_refs(&d.0),
        d.1.as_bytes(),
        Duration::from_millis(400),
    );
    let retry = deliver(envoy.port, &d);
    assert!(is_in_flight(&retry), "{retry:?}");
    thread::sleep(Duration::from_millis(1000));
    // The receiver got it once; retries within the TTL are still told to wait.
    assert_eq!(received(&upstream, &d), 1);
    let retry = deliver(envoy.port, &d);
    assert!(is_in_flight(&retry), "{retry:?}");
    assert_eq!(received(&upstream, &d), 1, "processed twice");
    // The TTL is the bound: a sender retrying past it is served (docs/deduplication.md: choosing the timeouts).
    upstream.set_delay(Duration::ZERO);
    let r = retry_until(envoy.port, &d, |r| !is_in_flight(r));
    assert!(is_processed(&r), "{r:?}");
    assert_eq!(claims(&envoy, "kept"), 1);
    envoy.assert_no_panic();
}

#[test]
fn a_client_gone_while_the_claim_is_pending_abandons_it() {
    if !e2e_ready() {
        return;
    }
    let cache = Cache::start(0, &[]);
    // The first claim takes 800 ms at the cache; the filter would wait 2 s.
    let slow = SlowCache::start(cache.port, 1, Duration::from_millis(800));
    let upstream = Upstream::start();
    let envoy = envoy(slow.port, 2000, upstream.port, 5000);
    let d = delivery("gone-claiming-1");
    send_and_hang_up(
        envoy.port,
        "/webhooks/genesys",
        &as_refs(&d.0),
        d.1.as_bytes(),
        Duration::from_millis(200),
    );
    // Let the late claim land after the filter's release (the tombstone refuses it).
    thread::sleep(Duration::from_millis(1000));
    assert_eq!(slow.claims_seen(), 1);
    assert_eq!(received(&upstream, &d), 0, "nothing was forwarded");
    let r = deliver(envoy.port, &d);
    assert!(
        is_processed(&r),
        "the retry is not blocked by an orphan claim: {r:?}"
    );
    assert_eq!(claims(&envoy, "abandoned"), 1);
    // The filter keeps one cache request in flight at most, so its release follows the
    // batch that carries the claim (here it lands after the claim and frees it); a release
    // that overtakes its claim (the claim timed out first) leaves a tombstone that refuses
    // it: the late-claim tests below. Either way the orphan claim is freed exactly once.
    assert_eq!(
        cache_metric(cache.port, "claim", "abandoned")
            + cache_metric(cache.port, "release", "released"),
        1
    );
    envoy.assert_no_panic();
}

/// The claim's answer comes after `timeout_ms`: the filter answered 503 and released the
/// claim with a tombstone, so the late claim is refused and the retry is processed.
fn a_late_claim_answer_does_not_block_the_retry(cache: &Cache) {
    let slow = SlowCache::start(cache.port, 1, Duration::from_millis(700));
    let upstream = Upstream::start();
    let envoy = envoy(slow.port, 250, upstream.port, 5000);
    let d = delivery("late-claim-1");
    let r = deliver(envoy.port, &d);
    assert_eq!(
        (r.status, r.error()),
        (503, "idempotency_unavailable".into())
    );
    // A sender retries a second later; by then the late claim has reached the cache.
    thread::sleep(Duration::from_millis(1000));
    let r = deliver(envoy.port, &d);
    assert!(is_processed(&r), "{r:?}");
    assert_eq!(received(&upstream, &d), 1);
    assert_eq!(claims(&envoy, "abandoned"), 1);
    assert_eq!(cache_metric(cache.port, "claim", "abandoned"), 1);
    // And it is still processed once.
    let r = retry_until(envoy.port, &d, |r| !is_in_flight(r));
    assert_eq!(r.body, br#"{"status":"duplicate"}"#);
    envoy.assert_no_panic();
}

/// The late claim's tombstone must survive the sender's next attempt: that attempt claims
/// the key, fails at the receiver and releases it, and only then does the late claim land,
/// on a free key. (Found by review: tombstones kept in the key's own state were lost.)
fn a_tombstone_outlives_the_retries_claim_and_release(cache: &Cache) {
    let slow = SlowCache::start(cache.port, 1, Duration::from_millis(1500));
    let upstream = Upstream::start();
    let envoy = envoy(slow.port, 250, upstream.port, 5000);
    let d = delivery("orphan-1");
    let r = deliver(envoy.port, &d);
    assert_eq!(r.status, 503, "{r:?}");
    thread::sleep(Duration::from_millis(100));
    // The sender retries the 503; the receiver fails this attempt.
    upstream.set_status(500);
    let r = retry_until(envoy.port, &d, |r| !is_in_flight(r));
    assert_eq!(r.status, 500, "{r:?}");
    // The first claim lands now.
    thread::sleep(Duration::from_millis(1800));
    assert_eq!(slow.claims_seen(), 2);
    upstream.set_status(200);
    let r = retry_until(envoy.port, &d, |r| !is_in_flight(r) && r.status != 500);
    assert!(
        is_processed(&r),
        "an orphan claim blocks the retries: {r:?}"
    );
    assert_eq!(cache_metric(cache.port, "claim", "abandoned"), 1);
    envoy.assert_no_panic();
}

#[test]
fn a_tombstone_outlives_the_retries_claim_memory() {
    if !e2e_ready() {
        return;
    }
    a_tombstone_outlives_the_retries_claim_and_release(&Cache::start(0, &[]));
}

#[test]
fn a_tombstone_outlives_the_retries_claim_redis() {
    if !e2e_ready() {
        return;
    }
    let redis = Redis::start();
    a_tombstone_outlives_the_retries_claim_and_release(&Cache::start(
        0,
        &["--redis", &redis.url()],
    ));
}

/// Entries the cache holds: the memory backend's gauge, or Redis' DBSIZE.
fn cache_entries(cache_port: u16, redis: Option<&Redis>) -> u64 {
    if let Some(redis) = redis {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &redis.port.to_string(), "dbsize"])
            .output()
            .expect("redis-cli");
        return String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
    }
    let r = send(cache_port, "GET", "/metrics", &[], b"");
    String::from_utf8_lossy(&r.body)
        .lines()
        .find_map(|l| {
            l.strip_prefix("webhook_guard_cache_memory_entries ")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// One captured delivery, replayed with a hang-up right after the body each time, is
/// abandoned each time with a fresh token. (Found by review: each abandon left a tombstone,
/// so the memory store filled up and refused every other delivery, and Redis grew without
/// bound.) A done key needs no tombstone, and a key never keeps more than four.
fn replays_abandoned_again_and_again(cache: &Cache, redis: Option<&Redis>) {
    let upstream = Upstream::start();
    let envoy = envoy(cache.port, 1000, upstream.port, 5000);
    let d = delivery("captured-1");
    assert!(is_processed(&deliver(envoy.port, &d)));
    thread::sleep(Duration::from_millis(300));
    let before = cache_entries(cache.port, redis);
    for _ in 0..150 {
        send_and_hang_up(
            envoy.port,
            "/webhooks/genesys",
            &as_refs(&d.0),
            d.1.as_bytes(),
            Duration::ZERO,
        );
    }
    thread::sleep(Duration::from_millis(1500));
    let after = cache_entries(cache.port, redis);
    assert!(
        claims(&envoy, "abandoned") > 0,
        "the replays were not abandoned: the test proves nothing"
    );
    assert!(
        after <= before + 1,
        "one replayed delivery: {before} -> {after} entries"
    );
    let fresh = delivery("legit-1");
    assert!(is_processed(&deliver(envoy.port, &fresh)));
    envoy.assert_no_panic();
}

#[test]
fn replays_abandoned_again_and_again_do_not_fill_the_memory_store() {
    if !e2e_ready() {
        return;
    }
    replays_abandoned_again_and_again(&Cache::start(0, &["--memory-max-entries", "40"]), None);
}

#[test]
fn replays_abandoned_again_and_again_do_not_grow_redis() {
    if !e2e_ready() {
        return;
    }
    let redis = Redis::start();
    replays_abandoned_again_and_again(&Cache::start(0, &["--redis", &redis.url()]), Some(&redis));
}

/// A copy of the built `.wasm` that differs from it (one more custom section): for Envoy a
/// new module, so a new VM, as an upgrade is.
fn another_build(tag: &str) -> std::path::PathBuf {
    let mut module = std::fs::read(wasm_path()).expect("the built .wasm");
    let name = b"webhook-guard-test-build";
    let mut content = vec![name.len() as u8];
    content.extend_from_slice(name);
    content.extend_from_slice(tag.as_bytes());
    assert!(content.len() < 128, "one byte of LEB128 size");
    module.push(0); // a custom section
    module.push(content.len() as u8);
    module.extend_from_slice(&content);
    let path = scratch_dir("claims-upgrade").join(format!("webhook_guard_{tag}.wasm"));
    std::fs::write(&path, module).expect("write the other build");
    path
}

/// Configuration updates (LDS) replace the filter's root context while a commit waits for
/// its retry in the old one (the cache is restarting): each of `updates`, in turn, changes
/// the listener, and the one before drains (1 s). However Envoy replaces the root (a new
/// root in the same VM, or a new VM, once or back and forth), the commit must reach the
/// cache: the sender's retry past the in-flight TTL is a duplicate. (Found by review: with a
/// drain shorter than the retry window the old root went, its retry with it; and when the
/// update built a new VM, the old root's VM went with everything it still had to send.)
fn a_commit_waiting_for_its_retry_survives(updates: &[&dyn Fn(&mut EnvoyOptions)]) {
    let redis = Redis::start();
    let mut cache = Cache::start(0, &["--redis", &redis.url()]);
    let cache_port = cache.port;
    let upstream = Upstream::start();
    let mut options = EnvoyOptions::new(&config(1000), upstream.port);
    options.cache_port = Some(cache_port);
    options.concurrency = 2;
    options.lds_drain_seconds = Some(1);
    let envoy = Envoy::start(&options);
    let d = delivery("reload-1");
    // The receiver works on it while the cache goes away: the commit fails and waits.
    upstream.set_delay(Duration::from_millis(800));
    let port = envoy.port;
    let sender = {
        let d = d.clone();
        thread::spawn(move || deliver(port, &d))
    };
    thread::sleep(Duration::from_millis(400));
    cache.stop();
    assert!(is_processed(&sender.join().expect("first attempt")));
    thread::sleep(Duration::from_millis(100));
    let configured = || {
        envoy
            .events()
            .iter()
            .filter(|e| e["event"] == "config_loaded")
            .count()
    };
    let roots_before = configured();
    for (i, update) in updates.iter().enumerate() {
        if i > 0 {
            // The listener before is drained, and its root ended, before the next update.
            thread::sleep(Duration::from_millis(1200));
        }
        update(&mut options);
        envoy.reload(&options);
    }
    // Did the updates build new roots? Envoy 1.36 keeps the running plugin, root and VM
    // when only `vm_config.environment_variables` changes (no root is configured again):
    // then no root ends, nothing is handed on, and the root that holds the commit keeps
    // retrying, so the cache must come back within its retry window (docs/hosts.md).
    let deadline = Instant::now() + Duration::from_millis(1500);
    while configured() == roots_before && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    let replaced = configured() > roots_before;
    // When they did, the cache stays away until a replaced root has handed the commit on
    // (each one that held it did; how many depends on how the drains overlap), so that the
    // commit goes through a hand-off whatever the machine's speed, not by luck of timing.
    let handed = || {
        envoy.events().iter().any(|e| {
            e["event"] == "settlements_handed_on"
                && e["handed_on"].as_u64() > Some(0)
                && e["handed_on"] == e["pending"]
        })
    };
    if replaced {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !handed() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(100));
        }
        assert!(handed(), "no root handed the commit on:\n{}", envoy.log());
    }
    let _cache = Cache::start(cache_port, &["--redis", &redis.url()]);
    upstream.set_delay(Duration::ZERO);
    // Past the in-flight TTL, the sender's retry must be a duplicate, not run again.
    thread::sleep(Duration::from_secs(IN_FLIGHT_TTL_SECONDS + 3));
    let again = deliver(envoy.port, &d);
    assert_eq!(again.body, br#"{"status":"duplicate"}"#, "{again:?}");
    assert_eq!(received(&upstream, &d), 1);
    envoy.assert_no_panic();
}

/// The plugin configuration changes (here only its log level): a new root in the same VM.
fn log_level_info(o: &mut EnvoyOptions) {
    o.filter_config = o
        .filter_config
        .replacen('{', r#"{ "log_level": "info","#, 1);
}

/// A VM environment variable is added (step 1 of a secret rotation): a new VM.
fn vm_env_added(o: &mut EnvoyOptions) {
    o.vm_env = vec![("WEBHOOK_GUARD_NEXT_SECRET".into(), SECRET.into())];
}

fn vm_env_removed(o: &mut EnvoyOptions) {
    o.vm_env.clear();
}

#[test]
fn a_configuration_update_keeps_the_commits_still_to_send() {
    if !e2e_ready() {
        return;
    }
    a_commit_waiting_for_its_retry_survives(&[&log_level_info]);
}

#[test]
fn an_environment_change_keeps_the_commits_still_to_send() {
    if !e2e_ready() {
        return;
    }
    a_commit_waiting_for_its_retry_survives(&[&vm_env_added]);
}

#[test]
fn an_upgrade_to_a_new_module_keeps_the_commits_still_to_send() {
    if !e2e_ready() {
        return;
    }
    let next = another_build("next");
    a_commit_waiting_for_its_retry_survives(&[&move |o: &mut EnvoyOptions| {
        o.wasm_file = Some(next.clone())
    }]);
}

/// A to B and back to A within the retry window (a rollback, or two operators): the first A
/// is gone by the time A comes back, and B with it.
#[test]
fn a_flip_flop_of_configurations_keeps_the_commits_still_to_send() {
    if !e2e_ready() {
        return;
    }
    a_commit_waiting_for_its_retry_survives(&[&vm_env_added, &vm_env_removed]);
}

#[test]
fn a_late_claim_answer_is_released_memory() {
    if !e2e_ready() {
        return;
    }
    a_late_claim_answer_does_not_block_the_retry(&Cache::start(0, &[]));
}

#[test]
fn a_late_claim_answer_is_released_redis() {
    if !e2e_ready() {
        return;
    }
    let redis = Redis::start();
    a_late_claim_answer_does_not_block_the_retry(&Cache::start(0, &["--redis", &redis.url()]));
}
