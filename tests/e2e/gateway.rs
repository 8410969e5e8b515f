//! The filter on an ingress gateway (envoy/istio/overlays/gateway/), against a real Envoy, loaded the
//! way Istio loads it (ECDS): on in the whole chain, and turned off only on the virtual host
//! of another host name (how docs/deploy/istio.md's "shared gateway" note lets other hosts through). A
//! host nobody listed is filtered, never passed: whatever Host an attacker writes, the
//! webhook receiver gets nothing unverified.

use crate::common::*;

const SECRET: &str = "gateway-secret-0123456789";
const HOOKS: &str = "hooks.example.com";
const OTHER: &str = "app.example.com";

fn config() -> String {
    format!(
        r#"{{ "endpoints": [
    {{ "name": "github", "path_prefix": "/webhooks/github", "preset": "github",
      "idempotency_key": null, "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ] }} ] }}"#
    )
}

/// POST `body` to `path` with this Host, signed (or not) for the github endpoint.
fn post(port: u16, host: &str, path: &str, body: &str, signed: bool) -> Response {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    )
    .into_bytes();
    let secret = if signed {
        SECRET
    } else {
        "not-the-secret-0123456789"
    };
    for (name, value) in sign_for(&config(), &[], "github", secret, body.as_bytes(), "", "") {
        head.extend_from_slice(format!("{name}: ").as_bytes());
        head.extend_from_slice(&value);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head.extend_from_slice(body.as_bytes());
    exchange(port, &[&head])
}

#[test]
fn every_host_is_filtered_but_the_one_turned_off() {
    if !e2e_ready() {
        return;
    }
    let receiver = Upstream::start();
    let other = Upstream::start();
    let mut opts = EnvoyOptions::new(&config(), receiver.port);
    opts.gateway_other_host = Some((OTHER.to_string(), other.port));
    let envoy = Envoy::start(&opts);
    let body = r#"{"action":"opened","number":1}"#;

    // The webhook host, in every spelling, and hosts nobody listed (the other host's
    // spellings that Envoy does not match to it among them): verified.
    for host in [
        HOOKS,
        "HOOKS.Example.COM",
        "hooks.example.com:443",
        "app.example.com.",
        "app.example.com.evil",
        "unknown.example.com",
    ] {
        let r = post(envoy.port, host, "/webhooks/github", body, false);
        assert_eq!(r.status, 401, "unsigned via {host}: {}", r.error());
        let r = post(envoy.port, host, "/elsewhere", body, true);
        assert_eq!(r.status, 404, "unknown path via {host}");
        assert_eq!(r.error(), "unknown_endpoint");
    }
    assert_eq!(
        receiver.heads(),
        0,
        "an unverified request reached the receiver"
    );
    let r = post(envoy.port, HOOKS, "/webhooks/github", body, true);
    assert_eq!(r.status, 200, "{}", r.error());
    let got = receiver.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].header("x-webhook-guard-endpoint").as_deref(),
        Some("github")
    );

    // The host whose virtual host turns the filter off goes to its own upstream, unfiltered,
    // and never to the receiver.
    for host in [OTHER, "APP.example.com", "app.example.com:443"] {
        let r = post(envoy.port, host, "/webhooks/github", body, false);
        assert_eq!(r.status, 200, "via {host}");
    }
    assert_eq!(receiver.heads(), 1, "another host reached the receiver");
    let passed = other.requests();
    assert_eq!(passed.len(), 3);
    assert!(passed
        .iter()
        .all(|r| r.header("x-webhook-guard-endpoint").is_none()));
    envoy.assert_no_panic();
}
