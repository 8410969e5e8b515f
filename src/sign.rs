//! Signing a delivery the way a sender of a given scheme does: used by the sample sender
//! (`make send`), the end-to-end tests and the benchmarks, so they all sign through the
//! same scheme definitions the filter verifies with.

use crate::presets::Scheme;
use crate::signature::{hmac_sha256, Encoding, SignatureFormat};
use crate::timestamp::TimestampSource;

/// Headers (name, value) that carry a valid signature of `body` under `key`.
/// `timestamp` is the text of the delivery time when the scheme signs one; `id` fills any
/// `{header:...}` the signed content names (Standard Webhooks' `webhook-id`).
pub fn sign(
    scheme: &Scheme,
    key: &[u8],
    body: &[u8],
    timestamp: &str,
    id: &str,
) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut pieces: Vec<&[u8]> = Vec::new();
    for part in &scheme.signed_content.parts {
        match part {
            crate::signature::Part::Body => pieces.push(body),
            crate::signature::Part::Timestamp => pieces.push(timestamp.as_bytes()),
            crate::signature::Part::Literal(l) => pieces.push(l),
            crate::signature::Part::Header(h) => {
                pieces.push(id.as_bytes());
                if let Some(name) = h.names.first() {
                    headers.push((name.clone(), id.to_string()));
                }
            }
        }
    }
    let mac = hmac_sha256(key, &pieces);
    let value = match &scheme.format {
        SignatureFormat::Prefixed { prefix, encoding } => {
            format!("{prefix}{}", encoding.encode(&mac))
        }
        SignatureFormat::Stripe => format!("t={timestamp},v1={}", Encoding::Hex.encode(&mac)),
        SignatureFormat::StandardWebhooks => format!("v1,{}", Encoding::Base64.encode(&mac)),
    };
    if let Some(name) = scheme.signature_header.names.first() {
        headers.push((name.clone(), value));
    }
    if let TimestampSource::Header(h) = &scheme.timestamp {
        if let Some(name) = h.names.first() {
            headers.push((name.clone(), timestamp.to_string()));
        }
    }
    headers
}
