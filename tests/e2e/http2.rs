//! HTTP/2 end to end: a real h2c client (the `h2` crate, prior knowledge) against a real
//! Envoy. Over HTTP/2 a body arrives in DATA frames and may end with a trailers HEADERS
//! frame instead of END_STREAM on the last DATA frame; the filter must still buffer the
//! whole body, verify it, and let nothing unverified through.

use crate::common::*;
use bytes::Bytes;

const SECRET: &str = "http2-github-secret-0001";

fn config() -> String {
    format!(
        r#"{{ "max_body_bytes": 4096, "endpoints": [
  {{ "name": "github", "path_prefix": "/gh", "preset": "github", "secrets": [{{ "id": "s", "value": "{SECRET}" }}] }}
] }}"#
    )
}

/// One HTTP/2 request: the body in `frames` DATA frames, then trailers when `trailers`.
/// Returns the status and the answer body.
fn h2_post(
    port: u16,
    headers: &[(String, Vec<u8>)],
    body: &[u8],
    frames: usize,
    trailers: bool,
) -> (u16, Vec<u8>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let (client, connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut client = client.ready().await.expect("h2 ready");
        let mut request = http::Request::builder()
            .method("POST")
            .uri(format!("http://127.0.0.1:{port}/gh/events"));
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_slice());
        }
        let request = request.body(()).expect("request");
        let (response, mut stream) = client.send_request(request, false).expect("send");
        let chunk = body.len().div_ceil(frames.max(1)).max(1);
        let pieces: Vec<&[u8]> = body.chunks(chunk).collect();
        for (i, piece) in pieces.iter().enumerate() {
            let last = i + 1 == pieces.len() && !trailers;
            // Envoy may answer (and reset the stream) before the last frame: stop sending then.
            if stream
                .send_data(Bytes::copy_from_slice(piece), last)
                .is_err()
            {
                break;
            }
        }
        if trailers {
            let mut map = http::HeaderMap::new();
            map.insert("x-trailer", http::HeaderValue::from_static("end"));
            let _ = stream.send_trailers(map);
        }
        let response = response.await.expect("response");
        let status = response.status().as_u16();
        let mut answer = response.into_body();
        let mut bytes = Vec::new();
        while let Some(data) = answer.data().await {
            let data = data.expect("answer body");
            let _ = answer.flow_control().release_capacity(data.len());
            bytes.extend_from_slice(&data);
        }
        (status, bytes)
    })
}

fn error_of(answer: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(answer).expect("JSON answer");
    v["error"].as_str().unwrap_or_default().to_string()
}

#[test]
fn http2_bodies_with_and_without_trailers_are_verified_before_the_upstream() {
    if !e2e_ready() {
        return;
    }
    let upstream = Upstream::start();
    let envoy = Envoy::start(&EnvoyOptions::new(&config(), upstream.port));
    let body = br#"{"action":"opened","number":42,"padding":"0123456789abcdef0123456789abcdef"}"#;
    let signed = sign_for(&config(), &[], "github", SECRET, body, "", "h2-delivery-1");

    // Valid, in several DATA frames, ending in trailers: forwarded byte for byte.
    let (status, _) = h2_post(envoy.port, &signed, body, 4, true);
    assert_eq!(status, 200, "valid delivery with trailers");
    // Valid, one DATA frame with END_STREAM.
    let (status, _) = h2_post(envoy.port, &signed, body, 1, false);
    assert_eq!(status, 200, "valid delivery without trailers");
    let seen = upstream.requests();
    assert_eq!(seen.len(), 2, "both valid deliveries reach the upstream");
    for r in &seen {
        assert_eq!(r.body, body.to_vec(), "forwarded byte for byte");
        assert_eq!(r.header("x-webhook-guard-secret-id").as_deref(), Some("s"));
    }

    // Tampered, ending in trailers: refused, and the upstream sees nothing, not even headers.
    let mut tampered = body.to_vec();
    tampered[12] ^= 1;
    let heads_before = upstream.heads();
    let (status, answer) = h2_post(envoy.port, &signed, &tampered, 3, true);
    assert_eq!(
        (status, error_of(&answer).as_str()),
        (401, "invalid_signature")
    );
    // No signature at all, over HTTP/2.
    let unsigned: Vec<(String, Vec<u8>)> = signed
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("x-hub-signature-256"))
        .cloned()
        .collect();
    let (status, answer) = h2_post(envoy.port, &unsigned, body, 2, true);
    assert_eq!(
        (status, error_of(&answer).as_str()),
        (401, "missing_signature")
    );
    // Over max_body_bytes (4096) in many frames, no content-length: 413 as the buffer grows.
    let big = vec![b'x'; 10_000];
    let (status, answer) = h2_post(envoy.port, &signed, &big, 10, true);
    assert_eq!(
        (status, error_of(&answer).as_str()),
        (413, "body_too_large")
    );
    assert_eq!(
        upstream.heads(),
        heads_before,
        "nothing unverified reached the upstream"
    );

    // Still serving, and no panic anywhere.
    let (status, _) = h2_post(envoy.port, &signed, body, 2, true);
    assert_eq!(status, 200, "a valid delivery after the refusals");
    envoy.assert_no_panic();
}
