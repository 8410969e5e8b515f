//! End to end: every preset's signature checked by the built filter inside a real Envoy,
//! with a real upstream that records what reaches it.

use std::time::Duration;

use crate::common::*;

const GENESYS_CURRENT: &str = "genesys-current-secret-0001";
const GENESYS_PREVIOUS: &str = "genesys-previous-secret-0001";
const GITHUB: &str = "github-secret-0123456789";
const STRIPE: &str = "whsec_stripe_secret_0123456789";
const SLACK: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const STANDARD: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SHOPIFY: &str = "shopify-secret-0123456789";
const TUTORIAL: &str = "tutorial-secret-0123456789";
const CUSTOM: &str = "custom-secret-0123456789";

fn config() -> String {
    format!(
        r#"{{
  "max_body_bytes": 4096,
  "endpoints": [
    {{ "name": "genesys", "path_prefix": "/webhooks/genesys", "preset": "genesys-open-messaging",
      "secrets": [ {{ "id": "current", "env": "GENESYS_WEBHOOK_SECRET" }},
                   {{ "id": "previous", "env": "GENESYS_WEBHOOK_SECRET_PREVIOUS" }} ] }},
    {{ "name": "tutorial", "path_prefix": "/webhooks/tutorial", "preset": "genesys-signature-header",
      "secrets": [ {{ "id": "primary", "value": "{TUTORIAL}" }} ] }},
    {{ "name": "github", "path_prefix": "/webhooks/github", "preset": "github",
      "secrets": [ {{ "id": "gh", "value": "{GITHUB}" }} ] }},
    {{ "name": "stripe", "path_prefix": "/webhooks/stripe", "preset": "stripe",
      "secrets": [ {{ "id": "st", "value": "{STRIPE}" }} ] }},
    {{ "name": "slack", "path_prefix": "/webhooks/slack", "preset": "slack",
      "secrets": [ {{ "id": "sl", "value": "{SLACK}" }} ] }},
    {{ "name": "standard", "path_prefix": "/webhooks/standard", "preset": "standard-webhooks",
      "secrets": [ {{ "id": "sw", "value": "{STANDARD}" }} ] }},
    {{ "name": "shopify", "path_prefix": "/webhooks/shopify", "preset": "shopify",
      "secrets": [ {{ "id": "sh", "value": "{SHOPIFY}" }} ] }},
    {{ "name": "custom", "path_prefix": "/webhooks/custom", "preset": "custom",
      "signature_header": "X-Signature", "signature_prefix": "hmac-sha256=", "encoding": "base64",
      "signed_content": "{{timestamp}}\n{{body}}", "timestamp": "header:X-Timestamp",
      "timestamp_format": "unix_ms",
      "secrets": [ {{ "id": "cu", "value": "{CUSTOM}" }} ] }}
  ]
}}"#
    )
}

const ENV: [(&str, &str); 2] = [
    ("GENESYS_WEBHOOK_SECRET", GENESYS_CURRENT),
    ("GENESYS_WEBHOOK_SECRET_PREVIOUS", GENESYS_PREVIOUS),
];

/// Envoy with the current Genesys secret from Envoy's own environment (`host_env_keys`) and
/// the previous one inline (`key_values`): both ways of vm_config.environment_variables.
fn start() -> (Upstream, Envoy, String) {
    let upstream = Upstream::start();
    let config = config();
    let mut opts = EnvoyOptions::new(&config, upstream.port);
    opts.host_env = vec![(ENV[0].0.into(), ENV[0].1.into())];
    opts.vm_env = vec![(ENV[1].0.into(), ENV[1].1.into())];
    let envoy = Envoy::start(&opts);
    (upstream, envoy, config)
}

struct Case {
    endpoint: &'static str,
    secret: &'static str,
    secret_id: &'static str,
    body: String,
    timestamp: String,
}

