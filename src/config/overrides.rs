//! The `custom` fields, which any preset accepts as overrides.

use super::*;

/// Applies the `custom` fields, which any preset accepts as overrides, then checks that the
/// scheme they make is whole (`Scheme::check`: what a signature must cover).
pub(super) fn apply_overrides(
    field: &str,
    raw: &RawEndpoint,
    s: &mut Scheme,
) -> Result<(), ConfigError> {
    apply_signature(field, raw, s)?;
    apply_content(field, raw, s)?;
    s.check()
        .map_err(|e| ConfigError::new(format!("{field}.{}", e.field), e.reason))
}

/// Where the signature is and how it is written: `algorithm`, `signature_header` or
/// `signature_field`, `signature_separator`, `signature_prefix`, `encoding`.
fn apply_signature(field: &str, raw: &RawEndpoint, s: &mut Scheme) -> Result<(), ConfigError> {
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
    Ok(())
}

/// What is signed and dated, and how the secret is written: `signed_content`, `timestamp`,
/// `timestamp_format`, `secret_encoding`, `public_url`.
fn apply_content(field: &str, raw: &RawEndpoint, s: &mut Scheme) -> Result<(), ConfigError> {
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

    Ok(())
}

/// `http(s)://host[:port][/prefix]`: printable ASCII, no query, no trailing slash (the
/// request path, which starts with one, is appended).
pub(super) fn valid_public_url(url: &str) -> bool {
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
