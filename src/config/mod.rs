//! The filter configuration: parsed once in `on_configure`, checked completely, and turned
//! into ready-to-run structures. Any error names the field it is about and never quotes a
//! secret.

use serde::Deserialize;
use serde_json::Value;

use crate::dedupe::key::KeySource;
use crate::keys::{Field, Secret, SecretEncoding};
use crate::payload::schema::Schema;
use crate::request::cidr::CidrList;
use crate::request::headers::HeaderRef;
use crate::scheme::presets::{preset, PRESET_NAMES};
use crate::scheme::signature::{valid_header_name, Algorithm, Encoding};
use crate::scheme::template::Template;
use crate::scheme::timestamp::{TimestampFormat, TimestampSource};
use crate::scheme::{Scheme, SignatureSource};

pub const DEFAULT_MAX_BODY_BYTES: u64 = 1024 * 1024;
/// Envoy buffers the whole body in memory; beyond this a webhook is not a webhook.
pub const MAX_MAX_BODY_BYTES: u64 = 64 * 1024 * 1024;
/// A replay window longer than a week protects nothing.
pub const MAX_WINDOW_SECONDS: u64 = 7 * 24 * 3600;
pub const MAX_SECRETS: usize = 8;

/// What is wrong with the configuration: the field (`endpoints[0] (genesys).secrets[1].env`)
/// and why, never the value. Shown as `field: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(field: impl std::fmt::Display, reason: impl std::fmt::Display) -> ConfigError {
        ConfigError {
            field: field.to_string(),
            reason: reason.to_string(),
        }
    }

    /// A payload schema's error under the endpoint's `field`, by its typed location: never
    /// by splitting its text, as a schema property may be named `a: b`.
    fn under(field: impl std::fmt::Display, e: crate::payload::schema::SchemaError) -> ConfigError {
        ConfigError::new(format!("{field}.{}", e.field()), e.reason)
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

fn err<T>(field: impl std::fmt::Display, msg: impl std::fmt::Display) -> Result<T, ConfigError> {
    Err(ConfigError::new(field, msg))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Reject what fails (the default).
    Enforce,
    /// Verify, log and count what would be rejected, but forward it anyway.
    Report,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnUnavailable {
    Reject,
    Allow,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub cluster: String,
    pub authority: String,
    pub timeout_ms: u64,
    pub in_flight_ttl_seconds: u64,
    pub done_ttl_seconds: u64,
    pub on_unavailable: OnUnavailable,
}

pub struct Endpoint {
    pub name: String,
    pub path_prefix: String,
    pub mode: Mode,
    pub scheme: Scheme,
    pub secrets: Vec<Secret>,
    pub source_ips: Option<CidrList>,
    pub schema: Option<Schema>,
    /// `Some` only when deduplication is on for this endpoint.
    pub idempotency_key: Option<KeySource>,
    /// Lowercase names of every header the checks read.
    pub wanted_headers: Vec<String>,
    /// Whether the body must be parsed as JSON (schema, body timestamp, pointer key).
    pub needs_json: bool,
    /// `path_prefix` as receivers route it (`crate::request::path::canonical`).
    pub canonical_prefix: Vec<String>,
    /// The sender's unsigned delivery id header, for the log only.
    pub delivery_id: Option<HeaderRef>,
    /// Optional secret slots left out because their variable is unset (for the log).
    pub skipped_secrets: Vec<String>,
    /// The methods a delivery may come with (`crate::scheme::delivery`): the preset's, or `methods`.
    pub methods: crate::scheme::delivery::Methods,
    /// The `Allow` header of this endpoint's `405`.
    pub allow: String,
}

/// Which endpoint a request path belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Endpoint(usize),
    /// No endpoint serves it, however a receiver spells it.
    Unknown,
    /// Its exact spelling and the spelling a receiver would route disagree on the endpoint
    /// (`/hooks/STRICT` exactly under `/hooks`, as routed under `/hooks/strict`): refused.
    Ambiguous,
}

pub struct Config {
    pub max_body_bytes: u64,
    /// The filter's own log level (`trace` to `critical`); `info` logs one line per refusal.
    pub log_level: LogLevel,
    pub idempotency: Option<Idempotency>,
    pub endpoints: Vec<Endpoint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdempotency {
    cluster: String,
    authority: Option<String>,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    #[serde(default = "default_in_flight_ttl")]
    in_flight_ttl_seconds: u64,
    #[serde(default = "default_done_ttl")]
    done_ttl_seconds: u64,
    #[serde(default = "default_on_unavailable")]
    on_unavailable: String,
}

fn default_timeout_ms() -> u64 {
    250
}
fn default_in_flight_ttl() -> u64 {
    60
}
fn default_done_ttl() -> u64 {
    86400
}
fn default_on_unavailable() -> String {
    "reject".into()
}

/// One entry of `secrets`, read by [`raw_secrets`] rather than by serde.
struct RawSecret {
    id: String,
    env: Option<String>,
    value: Option<String>,
    /// A public key (Ed25519, P-256), for the asymmetric schemes.
    public_key: Option<String>,
    /// An `env` slot that may be unset or empty (a rotation being staged): skipped then.
    optional: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    name: String,
    path_prefix: String,
    preset: String,
    #[serde(default)]
    mode: Option<String>,
    /// Any JSON, read by [`raw_secrets`]: serde's messages quote a mistyped value.
    secrets: Value,
    source_ips: Option<Vec<String>>,
    max_age_seconds: Option<u64>,
    max_future_seconds: Option<u64>,
    payload_schema: Option<Value>,
    /// Absent = the preset's default; `null` = no deduplication.
    #[serde(default, deserialize_with = "present")]
    idempotency_key: Option<Option<String>>,
    /// Accept a `header:NAME` key the signature does not cover (see the README).
    #[serde(default)]
    allow_unsigned_idempotency_key: bool,
    /// One header, or several that are all read (DocuSign's one per key).
    signature_header: Option<OneOrMany>,
    /// A JSON pointer to the signature inside the body (Mailgun), instead of a header.
    signature_field: Option<String>,
    /// The header holds several items split at this character (`,` for `t=..,v1=..`).
    signature_separator: Option<String>,
    signature_prefix: Option<String>,
    algorithm: Option<String>,
    /// The scheme, host and port senders call, for schemes that sign the URL.
    public_url: Option<String>,
    encoding: Option<String>,
    signed_content: Option<String>,
    timestamp: Option<String>,
    timestamp_format: Option<String>,
    secret_encoding: Option<String>,
    /// The methods the sender delivers with; absent = the preset's (`POST`). Read by
    /// `parse_methods`, so that a value of the wrong shape is named by the field.
    methods: Option<Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// Tells an explicit `null` (Some(None)) from an absent field (None).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl Config {
    /// Parses the plugin configuration. `env` looks up VM environment variables.
    pub fn parse(
        bytes: &[u8],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let root: Value = serde_json::from_slice(bytes)
            .map_err(|e| ConfigError::new("configuration", format!("not valid JSON ({e})")))?;
        let Value::Object(mut top) = root else {
            return err("configuration", "must be a JSON object");
        };
        let endpoints_raw = top.remove("endpoints");
        let idempotency_raw = top.remove("idempotency");
        let max_body_bytes = match top.remove("max_body_bytes") {
            None => DEFAULT_MAX_BODY_BYTES,
            Some(v) => match v.as_u64() {
                Some(n) if (1..=MAX_MAX_BODY_BYTES).contains(&n) => n,
                _ => return err("max_body_bytes", "must be an integer from 1 to 67108864"),
            },
        };
        let log_level = match top.remove("log_level") {
            None => LogLevel::Info,
            Some(v) => match v.as_str().and_then(parse_log_level) {
                Some(level) => level,
                None => return err(
                    "log_level",
                    "must be \"trace\", \"debug\", \"info\", \"warn\", \"error\" or \"critical\"",
                ),
            },
        };
        if let Some(unknown) = top.keys().next() {
            let unknown = if looks_like_name(unknown) {
                unknown
            } else {
                "(a key not shown)"
            };
            return err(
                unknown,
                "unknown field (expected endpoints, idempotency, log_level, max_body_bytes)",
            );
        }

        let idempotency = match idempotency_raw {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_idempotency(v)?),
        };

        let Some(Value::Array(list)) = endpoints_raw else {
            return err("endpoints", "required: a non-empty list of endpoints");
        };
        if list.is_empty() {
            return err("endpoints", "must list at least one endpoint");
        }
        let mut endpoints: Vec<Endpoint> = Vec::with_capacity(list.len());
        for (i, raw) in list.into_iter().enumerate() {
            let field = format!("endpoints[{i}]");
            let raw: RawEndpoint =
                serde_json::from_value(raw).map_err(|e| shape_error(&field, &e))?;
            let ep = build_endpoint(&field, raw, env, idempotency.is_some())?;
            if endpoints.iter().any(|e| e.name == ep.name) {
                return err(
                    format!("{field}.name"),
                    format!("duplicate name {:?}", ep.name),
                );
            }
            if let Some(other) = endpoints
                .iter()
                .find(|e| crate::request::path::same(&e.canonical_prefix, &ep.canonical_prefix))
            {
                return err(
                    format!("{field}.path_prefix"),
                    format!(
                        "{:?} is the same path as endpoint {:?}'s {:?} to a receiver that ignores letter case, ';' parameters, trailing dots or a format suffix",
                        ep.path_prefix, other.name, other.path_prefix
                    ),
                );
            }
            endpoints.push(ep);
        }
        Ok(Config {
            max_body_bytes,
            log_level,
            idempotency,
            endpoints,
        })
    }

    /// The endpoint of a request path: the exact match (`endpoint_for`), provided the path
    /// as a lenient receiver would route it (`crate::request::path::canonical`) matches the same one
    /// and holds nothing that no canonical form settles (`crate::request::path::unsettled`).
    pub fn route(&self, path: &[u8]) -> Route {
        let exact = self.endpoint_for(path);
        let canonical = crate::request::path::canonical(path);
        let lenient = self
            .endpoints
            .iter()
            .enumerate()
            .filter(|(_, e)| crate::request::path::covers(&e.canonical_prefix, &canonical))
            .max_by_key(|(_, e)| e.canonical_prefix.len())
            .map(|(i, _)| i);
        match (exact, lenient) {
            (None, None) => Route::Unknown,
            // Where an endpoint could serve it, a spelling no canonical form settles.
            _ if crate::request::path::unsettled(path) => Route::Ambiguous,
            (Some(a), Some(b)) if a == b => Route::Endpoint(a),
            _ => Route::Ambiguous,
        }
    }

    /// The endpoint whose `path_prefix` is the longest match for the request path (query
    /// ignored), matching whole segments: `/hooks/a` serves `/hooks/a` and `/hooks/a/x`, not
    /// `/hooks/ab`.
    pub fn endpoint_for(&self, path: &[u8]) -> Option<usize> {
        let path = match path.iter().position(|&b| b == b'?' || b == b'#') {
            Some(q) => &path[..q],
            None => path,
        };
        self.endpoints
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                let prefix = e.path_prefix.as_bytes();
                path.starts_with(prefix)
                    && (path.len() == prefix.len()
                        || prefix.ends_with(b"/")
                        || path.get(prefix.len()) == Some(&b'/'))
            })
            .max_by_key(|(_, e)| e.path_prefix.len())
            .map(|(i, _)| i)
    }
}