fn cases() -> Vec<Case> {
    let now = now_unix();
    let tutorial_body = format!(
        r#"{{"event":"conversation.end","conversationId":"5d0d331e-d2a8-4fb5-96f7-7021bef2a8ee","timestamp":"{}","platformVersion":"v2","data":{{}}}}"#,
        rfc3339(now)
    );
    let case = |endpoint, secret, secret_id, body: String, timestamp: String| Case {
        endpoint,
        secret,
        secret_id,
        body,
        timestamp,
    };
    vec![
        case(
            "genesys",
            GENESYS_CURRENT,
            "current",
            genesys_body("m-1", now),
            String::new(),
        ),
        case(
            "tutorial",
            TUTORIAL,
            "primary",
            tutorial_body,
            String::new(),
        ),
        case(
            "github",
            GITHUB,
            "gh",
            r#"{"zen":"Hello, World!"}"#.into(),
            String::new(),
        ),
        case(
            "stripe",
            STRIPE,
            "st",
            r#"{"id":"evt_1","object":"event"}"#.into(),
            now.to_string(),
        ),
        case(
            "slack",
            SLACK,
            "sl",
            "token=x&text=hello".into(),
            now.to_string(),
        ),
        case(
            "standard",
            STANDARD,
            "sw",
            r#"{"type":"user.created"}"#.into(),
            now.to_string(),
        ),
        case(
            "shopify",
            SHOPIFY,
            "sh",
            r#"{"id":820982911946154508}"#.into(),
            String::new(),
        ),
        case(
            "custom",
            CUSTOM,
            "cu",
            r#"{"any":"thing"}"#.into(),
            (now * 1000).to_string(),
        ),
    ]
}

fn signed(config: &str, c: &Case) -> Vec<(String, Vec<u8>)> {
    sign_for(
        config,
        &ENV,
        c.endpoint,
        c.secret,
        c.body.as_bytes(),
        &c.timestamp,
        "msg_1",
    )
}

#[test]
fn every_preset_forwards_a_valid_delivery_byte_for_byte() {
    if !e2e_ready() {
        return;
    }
    let (upstream, envoy, config) = start();
    for c in cases() {
        let path = format!("/webhooks/{}", c.endpoint);
        let headers = signed(&config, &c);
        let before = upstream.requests().len();
        let r = send(
            envoy.port,
            "POST",
            &path,
            &as_refs(&headers),
            c.body.as_bytes(),
        );
        assert_eq!(
            r.status,
            200,
            "{}: {:?}",
            c.endpoint,
            String::from_utf8_lossy(&r.body)
        );
        let got = upstream.requests();
        assert_eq!(got.len(), before + 1, "{}", c.endpoint);
        let req = &got[before];
        assert_eq!(req.body, c.body.as_bytes(), "{}: body changed", c.endpoint);
        assert_eq!(req.path, path);
        assert_eq!(
            req.header("x-webhook-guard-endpoint").as_deref(),
            Some(c.endpoint)
        );
        assert_eq!(
            req.header("x-webhook-guard-secret-id").as_deref(),
            Some(c.secret_id)
        );
        for (name, value) in &headers {
            assert_eq!(
                req.header(name).map(String::into_bytes).as_ref(),
                Some(value)
            );
        }
    }
    envoy.assert_no_panic();
}

#[test]
fn every_preset_refuses_a_tampered_delivery_before_the_upstream() {
    if !e2e_ready() {
        return;
    }
    let (upstream, envoy, config) = start();
    for c in cases() {
        let path = format!("/webhooks/{}", c.endpoint);
        let headers = signed(&config, &c);
        // One byte changed after signing: the signature no longer holds.
        let mut tampered = c.body.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] ^= 0x01;
        let r = send(envoy.port, "POST", &path, &as_refs(&headers), &tampered);
        assert_eq!(
            (r.status, r.error()),
            (401, "invalid_signature".into()),
            "{}",
            c.endpoint
        );
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/json")
        );

        // Signed with a secret the endpoint does not have.
        let unknown = if c.endpoint == "standard" {
            "whsec_dW5rbm93bi1zZWNyZXQtMDAwMDAw"
        } else {
            "an-unknown-secret-0000"
        };
        let wrong = sign_for(
            &config,
            &ENV,
            c.endpoint,
            unknown,
            c.body.as_bytes(),
            &c.timestamp,
            "msg_1",
        );
        let r = send(
            envoy.port,
            "POST",
            &path,
            &as_refs(&wrong),
            c.body.as_bytes(),
        );
        assert_eq!(
            (r.status, r.error()),
            (401, "invalid_signature".into()),
            "{}",
            c.endpoint
        );

        // No signature at all.
        let r = send(envoy.port, "POST", &path, &[], c.body.as_bytes());
        assert_eq!(
            (r.status, r.error()),
            (401, "missing_signature".into()),
            "{}",
            c.endpoint
        );
    }
    assert_eq!(upstream.heads(), 0, "the upstream saw a request head");
    // One JSON line per refusal, and never a secret, a signature or a payload byte.
    let log = envoy.log();
    assert_eq!(
        filter_events(&log)
            .iter()
            .filter(|e| e["event"] == "webhook_rejected")
            .count(),
        3 * cases().len()
    );
    // The raw lines and what they say once decoded.
    let log = format!("{log}\n{}", filter_strings(&log));
    for c in cases() {
        assert!(!log.contains(c.secret), "a secret reached the log");
        for (_, value) in signed(&config, &c) {
            let value = String::from_utf8_lossy(&value).into_owned();
            assert!(
                value.len() < 20 || !log.contains(&value),
                "a signature reached the log"
            );
        }
    }
    assert!(
        !log.contains("Hello, World") && !log.contains("user.created"),
        "payload in the log"
    );
    assert_eq!(
        envoy.metric(
            r#"webhook_guard_filter_rejected_total{endpoint="github",reason="invalid_signature"}"#
        ),
        2
    );
    assert_eq!(
        envoy.metric(
            r#"webhook_guard_filter_rejected_total{endpoint="stripe",reason="missing_signature"}"#
        ),
        1
    );
    envoy.assert_no_panic();
}

