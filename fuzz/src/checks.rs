//! The checks each fuzz target runs, shared with tests/fuzz_regressions.rs (which replays
//! every saved input on stable Rust in `make test`). Each takes any bytes and must neither
//! panic nor break the property it asserts.
#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;
use webhook_guard::cidr::{parse_source_address, CidrList};
use webhook_guard::config::Config;
use webhook_guard::headers::CapturedHeaders;
use webhook_guard::json::{parse_bounded, MAX_DEPTH};
use webhook_guard::rfc3339::{rfc3339_to_unix_seconds, unix_seconds_to_rfc3339};
use webhook_guard::schema::Schema;
use webhook_guard::signature::{Encoding, SignatureFormat, Template};
use webhook_guard::timestamp::{TimestampFormat, Window};
use webhook_guard::verify::verify as decide;
use webhook_guard_cache::api::parse_request;

/// The endpoints `verify` runs every input against.
const VERIFY_CONFIG: &str = r#"{"idempotency":{"cluster":"c"},"endpoints":[
 {"name":"g","path_prefix":"/g","preset":"genesys-open-messaging","secrets":[{"id":"a","value":"fuzz-secret-0123456789"}],
  "payload_schema":{"type":"object","required":["id"],"properties":{"id":{"type":"string","pattern":"^[a-z0-9]+$"}}}},
 {"name":"s","path_prefix":"/s","preset":"stripe","secrets":[{"id":"a","value":"fuzz-secret-0123456789"}]},
 {"name":"w","path_prefix":"/w","preset":"standard-webhooks","secrets":[{"id":"a","value":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]},
 {"name":"k","path_prefix":"/k","preset":"slack","secrets":[{"id":"a","value":"fuzz-secret-0123456789"}]},
 {"name":"t","path_prefix":"/t","preset":"genesys-signature-header","secrets":[{"id":"a","value":"fuzz-secret-0123456789"}]}]}"#;

fn verify_config() -> &'static Config {
    static C: OnceLock<Config> = OnceLock::new();
    C.get_or_init(
        || match Config::parse(VERIFY_CONFIG.as_bytes(), &|_| None) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        },
    )
}

/// Any bytes as the plugin configuration: an error or a configuration, never a panic.
pub fn config(data: &[u8]) {
    let env = |name: &str| (name == "SECRET").then(|| "fuzz-secret-0123456789".to_string());
    let _ = webhook_guard::config::Config::parse(data, &env);
}

/// Any bytes as a signature header of every format, and as a signed-content template.
pub fn signature_headers(data: &[u8]) {
    let formats = [
        SignatureFormat::Prefixed {
            prefix: "sha256=".into(),
            encoding: Encoding::Hex,
        },
        SignatureFormat::Prefixed {
            prefix: String::new(),
            encoding: Encoding::Base64,
        },
        SignatureFormat::Stripe,
        SignatureFormat::StandardWebhooks,
    ];
    for f in &formats {
        if let Ok(offered) = f.parse(data) {
            assert!(!offered.macs.is_empty() && offered.macs.len() <= 8);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Template::parse(text);
    }
}

/// Any bytes as a timestamp of every format; whatever parses as RFC 3339 formats back to a
/// date-time that parses to the same second.
pub fn timestamps(data: &[u8]) {
    let window = Window {
        max_age_seconds: 300,
        max_future_seconds: 60,
    };
    for f in [
        TimestampFormat::Unix,
        TimestampFormat::UnixMs,
        TimestampFormat::Rfc3339,
    ] {
        if let Some(t) = f.seconds(data) {
            let _ = window.check(t, 1_700_000_000);
        }
    }
    // Differential: where both read an RFC 3339 date-time, the `time` crate gives the same
    // second (a leap second counts as the next one here, and is clamped there).
    if let Ok(text) = std::str::from_utf8(data) {
        if let (Some(ours), Ok(theirs)) = (
            rfc3339_to_unix_seconds(text),
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339),
        ) {
            if !text.contains(":60") {
                assert_eq!(ours, theirs.unix_timestamp(), "{text}");
            }
        }
    }
    if let Some(t) = std::str::from_utf8(data)
        .ok()
        .and_then(rfc3339_to_unix_seconds)
    {
        if (-62_135_596_800..253_402_300_800).contains(&t) {
            assert_eq!(
                rfc3339_to_unix_seconds(&unix_seconds_to_rfc3339(t)),
                Some(t)
            );
        }
    }
}

