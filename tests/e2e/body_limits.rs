//! `max_body_bytes` at the sizes that ship, against a real Envoy: a body of exactly the
//! limit is forwarded whole, one byte more gets the filter's `413 body_too_large`, never
//! Envoy's own 413, with a content-length or chunked. Envoy buffers the body for the filter
//! within the listener's `per_connection_buffer_limit_bytes`, so the limit must stay below it:
//! envoy/envoy.yaml (1 MiB under a 2 MiB buffer) and the Istio manifests (512 KiB under the
//! proxies' default 1 MiB).

use crate::common::*;

const SECRET: &str = "limits-secret-0123456789";

fn config(max: usize) -> String {
    format!(
        r#"{{ "max_body_bytes": {max}, "endpoints": [
    {{ "name": "github", "path_prefix": "/webhooks/github", "preset": "github",
      "idempotency_key": null, "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ] }} ] }}"#
    )
}

/// A JSON body of exactly `len` bytes.
fn body_of(len: usize) -> Vec<u8> {
    let frame = r#"{"pad":""}"#.len();
    format!(r#"{{"pad":"{}"}}"#, "x".repeat(len - frame)).into_bytes()
}

fn check_boundary(max: usize, buffer_limit: Option<u64>) {
    let upstream = Upstream::start();
    let mut opts = EnvoyOptions::new(&config(max), upstream.port);
    opts.buffer_limit_bytes = buffer_limit;
    let envoy = Envoy::start(&opts);
    let what = format!("max_body_bytes {max}, buffer {buffer_limit:?}");

    for (len, chunked) in [(max, false), (max, true), (max + 1, false), (max + 1, true)] {
        let body = body_of(len);
        let headers = sign_for(&config(max), &[], "github", SECRET, &body, "", "");
        let r = if chunked {
            let pieces: Vec<&[u8]> = body.chunks(64 * 1024).collect();
            send_chunked(envoy.port, "/webhooks/github", &as_refs(&headers), &pieces)
        } else {
            send(
                envoy.port,
                "POST",
                "/webhooks/github",
                &as_refs(&headers),
                &body,
            )
        };
        let case = format!("{what}: {len} bytes, chunked {chunked}");
        if len <= max {
            assert_eq!(r.status, 200, "{case}: {}", r.error());
            let got = upstream.requests();
            assert_eq!(got.last().map(|g| g.body.len()), Some(len), "{case}");
        } else {
            assert_eq!(
                (r.status, r.error()),
                (413, "body_too_large".to_string()),
                "{case}: the filter's answer, not Envoy's"
            );
        }
    }
    assert_eq!(
        upstream.heads(),
        2,
        "{what}: only the two bodies within the limit"
    );
    envoy.assert_no_panic();
}

#[test]
fn the_shipped_envoy_limit_is_the_filters_answer() {
    if !e2e_ready() {
        return;
    }
    check_boundary(1024 * 1024, None);
}

#[test]
fn the_shipped_istio_limit_is_the_filters_answer_under_the_default_buffer() {
    if !e2e_ready() {
        return;
    }
    check_boundary(512 * 1024, Some(1024 * 1024));
}