/// serde's message for a value of the wrong shape quotes it (`invalid type: string "..."`,
/// ``integer `5` ``), and a secret pasted into the wrong field must not reach the log: keep
/// what serde says was expected, drop every quoted string and every number, boolean or
/// character serde puts in backticks. Field names (in backticks too) stay. The secrets list
/// never reaches serde's messages ([`raw_secrets`]): this is the net for the other fields.
fn shape_error(field: &str, e: &serde_json::Error) -> ConfigError {
    let text = e.to_string();
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '`'
            && ["integer ", "floating point ", "boolean ", "character "]
                .iter()
                .any(|kind| out.ends_with(kind))
        {
            out.push_str("(value not shown)");
            for c in chars.by_ref() {
                if c == '`' {
                    break;
                }
            }
            continue;
        }
        if c == '`' && out.ends_with("unknown field ") {
            let key: String = chars.by_ref().take_while(|&c| c != '`').collect();
            if looks_like_name(&key) {
                out.push_str(&format!("`{key}`"));
            } else {
                out.push_str("(name not shown)");
            }
            continue;
        }
        if c != '"' {
            out.push(c);
            continue;
        }
        out.push_str("(value not shown)");
        // Skip to the closing quote; serde writes the value with Debug escapes.
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => break,
                _ => {}
            }
        }
    }
    ConfigError::new(field, out.trim_start_matches(": "))
}

