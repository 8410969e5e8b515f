//! One endpoint, built from its raw entry: name, path, mode, the scheme (preset and
//! overrides), secrets, source IPs, schema, idempotency key, methods, and what the glue
//! must capture for it.

use super::*;

/// Names and ids appear in headers, logs and metric names (where a dot separates labels).
pub(super) fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub(super) fn build_endpoint(
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
    let scheme = scheme_of(&field, &raw)?;
    let mut skipped_secrets = Vec::new();
    let secrets = build_secrets(&field, &raw.secrets, &scheme, env, &mut skipped_secrets)?;

    let source_ips = source_ips(&field, &raw)?;

    let schema = match &raw.payload_schema {
        None => None,
        Some(s) => Some(Schema::compile(s).map_err(|e| ConfigError::under(&field, e))?),
    };

    let idempotency_key = idempotency_key(&field, &raw, &scheme, dedupe_configured)?;

    let wanted_headers = wanted_headers(&scheme, idempotency_key.as_ref());
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
pub(super) fn parse_methods(
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

/// The endpoint's scheme: its preset, the `custom` fields over it, and its window.
fn scheme_of(field: &str, raw: &RawEndpoint) -> Result<Scheme, ConfigError> {
    let Some(mut scheme) = preset(&raw.preset) else {
        return err(
            format!("{field}.preset"),
            format!(
                "unknown preset; expected one of {}",
                PRESET_NAMES.join(", ")
            ),
        );
    };
    apply_overrides(field, raw, &mut scheme)?;

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
    Ok(scheme)
}

fn source_ips(field: &str, raw: &RawEndpoint) -> Result<Option<CidrList>, ConfigError> {
    Ok(match &raw.source_ips {
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
    })
}

/// The idempotency key: the preset's unless the endpoint names one (or `null`: none). A key
/// the signature does not cover is chosen by whoever sends the request: a captured delivery
/// replays under a new id, a future one is pre-claimed and lost; so a header key must be
/// signed, or explicitly allowed.
fn idempotency_key(
    field: &str,
    raw: &RawEndpoint,
    scheme: &Scheme,
    dedupe_configured: bool,
) -> Result<Option<KeySource>, ConfigError> {
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
    Ok(idempotency_key)
}

/// Every header the glue must capture for this endpoint: signature, timestamp, key,
/// delivery id, signed content, challenge.
fn wanted_headers(scheme: &Scheme, idempotency_key: Option<&KeySource>) -> Vec<String> {
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
    wanted_headers
}
