//! The filter configuration: parsed once in `on_configure`, checked completely, and turned
//! into ready-to-run structures. Any error names the field it is about and never quotes a
//! secret.
mod endpoint;
mod error;
mod overrides;
mod raw;
mod secrets;

use endpoint::{build_endpoint, valid_name};
pub use error::ConfigError;
use error::{err, json_kind, looks_like_name, shape_error, shown_var};
use overrides::apply_overrides;
use raw::*;
use secrets::build_secrets;

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
use serde::Deserialize;
use serde_json::Value;

pub(crate) const DEFAULT_MAX_BODY_BYTES: u64 = 1024 * 1024;

/// Envoy buffers the whole body in memory; beyond this a webhook is not a webhook.
pub(crate) const MAX_MAX_BODY_BYTES: u64 = 64 * 1024 * 1024;

/// A replay window longer than a week protects nothing.
pub(crate) const MAX_WINDOW_SECONDS: u64 = 7 * 24 * 3600;

pub const MAX_SECRETS: usize = 8;

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

/// One endpoint of one configuration. Only `Config::route` makes one, so it always names an
/// endpoint of the configuration that made it (`Config::endpoint`): the glue carries it
/// instead of an index it would have to look up again, with a branch that cannot run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointId(usize);

impl EndpointId {
    /// Its position in the configuration's `endpoints` (metrics are kept by it).
    pub fn index(self) -> usize {
        self.0
    }
}

/// Which endpoint a request path belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Endpoint(EndpointId),
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
    /// The endpoint `id` names (made by this configuration's `route`).
    pub fn endpoint(&self, id: EndpointId) -> &Endpoint {
        &self.endpoints[id.0]
    }

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
            (Some(a), Some(b)) if a == b => Route::Endpoint(EndpointId(a)),
            _ => Route::Ambiguous,
        }
    }

    /// The endpoint whose `path_prefix` is the longest match for the request path (query
    /// ignored), matching whole segments: `/hooks/a` serves `/hooks/a` and `/hooks/a/x`, not
    /// `/hooks/ab`.
    pub(crate) fn endpoint_for(&self, path: &[u8]) -> Option<usize> {
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

#[cfg(test)]
mod tests;