/// The filter's `log_level`: proxy-wasm's levels, named here so that the configuration
/// stays host-free (the glue maps it to the host's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Critical,
}

fn parse_log_level(s: &str) -> Option<LogLevel> {
    Some(match s {
        "trace" => LogLevel::Trace,
        "debug" => LogLevel::Debug,
        "info" => LogLevel::Info,
        "warn" => LogLevel::Warn,
        "error" => LogLevel::Error,
        "critical" => LogLevel::Critical,
        _ => return None,
    })
}

fn parse_idempotency(v: Value) -> Result<Idempotency, ConfigError> {
    let raw: RawIdempotency =
        serde_json::from_value(v).map_err(|e| shape_error("idempotency", &e))?;
    if raw.cluster.is_empty() {
        return err(
            "idempotency.cluster",
            "must name the Envoy cluster of the cache service",
        );
    }
    // Below 20 ms a claim could not wait for the batch in flight and still be sent.
    if !(20..=10_000).contains(&raw.timeout_ms) {
        return err("idempotency.timeout_ms", "must be from 20 to 10000");
    }
    if !(1..=3600).contains(&raw.in_flight_ttl_seconds) {
        return err(
            "idempotency.in_flight_ttl_seconds",
            "must be from 1 to 3600",
        );
    }
    if !(1..=30 * 86400).contains(&raw.done_ttl_seconds) {
        return err(
            "idempotency.done_ttl_seconds",
            "must be from 1 to 2592000 (30 days)",
        );
    }
    let on_unavailable = match raw.on_unavailable.as_str() {
        "reject" => OnUnavailable::Reject,
        "allow" => OnUnavailable::Allow,
        _ => {
            return err(
                "idempotency.on_unavailable",
                "must be \"reject\" or \"allow\"",
            )
        }
    };
    Ok(Idempotency {
        authority: raw.authority.unwrap_or_else(|| raw.cluster.clone()),
        cluster: raw.cluster,
        timeout_ms: raw.timeout_ms,
        in_flight_ttl_seconds: raw.in_flight_ttl_seconds,
        done_ttl_seconds: raw.done_ttl_seconds,
        on_unavailable,
    })
}

