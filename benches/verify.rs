//! Native cost of the decision for one Genesys delivery (no Envoy, no Wasm): the floor the
//! filter's per-request cost in Envoy is measured against. `cargo bench --bench verify`.

use std::time::Instant;

use webhook_guard::config::{Config, Route};
use webhook_guard::headers::CapturedHeaders;
use webhook_guard::sign::sign;
use webhook_guard::verify::verify;

pub fn main() {
    let schema = include_str!("../src/schemas/genesys-open-messaging.json");
    let config = format!(
        r#"{{"endpoints":[{{"name":"g","path_prefix":"/g","preset":"genesys-open-messaging",
        "secrets":[{{"id":"a","value":"bench-genesys-secret-0123456789"}}],"payload_schema":{schema}}}]}}"#
    );
    let config = Config::parse(config.as_bytes(), &|_| None).expect("config");
    let ep = &config.endpoints[0];
    let now = 1_749_589_385;
    // VERIFY_SIZES=1024 picks sizes (bytes, comma-separated), e.g. for one size under callgrind.
    // Picking the endpoint: the exact match and the receivers' spelling of the path.
    let path = b"/g/webhooks/genesys?x=1";
    let iterations = 1_000_000;
    let start = Instant::now();
    for _ in 0..iterations {
        assert!(matches!(
            config.route(std::hint::black_box(path)),
            Route::Endpoint(0)
        ));
    }
    let per = start.elapsed().as_secs_f64() * 1e9 / iterations as f64;
    println!("route: {per:8.0} ns per request path");

    let sizes: Vec<usize> = std::env::var("VERIFY_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1024, 64 * 1024, 1024 * 1024]);
    for size in sizes {
        let base = r#"{"id":"m","channel":{"id":"c","platform":"Open","type":"Private","time":"2025-06-10T21:03:05Z","messageId":"m"},"type":"Text","direction":"Outbound","text":""}"#;
        let body = base.replace(
            r#""text":"""#,
            &format!(
                r#""text":"{}""#,
                "x".repeat(size.saturating_sub(base.len()))
            ),
        );
        let headers = sign(
            &ep.scheme,
            b"bench-genesys-secret-0123456789",
            body.as_bytes(),
            "",
            "",
        );
        let captured = CapturedHeaders::capture(
            headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
            &ep.wanted_headers,
        );
        let iterations = (20_000_000 / size).max(20);
        let start = Instant::now();
        for _ in 0..iterations {
            assert!(verify(ep, &captured, body.as_bytes(), now).is_ok());
        }
        let per = start.elapsed().as_secs_f64() * 1e6 / iterations as f64;
        println!(
            "{:>5} KB: {per:8.1} us per delivery, {:.2} us per KB",
            size / 1024,
            per / (size as f64 / 1024.0)
        );
    }
    families(now);
}

/// One 1 KB delivery of each signature family, signed as its sender signs, verified
/// (no deduplication, no schema): what each family costs per request, natively. VERIFY_FAMILIES=0
/// skips it.
fn families(now: i64) {
    use webhook_guard::sign::{sample, sign_message, Message, SigningKey};
    if std::env::var("VERIFY_FAMILIES").is_ok_and(|v| v == "0") {
        return;
    }
    let cases: [(&str, &str, &str, &str, bool); 11] = [
        (
            "HMAC-SHA256 (github)",
            "github",
            "",
            "bench-secret-0123456789",
            false,
        ),
        (
            "HMAC-SHA1 (intercom)",
            "intercom",
            "",
            "bench-secret-0123456789",
            false,
        ),
        (
            "HMAC-SHA512 (custom)",
            "custom",
            r#","algorithm":"hmac-sha512","signature_header":"x-sig""#,
            "bench-secret-0123456789",
            false,
        ),
        (
            "token (gitlab)",
            "gitlab",
            "",
            "bench-secret-0123456789",
            false,
        ),
        (
            "URL + form, SHA-1 (twilio)",
            "twilio",
            r#","public_url":"https://hooks.example.com""#,
            "bench-secret-0123456789",
            false,
        ),
        (
            "method + URL (hubspot)",
            "hubspot",
            r#","public_url":"https://hooks.example.com""#,
            "bench-secret-0123456789",
            false,
        ),
        (
            "body field (mailgun)",
            "mailgun",
            "",
            "bench-secret-0123456789",
            false,
        ),
        (
            "list header (stripe)",
            "stripe",
            "",
            "bench-secret-0123456789",
            false,
        ),
        (
            "Ed25519 (discord)",
            "discord",
            "",
            &"02".repeat(32).leak()[..],
            true,
        ),
        (
            "Ed25519 v1a (standard-webhooks)",
            "standard-webhooks",
            "",
            &"02".repeat(32).leak()[..],
            true,
        ),
        (
            "ECDSA P-256 (sendgrid)",
            "sendgrid",
            "",
            &"05".repeat(32).leak()[..],
            true,
        ),
    ];
    println!("families, 1 KB body:");
    for (what, preset, extra, key_text, private) in cases {
        let scheme = webhook_guard::presets::preset(preset).expect("preset");
        let key = SigningKey::from_text(&scheme, key_text, private).expect("key");
        let secret = match key.public_key_text(&scheme) {
            Some(public) => format!(r#"{{"id":"a","public_key":"{public}"}}"#),
            None => format!(r#"{{"id":"a","value":"{key_text}"}}"#),
        };
        let config = format!(
            r#"{{"endpoints":[{{"name":"f","path_prefix":"/f","preset":"{preset}","secrets":[{secret}]{extra}}}]}}"#
        );
        let config = Config::parse(config.as_bytes(), &|_| None).expect("config");
        let ep = &config.endpoints[0];
        let (sample_body, timestamp) = sample(preset, "evt_1", now);
        // Padded to 1 KB inside the JSON (or the form) so every family signs as much.
        let body = if preset == "twilio" {
            format!(
                "{sample_body}&Pad={}",
                "x".repeat(1024usize.saturating_sub(sample_body.len() + 5))
            )
        } else if let Some(open) = sample_body.rfind('}') {
            let pad = "x".repeat(1024usize.saturating_sub(sample_body.len() + 10));
            format!(
                "{},\"pad\":\"{pad}\"{}",
                &sample_body[..open],
                &sample_body[open..]
            )
        } else {
            sample_body
        };
        let path = "/f/hooks?tenant=1";
        let m = Message {
            body: body.as_bytes(),
            timestamp: &timestamp,
            id: "msg_1",
            method: "POST",
            path,
        };
        let signed = sign_message(&ep.scheme, &key, &m).expect("sign");
        let mut all: Vec<(String, Vec<u8>)> = signed
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
            .collect();
        all.push((":method".into(), b"POST".to_vec()));
        all.push((":path".into(), path.as_bytes().to_vec()));
        let captured = CapturedHeaders::capture(
            all.iter().map(|(n, v)| (n.as_str(), v.as_slice())),
            &ep.wanted_headers,
        );
        let iterations = if private { 2_000 } else { 50_000 };
        assert!(verify(ep, &captured, &signed.body, now).is_ok(), "{what}");
        let start = Instant::now();
        for _ in 0..iterations {
            assert!(verify(ep, &captured, std::hint::black_box(&signed.body), now).is_ok());
        }
        let per = start.elapsed().as_secs_f64() * 1e6 / iterations as f64;
        println!(
            "  {what:<32} {per:8.2} us per delivery ({} bytes)",
            signed.body.len()
        );
    }
}
