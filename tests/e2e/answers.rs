//! End to end: every row of the answer table (but the cache's) produced by a real Envoy,
//! with the status, the error code, and an upstream that saw nothing.

use crate::common::*;

const SECRET: &str = "answers-secret-0123456789";

fn config() -> String {
    format!(
        r#"{{
  "max_body_bytes": 2048,
  "idempotency": {{ "cluster": "webhook_guard_cache" }},
  "endpoints": [
    {{ "name": "genesys", "path_prefix": "/webhooks/genesys", "preset": "genesys-open-messaging",
      "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ],
      "idempotency_key": null,
      "payload_schema": {{
        "type": "object",
        "required": ["id", "channel"],
        "properties": {{
          "id": {{ "type": "string", "minLength": 1 }},
          "channel": {{ "type": "object", "required": ["time"],
                        "properties": {{ "time": {{ "type": "string", "format": "date-time" }} }} }},
          "type": {{ "enum": ["Text", "Structured", "Receipt", "Event"] }}
        }}
      }} }},
    {{ "name": "keyed", "path_prefix": "/webhooks/keyed", "preset": "github",
      "idempotency_key": "/delivery",
      "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ] }},
    {{ "name": "office", "path_prefix": "/webhooks/office", "preset": "github",
      "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ], "idempotency_key": null,
      "source_ips": [ "10.0.0.0/8", "2001:db8::/32" ] }},
    {{ "name": "local", "path_prefix": "/webhooks/local", "preset": "github",
      "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ], "idempotency_key": null,
      "source_ips": [ "127.0.0.0/8" ] }},
    {{ "name": "genesys-lb", "path_prefix": "/webhooks/genesys-lb", "preset": "github",
      "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ], "idempotency_key": null,
      "source_ips": [ "52.200.73.32/32" ] }},
    {{ "name": "shadow", "path_prefix": "/webhooks/shadow", "preset": "github", "mode": "report",
      "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ], "idempotency_key": null }}
  ]
}}"#
    )
}

fn start(xff_trusted_hops: u32) -> (Upstream, Envoy, String) {
    let upstream = Upstream::start();
    let config = config();
    let mut opts = EnvoyOptions::new(&config, upstream.port);
    opts.xff_trusted_hops = xff_trusted_hops;
    let envoy = Envoy::start(&opts);
    (upstream, envoy, config)
}

fn signed(config: &str, endpoint: &str, body: &str) -> Vec<(String, Vec<u8>)> {
    sign_for(config, &[], endpoint, SECRET, body.as_bytes(), "", "")
}

fn post(envoy: &Envoy, path: &str, headers: &[(String, Vec<u8>)], body: &str) -> Response {
    send(envoy.port, "POST", path, &as_refs(headers), body.as_bytes())
}

#[track_caller]
fn assert_answer(r: &Response, status: u16, error: &str) {
    assert_eq!(
        (r.status, r.error()),
        (status, error.to_string()),
        "{:?}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
}

#[test]
fn refusals_before_and_after_the_signature() {
    if !e2e_ready() {
        return;
    }
    let (upstream, envoy, config) = start(0);
    let now = now_unix();

    let r = post(&envoy, "/elsewhere", &[], "{}");
    assert_answer(&r, 404, "unknown_endpoint");

    // 127.0.0.1 is not in 10.0.0.0/8: refused from the headers, body never read.
    let body = r#"{"a":1}"#;
    let r = post(
        &envoy,
        "/webhooks/office",
        &signed(&config, "office", body),
        body,
    );
    assert_answer(&r, 403, "source_ip_denied");
    // The security log line: who, where, which request; no payload.
    let line = envoy
        .events()
        .into_iter()
        .find(|e| e["reason"] == "source_ip_denied")
        .expect("a security log line");
    assert_eq!(line["event"], "webhook_rejected", "{line}");
    assert_eq!(line["source_ip"], "127.0.0.1", "{line}");
    assert!(line["request_id"].is_string(), "{line}");
    assert_eq!(line["endpoint"], "office", "{line}");

    let big = "x".repeat(2049);
    let r = post(&envoy, "/webhooks/genesys", &[], &big);
    assert_answer(&r, 413, "body_too_large");

    let r = post(&envoy, "/webhooks/genesys", &[], body);
    assert_answer(&r, 401, "missing_signature");

    let bad = vec![(
        "x-hub-signature-256".to_string(),
        b"sha256=not-base64!".to_vec(),
    )];
    let r = post(&envoy, "/webhooks/genesys", &bad, body);
    assert_answer(&r, 401, "malformed_signature");

    let wrong = sign_for(
        &config,
        &[],
        "genesys",
        "some-other-secret-000",
        body.as_bytes(),
        "",
        "",
    );
    let r = post(&envoy, "/webhooks/genesys", &wrong, body);
    assert_answer(&r, 401, "invalid_signature");

    // Validly signed, but the timestamp inside is absent, unparseable, old or ahead.
    let no_time = r#"{"id":"a","channel":{}}"#;
    let r = post(
        &envoy,
        "/webhooks/genesys",
        &signed(&config, "genesys", no_time),
        no_time,
    );
    assert_answer(&r, 401, "missing_timestamp");
    let odd_time = r#"{"id":"a","channel":{"time":"last tuesday"}}"#;
    let r = post(
        &envoy,
        "/webhooks/genesys",
        &signed(&config, "genesys", odd_time),
        odd_time,
    );
    assert_answer(&r, 401, "missing_timestamp");
    let old = genesys_body("old", now - 3600);
    let r = post(
        &envoy,
        "/webhooks/genesys",
        &signed(&config, "genesys", &old),
        &old,
    );
    assert_answer(&r, 401, "stale_timestamp");

    // Validly signed, not JSON; nested too deep.
    let text = "this is not json";
    let r = post(
        &envoy,
        "/webhooks/genesys",
        &signed(&config, "genesys", text),
        text,
    );
    assert_answer(&r, 400, "invalid_json");
    let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
    let r = post(
        &envoy,
        "/webhooks/genesys",
        &signed(&config, "genesys", &deep),
        &deep,
    );
    assert_answer(&r, 400, "invalid_json");

    // Validly signed and fresh, but against the schema: `at` names where, never what.
    let wrong_type =
        genesys_body("v1", now).replace(r#""type":"Text""#, r#""type":"Secret-Payload""#);
    let r = post(
        &envoy,
        "/webhooks/genesys",
        &signed(&config, "genesys", &wrong_type),
        &wrong_type,
    );
    assert_answer(&r, 400, "schema_violation");
    assert_eq!(r.json()["at"], "/type");
    assert!(!String::from_utf8_lossy(&r.body).contains("Secret-Payload"));
    let empty_id = genesys_body("", now);
    let r = post(
        &envoy,
        "/webhooks/genesys",
        &signed(&config, "genesys", &empty_id),
        &empty_id,
    );
    assert_eq!((r.status, r.json()["at"].as_str()), (400, Some("/id")));

    // A key read from the body (`/delivery` here): absent, 400.
    let r = post(
        &envoy,
        "/webhooks/keyed",
        &signed(&config, "keyed", body),
        body,
    );
    assert_answer(&r, 400, "missing_idempotency_key");

    assert_eq!(upstream.heads(), 0, "the upstream saw a request head");

    // And what passes every check goes through.
    let good = genesys_body("good", now);
    let r = post(
        &envoy,
        "/webhooks/genesys",
        &signed(&config, "genesys", &good),
        &good,
    );
    assert_eq!(r.status, 200);
    let r = post(
        &envoy,
        "/webhooks/local",
        &signed(&config, "local", body),
        body,
    );
    assert_eq!(r.status, 200);
    assert_eq!(upstream.requests().len(), 2);
    assert_eq!(
        envoy.metric(
            r#"webhook_guard_filter_rejected_total{endpoint="genesys",reason="schema_violation"}"#
        ),
        2
    );
    envoy.assert_no_panic();
}

#[test]
fn behind_a_trusted_proxy_the_forwarded_address_is_checked() {
    if !e2e_ready() {
        return;
    }
    let (upstream, envoy, config) = start(1);
    let body = r#"{"a":1}"#;
    let mut headers = signed(&config, "genesys-lb", body);
    // The load balancer appended the Genesys address it saw.
    headers.push(("x-forwarded-for".into(), b"52.200.73.32".to_vec()));
    let r = post(&envoy, "/webhooks/genesys-lb", &headers, body);
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    // A client that writes the header itself, through the load balancer, gets its own
    // address appended last: that is the one checked.
    headers.pop();
    headers.push((
        "x-forwarded-for".into(),
        b"52.200.73.32, 198.51.100.7".to_vec(),
    ));
    let r = post(&envoy, "/webhooks/genesys-lb", &headers, body);
    assert_answer(&r, 403, "source_ip_denied");
    assert_eq!(upstream.requests().len(), 1);
}

#[test]
fn without_trusted_hops_a_forwarded_header_changes_nothing() {
    if !e2e_ready() {
        return;
    }
    let (upstream, envoy, config) = start(0);
    let body = r#"{"a":1}"#;
    let mut headers = signed(&config, "genesys-lb", body);
    headers.push(("x-forwarded-for".into(), b"52.200.73.32".to_vec()));
    let r = post(&envoy, "/webhooks/genesys-lb", &headers, body);
    assert_answer(&r, 403, "source_ip_denied");
    assert_eq!(upstream.heads(), 0);
}

#[test]
fn the_path_is_normalised_before_the_endpoint_is_chosen() {
    if !e2e_ready() {
        return;
    }
    // Otherwise "/webhooks/x/../office" would match no endpoint (or a weaker one) in the
    // filter, and an upstream that normalises paths would serve it as /webhooks/office.
    let (upstream, envoy, config) = start(0);
    let body = r#"{"a":1}"#;
    for path in [
        "/webhooks/x/../office",
        "/webhooks//office",
        "/webhooks/./office",
    ] {
        let r = post(&envoy, path, &signed(&config, "office", body), body);
        assert_answer(&r, 403, "source_ip_denied");
    }
    for path in ["/webhooks//local", "/webhooks/shadow/../local"] {
        let r = post(&envoy, path, &signed(&config, "local", body), body);
        assert_eq!(
            r.status,
            200,
            "{path}: {:?}",
            String::from_utf8_lossy(&r.body)
        );
    }
    let paths: Vec<String> = upstream.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/webhooks/local", "/webhooks/local"]);
    // An escaped slash would be a second spelling of the same path: Envoy refuses it.
    let r = post(
        &envoy,
        "/webhooks%2Flocal",
        &signed(&config, "local", body),
        body,
    );
    assert_eq!(r.status, 400);
    assert_eq!(upstream.heads(), 2);
}

#[test]
fn report_mode_forwards_and_counts_what_it_would_refuse() {
    if !e2e_ready() {
        return;
    }
    let (upstream, envoy, _) = start(0);
    let body = r#"{"a":1}"#;
    let r = post(&envoy, "/webhooks/shadow", &[], body);
    assert_eq!(r.status, 200);
    assert_eq!(upstream.requests().len(), 1);
    assert_eq!(
        envoy.metric(r#"webhook_guard_filter_would_reject_total{endpoint="shadow",reason="missing_signature"}"#),
        1
    );
    assert!(envoy
        .events()
        .iter()
        .any(|e| e["event"] == "webhook_would_reject"));
}
