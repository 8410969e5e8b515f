//! What an attacker who picks the headers, the path's spelling or the ids can do, end to end
//! against a real Envoy, the built filter, the real cache service and a real upstream:
//! replay a captured GitHub delivery under a new id, pre-claim a future one, fill the cache,
//! merge two ids into one key, reach a weaker endpoint by another spelling of the path, or
//! hand the receiver the filter's own headers spelt with `_`.

use std::thread;
use std::time::{Duration, Instant};

use crate::common::*;

const SECRET: &str = "attacks-secret-0123456789";

fn config() -> String {
    format!(
        r#"{{
  "idempotency": {{ "cluster": "webhook_guard_cache", "timeout_ms": 1000,
                   "in_flight_ttl_seconds": 30, "done_ttl_seconds": 3600 }},
  "endpoints": [
    {{ "name": "github", "path_prefix": "/webhooks/github", "preset": "github",
      "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ] }},
    {{ "name": "genesys", "path_prefix": "/webhooks/genesys", "preset": "genesys-open-messaging",
      "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ] }},
    {{ "name": "loose", "path_prefix": "/hooks", "preset": "github", "mode": "report",
      "idempotency_key": null, "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ] }},
    {{ "name": "strict", "path_prefix": "/hooks/strict", "preset": "github",
      "idempotency_key": null, "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ] }}
  ]
}}"#
    )
}

struct Setup {
    upstream: Upstream,
    envoy: Envoy,
    cache: Cache,
}

fn setup(underscores: &'static str) -> Setup {
    let cache = Cache::start(0, &[]);
    let upstream = Upstream::start();
    let mut opts = EnvoyOptions::new(&config(), upstream.port);
    opts.cache_port = Some(cache.port);
    opts.underscores = underscores;
    let envoy = Envoy::start(&opts);
    Setup {
        upstream,
        envoy,
        cache,
    }
}

/// A GitHub delivery of `body` signed for `endpoint`, sent with `X-GitHub-Delivery: id`
/// (which GitHub does not sign).
fn github(endpoint: &str, body: &str, id: &str) -> Vec<(String, Vec<u8>)> {
    let mut headers = sign_for(&config(), &[], endpoint, SECRET, body.as_bytes(), "", "");
    headers.push(("x-github-delivery".into(), id.as_bytes().to_vec()));
    headers
}

fn post(port: u16, path: &str, headers: &[(String, Vec<u8>)], body: &str) -> Response {
    send(port, "POST", path, &as_refs(headers), body.as_bytes())
}

/// Sends until the claim of an earlier attempt is settled (its commit travels after the
/// answer, so the very next attempt may still find it in flight).
fn settled(port: u16, path: &str, headers: &[(String, Vec<u8>)], body: &str) -> Response {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = post(port, path, headers, body);
        if r.status != 429 || Instant::now() > deadline {
            return r;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn is_duplicate(r: &Response) -> bool {
    r.status == 200 && r.body == br#"{"status":"duplicate"}"#
}

fn received(upstream: &Upstream, body: &str) -> usize {
    upstream
        .requests()
        .iter()
        .filter(|r| r.body == body.as_bytes())
        .count()
}

fn cache_claims(cache: &Cache) -> u64 {
    let r = send(cache.port, "GET", "/metrics", &[], b"");
    String::from_utf8_lossy(&r.body)
        .lines()
        .find_map(|l| {
            l.strip_prefix(r#"webhook_guard_cache_requests_total{op="claim",result="claimed"} "#)?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

#[test]
fn an_unsigned_delivery_id_neither_replays_nor_loses_a_delivery() {
    if !e2e_ready() {
        return;
    }
    let s = setup("REJECT_REQUEST");
    let port = s.envoy.port;
    let path = "/webhooks/github";
    let captured = r#"{"action":"opened","number":1}"#;
    let r = post(
        port,
        path,
        &github("github", captured, "delivery-1"),
        captured,
    );
    assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]));

    // Replay: the captured body under fresh delivery ids is still the same delivery, and
    // each new id is no new claim in the cache.
    for i in 0..20 {
        let id = format!("forged-{i}");
        let r = settled(port, path, &github("github", captured, &id), captured);
        assert!(is_duplicate(&r), "replay {i} was processed: {r:?}");
    }
    assert_eq!(received(&s.upstream, captured), 1, "replayed");
    assert_eq!(cache_claims(&s.cache), 1, "each forged id made a claim");

    // Pre-claim: the captured body sent under the id of a delivery still to come...
    let r = settled(
        port,
        path,
        &github("github", captured, "delivery-2"),
        captured,
    );
    assert!(is_duplicate(&r));
    // ...does not make the real delivery with that id a "duplicate".
    let next = r#"{"action":"closed","number":1}"#;
    let r = post(port, path, &github("github", next, "delivery-2"), next);
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"ok"[..]),
        "the real delivery-2 was lost"
    );
    assert_eq!(received(&s.upstream, next), 1);
    // The sender's own retry of it is a duplicate, as before.
    assert!(is_duplicate(&settled(
        port,
        path,
        &github("github", next, "delivery-2"),
        next
    )));

    // The delivery id header still names the delivery in the security log.
    let mut forged = github("github", next, "log-me-7");
    forged[0].1 =
        b"sha256=0000000000000000000000000000000000000000000000000000000000000000".to_vec();
    assert_eq!(post(port, path, &forged, next).status, 401);
    assert!(s
        .envoy
        .events()
        .iter()
        .any(|e| e["event"] == "webhook_rejected" && e["delivery_id"] == "log-me-7"));
    s.envoy.assert_no_panic();
}

#[test]
fn ids_that_differ_as_json_are_different_deliveries() {
    if !e2e_ready() {
        return;
    }
    let s = setup("REJECT_REQUEST");
    let cfg = config();
    let time = rfc3339(now_unix());
    let deliver_id = |id: &str| {
        let body = format!(r#"{{"id":{id},"channel":{{"time":"{time}"}}}}"#);
        let headers = sign_for(&cfg, &[], "genesys", SECRET, body.as_bytes(), "", "");
        (
            settled(s.envoy.port, "/webhooks/genesys", &headers, &body),
            body,
        )
    };
    for (first, second) in [
        ("18446744073709551616", "18446744073709551617"),
        ("5", r#""5""#),
        ("1.0", "1"),
    ] {
        let (a, _) = deliver_id(first);
        let (b, body) = deliver_id(second);
        assert_eq!(a.body, b"ok", "{first}");
        assert_eq!(b.body, b"ok", "{second} was taken for {first}");
        assert_eq!(received(&s.upstream, &body), 1);
        // The same id again is a duplicate.
        assert!(is_duplicate(&deliver_id(second).0));
    }
    s.envoy.assert_no_panic();
}

#[test]
fn other_spellings_of_a_path_never_reach_a_weaker_endpoint() {
    if !e2e_ready() {
        return;
    }
    let s = setup("REJECT_REQUEST");
    let body = r#"{"action":"opened"}"#;
    let mut bad = github("strict", body, "x");
    bad[0].1 = b"sha256=0000000000000000000000000000000000000000000000000000000000000000".to_vec();
    let good = github("strict", body, "x");

    // The control: the report-mode parent forwards what it would refuse, so a spelling that
    // fell through to it would reach the upstream.
    assert_eq!(post(s.envoy.port, "/hooks/other", &bad, body).status, 200);
    assert_eq!(s.upstream.heads(), 1);
    assert_eq!(
        post(s.envoy.port, "/hooks/strict", &bad, body).error(),
        "invalid_signature"
    );
    assert_eq!(post(s.envoy.port, "/hooks/strict", &good, body).status, 200);
    assert_eq!(s.upstream.heads(), 2);

    for spelling in [
        "/hooks/strict;x=1",
        "/hooks/strict;/x",
        "/hooks/STRICT/x",
        "/hooks/Strict",
        "/hooks/strict.",
        "/hooks/strict..",
        "/hooks/strict%2e",
        "/hooks/strict%20",
        "/hooks/%53trict",
        "/hooks/%C5%BFtrict",
        "/hooks/strict%3bx",
        "/hooks%5cstrict",
        "/Hooks/strict",
        // Found by review: Rails and Spring format suffixes, Java's İ, IIS's %u.
        "/hooks/strict.json",
        "/hooks/strict.xml",
        "/hooks/str%C4%B0ct",
        "/hooks/%u0073trict",
    ] {
        let r = post(s.envoy.port, spelling, &bad, body);
        // Envoy itself may already refuse a spelling (400) or normalise it to the strict
        // path (401); the filter refuses the rest as ambiguous. None is forwarded.
        assert!(
            (r.status == 400 && (r.body.is_empty() || r.error() == "ambiguous_path"))
                || r.error() == "invalid_signature",
            "{spelling}: {} {:?}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(s.upstream.heads(), 2, "{spelling} was forwarded");
    }
    assert!(
        s.envoy.metric(
            r#"webhook_guard_filter_rejected_total{endpoint="none",reason="ambiguous_path"}"#
        ) >= 8
    );
    s.envoy.assert_no_panic();
}

/// What Java's `trim()` drops (U+0000-U+0020, and DEL), the Unicode spaces other trims
/// drop, fullwidth letters NFKC folds, double escapes and overlong UTF-8: Envoy's
/// `normalize_path` lets them through, and the report-mode parent would forward what a
/// receiver routes to the enforcing child. Each is refused, none forwarded.
#[test]
fn trimmed_folded_and_double_encoded_spellings_never_reach_a_weaker_endpoint() {
    if !e2e_ready() {
        return;
    }
    let s = setup("REJECT_REQUEST");
    // The path normalisation under test is the shipped one.
    let yaml = std::fs::read_to_string(s.envoy.dir.join("envoy.yaml")).expect("envoy.yaml");
    for setting in [
        "normalize_path: true",
        "merge_slashes: true",
        "path_with_escaped_slashes_action: REJECT_REQUEST",
    ] {
        assert!(yaml.contains(setting), "{setting} not in the test's Envoy");
    }
    let body = r#"{"action":"trimmed"}"#;
    let mut bad = github("strict", body, "x");
    bad[0].1 = b"sha256=0000000000000000000000000000000000000000000000000000000000000000".to_vec();
    let good = github("strict", body, "x");

    // The controls: the parent forwards what it would refuse; printable escapes and the
    // query string are as before.
    assert_eq!(
        post(s.envoy.port, "/hooks/other%41", &bad, body).status,
        200
    );
    assert_eq!(
        post(s.envoy.port, "/hooks/strict?x=%09%2573%C2%A0", &good, body).status,
        200
    );
    assert_eq!(s.upstream.heads(), 2);

    let mut encoded: Vec<String> = Vec::new();
    for b in (0..0x20).chain([0x7f]) {
        encoded.push(format!("/hooks/strict%{b:02X}"));
        encoded.push(format!("/hooks/strict%{b:02x}"));
    }
    for b in [0x09, 0x0a, 0x0d, 0x1f] {
        encoded.push(format!("/hooks/%{b:02x}strict"));
        encoded.push(format!("/hooks/strict%{b:02X}/x"));
    }
    for ch in [
        '\u{85}', '\u{a0}', '\u{1680}', '\u{2000}', '\u{2005}', '\u{200a}', '\u{2028}', '\u{2029}',
        '\u{202f}', '\u{205f}', '\u{3000}', '\u{feff}',
    ] {
        let utf8 = ch.to_string().into_bytes();
        let upper: String = utf8.iter().map(|b| format!("%{b:02X}")).collect();
        let lower: String = utf8.iter().map(|b| format!("%{b:02x}")).collect();
        encoded.push(format!("/hooks/strict{upper}"));
        encoded.push(format!("/hooks/strict{lower}"));
        encoded.push(format!("/hooks/strict%u{:04x}", ch as u32));
    }
    encoded.extend(
        [
            // Fullwidth `ｓ` and `．`, which NFKC folds to `s` and `.`.
            "/hooks/%EF%BD%93trict",
            "/hooks/strict%EF%BC%8E",
            // Double escapes.
            "/hooks/%2573trict",
            "/hooks/strict%2509",
            "/hooks/strict%252e",
            "/hooks/%%373trict",
            // Overlong UTF-8 of `s` and `.`.
            "/hooks/%C1%B3trict",
            "/hooks/strict%C0%AE",
            // A leading space (Java's trim, both ends), and `+`, a space to form decoders.
            "/hooks/%20strict",
            "/hooks/strict+",
            "/hooks/strict%2B",
        ]
        .map(String::from),
    );
    for path in &encoded {
        let r = post(s.envoy.port, path, &bad, body);
        // Envoy's normalisation refuses `%00` itself (400, no JSON); every other one
        // reaches the filter.
        let envoy_refuses = path.contains("%00") && r.status == 400 && r.body.is_empty();
        assert!(
            envoy_refuses || (r.status, r.error()) == (400, "ambiguous_path".to_string()),
            "{path}: {} {:?}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(s.upstream.heads(), 2, "{path} was forwarded");
    }
    // Raw, where Envoy's codec answers first (400 `Bad Request`): never forwarded.
    for path in [
        "/hooks/strict\u{a0}",
        "/hooks/strict\u{3000}",
        "/hooks/\u{ff53}trict",
        "/hooks/strict\x7f",
    ] {
        let r = post(s.envoy.port, path, &bad, body);
        assert!(
            r.status == 400 && (!r.body.starts_with(b"{") || r.error() == "ambiguous_path"),
            "{path:?}: {} {:?}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(s.upstream.heads(), 2, "{path:?} was forwarded");
    }
    assert!(
        s.envoy.metric(
            r#"webhook_guard_filter_rejected_total{endpoint="none",reason="ambiguous_path"}"#
        ) >= encoded.len() as u64 - 2
    );
    s.envoy.assert_no_panic();
}

const OWN_HEADERS: [&str; 4] = [
    "x_webhook_guard_endpoint",
    "x_webhook_guard_secret_id",
    "x-webhook-guard_idempotency_key",
    "X_Webhook_Guard_Anything",
];

#[test]
fn underscore_spellings_of_the_filters_headers_never_reach_the_receiver() {
    if !e2e_ready() {
        return;
    }
    // With Envoy letting underscores through, the filter removes them itself.
    let s = setup("ALLOW");
    let body = r#"{"action":"opened"}"#;
    let mut headers = github("strict", body, "x");
    for name in OWN_HEADERS {
        headers.push((name.to_string(), b"forged".to_vec()));
    }
    let r = post(s.envoy.port, "/hooks/strict", &headers, body);
    assert_eq!(r.status, 200, "{r:?}");
    let got = &s.upstream.requests()[0];
    for (name, value) in &got.headers {
        let spelt = name.replace('_', "-");
        assert!(
            !spelt.starts_with("x-webhook-guard-") || !name.contains('_'),
            "{name} reached the receiver"
        );
        assert_ne!(value.as_slice(), b"forged", "{name} reached the receiver");
    }
    assert_eq!(
        got.header("x-webhook-guard-endpoint").as_deref(),
        Some("strict")
    );
    s.envoy.assert_no_panic();

    // The shipped configs go further: Envoy refuses such a request before any filter.
    let shipped = setup("REJECT_REQUEST");
    let r = post(shipped.envoy.port, "/hooks/strict", &headers, body);
    assert_eq!(r.status, 400);
    assert_eq!(shipped.upstream.heads(), 0);
}

/// A flood of forged deliveries from one source is refused by the shipped per-source rate
/// limit (envoy/envoy.yaml) once its own bucket is empty, and never reaches the filter then;
/// a sender at another address keeps its tokens and is processed. (Found by review: the one
/// bucket shipped before let a flood from anywhere spend the tokens real senders need.)
#[test]
fn a_flood_from_one_source_leaves_other_sources_their_tokens() {
    if !e2e_ready() {
        return;
    }
    let config = format!(
        r#"{{"endpoints":[{{"name":"github","path_prefix":"/webhooks/github","preset":"github",
            "idempotency_key":null,"secrets":[{{"id":"current","value":"{SECRET}"}}]}}]}}"#
    );
    let upstream = Upstream::start();
    let mut opts = EnvoyOptions::new(&config, upstream.port);
    opts.per_source_tokens = None; // as shipped
    let envoy = Envoy::start(&opts);
    let body = r#"{"zen":"Design for failure."}"#;
    let forged = [(
        "x-hub-signature-256",
        format!("sha256={}", "0".repeat(64)).into_bytes(),
    )];
    let forged: Vec<(&str, &[u8])> = forged.iter().map(|(n, v)| (*n, v.as_slice())).collect();
    let flooder = std::net::Ipv4Addr::new(127, 0, 0, 1);
    let (sent, limited) = flood(|| {
        send_from(
            flooder,
            envoy.port,
            "/webhooks/github",
            &forged,
            body.as_bytes(),
        )
    });
    // What the limit refused never reached the filter: it refused only the rest.
    let refused = envoy.metric(
        r#"webhook_guard_filter_rejected_total{endpoint="github",reason="invalid_signature"}"#,
    );
    assert_eq!(refused, sent - limited, "{limited} of {sent} were limited");
    // Another source, right after: its own bucket is full.
    let sender = std::net::Ipv4Addr::new(127, 0, 0, 2);
    let headers = github("github", body, "d1");
    for _ in 0..20 {
        let r = send_from(
            sender,
            envoy.port,
            "/webhooks/github",
            &as_refs(&headers),
            body.as_bytes(),
        );
        assert_eq!(r.status, 200, "the other source was limited: {r:?}");
    }
    assert_eq!(received(&upstream, body), 20);
    envoy.assert_no_panic();
}

/// Behind a load balancer (`xff_num_trusted_hops: 1`, as envoy/envoy-behind-lb.yaml), the
/// bucket is the trusted client address's, not the load balancer's: a flood from one client
/// leaves the next client through the same load balancer its tokens.
#[test]
fn behind_a_load_balancer_each_client_address_has_its_own_bucket() {
    if !e2e_ready() {
        return;
    }
    let config = format!(
        r#"{{"endpoints":[{{"name":"github","path_prefix":"/webhooks/github","preset":"github",
            "idempotency_key":null,"secrets":[{{"id":"current","value":"{SECRET}"}}]}}]}}"#
    );
    let upstream = Upstream::start();
    let mut opts = EnvoyOptions::new(&config, upstream.port);
    opts.xff_trusted_hops = 1;
    opts.per_source_tokens = None; // as shipped
    let envoy = Envoy::start(&opts);
    let body = r#"{"zen":"Behind the balancer."}"#;
    let forged = format!("sha256={}", "0".repeat(64)).into_bytes();
    let (_, limited) = flood(|| {
        let h: [(&str, &[u8]); 2] = [
            ("x-hub-signature-256", &forged),
            ("x-forwarded-for", b"198.51.100.7"),
        ];
        send(envoy.port, "POST", "/webhooks/github", &h, body.as_bytes())
    });
    assert!(limited > 0);
    let mut headers = github("github", body, "d2");
    headers.push(("x-forwarded-for".into(), b"198.51.100.8".to_vec()));
    let r = post(envoy.port, "/webhooks/github", &headers, body);
    assert_eq!(r.status, 200, "the other client was limited: {r:?}");
    assert_eq!(received(&upstream, body), 1);
}

/// Sends forged deliveries from 8 threads at once until one is answered 429 (the bucket, 100
/// refilled 100 a second, is spent faster than it fills, even on a loaded machine; the shared
/// bucket shipped before held 500): (sent, answered 429). Every other answer must be the
/// filter's `invalid_signature`.
fn flood(send_one: impl Fn() -> Response + Sync) -> (u64, u64) {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let (stop, sent, limited) = (AtomicBool::new(false), AtomicU64::new(0), AtomicU64::new(0));
    thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                while !stop.load(Ordering::SeqCst) {
                    let r = send_one();
                    sent.fetch_add(1, Ordering::SeqCst);
                    if r.status == 429 {
                        assert!(r.header("retry-after").is_some());
                        limited.fetch_add(1, Ordering::SeqCst);
                        stop.store(true, Ordering::SeqCst);
                    } else {
                        assert_eq!(r.error(), "invalid_signature");
                        assert!(sent.load(Ordering::SeqCst) < 20_000, "never rate limited");
                    }
                }
            });
        }
    });
    (sent.into_inner(), limited.into_inner())
}
