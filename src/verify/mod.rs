//! The checks between a buffered body and the upstream, in the order of docs/answers.md: signature,
//! timestamp, JSON, schema, idempotency key. Host-free: the proxy-wasm glue hands in the
//! captured headers, the body and the clock, and gets back a verdict.

pub mod challenge;
pub mod stream;

use serde_json::Value;

use crate::answer::Reject;
use crate::config::Endpoint;
use crate::dedupe::key::hash_key;
use crate::keys::matching_secret;
use crate::payload::json::{parse_bounded, MAX_DEPTH};
use crate::request::headers::{CapturedHeaders, Lookup};
use crate::scheme::signature::Offered;
use crate::scheme::template::{RenderError, Request};
use crate::scheme::timestamp::TimestampSource;
use crate::scheme::{Scheme, SignatureSource};

/// A delivery that passed every check.
#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    /// The id of the secret whose signature matched (tells operators when an old one is idle).
    pub secret_id: String,
    /// Its position in the endpoint's `secrets`.
    pub secret_index: usize,
    /// SHA-256 hex of endpoint + key, when the endpoint deduplicates.
    pub idempotency_key: Option<String>,
}

impl Verified {
    /// The endpoint's secret at `index` matched; the key, if the endpoint deduplicates.
    pub(crate) fn new(ep: &Endpoint, index: usize, idempotency_key: Option<String>) -> Verified {
        Verified {
            secret_id: ep
                .secrets
                .get(index)
                .map(|s| s.id.clone())
                .unwrap_or_default(),
            secret_index: index,
            idempotency_key,
        }
    }
}

pub fn verify(
    ep: &Endpoint,
    headers: &CapturedHeaders,
    body: &[u8],
    now_unix: i64,
) -> Result<Verified, Reject> {
    let scheme = &ep.scheme;
    // Mailgun's signature, and what it signs, are fields of the body: read before the body
    // is authenticated (as for any `{json:...}` part), through the same bounded,
    // duplicate-key refusing parser, so the filter and the receiver read the same fields.
    let early_json: Option<Value> = if matches!(scheme.signature, SignatureSource::Body(_))
        || scheme.signed_content.uses_json()
    {
        Some(parse_bounded(body, MAX_DEPTH).ok_or(Reject::InvalidJson)?)
    } else {
        None
    };
    let offered = offered_signatures(scheme, headers, body)?;

    let raw_timestamp = raw_timestamp(scheme, headers, &offered)?;
    // Cheap checks first: a header timestamp's window before any key is tried, so a stale
    // delivery (a captured one replayed, a forged one) costs no MAC nor curve verification.
    // Nothing leaks: the answer tells the sender whether the timestamp it chose itself is
    // within the window of a clock that is no secret; the signature is not looked at.
    check_header_timestamp(scheme, raw_timestamp, || now_unix)?;

    let request = Request {
        body,
        timestamp: raw_timestamp.unwrap_or_default(),
        headers,
        public_url: &scheme.public_url,
    };
    let owned = scheme
        .signed_content
        .render(&request)
        .map_err(|e| match e {
            RenderError::Missing => Reject::MalformedSignature,
            RenderError::BodyDigest => Reject::InvalidSignature,
        })?;
    let pieces: Vec<&[u8]> = owned.iter().map(|p| p.as_ref()).collect();
    let index =
        matching_secret(&ep.secrets, &pieces, &offered.sigs).ok_or(Reject::InvalidSignature)?;
    // Only an authenticated body is read past this point.
    // The sender's verification challenge: forwarded, never claimed (`crate::scheme::delivery`).
    if crate::verify::challenge::is_challenge(ep, headers, Some(body)) {
        return Ok(Verified::new(ep, index, None));
    }
    let format = scheme.timestamp_format;

    let json: Option<Value> = match early_json {
        Some(j) => Some(j),
        None if ep.needs_json => Some(parse_bounded(body, MAX_DEPTH).ok_or(Reject::InvalidJson)?),
        None => None,
    };

    if let TimestampSource::Body(pointer) = &scheme.timestamp {
        let ts = json
            .as_ref()
            .and_then(|j| j.pointer(pointer))
            .and_then(|v| format.seconds_from_json(v))
            .ok_or(Reject::MissingTimestamp)?;
        scheme.window.check(ts, now_unix)?;
    }

    if let (Some(schema), Some(json)) = (&ep.schema, &json) {
        schema
            .validate(json)
            .map_err(|v| Reject::SchemaViolation { at: v.at })?;
    }

    let idempotency_key = match &ep.idempotency_key {
        None => None,
        Some(source) => {
            let key = source
                .extract(body, headers, &pieces)
                .ok_or(Reject::MissingIdempotencyKey)?;
            Some(hash_key(&ep.name, &key))
        }
    };

    Ok(Verified::new(ep, index, idempotency_key))
}