/// Names and ids appear in headers, logs and metric names (where a dot separates labels).
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn build_endpoint(
    field: &str,
    raw: RawEndpoint,
    env: &dyn Fn(&str) -> Option<String>,
    dedupe_configured: bool,
) -> Result<Endpoint, ConfigError> {
    if !valid_name(&raw.name) {
        return err(
            format!("{field}.name"),
            "must be 1-64 characters of letters, digits, '-', '_'",
        );
    }
    let field = format!("{field} ({})", raw.name);
    if !raw.path_prefix.starts_with('/') {
        return err(format!("{field}.path_prefix"), "must start with '/'");
    }
    // Every request under such a prefix would be refused as ambiguous.
    if crate::request::path::unsettled(raw.path_prefix.as_bytes())
        || raw.path_prefix.contains(['?', '#'])
    {
        return err(
            format!("{field}.path_prefix"),
            "must be printable ASCII, without '?', '#' or an escape of '%' (requests with anything else in their path are refused)",
        );
    }
    let mode = match raw.mode.as_deref() {
        None | Some("enforce") => Mode::Enforce,
        Some("report") => Mode::Report,
        Some(_) => return err(format!("{field}.mode"), "must be \"enforce\" or \"report\""),
    };
    let Some(mut scheme) = preset(&raw.preset) else {
        return err(
            format!("{field}.preset"),
            format!(
                "unknown preset; expected one of {}",
                PRESET_NAMES.join(", ")
            ),
        );
    };
    apply_overrides(&field, &raw, &mut scheme)?;

    if scheme.timestamp == TimestampSource::None
        && (raw.max_age_seconds.is_some() || raw.max_future_seconds.is_some())
    {
        return err(
            format!("{field}.max_age_seconds/max_future_seconds"),
            "this endpoint reads no timestamp (set \"timestamp\" to give it one)",
        );
    }
    if let Some(age) = raw.max_age_seconds {
        if !(1..=MAX_WINDOW_SECONDS).contains(&age) {
            return err(
                format!("{field}.max_age_seconds"),
                "must be from 1 to 604800",
            );
        }
        scheme.window.max_age_seconds = age;
    }
    if let Some(future) = raw.max_future_seconds {
        if future > MAX_WINDOW_SECONDS {
            return err(
                format!("{field}.max_future_seconds"),
                "must be from 0 to 604800",
            );
        }
        scheme.window.max_future_seconds = future;
    }

    let mut skipped_secrets = Vec::new();
    let secrets = build_secrets(&field, &raw.secrets, &scheme, env, &mut skipped_secrets)?;

    let source_ips = match &raw.source_ips {
        None => None,
        Some(list) if list.is_empty() => {
            return err(
                format!("{field}.source_ips"),
                "is empty, which would deny every source; omit it to allow any source",
            )
        }
        Some(list) => Some(
            CidrList::parse(list)
                .map_err(|e| ConfigError::new(format!("{field}.source_ips"), e))?,
        ),
    };

    let schema = match &raw.payload_schema {
        None => None,
        Some(s) => Some(Schema::compile(s).map_err(|e| ConfigError::under(&field, e))?),
    };

    let idempotency_key = match &raw.idempotency_key {
        None if dedupe_configured => scheme.default_key.clone(),
        None | Some(None) => None,
        Some(Some(_)) if !dedupe_configured => {
            return err(
                format!("{field}.idempotency_key"),
                "needs the top-level \"idempotency\" block (the cache service to use)",
            )
        }
        Some(Some(text)) => Some(KeySource::parse(text).ok_or_else(|| {
            ConfigError::new(
                format!("{field}.idempotency_key"),
                "must be a JSON pointer (\"/id\"), \"signed_content\" or \"header:NAME\"",
            )
        })?),
    };
    // A key the signature does not cover is chosen by whoever sends the request: a captured
    // delivery replays under a new id, a future one is pre-claimed and lost.
    if let Some(KeySource::Header(h)) = &idempotency_key {
        let signed = scheme.signed_content.headers().any(|s| s == h);
        if !signed && !raw.allow_unsigned_idempotency_key {
            return err(
                format!("{field}.idempotency_key"),
                format!(
                    "header {} is not covered by the signature, so a captured delivery could be replayed under a new id and a future one claimed in advance; use \"signed_content\" or a JSON pointer, or set allow_unsigned_idempotency_key: true to accept that",
                    h.names.join("/")
                ),
            );
        }
    }
    if raw.allow_unsigned_idempotency_key && !matches!(&idempotency_key, Some(KeySource::Header(_)))
    {
        return err(
            format!("{field}.allow_unsigned_idempotency_key"),
            "applies only to an idempotency_key read from a header",
        );
    }

    let mut wanted: Vec<&HeaderRef> = Vec::new();
    if let SignatureSource::Headers(list) = &scheme.signature {
        wanted.extend(list);
    }
    if let TimestampSource::Header(h) = &scheme.timestamp {
        wanted.push(h);
    }
    if let Some(KeySource::Header(h)) = &idempotency_key {
        wanted.push(h);
    }
    if let Some(h) = &scheme.delivery_id {
        wanted.push(h);
    }
    let mut wanted_headers: Vec<String> = wanted.iter().flat_map(|h| h.names.clone()).collect();
    wanted_headers.extend(scheme.signed_content.wanted_headers());
    if let Some(c) = &scheme.challenge {
        wanted_headers.extend(c.wanted_headers());
    }
    wanted_headers.sort();
    wanted_headers.dedup();

    let needs_json = schema.is_some()
        || matches!(scheme.timestamp, TimestampSource::Body(_))
        || matches!(scheme.signature, SignatureSource::Body(_))
        || scheme.signed_content.uses_json()
        || idempotency_key.as_ref().is_some_and(KeySource::needs_json);

    let methods = match &raw.methods {
        None => scheme.methods,
        Some(list) => parse_methods(&format!("{field}.methods"), list)?,
    };
    Ok(Endpoint {
        allow: crate::scheme::delivery::allow_header(methods, scheme.challenge.as_ref()),
        methods,
        name: raw.name,
        canonical_prefix: crate::request::path::canonical(raw.path_prefix.as_bytes()),
        delivery_id: scheme.delivery_id.clone(),
        skipped_secrets,
        path_prefix: raw.path_prefix,
        mode,
        scheme,
        secrets,
        source_ips,
        schema,
        idempotency_key,
        wanted_headers,
        needs_json,
    })
}