#[test]
fn rotation_accepts_both_secrets_from_the_vm_environment() {
    if !e2e_ready() {
        return;
    }
    let (upstream, envoy, config) = start();
    let now = now_unix();
    for (secret, id) in [(GENESYS_CURRENT, "current"), (GENESYS_PREVIOUS, "previous")] {
        let body = genesys_body(&format!("rot-{id}"), now);
        let headers = sign_for(&config, &ENV, "genesys", secret, body.as_bytes(), "", "");
        let r = send(
            envoy.port,
            "POST",
            "/webhooks/genesys",
            &as_refs(&headers),
            body.as_bytes(),
        );
        assert_eq!(r.status, 200);
        let last = upstream.requests().pop().expect("forwarded");
        assert_eq!(
            last.header("x-webhook-guard-secret-id").as_deref(),
            Some(id)
        );
    }
    assert_eq!(upstream.requests().len(), 2);
    // The metric that tells when the old secret can be retired.
    for id in ["current", "previous"] {
        let series = format!(
            r#"webhook_guard_filter_accepted_total{{endpoint="genesys",secret_id="{id}"}}"#
        );
        assert_eq!(envoy.metric(&series), 1, "{series}");
    }
}

#[test]
fn replayed_and_future_deliveries_are_stale() {
    if !e2e_ready() {
        return;
    }
    let (upstream, envoy, config) = start();
    let now = now_unix();
    // Genesys: the time inside the signed body; 600 s back, 60 s ahead.
    for (t, expected) in [(now - 700, 401), (now + 120, 401), (now - 500, 200)] {
        let body = genesys_body(&format!("t-{t}"), t);
        let headers = sign_for(
            &config,
            &ENV,
            "genesys",
            GENESYS_CURRENT,
            body.as_bytes(),
            "",
            "",
        );
        let r = send(
            envoy.port,
            "POST",
            "/webhooks/genesys",
            &as_refs(&headers),
            body.as_bytes(),
        );
        assert_eq!(r.status, expected, "t = now {:+}", t - now);
        if expected == 401 {
            assert_eq!(r.error(), "stale_timestamp");
        }
    }
    // Slack: a correctly signed but old header timestamp.
    let old = (now - 301).to_string();
    let headers = sign_for(&config, &ENV, "slack", SLACK, b"a=1", &old, "");
    let r = send(
        envoy.port,
        "POST",
        "/webhooks/slack",
        &as_refs(&headers),
        b"a=1",
    );
    assert_eq!((r.status, r.error()), (401, "stale_timestamp".into()));
    assert_eq!(upstream.requests().len(), 1);
}

