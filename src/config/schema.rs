//! The configuration's JSON Schema (draft 2020-12), generated from the serde types the
//! parser reads (`RawEndpoint`, `RawIdempotency`) for editors and `webhook-guard schema`.
//! Host-side only: behind the `schema` feature, which only the tools enable, so none of it
//! is in the `.wasm`. It says what a schema can (fields, types, required fields, names and
//! ranges); `Config::parse` stays the judge of the rest (secrets, templates, paths).

use super::*;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};

/// The top level, read by hand in `Config::parse`.
#[derive(JsonSchema)]
#[schemars(
    title = "webhook-guard configuration",
    description = "The webhook-guard filter's configuration (docs/configuration.md)."
)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Configuration {
    /// The largest body accepted (413 above it).
    #[schemars(range(min = 1, max = 67108864))]
    #[serde(default = "default_max_body_bytes")]
    max_body_bytes: u64,
    /// The filter's own log level; `info` logs one line per refusal.
    #[schemars(schema_with = "log_level")]
    #[serde(default = "default_log_level")]
    log_level: String,
    /// The cache service that deduplicates deliveries; absent or null: no deduplication.
    idempotency: Option<RawIdempotency>,
    /// The webhook endpoints, each with its own path prefix, preset and secrets.
    #[schemars(length(min = 1))]
    endpoints: Vec<RawEndpoint>,
}

fn default_max_body_bytes() -> u64 {
    DEFAULT_MAX_BODY_BYTES
}

fn default_log_level() -> String {
    "info".into()
}

/// The schema as `webhook-guard schema` prints it (and `schema/config.schema.json` holds).
pub fn json_schema() -> Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    generator.into_root_schema_for::<Configuration>().to_value()
}

fn names(names: &[&str]) -> Schema {
    json_schema!({ "type": "string", "enum": names })
}

/// An optional field's names: `null` is the field left out.
fn names_or_null(names: &[&str]) -> Schema {
    let mut list: Vec<Value> = names.iter().map(|n| Value::from(*n)).collect();
    list.push(Value::Null);
    json_schema!({ "type": ["string", "null"], "enum": list })
}

/// The values the parser's matches accept (a test checks each against them).
pub(super) const LOG_LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "critical"];
pub(super) const MODES: [&str; 2] = ["enforce", "report"];
pub(super) const ON_UNAVAILABLE: [&str; 2] = ["reject", "allow"];
pub(super) const ALGORITHMS: [&str; 6] = [
    "hmac-sha256",
    "hmac-sha1",
    "hmac-sha512",
    "token",
    "ed25519",
    "ecdsa-p256-sha256",
];
pub(super) const ENCODINGS: [&str; 3] = ["hex", "base64", "text"];
pub(super) const TIMESTAMP_FORMATS: [&str; 3] = ["unix", "unix_ms", "rfc3339"];
pub(super) const SECRET_ENCODINGS: [&str; 3] = ["utf8", "base64", "whsec"];
pub(super) const METHODS: [&str; 5] = ["POST", "PUT", "PATCH", "DELETE", "GET"];

fn log_level(_: &mut SchemaGenerator) -> Schema {
    names(&LOG_LEVELS)
}

pub(super) fn mode(_: &mut SchemaGenerator) -> Schema {
    names_or_null(&MODES)
}

pub(super) fn on_unavailable(_: &mut SchemaGenerator) -> Schema {
    names(&ON_UNAVAILABLE)
}

pub(super) fn preset(_: &mut SchemaGenerator) -> Schema {
    names(&PRESET_NAMES)
}

pub(super) fn algorithm(_: &mut SchemaGenerator) -> Schema {
    names_or_null(&ALGORITHMS)
}

pub(super) fn encoding(_: &mut SchemaGenerator) -> Schema {
    names_or_null(&ENCODINGS)
}

pub(super) fn timestamp_format(_: &mut SchemaGenerator) -> Schema {
    names_or_null(&TIMESTAMP_FORMATS)
}

pub(super) fn secret_encoding(_: &mut SchemaGenerator) -> Schema {
    names_or_null(&SECRET_ENCODINGS)
}

pub(super) fn methods(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "The methods the sender delivers with; absent: the preset's (POST).",
        "type": ["array", "null"],
        "items": { "type": "string", "enum": METHODS }
    })
}

/// `secrets`, read by hand (`super::secrets`): its shape written out.
pub(super) fn secrets(_: &mut SchemaGenerator) -> Schema {
    let text = json_schema!({ "type": ["string", "null"] });
    json_schema!({
        "description": "The endpoint's keys (1 to 8): each an id and one of env (a VM environment variable), value or public_key.",
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_SECRETS,
        "items": {
            "type": "object",
            "additionalProperties": false,
            "required": ["id"],
            "properties": {
                "id": { "type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$" },
                "env": text,
                "value": text,
                "public_key": text,
                "optional": { "type": "boolean" }
            }
        }
    })
}

pub(super) fn payload_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A JSON Schema (draft 2020-12 subset, README) the body must match.",
        "type": ["object", "boolean", "null"]
    })
}

pub(super) fn idempotency_key(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A JSON pointer (\"/id\") or \"header:NAME\"; absent: the preset's default; null: no deduplication.",
        "type": ["string", "null"]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name the schema offers is one the parser accepts.
    #[test]
    fn every_listed_name_parses() {
        assert!(LOG_LEVELS.iter().all(|n| parse_log_level(n).is_some()));
        assert!(ALGORITHMS.iter().all(|n| Algorithm::parse(n).is_some()));
        assert!(ENCODINGS.iter().all(|n| Encoding::parse(n).is_some()));
        assert!(TIMESTAMP_FORMATS
            .iter()
            .all(|n| TimestampFormat::parse_name(n).is_some()));
        assert!(SECRET_ENCODINGS
            .iter()
            .all(|n| SecretEncoding::parse(n).is_some()));
        assert!(METHODS
            .iter()
            .all(|n| crate::scheme::delivery::Method::parse(n.as_bytes()).is_some()));
        let parses = |extra: &str, endpoint: &str| {
            let text = format!(
                r#"{{{extra}"endpoints":[{{"name":"e","path_prefix":"/h","preset":"github","secrets":[{{"id":"a","value":"0123456789abcdef"}}]{endpoint}}}]}}"#
            );
            Config::parse(text.as_bytes(), &|_| None).is_ok()
        };
        assert!(parses("", ""));
        assert!(MODES
            .iter()
            .all(|m| parses("", &format!(r#","mode":"{m}""#))));
        assert!(ON_UNAVAILABLE.iter().all(|o| parses(
            &format!(r#""idempotency":{{"cluster":"c","on_unavailable":"{o}"}},"#),
            ""
        )));
    }
}