/// An endpoint's `methods`: known, case-sensitive tokens, at least one.
fn parse_methods(
    field: &str,
    value: &Value,
) -> Result<crate::scheme::delivery::Methods, ConfigError> {
    use crate::scheme::delivery::{Method, Methods};
    let shape = "must be a list of methods, e.g. [\"POST\"]";
    let Value::Array(list) = value else {
        return err(field, shape);
    };
    let mut parsed = Vec::with_capacity(list.len());
    // The value is not quoted back (a secret pasted into the wrong field must not be logged).
    for (i, item) in list.iter().enumerate() {
        let Value::String(name) = item else {
            return err(field, shape);
        };
        match Method::parse(name.as_bytes()) {
            Some(m) => parsed.push(m),
            None if ["HEAD", "OPTIONS"].contains(&name.to_ascii_uppercase().as_str()) => {
                return err(
                    format!("{field}[{i}]"),
                    format!("HEAD and OPTIONS are no sender's methods: receivers' frameworks answer them themselves, so a copy of a delivery sent with one would be marked processed unseen; expected {}", Method::NAMES),
                )
            }
            None => {
                return err(
                    format!("{field}[{i}]"),
                    format!("unknown method; expected {} (upper case)", Method::NAMES),
                )
            }
        }
    }
    let methods = Methods::of(&parsed);
    if methods.is_empty() {
        return err(
            field,
            "must list at least one method (absent: the preset's, POST)",
        );
    }
    Ok(methods)
}

