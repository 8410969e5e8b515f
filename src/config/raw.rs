//! The configuration as serde reads it, before any rule is applied (`secrets` excepted:
//! `super::secrets` reads it by hand, so that no error quotes a value).

use super::*;

#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(super) struct RawIdempotency {
    /// The Envoy cluster of the cache service (`webhook_guard_cache`; in Istio `outbound|8081||SERVICE.NAMESPACE.svc.cluster.local`).
    pub(super) cluster: String,
    /// The `:authority` of the call-outs; absent: the cluster's name.
    pub(super) authority: Option<String>,
    /// How long a claim may wait for the cache before the endpoint's failure policy applies.
    #[cfg_attr(feature = "schema", schemars(range(min = 20, max = 10000)))]
    #[serde(default = "default_timeout_ms")]
    pub(super) timeout_ms: u64,
    /// How long a claim holds a delivery whose outcome is unknown (longer than the route timeout, shorter than the sender's last retry).
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 3600)))]
    #[serde(default = "default_in_flight_ttl")]
    pub(super) in_flight_ttl_seconds: u64,
    /// How long a processed delivery is answered as a duplicate.
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 2592000)))]
    #[serde(default = "default_done_ttl")]
    pub(super) done_ttl_seconds: u64,
    /// When the cache cannot answer: `reject` (503, the sender retries) or `allow` (forward without deduplication).
    #[cfg_attr(
        feature = "schema",
        schemars(schema_with = "super::schema::on_unavailable")
    )]
    #[serde(default = "default_on_unavailable")]
    pub(super) on_unavailable: String,
}

pub(super) fn default_timeout_ms() -> u64 {
    250
}

pub(super) fn default_in_flight_ttl() -> u64 {
    60
}

pub(super) fn default_done_ttl() -> u64 {
    86400
}

pub(super) fn default_on_unavailable() -> String {
    "reject".into()
}

/// One entry of `secrets`, read by [`raw_secrets`] rather than by serde.
pub(super) struct RawSecret {
    pub(super) id: String,
    pub(super) env: Option<String>,
    pub(super) value: Option<String>,
    /// A public key (Ed25519, P-256), for the asymmetric schemes.
    pub(super) public_key: Option<String>,
    /// An `env` slot that may be unset or empty (a rotation being staged): skipped then.
    pub(super) optional: bool,
}

#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(super) struct RawEndpoint {
    /// 1-64 of `A-Z a-z 0-9 - _`, unique: sent upstream, in logs and metrics, hashed into keys.
    pub(super) name: String,
    /// The path the sender calls; longest match on whole segments wins, query ignored.
    pub(super) path_prefix: String,
    /// The sender's signature scheme, or `custom` (then the `custom` fields say it).
    #[cfg_attr(feature = "schema", schemars(schema_with = "super::schema::preset"))]
    pub(super) preset: String,
    /// `enforce` (default) refuses; `report` verifies, logs and forwards anyway.
    #[cfg_attr(
        feature = "schema",
        schemars(default, schema_with = "super::schema::mode")
    )]
    #[serde(default)]
    pub(super) mode: Option<String>,
    /// Any JSON, read by [`raw_secrets`]: serde's messages quote a mistyped value.
    #[cfg_attr(
        feature = "schema",
        schemars(schema_with = "super::schema::secrets", description = "")
    )]
    pub(super) secrets: Value,
    /// IPv4 and IPv6 networks allowed to send; absent: any source.
    pub(super) source_ips: Option<Vec<String>>,
    /// How old a signed timestamp may be (the preset's window otherwise).
    pub(super) max_age_seconds: Option<u64>,
    /// How far in the future a signed timestamp may be.
    pub(super) max_future_seconds: Option<u64>,
    /// A JSON Schema (draft 2020-12 subset) every verified body must satisfy.
    #[cfg_attr(
        feature = "schema",
        schemars(default, schema_with = "super::schema::payload_schema")
    )]
    pub(super) payload_schema: Option<Value>,
    /// Absent = the preset's default; `null` = no deduplication.
    #[cfg_attr(
        feature = "schema",
        schemars(schema_with = "super::schema::idempotency_key")
    )]
    #[serde(default, deserialize_with = "present")]
    pub(super) idempotency_key: Option<Option<String>>,
    /// Accept a `header:NAME` key the signature does not cover (docs/configuration.md says what it gives up).
    #[serde(default)]
    pub(super) allow_unsigned_idempotency_key: bool,
    /// One header, or several that are all read (DocuSign's one per key).
    pub(super) signature_header: Option<OneOrMany>,
    /// A JSON pointer to the signature inside the body (Mailgun), instead of a header.
    pub(super) signature_field: Option<String>,
    /// The header holds several items split at this character (`,` for `t=..,v1=..`).
    pub(super) signature_separator: Option<String>,
    /// Text before each signature (`sha256=`, `v1=`).
    pub(super) signature_prefix: Option<String>,
    /// How deliveries are authenticated (`custom`).
    #[cfg_attr(
        feature = "schema",
        schemars(default, schema_with = "super::schema::algorithm")
    )]
    pub(super) algorithm: Option<String>,
    /// The scheme, host and port senders call, for schemes that sign the URL.
    pub(super) public_url: Option<String>,
    /// How the signature is written: `hex`, `base64` or `text` (a token).
    #[cfg_attr(
        feature = "schema",
        schemars(default, schema_with = "super::schema::encoding")
    )]
    pub(super) encoding: Option<String>,
    /// What was signed: a template of `{body}`, `{timestamp}`, `{header:NAME}`, `{method}`, `{url}`, `{form_params}`, `{json:/pointer}` and literals.
    pub(super) signed_content: Option<String>,
    /// Where the signed timestamp is: `header:NAME`, `signature:ITEM` or a JSON pointer.
    pub(super) timestamp: Option<String>,
    /// `unix`, `unix_ms` or `rfc3339`.
    #[cfg_attr(
        feature = "schema",
        schemars(default, schema_with = "super::schema::timestamp_format")
    )]
    pub(super) timestamp_format: Option<String>,
    /// How a shared secret's text becomes key bytes: `utf8`, `base64` or `whsec`.
    #[cfg_attr(
        feature = "schema",
        schemars(default, schema_with = "super::schema::secret_encoding")
    )]
    pub(super) secret_encoding: Option<String>,
    /// The methods the sender delivers with; absent = the preset's (`POST`). Read by
    /// `parse_methods`, so that a value of the wrong shape is named by the field.
    #[cfg_attr(
        feature = "schema",
        schemars(default, schema_with = "super::schema::methods", description = "")
    )]
    pub(super) methods: Option<Value>,
}

#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// Tells an explicit `null` (Some(None)) from an absent field (None).
pub(super) fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}
