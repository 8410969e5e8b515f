//! The configuration as serde reads it, before any rule is applied (`secrets` excepted:
//! `super::secrets` reads it by hand, so that no error quotes a value).

use super::*;

#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(super) struct RawIdempotency {
    pub(super) cluster: String,
    pub(super) authority: Option<String>,
    #[cfg_attr(feature = "schema", schemars(range(min = 20, max = 10000)))]
    #[serde(default = "default_timeout_ms")]
    pub(super) timeout_ms: u64,
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 3600)))]
    #[serde(default = "default_in_flight_ttl")]
    pub(super) in_flight_ttl_seconds: u64,
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 2592000)))]
    #[serde(default = "default_done_ttl")]
    pub(super) done_ttl_seconds: u64,
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
    pub(super) name: String,
    pub(super) path_prefix: String,
    #[cfg_attr(feature = "schema", schemars(schema_with = "super::schema::preset"))]
    pub(super) preset: String,
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
    pub(super) source_ips: Option<Vec<String>>,
    pub(super) max_age_seconds: Option<u64>,
    pub(super) max_future_seconds: Option<u64>,
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
    pub(super) signature_prefix: Option<String>,
    #[cfg_attr(
        feature = "schema",
        schemars(default, schema_with = "super::schema::algorithm")
    )]
    pub(super) algorithm: Option<String>,
    /// The scheme, host and port senders call, for schemes that sign the URL.
    pub(super) public_url: Option<String>,
    #[cfg_attr(
        feature = "schema",
        schemars(default, schema_with = "super::schema::encoding")
    )]
    pub(super) encoding: Option<String>,
    pub(super) signed_content: Option<String>,
    pub(super) timestamp: Option<String>,
    #[cfg_attr(
        feature = "schema",
        schemars(default, schema_with = "super::schema::timestamp_format")
    )]
    pub(super) timestamp_format: Option<String>,
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