/// Applies the `custom` fields, which any preset accepts as overrides, then checks that the
/// scheme they make is whole: each rule below is about what a signature must cover.
fn apply_overrides(field: &str, raw: &RawEndpoint, s: &mut Scheme) -> Result<(), ConfigError> {
    if let Some(a) = &raw.algorithm {
        s.algorithm = Algorithm::parse(a).ok_or_else(|| {
            ConfigError::new(
                format!("{field}.algorithm"),
                format!("must be {}", Algorithm::NAMES),
            )
        })?;
        // A token is compared as the header's bytes, not decoded.
        if s.algorithm == Algorithm::Token && raw.encoding.is_none() {
            s.format.encoding = Encoding::Text;
        }
    }
    match (&raw.signature_header, &raw.signature_field) {
        (Some(_), Some(_)) => {
            return err(
                format!("{field}.signature_header/signature_field"),
                "give one: the signature is in a header or in the body",
            )
        }
        (Some(h), None) => {
            let names = match h {
                OneOrMany::One(n) => vec![n.as_str()],
                OneOrMany::Many(list) => list.iter().map(String::as_str).collect(),
            };
            if names.is_empty() || names.len() > crate::scheme::signature::MAX_SIGNATURES {
                return err(
                    format!("{field}.signature_header"),
                    "must name 1 to 8 headers",
                );
            }
            if !names.iter().all(|n| valid_header_name(n)) {
                return err(
                    format!("{field}.signature_header"),
                    "is not a valid header name",
                );
            }
            s.signature =
                SignatureSource::Headers(names.iter().map(|n| HeaderRef::new(&[n])).collect());
        }
        (None, Some(p)) => {
            if !p.starts_with('/') {
                return err(
                    format!("{field}.signature_field"),
                    "must be a JSON pointer (\"/signature/signature\")",
                );
            }
            s.signature = SignatureSource::Body(p.clone());
        }
        (None, None) => {}
    }
    if s.signature == SignatureSource::Headers(Vec::new()) {
        return err(
            format!("{field}.signature_header"),
            "required with preset custom (or signature_field)",
        );
    }
    if let Some(sep) = &raw.signature_separator {
        match sep.as_bytes() {
            [b] if b.is_ascii_punctuation() || *b == b' ' => s.format.separator = Some(*b),
            _ => {
                return err(
                    format!("{field}.signature_separator"),
                    "must be one punctuation character or a space",
                )
            }
        }
    }
    if let Some(p) = &raw.signature_prefix {
        s.format.prefix = p.clone();
    }
    if let Some(e) = &raw.encoding {
        s.format.encoding = Encoding::parse(e).ok_or_else(|| {
            ConfigError::new(
                format!("{field}.encoding"),
                "must be \"hex\", \"base64\" or \"text\"",
            )
        })?;
    }
    if let Some(t) = &raw.signed_content {
        s.signed_content = Template::parse(t)
            .map_err(|e| ConfigError::new(format!("{field}.signed_content"), e))?;
    }
    if let Some(t) = &raw.timestamp {
        // `signature:t=`: the item of a list signature header that holds the timestamp.
        if let Some(item) = t.strip_prefix("signature:") {
            if item.is_empty() || s.format.separator.is_none() {
                return err(
                    format!("{field}.timestamp"),
                    "\"signature:ITEM\" needs signature_separator and an item prefix (\"signature:t=\")",
                );
            }
            s.format.timestamp_item = Some(item.to_string());
            s.timestamp = TimestampSource::SignatureHeader;
        } else {
            s.timestamp = TimestampSource::parse(t).ok_or_else(|| {
                ConfigError::new(
                    format!("{field}.timestamp"),
                    "must be \"header:NAME\", \"signature:ITEM\" or a JSON pointer (\"/time\")",
                )
            })?;
        }
    }
    if let Some(f) = &raw.timestamp_format {
        s.timestamp_format = TimestampFormat::parse_name(f).ok_or_else(|| {
            ConfigError::new(
                format!("{field}.timestamp_format"),
                "must be \"unix\", \"unix_ms\" or \"rfc3339\"",
            )
        })?;
    }
    if let Some(e) = &raw.secret_encoding {
        s.secret_encoding = SecretEncoding::parse(e).ok_or_else(|| {
            ConfigError::new(
                format!("{field}.secret_encoding"),
                "must be \"utf8\", \"base64\" or \"whsec\"",
            )
        })?;
    }
    if let Some(url) = &raw.public_url {
        if !valid_public_url(url) {
            return err(
                format!("{field}.public_url"),
                "must be http(s)://host[:port] (optionally a path prefix), no trailing '/', query or spaces",
            );
        }
        if !s.signed_content.uses_url() {
            return err(
                format!("{field}.public_url"),
                "is not used: this endpoint's signed content has no {url}",
            );
        }
        s.public_url = url.clone();
    } else if s.signed_content.uses_url() {
        return err(
            format!("{field}.public_url"),
            "required: this sender signs the URL it calls (\"https://hooks.example.com\"); the Host header is the client's to choose",
        );
    }

    // What the signature must cover.
    match &s.signature {
        SignatureSource::Body(_)
            if s.signed_content
                .parts
                .contains(&crate::scheme::template::Part::Body) =>
        {
            return err(
                format!("{field}.signed_content"),
                "cannot contain {body}: the body holds the signature",
            )
        }
        SignatureSource::Headers(_)
            if s.algorithm != Algorithm::Token && !s.signed_content.covers_body() =>
        {
            return err(
                format!("{field}.signed_content"),
                "must contain {body} (or {form_params})",
            )
        }
        _ => {}
    }
    if s.signed_content.uses_timestamp() {
        match s.timestamp {
            TimestampSource::Header(_) | TimestampSource::SignatureHeader => {}
            _ => {
                return err(
                    format!("{field}.signed_content"),
                    "uses {timestamp}, which needs a timestamp read from a header",
                )
            }
        }
    }
    // A timestamp outside the signed bytes could be rewritten on a captured delivery to
    // pass the window forever; a body timestamp is covered by the body's MAC already (or,
    // Mailgun, by its own {json:...} part).
    let header_timestamp = matches!(
        s.timestamp,
        TimestampSource::Header(_) | TimestampSource::SignatureHeader
    );
    if header_timestamp && !s.signed_content.uses_timestamp() {
        return err(
            format!("{field}.timestamp"),
            "a timestamp read from a header must be signed: add {timestamp} to signed_content",
        );
    }
    if let (TimestampSource::Body(p), SignatureSource::Body(_)) = (&s.timestamp, &s.signature) {
        if !s
            .signed_content
            .parts
            .contains(&crate::scheme::template::Part::Json(p.clone()))
        {
            return err(
                format!("{field}.timestamp"),
                "must be signed: add {json:POINTER} of it to signed_content",
            );
        }
    }
    if s.timestamp == TimestampSource::SignatureHeader && s.format.timestamp_item.is_none() {
        return err(
            format!("{field}.timestamp"),
            "this signature header carries no timestamp item",
        );
    }
    if s.algorithm == Algorithm::Token && s.timestamp != TimestampSource::None {
        return err(
            format!("{field}.timestamp"),
            "a shared token signs nothing, so a timestamp beside it protects nothing",
        );
    }
    Ok(())
}

