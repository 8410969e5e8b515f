//! Request trailers a client chooses, end to end: Envoy forwards HTTP/1.1 and HTTP/2
//! trailers upstream (the tests' receiver cluster has HTTP/1.1 trailers enabled, as an
//! HTTP/2 receiver gets them anyway), and some receivers merge trailers into the headers.
//! A client's `x-webhook-guard-*` trailer must not reach the receiver, any more than such a
//! header does.

use crate::common::*;

const SECRET: &str = "trailers-github-secret-01";

fn config() -> String {
    format!(
        r#"{{ "endpoints": [
  {{ "name": "github", "path_prefix": "/gh", "preset": "github", "secrets": [{{ "id": "s", "value": "{SECRET}" }}] }}
] }}"#
    )
}

#[test]
fn a_clients_own_name_trailers_never_reach_the_receiver() {
    if !e2e_ready() {
        return;
    }
    let upstream = Upstream::start();
    let envoy = Envoy::start(&EnvoyOptions::new(&config(), upstream.port));
    let body = br#"{"action":"opened","number":7}"#;
    let signed = sign_for(
        &config(),
        &[],
        "github",
        SECRET,
        body,
        "",
        "trailer-delivery-1",
    );
    let headers: Vec<(&str, &[u8])> = signed
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    let trailers = [
        ("X-Webhook-Guard-Endpoint", "forged"),
        ("x-webhook-guard-secret-id", "forged"),
        ("x-webhook-guard-idempotency-key", "forged"),
        ("x-trailer", "end"),
    ];
    let writes = chunked_request(
        "/gh/events",
        &headers,
        &[&body[..10], &body[10..]],
        &trailers,
    );
    let refs: Vec<&[u8]> = writes.iter().map(Vec::as_slice).collect();
    let answer = exchange(envoy.port, &refs);
    assert_eq!(
        answer.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&answer.body)
    );

    let seen = upstream.requests();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.body, body.to_vec(), "forwarded byte for byte");
    assert_eq!(
        r.trailers,
        vec![("x-trailer".to_string(), b"end".to_vec())],
        "the client's other trailers pass, its x-webhook-guard-* ones do not"
    );
    assert_eq!(
        r.header("x-webhook-guard-endpoint").as_deref(),
        Some("github")
    );
    assert_eq!(r.header("x-webhook-guard-secret-id").as_deref(), Some("s"));
}
