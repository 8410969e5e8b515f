//! The checks each fuzz target runs, shared with tests/fuzz_regressions.rs (which replays
//! every saved input on stable Rust in `make test`). Each takes any bytes and must neither
//! panic nor break the property it asserts.
#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;
use webhook_guard::config::Config;
use webhook_guard::keys::{Field, Secret, SecretEncoding};
use webhook_guard::payload::json::{parse_bounded, MAX_DEPTH};
use webhook_guard::payload::rfc3339::{rfc3339_to_unix_seconds, unix_seconds_to_rfc3339};
use webhook_guard::payload::schema::Schema;
use webhook_guard::request::cidr::{parse_source_address, CidrList};
use webhook_guard::request::headers::CapturedHeaders;
use webhook_guard::scheme::presets::{preset, PRESET_NAMES};
use webhook_guard::scheme::signature::Algorithm;
use webhook_guard::scheme::template::{query_param, sorted_form, Template};
use webhook_guard::scheme::timestamp::{TimestampFormat, Window};
use webhook_guard::verify::verify as decide;
use webhook_guard_cache::api::parse_request;

/// One endpoint per preset, each with a key of the kind it wants, and a schema on one.
fn verify_config_text() -> String {
    let mut endpoints = Vec::new();
    for (i, name) in PRESET_NAMES.iter().enumerate() {
        let secret = match *name {
            "standard-webhooks" => r#"{"id":"a","value":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},{"id":"b","public_key":"whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="}"#.to_string(),
            "discord" => r#"{"id":"a","public_key":"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"}"#.to_string(),
            "sendgrid" => format!(r#"{{"id":"a","public_key":"{}"}}"#, SENDGRID_PUBLIC),
            _ => r#"{"id":"a","value":"fuzz-secret-0123456789"}"#.to_string(),
        };
        let extra = match *name {
            "custom" => r#","signature_header":"x-sig""#,
            "square" | "hubspot" | "twilio" => r#","public_url":"https://hooks.example.com""#,
            "genesys-open-messaging" => {
                r#","payload_schema":{"type":"object","required":["id"],"properties":{"id":{"type":"string","pattern":"^[a-z0-9]+$"}}}"#
            }
            _ => "",
        };
        endpoints.push(format!(
            r#"{{"name":"p{i}","path_prefix":"/p{i}","preset":"{name}","secrets":[{secret}]{extra}}}"#
        ));
    }
    format!(
        r#"{{"idempotency":{{"cluster":"c"}},"endpoints":[{}]}}"#,
        endpoints.join(",")
    )
}

/// The P-256 public key of the scalar 0x07..07, base64 DER.
const SENDGRID_PUBLIC: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEHhhTL9R1TALzBB2cdc6zO4P/2BrHzk/ogsyxyYvFiW6kbDEcTi/0DdlqNlPm5FRF0y3+SG7O11x6kMahiIHAow==";

fn verify_config() -> &'static Config {
    static C: OnceLock<Config> = OnceLock::new();
    C.get_or_init(
        || match Config::parse(verify_config_text().as_bytes(), &|_| None) {
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

/// Any bytes as a signature header of every preset's format, as a signed-content
/// template, and as a form body and request path (Twilio's parameters, `bodySHA256`).
pub fn signature_headers(data: &[u8]) {
    for name in PRESET_NAMES {
        let Some(scheme) = preset(name) else {
            continue;
        };
        if let Ok(offered) = scheme.format.parse(data, scheme.algorithm) {
            assert!(
                !offered.sigs.is_empty() && offered.sigs.len() <= 8,
                "{name}"
            );
            for sig in &offered.sigs {
                assert!(!sig.bytes.is_empty() && sig.bytes.len() <= 1024, "{name}");
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Template::parse(text);
    }
    // Every pair comes from the body, sorted; decoding never grows a pair.
    let pairs = sorted_form(data).unwrap_or_default();
    assert!(pairs.windows(2).all(|w| w[0] <= w[1]));
    let total: usize = pairs.iter().map(|(k, v)| k.len() + v.len()).sum();
    assert!(total <= data.len());
    let _ = query_param(data, b"bodySHA256");
}

/// Any bytes as a key of every kind an endpoint may be configured with, in every field:
/// an error or a key, never a panic, and an error never quotes the text.
pub fn public_keys(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = webhook_guard::keys::ed25519_public(text);
    let _ = webhook_guard::keys::p256_public(text);
    for algorithm in [
        Algorithm::HmacSha256,
        Algorithm::HmacSha1,
        Algorithm::HmacSha512,
        Algorithm::Token,
        Algorithm::Ed25519,
        Algorithm::EcdsaP256Sha256,
    ] {
        for encoding in [
            SecretEncoding::Utf8,
            SecretEncoding::Base64,
            SecretEncoding::Whsec,
        ] {
            for field in [Field::PublicKey, Field::Value, Field::Env] {
                // Messages are printable ASCII written here: a text with any other
                // character found in one was quoted. (A text made of a message's own
                // words, which the fuzzer found, is not a leak.)
                if let Err(why) = Secret::from_text("k".into(), algorithm, encoding, text, field) {
                    let why = why.to_string();
                    let foreign = text.chars().any(|c| !c.is_ascii_graphic() && c != ' ');
                    assert!(!foreign || text.len() < 4 || !why.contains(text), "{why}");
                    assert!(why.len() < 400, "{why}");
                }
            }
        }
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
        let raw = webhook_guard::payload::json::raw_at(text, pointer);
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
            // `:path: /x` and `:method: POST` too: the pseudo-headers some schemes sign.
            let colon = line.iter().skip(1).position(|&b| b == b':')? + 1;
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
    let _ = webhook_guard::payload::json::raw_at(body, "/id/0");
}

/// Any bytes as the body of each cache service request.
pub fn cache_requests(data: &[u8]) {
    for path in ["/v1/claim", "/v1/commit", "/v1/release"] {
        let _ = parse_request(path, data);
    }
    let _ = webhook_guard::dedupe::client::parse_claim(
        Some(b"200"),
        data,
        "0123456789abcdef0123456789abcdef",
    );
    let _ = webhook_guard::dedupe::client::Queued::decode(data);
    // The batch endpoint's reading of a request, and the filter's of an answer: never a
    // panic, every op answered once.
    if let Some(entries) = webhook_guard_cache::api::parse_batch(data) {
        assert!((1..=webhook_guard::dedupe::client::MAX_BATCH_OPS).contains(&entries.len()));
    }
    for ops in [0, 1, 3, webhook_guard::dedupe::client::MAX_BATCH_OPS] {
        if let webhook_guard::dedupe::client::BatchReply::Entries(slots) =
            webhook_guard::dedupe::client::read_batch_answer(Some(b"200"), data, ops)
        {
            assert_eq!(slots.len(), ops);
        }
    }
}
