//! What the filter needs from its host, pinned in a real Envoy (docs/hosts.md). `make
//! test-hosts` runs this file against every Envoy in the host matrix.
//!
//! The filter answers `Pause` from its headers callback and decides once the whole body is
//! there. Envoy honours that pause as "call my body callbacks" only with the plugin's
//! `allow_on_headers_stop_iteration: true` (Envoy >= 1.35). Without it the host (proxy-wasm
//! cpp-host) turns the pause into StopAllIterationAndWatermark: Envoy buffers the body and
//! never calls the filter's body callbacks, so nothing resumes the request. Every delivery
//! then waits for Envoy's stream idle timeout (5 minutes by default) and gets its 504
//! `stream timeout` (the request was complete: a gateway timeout, which senders retry, each
//! retry waiting as long); a forged one holds a connection just as long. A host config
//! without the flag fails closed, but nothing is ever processed.

use crate::common::*;

const SECRET: &str = "hosts-secret-0123456789";

fn config() -> String {
    format!(
        r#"{{ "endpoints": [
    {{ "name": "github", "path_prefix": "/webhooks/github", "preset": "github",
      "idempotency_key": null, "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ] }} ] }}"#
    )
}

/// POSTs `body` to `path`, signed with `secret` for the github endpoint.
fn post(envoy: &Envoy, path: &str, body: &str, secret: &str) -> Response {
    let headers = sign_for(&config(), &[], "github", secret, body.as_bytes(), "", "");
    send(
        envoy.port,
        "POST",
        path,
        &as_refs(&headers),
        body.as_bytes(),
    )
}

fn start(upstream: &Upstream, allow_on_headers_stop_iteration: bool) -> Envoy {
    let mut o = EnvoyOptions::new(&config(), upstream.port);
    o.allow_on_headers_stop_iteration = allow_on_headers_stop_iteration;
    // Short, so the test does not wait Envoy's default 5 minutes; the route timeout is
    // shorter still, to show it is not the one that ends the request.
    o.route_timeout_ms = 500;
    o.stream_idle_timeout_ms = Some(1500);
    Envoy::start(&o)
}

#[test]
fn without_allow_on_headers_stop_iteration_deliveries_wait_for_the_stream_timeout_and_never_reach_the_upstream(
) {
    if !e2e_ready() {
        return;
    }
    let body = r#"{"action":"opened","number":1}"#;

    // With the flag, as shipped: the signed delivery is forwarded, the forged one refused.
    let upstream = Upstream::start();
    let envoy = start(&upstream, true);
    assert_eq!(post(&envoy, "/webhooks/github", body, SECRET).status, 200);
    let forged = post(
        &envoy,
        "/webhooks/github",
        body,
        "not-the-secret-0123456789",
    );
    assert_eq!(
        (forged.status, forged.error().as_str()),
        (401, "invalid_signature")
    );
    assert_eq!(upstream.heads(), 1);
    drop(envoy);

    // Without it: what the headers callback decides alone still answers at once.
    let upstream = Upstream::start();
    let envoy = start(&upstream, false);
    let unknown = post(&envoy, "/elsewhere", body, SECRET);
    assert_eq!(
        (unknown.status, unknown.error().as_str()),
        (404, "unknown_endpoint")
    );

    // But the body callbacks never run: neither the signed delivery nor the forged one is
    // verified, nothing resumes them, and the route timeout (never armed: the router has
    // not seen the request) does not end them. Envoy's stream idle timeout does, with its
    // own 504 (not the filter's 401 for the forged one); the upstream never sees either.
    for secret in [SECRET, "not-the-secret-0123456789"] {
        let r = post(&envoy, "/webhooks/github", body, secret);
        assert_eq!(
            (r.status, String::from_utf8_lossy(&r.body).as_ref()),
            (504, "stream timeout"),
            "{r:?}"
        );
    }
    assert_eq!(upstream.heads(), 0, "{:?}", upstream.requests());
    envoy.assert_no_panic();
}
