//! Native cost of the decision for one Genesys delivery (no Envoy, no Wasm): the floor the
//! filter's per-request cost in Envoy is measured against. `cargo bench --bench verify`.

use std::time::Instant;

use webhook_guard::config::{Config, Route};
use webhook_guard::request::headers::CapturedHeaders;
use webhook_guard::sign::sign;
use webhook_guard::verify::verify;

pub fn main() {
    let schema = include_str!("../src/payload/schemas/genesys-open-messaging.json");
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
            Route::Endpoint(id) if id.index() == 0
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
    forgeries(now);
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
        let scheme = webhook_guard::scheme::presets::preset(preset).expect("preset");
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

/// The worst a forged delivery can cost, per family: every configured key at its cap
/// (`MAX_SECRETS` shared secrets, `MAX_PUBLIC_KEYS` public keys), every offered signature at
/// its cap (`MAX_SIGNATURES`, `MAX_PUBLIC_KEY_SIGNATURES`), each signature a real one by a
/// key the endpoint does not have (so every check runs to its end), a fresh timestamp (a
/// stale one is refused before any key: the last row). Tiny and `max_body_bytes` (1 MiB)
/// bodies; the unit is one HMAC-SHA256 check with one secret of the same body.
/// VERIFY_FORGERIES=0 skips it; VERIFY_FORGERY_SIZES picks the body sizes.
fn forgeries(now: i64) {
    use webhook_guard::scheme::signature::{MAX_PUBLIC_KEYS, MAX_SIGNATURES};
    if std::env::var("VERIFY_FORGERIES").is_ok_and(|v| v == "0") {
        return;
    }
    const MAX_SECRETS: usize = webhook_guard::config::MAX_SECRETS;
    // (label, preset, extra fields, shared secrets, public keys, signatures offered)
    let cases: [(&str, &str, &str, usize, usize, usize); 10] = [
        (
            "unit: HMAC-SHA256, 1 secret (github)",
            "github",
            "",
            1,
            0,
            1,
        ),
        ("HMAC-SHA256 (github)", "github", "", MAX_SECRETS, 0, 1),
        (
            "HMAC-SHA256 list (stripe)",
            "stripe",
            "",
            MAX_SECRETS,
            0,
            MAX_SIGNATURES,
        ),
        ("HMAC-SHA1 (intercom)", "intercom", "", MAX_SECRETS, 0, 1),
        (
            "HMAC-SHA512 (custom)",
            "custom",
            r#","algorithm":"hmac-sha512","signature_header":"x-sig""#,
            MAX_SECRETS,
            0,
            1,
        ),
        ("token (gitlab)", "gitlab", "", MAX_SECRETS, 0, 1),
        ("Ed25519 (discord)", "discord", "", 0, MAX_PUBLIC_KEYS, 1),
        (
            "Ed25519 v1a + v1 (standard-webhooks)",
            "standard-webhooks",
            "",
            MAX_SECRETS - MAX_PUBLIC_KEYS,
            MAX_PUBLIC_KEYS,
            MAX_SIGNATURES,
        ),
        (
            "ECDSA P-256 (sendgrid)",
            "sendgrid",
            "",
            0,
            MAX_PUBLIC_KEYS,
            1,
        ),
        (
            "stale: v1a + v1 (standard-webhooks)",
            "standard-webhooks",
            "",
            MAX_SECRETS - MAX_PUBLIC_KEYS,
            MAX_PUBLIC_KEYS,
            MAX_SIGNATURES,
        ),
    ];
    let sizes: Vec<usize> = std::env::var("VERIFY_FORGERY_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![0, 1024 * 1024]);
    for size in sizes {
        println!("forged deliveries, body {size} bytes (the smallest sample when 0):");
        let mut unit = f64::NAN;
        for (what, preset, extra, shared, public, offered) in cases {
            let (config, headers, body) =
                forgery(preset, extra, shared, public, offered, size, now);
            let ep = &config.endpoints[0];
            let at = if what.starts_with("stale") {
                now + 3600
            } else {
                now
            };
            let captured = CapturedHeaders::capture(
                headers.iter().map(|(n, v)| (n.as_str(), v.as_slice())),
                &ep.wanted_headers,
            );
            let expected = if what.starts_with("stale") {
                webhook_guard::answer::Reject::StaleTimestamp
            } else {
                webhook_guard::answer::Reject::InvalidSignature
            };
            assert_eq!(verify(ep, &captured, &body, at), Err(expected), "{what}");
            // About half a second a row, at least 3 runs.
            let mut iterations = 0u32;
            let start = Instant::now();
            while iterations < 3 || start.elapsed().as_secs_f64() < 0.5 {
                assert!(verify(ep, &captured, std::hint::black_box(&body), at).is_err());
                iterations += 1;
            }
            let per = start.elapsed().as_secs_f64() * 1e6 / f64::from(iterations);
            if unit.is_nan() {
                unit = per;
            }
            println!(
                "  {what:<40} {per:10.1} us ({:5.1} x the unit; {shared} secrets, {public} public keys, {offered} signatures, {} bytes)",
                per / unit,
                body.len()
            );
        }
    }
}

/// An endpoint of `preset` with `shared` secrets and `public` keys, and a delivery signed by
/// a key it does not have, its signature offered `offered` times (a `v1a` one up to the
/// public-key cap, the rest `v1`): (config, headers, body).
fn forgery(
    preset: &str,
    extra: &str,
    shared: usize,
    public: usize,
    offered: usize,
    size: usize,
    now: i64,
) -> (Config, Headers, Vec<u8>) {
    use webhook_guard::scheme::signature::{Encoding, MAX_PUBLIC_KEY_SIGNATURES};
    use webhook_guard::sign::{sample, sign_message, Message, SigningKey};
    let scheme = webhook_guard::scheme::presets::preset(preset).expect("preset");
    let b64 = |b: &[u8]| Encoding::Base64.encode(b);
    let mut secrets: Vec<String> = (0..shared)
        .map(|i| {
            let text = if preset == "standard-webhooks" {
                format!("whsec_{}", b64(&[b'a' + i as u8; 24]))
            } else {
                format!("bench-shared-secret-{i:04}")
            };
            format!(r#"{{"id":"s{i}","value":"{text}"}}"#)
        })
        .collect();
    let private = |i: usize| format!("{:02x}", 0x20 + i).repeat(32);
    for i in 0..public {
        let key = SigningKey::from_text(&scheme, &private(i), true).expect("key");
        let text = key.public_key_text(&scheme).expect("public key");
        secrets.push(format!(r#"{{"id":"p{i}","public_key":"{text}"}}"#));
    }
    let config = format!(
        r#"{{"endpoints":[{{"name":"f","path_prefix":"/f","preset":"{preset}","secrets":[{}]{extra}}}]}}"#,
        secrets.join(",")
    );
    let config = Config::parse(config.as_bytes(), &|_| None).expect("config");
    let (sample_body, timestamp) = sample(preset, "evt_1", now);
    let body = if size > sample_body.len() {
        let open = sample_body.rfind('}').expect("a JSON sample");
        let pad = "x".repeat(size.saturating_sub(sample_body.len() + 10));
        format!(
            "{},\"pad\":\"{pad}\"{}",
            &sample_body[..open],
            &sample_body[open..]
        )
    } else {
        sample_body
    };
    // The forger's key: of the endpoint's kind, not one of its keys.
    let forger = if public > 0 {
        SigningKey::from_text(&scheme, &"7f".repeat(32), true).expect("key")
    } else {
        SigningKey::from_text(&scheme, "the-forgers-own-secret-0123", false).expect("key")
    };
    let m = Message {
        body: body.as_bytes(),
        timestamp: &timestamp,
        id: "msg_1",
        method: "POST",
        path: "/f",
    };
    let signed = sign_message(&config.endpoints[0].scheme, &forger, &m).expect("sign");
    let mut headers: Vec<(String, Vec<u8>)> = signed
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
        .collect();
    if offered > 1 {
        let name = match preset {
            "stripe" => "stripe-signature",
            "standard-webhooks" => "webhook-signature",
            _ => panic!("{preset}: one signature per header"),
        };
        let (_, value) = headers
            .iter_mut()
            .find(|(n, _)| n == name)
            .expect("signature header");
        let text = String::from_utf8(value.clone()).expect("text");
        *value = match preset {
            "stripe" => {
                let (t, v1) = text.split_once(',').expect("t=..,v1=..");
                let mut items = vec![t.to_string()];
                items.extend(std::iter::repeat_n(v1.to_string(), offered));
                items.join(",")
            }
            _ => {
                let v1a = text.trim().to_string();
                let public_sigs = offered.min(MAX_PUBLIC_KEY_SIGNATURES);
                let mut items = vec![v1a; public_sigs];
                items.extend((public_sigs..offered).map(|i| format!("v1,{}", b64(&[i as u8; 32]))));
                items.join(" ")
            }
        }
        .into_bytes();
    }
    headers.push((":method".into(), b"POST".to_vec()));
    headers.push((":path".into(), b"/f".to_vec()));
    (config, headers, signed.body)
}

/// Header names and raw values, as a sender sends them.
type Headers = Vec<(String, Vec<u8>)>;