/// Any bytes as a CIDR list (one per line) and as Envoy's source.address.
pub fn cidr(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let entries: Vec<&str> = text.lines().collect();
    let list = CidrList::parse(&entries);
    if let Some(ip) = parse_source_address(data) {
        if let Ok(list) = &list {
            let _ = list.contains(ip);
        }
        // Every network contains the addresses it was built from.
        if let Ok(own) = CidrList::parse(&[ip.to_string()]) {
            assert!(own.contains(ip));
        }
    }
}

/// Any bytes split in two: a schema and an instance. Compiling and validating never panic
/// and violations point at the instance with a JSON pointer.
pub fn json_schema(data: &[u8]) {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (schema, instance) = data.split_at(split);
    let text = instance.get(1..).unwrap_or_default();
    let Some(instance) = parse_bounded(text, MAX_DEPTH) else {
        return;
    };
    // The exact text `raw_at` finds is the value `Value::pointer` finds, wherever it is.
    for pointer in ["", "/id", "/0", "/a/b", "/channel/time", "/1/id"] {
        let raw = webhook_guard::json::raw_at(text, pointer);
        let found = instance.pointer(pointer);
        assert_eq!(raw.is_some(), found.is_some(), "{pointer}");
        if let (Some(raw), Some(found)) = (raw, found) {
            let reparsed: serde_json::Value = serde_json::from_slice(raw).expect("raw value");
            assert_eq!(&reparsed, found, "{pointer}");
        }
    }
    let Some(schema) = parse_bounded(schema, MAX_DEPTH) else {
        return;
    };
    let Ok(compiled) = Schema::compile(&schema) else {
        return;
    };
    let ours = compiled.validate(&instance);
    if let Err(v) = &ours {
        assert!(v.at.is_empty() || v.at.starts_with('/'));
    }
    // Differential: where the subset compiled the schema, the jsonschema crate (2020-12)
    // must agree, except where the subset differs on purpose: `format` (asserted here, an
    // annotation there), `pattern` (regex-lite against ECMA-262 regexes), and the depth and
    // work limits (refused here, followed there).
    let text = schema.to_string();
    let deliberate = text.contains("\"format\"") || text.contains("\"pattern\"");
    let limited = matches!(&ours, Err(v) if v.keyword == "depth" || v.keyword == "budget");
    if deliberate || limited {
        return;
    }
    if let Ok(oracle) = jsonschema::draft202012::new(&schema) {
        assert_eq!(
            ours.is_ok(),
            oracle.is_valid(&instance),
            "schema {schema} instance {instance}: ours {ours:?}"
        );
    }
}

/// The whole decision for one delivery: fuzzed headers and body against every preset.
pub fn verify(data: &[u8]) {
    // Lines "name: value" until an empty line, then the body.
    let split = data
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or(data.len());
    let (head, body) = data.split_at(split);
    let body = body.get(2..).unwrap_or_default();
    let pairs: Vec<(String, &[u8])> = head
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            let name = std::str::from_utf8(&line[..colon])
                .ok()?
                .to_ascii_lowercase();
            Some((name, line[colon + 1..].trim_ascii()))
        })
        .collect();
    for ep in &verify_config().endpoints {
        let headers = CapturedHeaders::capture(
            pairs.iter().map(|(n, v)| (n.as_str(), *v)),
            &ep.wanted_headers,
        );
        let _ = decide(ep, &headers, body, 1_700_000_000);
    }
    // The body's bytes as a request path, and as JSON to find a key in.
    let _ = verify_config().route(body);
    let _ = webhook_guard::json::raw_at(body, "/id/0");
}

/// Any bytes as the body of each cache service request.
pub fn cache_requests(data: &[u8]) {
    for path in ["/v1/claim", "/v1/commit", "/v1/release"] {
        let _ = parse_request(path, data);
    }
    let _ = webhook_guard::cache_client::parse_claim(
        Some(b"200"),
        data,
        "0123456789abcdef0123456789abcdef",
    );
    let _ = webhook_guard::cache_client::Queued::decode(data);
    // The batch endpoint's reading of a request, and the filter's of an answer: never a
    // panic, every op answered once.
    if let Some(entries) = webhook_guard_cache::api::parse_batch(data) {
        assert!((1..=webhook_guard::cache_client::MAX_BATCH_OPS).contains(&entries.len()));
    }
    for ops in [0, 1, 3, webhook_guard::cache_client::MAX_BATCH_OPS] {
        if let webhook_guard::cache_client::BatchReply::Entries(slots) =
            webhook_guard::cache_client::read_batch_answer(Some(b"200"), data, ops)
        {
            assert_eq!(slots.len(), ops);
        }
    }
}