/// The timestamp as received: it is part of what Stripe, Slack and Standard Webhooks sign.
/// `Err` when the signed content needs one and there is none.
pub(crate) fn raw_timestamp<'a>(
    scheme: &Scheme,
    headers: &'a CapturedHeaders,
    offered: &'a Offered,
) -> Result<Option<&'a [u8]>, Reject> {
    let raw = match &scheme.timestamp {
        TimestampSource::Header(h) => match headers.get(h) {
            Lookup::One(v) => Some(v),
            Lookup::Absent | Lookup::Repeated => None,
        },
        TimestampSource::SignatureHeader => offered.timestamp.as_deref(),
        TimestampSource::None | TimestampSource::Body(_) => None,
    };
    if scheme.signed_content.uses_timestamp() && raw.is_none() {
        return Err(Reject::MissingTimestamp);
    }
    Ok(raw)
}

/// The freshness window of a timestamp read from a header (or the signature header), before
/// the signature is checked (a timestamp in the body is read only once it held).
/// `now` reads the clock, only when there is a window to check.
pub(crate) fn check_header_timestamp(
    scheme: &Scheme,
    raw: Option<&[u8]>,
    now: impl FnOnce() -> i64,
) -> Result<(), Reject> {
    if matches!(
        scheme.timestamp,
        TimestampSource::None | TimestampSource::Body(_)
    ) {
        return Ok(());
    }
    let ts = raw
        .and_then(|raw| scheme.timestamp_format.seconds(raw))
        .ok_or(Reject::MissingTimestamp)?;
    scheme.window.check(ts, now())
}

/// Every signature the delivery offers: from each signature header present (all of them:
/// DocuSign sends one per key), or from the body field.
pub(crate) fn offered_signatures(
    scheme: &Scheme,
    headers: &CapturedHeaders,
    body: &[u8],
) -> Result<Offered, Reject> {
    let format = &scheme.format;
    let mut offered = Offered::default();
    match &scheme.signature {
        SignatureSource::Headers(list) => {
            let mut seen = false;
            for h in list {
                match headers.get(h) {
                    Lookup::Absent => {}
                    // An empty value is how some proxies pass on a header the sender did
                    // not set.
                    Lookup::One(raw) if raw.trim_ascii().is_empty() => {}
                    Lookup::Repeated => return Err(Reject::MalformedSignature),
                    Lookup::One(raw) => {
                        seen = true;
                        format
                            .parse_into(raw, scheme.algorithm, &mut offered)
                            .map_err(|_| Reject::MalformedSignature)?;
                    }
                }
            }
            if !seen {
                return Err(Reject::MissingSignature);
            }
        }
        SignatureSource::Body(pointer) => {
            let raw =
                crate::payload::json::raw_at(body, pointer).ok_or(Reject::MissingSignature)?;
            let text = match raw.first() {
                Some(b'"') => {
                    crate::scheme::template::json_text(raw).ok_or(Reject::MalformedSignature)?
                }
                _ => return Err(Reject::MalformedSignature),
            };
            format
                .parse_into(&text, scheme.algorithm, &mut offered)
                .map_err(|_| Reject::MalformedSignature)?;
        }
    }
    // Stripe-like headers: at least one signature of ours, and their timestamp item.
    if offered.sigs.is_empty() || (format.timestamp_item.is_some() && offered.timestamp.is_none()) {
        return Err(Reject::MalformedSignature);
    }
    Ok(offered)
}

#[cfg(test)]
mod tests;
