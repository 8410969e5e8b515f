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
}