/// `http(s)://host[:port][/prefix]`: printable ASCII, no query, no trailing slash (the
/// request path, which starts with one, is appended).
fn valid_public_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| {
        !r.is_empty()
            && !r.starts_with('/')
            && !url.ends_with('/')
            && url.len() <= 512
            && url
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#')
    })
}

/// What kind of JSON value `v` is, for errors that must not show it.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

const SECRET_FIELDS: [&str; 5] = ["id", "env", "value", "public_key", "optional"];

/// The `secrets` list, read by hand: serde's message for a value of the wrong type quotes
/// it (``invalid type: integer `918273645501928374` ``: an all-digit token templated into
/// YAML unquoted is a number), and a secret may be pasted into any field of the list. Every
/// error here names the field and the JSON type, never a value, nor an unknown key (YAML
/// reads `{value:TOKEN}` as one key).
fn raw_secrets(field: &str, v: &Value) -> Result<Vec<RawSecret>, ConfigError> {
    let Value::Array(list) = v else {
        return err(
            format!("{field}.secrets"),
            format!("must be a list of secrets, not {}", json_kind(v)),
        );
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let f = format!("{field}.secrets[{i}]");
        let Value::Object(map) = entry else {
            return err(
                f,
                format!(
                    "must be an object (an id, and env, value or public_key), not {} (not shown)",
                    json_kind(entry)
                ),
            );
        };
        if let Some(key) = map.keys().find(|k| !SECRET_FIELDS.contains(&k.as_str())) {
            let key = match looks_like_name(key) {
                true => format!("`{key}`"),
                false => "(not shown: it may hold a secret)".into(),
            };
            return err(
                f,
                format!(
                    "has an unknown field {key}; expected id, env, value, public_key, optional"
                ),
            );
        }
        let text = |name: &str| match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => err(
                format!("{f}.{name}"),
                format!("must be a string, not {} (not shown)", json_kind(other)),
            ),
        };
        let Some(id) = text("id")? else {
            return err(format!("{f}.id"), "required");
        };
        let optional = match map.get("optional") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return err(
                    format!("{f}.optional"),
                    format!("must be true or false, not {}", json_kind(other)),
                )
            }
        };
        out.push(RawSecret {
            id,
            env: text("env")?,
            value: text("value")?,
            public_key: text("public_key")?,
            optional,
        });
    }
    Ok(out)
}