#[test]
fn oversized_malformed_and_spoofed_requests() {
    if !e2e_ready() {
        return;
    }
    let (upstream, envoy, config) = start();
    let now = now_unix();

    // Declared too large: refused from the headers.
    let big = vec![b'x'; 4097];
    let r = send(envoy.port, "POST", "/webhooks/github", &[], &big);
    assert_eq!((r.status, r.error()), (413, "body_too_large".into()));
    // Chunked, no content-length: refused as the buffer grows past the limit.
    let piece = vec![b'x'; 1500];
    let r = send_chunked(
        envoy.port,
        "/webhooks/github",
        &[],
        &[&piece, &piece, &piece],
    );
    assert_eq!((r.status, r.error()), (413, "body_too_large".into()));

    // Signature headers that cannot be read.
    let body = br#"{"a":1}"#;
    for bad in [
        &b"sha256=zz"[..],
        b"sha1=abc",
        b"\xff\xfe",
        b"sha256=dGVzdA==",
    ] {
        let r = send(
            envoy.port,
            "POST",
            "/webhooks/github",
            &[("x-hub-signature-256", bad)],
            body,
        );
        assert_eq!(
            (r.status, r.error()),
            (401, "malformed_signature".into()),
            "{bad:?}"
        );
    }
    // A signature header sent twice is refused, even if one copy is valid.
    let good = sign_for(&config, &ENV, "github", GITHUB, body, "", "");
    let value = good[0].1.as_slice();
    let r = send(
        envoy.port,
        "POST",
        "/webhooks/github",
        &[
            ("x-hub-signature-256", value),
            ("x-hub-signature-256", value),
        ],
        body,
    );
    assert_eq!((r.status, r.error()), (401, "malformed_signature".into()));

    // No endpoint for the path.
    let r = send(
        envoy.port,
        "POST",
        "/webhooks/githubx",
        &as_refs(&good),
        body,
    );
    assert_eq!((r.status, r.error()), (404, "unknown_endpoint".into()));
    assert_eq!(upstream.heads(), 0);

    // A client cannot forge the headers the filter adds: they are replaced.
    let mut spoofed = good.clone();
    spoofed.push(("x-webhook-guard-secret-id".into(), b"forged".to_vec()));
    spoofed.push(("x-webhook-guard-idempotency-key".into(), b"forged".to_vec()));
    let r = send(
        envoy.port,
        "POST",
        "/webhooks/github",
        &as_refs(&spoofed),
        body,
    );
    assert_eq!(r.status, 200);
    let got = upstream.requests().pop().expect("forwarded");
    assert_eq!(
        got.header("x-webhook-guard-secret-id").as_deref(),
        Some("gh")
    );
    assert_eq!(got.header("x-webhook-guard-idempotency-key"), None);

    // A body in several chunks is verified whole.
    let msg = genesys_body("chunks", now);
    let headers = sign_for(
        &config,
        &ENV,
        "genesys",
        GENESYS_CURRENT,
        msg.as_bytes(),
        "",
        "",
    );
    let (a, b) = msg.as_bytes().split_at(msg.len() / 2);
    let r = send_chunked(envoy.port, "/webhooks/genesys", &as_refs(&headers), &[a, b]);
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        upstream.requests().pop().expect("forwarded").body,
        msg.as_bytes()
    );
    envoy.assert_no_panic();
}