/// Whether a key or a variable name the configuration gave may be shown: a letter or `_`,
/// then letters, digits, `_`. A secret pasted where a name belongs (into `env`, or as a key:
/// YAML reads `{value:TOKEN}` as one) is rarely that.
/// Whether an unknown key may be quoted in an error: it looks like a field name (lowercase
/// letters and `_`, as every field of this configuration is), not like a token (most have
/// digits or capitals: `ghp_...`, `whsec_...`, hex and base64).
fn looks_like_name(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// Whether an `env` value may be quoted: it looks like a conventional variable name, capitals
/// and digits in words joined by `_` (`GENESYS_WEBHOOK_SECRET`), which no secret generator
/// produces (hex, base64 and `whsec_`/`ghp_` tokens have lowercase letters; base32 has no
/// `_`). Anything else may be a secret pasted into `env`.
fn looks_like_variable(s: &str) -> bool {
    s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.contains('_')
        && s.split('_').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
}

fn shown_var(var: &str) -> String {
    if looks_like_variable(var) {
        var.to_string()
    } else {
        "(not shown: not a conventional variable name, and it may be a secret pasted into \"env\")"
            .to_string()
    }
}

fn build_secrets(
    field: &str,
    raw: &Value,
    scheme: &Scheme,
    env: &dyn Fn(&str) -> Option<String>,
    skipped: &mut Vec<String>,
) -> Result<Vec<Secret>, ConfigError> {
    let raw = raw_secrets(field, raw)?;
    if raw.is_empty() || raw.len() > MAX_SECRETS {
        return err(format!("{field}.secrets"), "must list 1 to 8 secrets");
    }
    let mut secrets: Vec<Secret> = Vec::with_capacity(raw.len());
    for (i, s) in raw.iter().enumerate() {
        let f = format!("{field}.secrets[{i}]");
        if !valid_name(&s.id) {
            return err(
                format!("{f}.id"),
                "must be 1-64 characters of letters, digits, '-', '_'",
            );
        }
        if secrets.iter().any(|x| x.id == s.id) {
            return err(format!("{f}.id"), format!("duplicate secret id {:?}", s.id));
        }
        let (text, source) = match (&s.env, &s.value, &s.public_key) {
            (Some(var), None, None) => match env(var) {
                Some(v) if !v.is_empty() => (v, Field::Env),
                _ if s.optional => {
                    skipped.push(format!(
                        "{f} ({}): optional, and {} is not set: skipped",
                        s.id,
                        shown_var(var)
                    ));
                    continue;
                }
                _ => {
                    return err(
                        format!("{f}.env"),
                        format!("environment variable {} is not set in the VM (vm_config.environment_variables)", shown_var(var)),
                    )
                }
            },
            (None, Some(_), None) | (None, None, Some(_)) if s.optional => {
                return err(format!("{f}.optional"), "applies only to a secret read from \"env\"")
            }
            (None, Some(v), None) => (v.clone(), Field::Value),
            (None, None, Some(v)) => (v.clone(), Field::PublicKey),
            _ => {
                return err(
                    f,
                    format!(
                        "needs exactly one of \"env\", \"value\" or \"public_key\"; this endpoint wants {}",
                        crate::keys::wanted(scheme.algorithm, scheme.secret_encoding)
                    ),
                )
            }
        };
        // The examples' placeholders (envoy/istio/secret.yaml.example) are public: a copy
        // applied unedited must not make one a signing secret.
        if text.trim().to_ascii_lowercase().starts_with("replace-me") {
            return err(
                &f,
                "is a placeholder from the project's examples, not a secret: set the real one",
            );
        }
        let secret = Secret::from_text(
            s.id.clone(),
            scheme.algorithm,
            scheme.secret_encoding,
            &text,
            source,
        )
        .map_err(|why| ConfigError::new(&f, format!("the key {why}")))?;
        secrets.push(secret);
    }
    if secrets.is_empty() {
        return err(
            format!("{field}.secrets"),
            "every secret is optional and none is set: set at least one",
        );
    }
    // Every offered public-key signature is verified against every public key: bounded
    // here, so that a forged delivery's cost is known before any arrives.
    let public = secrets.iter().filter(|s| s.is_public_key()).count();
    if public > crate::scheme::signature::MAX_PUBLIC_KEYS {
        return err(
            format!("{field}.secrets"),
            format!(
                "lists {public} public keys; at most {} (a rotation needs two): each offered signature is verified against every one",
                crate::scheme::signature::MAX_PUBLIC_KEYS
            ),
        );
    }
    Ok(secrets)
}

#[cfg(test)]
mod tests;