#[test]
fn bad_configuration_stops_envoy_with_one_clear_line() {
    if !e2e_ready() {
        return;
    }
    let upstream = Upstream::start();
    let dir = scratch_dir("badconfig");
    let cases = [
        (config().replace(r#""preset": "stripe""#, r#""preset": "strype""#), &ENV[..], "endpoints[3] (stripe).preset: unknown preset"),
        (config().replace(r#""max_body_bytes""#, r#""max_body_size""#), &ENV[..], "max_body_size: unknown field"),
        (config(), &ENV[1..], "endpoints[0] (genesys).secrets[0].env: environment variable GENESYS_WEBHOOK_SECRET is not set"),
    ];
    for (i, (filter_config, env, expected)) in cases.iter().enumerate() {
        let mut opts = EnvoyOptions::new(filter_config, upstream.port);
        opts.host_env = ENV
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let path = dir.join(format!("bad-{i}.yaml"));
        std::fs::write(&path, envoy_yaml(&opts)).expect("write");
        let (ok, out) = validate(&path, env);
        assert!(!ok, "envoy accepted a bad configuration");
        let said = filter_strings(&out);
        assert!(said.contains(expected), "expected {expected:?} in:\n{out}");
        for text in [&out, &said] {
            assert!(
                !text.contains(GITHUB) && !text.contains(SHOPIFY),
                "a secret reached the log"
            );
        }
    }
}

/// A secret templated into YAML without quotes is a JSON number (or a boolean, a list...):
/// Envoy refuses the configuration with a line that names the field and the type, and
/// the value appears nowhere in its output.
#[test]
fn a_secret_of_any_json_type_is_not_in_envoys_log() {
    if !e2e_ready() {
        return;
    }
    const TOKEN: &str = "918273645501928374";
    let upstream = Upstream::start();
    let dir = scratch_dir("badsecret");
    let github = format!(r#"{{ "id": "gh", "value": "{GITHUB}" }}"#);
    let cases = [
        (
            format!(r#"{{ "id": "gh", "value": {TOKEN} }}"#),
            "secrets[0].value: must be a string, not a number",
        ),
        (
            format!(r#"{{ "id": "gh", "value": -{TOKEN} }}"#),
            "secrets[0].value: must be a string, not a number",
        ),
        (
            format!(r#"{{ "id": "gh", "value": {TOKEN}.25 }}"#),
            "secrets[0].value: must be a string, not a number",
        ),
        (
            r#"{ "id": "gh", "value": true }"#.to_string(),
            "secrets[0].value: must be a string, not a boolean",
        ),
        (
            format!(r#"{{ "id": "gh", "value": [{TOKEN}] }}"#),
            "secrets[0].value: must be a string, not a list",
        ),
        (
            format!(r#"{{ "id": "gh", "value": {{ "k": "{TOKEN}" }} }}"#),
            "secrets[0].value: must be a string, not an object",
        ),
        (
            format!(r#"{{ "id": "gh", "public_key": {TOKEN} }}"#),
            "secrets[0].public_key: must be a string, not a number",
        ),
        (
            format!(r#"{{ "id": "gh", "env": {TOKEN} }}"#),
            "secrets[0].env: must be a string, not a number",
        ),
        (
            format!(r#"{{ "id": {TOKEN}, "value": "{GITHUB}" }}"#),
            "secrets[0].id: must be a string, not a number",
        ),
        (
            format!(r#"{{ "id": "gh", "env": "{TOKEN}" }}"#),
            "secrets[0].env: environment variable (not shown",
        ),
        (
            format!(r#"{{ "id": "gh", "value:{TOKEN}": null }}"#),
            "secrets[0]: has an unknown field",
        ),
        (TOKEN.to_string(), "secrets[0]: must be an object"),
        (format!(r#""{TOKEN}""#), "secrets[0]: must be an object"),
    ];
    for (i, (secret, expected)) in cases.iter().enumerate() {
        let filter_config = config().replace(&github, secret);
        assert_ne!(filter_config, config());
        let mut opts = EnvoyOptions::new(&filter_config, upstream.port);
        opts.host_env = ENV
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let path = dir.join(format!("bad-{i}.yaml"));
        std::fs::write(&path, envoy_yaml(&opts)).expect("write");
        let (ok, out) = validate(&path, &ENV);
        assert!(!ok, "envoy accepted {secret}");
        let expected = format!("endpoints[2] (github).{expected}");
        let said = filter_strings(&out);
        assert!(said.contains(&expected), "expected {expected:?} in:\n{out}");
        for text in [&out, &said] {
            assert!(
                !text.contains(&TOKEN[..9])
                    && !text.contains(&TOKEN[9..])
                    && !text.contains("`true`"),
                "{secret}: the value reached the log:\n{out}"
            );
        }
    }
}

/// Large bodies of endpoints that read no JSON are hashed as they arrive (src/stream.rs):
/// sent in pieces with pauses (so Envoy hands them over in several callbacks), they are
/// forwarded byte for byte when signed, refused when one byte in the middle changed, and
/// Slack's `v0:{ts}:` prefix is part of what is hashed first.
#[test]
fn large_bodies_hashed_as_they_arrive_are_verified_like_whole_ones() {
    if !e2e_ready() {
        return;
    }
    let config = format!(
        r#"{{
  "max_body_bytes": 2097152,
  "endpoints": [
    {{ "name": "github", "path_prefix": "/webhooks/github", "preset": "github",
      "secrets": [ {{ "id": "gh", "value": "{GITHUB}" }} ] }},
    {{ "name": "slack", "path_prefix": "/webhooks/slack", "preset": "slack",
      "secrets": [ {{ "id": "sl", "value": "{SLACK}" }} ] }}
  ]
}}"#
    );
    let upstream = Upstream::start();
    let envoy = Envoy::start(&EnvoyOptions::new(&config, upstream.port));
    let body: Vec<u8> = (0..600 * 1024u32).map(|i| b'a' + (i % 26) as u8).collect();
    let now = now_unix().to_string();
    for (name, secret) in [("github", GITHUB), ("slack", SLACK)] {
        let path = format!("/webhooks/{name}");
        let headers = sign_for(&config, &[], name, secret, &body, &now, "");
        for tamper in [false, true] {
            let mut sent = body.clone();
            if tamper {
                sent[300 * 1024] ^= 1;
            }
            let pieces: Vec<&[u8]> = sent.chunks(100 * 1024).collect();
            let writes = chunked_request(&path, &as_refs(&headers), &pieces, &[]);
            let writes: Vec<&[u8]> = writes.iter().map(Vec::as_slice).collect();
            let r = try_exchange(envoy.port, &writes, Duration::from_millis(30)).expect("answer");
            if tamper {
                assert_eq!(
                    (r.status, r.error()),
                    (401, "invalid_signature".into()),
                    "{name}"
                );
            } else {
                assert_eq!(r.status, 200, "{name}: {r:?}");
                let last = upstream.requests().pop().expect("forwarded");
                assert!(last.body == body, "{name}: forwarded byte for byte");
            }
        }
    }
    assert_eq!(upstream.requests().len(), 2, "only the signed ones");
    envoy.assert_no_panic();
}
