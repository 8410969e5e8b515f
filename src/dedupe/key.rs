//! Idempotency keys: where a delivery's identity is read, and the hash that stands for it
//! outside the filter (so no payload data ever reaches the cache service).

use sha2::{Digest, Sha256};

use crate::payload::json::raw_at;
use crate::request::headers::{CapturedHeaders, HeaderRef, Lookup};

/// Longest key text accepted before hashing; a longer "id" is not an id.
pub(crate) const MAX_KEY_BYTES: usize = 1024;

/// Bytes that never occur in UTF-8 text, so they can mark what a key is made of: a decoded
/// JSON string is the key as it is (as in earlier versions), anything else starts with a
/// marker, and two different ids can never make the same key bytes.
const NUMBER: u8 = 0xff;
const SEPARATOR: u8 = 0xfe;
const DIGEST: u8 = 0xfd;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A JSON pointer into the verified body, e.g. `/id`.
    Pointer(String),
    /// A header, e.g. `webhook-id` (signed by Standard Webhooks; an unsigned one needs
    /// `allow_unsigned_idempotency_key`).
    Header(HeaderRef),
    /// The tutorial scheme: `/eventId`, else `/conversationId` + `/timestamp`.
    GenesysTutorial,
    /// SHA-256 of the signed content: for senders whose delivery id is an unsigned header
    /// (GitHub, Shopify), the one identity an attacker cannot choose without the secret.
    SignedContent,
}

/// The key of `KeySource::SignedContent`, from the SHA-256 of the signed content (computed
/// whole, or as the body arrived: `crate::verify::stream`).
pub(crate) fn signed_content_key(digest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + digest.len());
    k.push(DIGEST);
    k.extend_from_slice(digest);
    k
}

impl KeySource {
    /// `signed_content`, `header:NAME` or a JSON pointer.
    pub fn parse(text: &str) -> Option<KeySource> {
        if text == "signed_content" {
            return Some(KeySource::SignedContent);
        }
        if let Some(name) = text.strip_prefix("header:") {
            return crate::scheme::signature::valid_header_name(name)
                .then(|| KeySource::Header(HeaderRef::new(&[name])));
        }
        text.starts_with('/')
            .then(|| KeySource::Pointer(text.to_string()))
    }

    pub(crate) fn needs_json(&self) -> bool {
        matches!(self, KeySource::Pointer(_) | KeySource::GenesysTutorial)
    }

    /// The key bytes, or `None` when the delivery carries none (or an unusable one).
    /// `body` has passed `parse_bounded` when `needs_json`; `signed` is the signed content,
    /// in pieces, as the MAC covered it.
    pub fn extract(
        &self,
        body: &[u8],
        headers: &CapturedHeaders,
        signed: &[&[u8]],
    ) -> Option<Vec<u8>> {
        let key = match self {
            KeySource::Header(h) => match headers.get(h) {
                Lookup::One(v) => v.trim_ascii().to_vec(),
                _ => return None,
            },
            KeySource::Pointer(p) => identity(body, p)?,
            KeySource::GenesysTutorial => match identity(body, "/eventId") {
                Some(id) => id,
                None => {
                    let mut k = identity(body, "/conversationId")?;
                    k.push(SEPARATOR);
                    k.extend(identity(body, "/timestamp")?);
                    k
                }
            },
            KeySource::SignedContent => {
                let mut h = Sha256::new();
                for piece in signed {
                    h.update(piece);
                }
                signed_content_key(&h.finalize())
            }
        };
        (!key.is_empty() && key.len() <= MAX_KEY_BYTES).then_some(key)
    }
}

/// The value at `pointer`, if it can identify a delivery: a string (its decoded text) or a
/// number (its exact text, marked as a number: `5` and `"5"` differ, and so do
/// `18446744073709551616` and `18446744073709551617`). Objects, arrays, booleans and null
/// do not identify.
fn identity(body: &[u8], pointer: &str) -> Option<Vec<u8>> {
    let raw = raw_at(body, pointer)?;
    match raw.first()? {
        b'"' => serde_json::from_slice::<String>(raw)
            .ok()
            .map(String::into_bytes),
        b'-' | b'0'..=b'9' => {
            let mut k = vec![NUMBER];
            k.extend_from_slice(raw);
            Some(k)
        }
        _ => None,
    }
}

/// SHA-256 hex of the endpoint name and the key: the same id sent to two endpoints is two
/// deliveries, and the hash reveals neither.
pub(crate) fn hash_key(endpoint: &str, key: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(endpoint.as_bytes());
    h.update([0u8]);
    h.update(key);
    hex::encode(h.finalize())
}

/// Marks the key of a delivery sent below its endpoint's path. No endpoint name (what
/// `hash_key`'s input starts with) starts with this byte, so the two kinds of input never
/// meet.
const BELOW: u8 = 0xff;

/// The key of a delivery sent to `below` (`crate::scheme::delivery::below_prefix`): the path below
/// the endpoint's prefix is part of what the sender sent, so a copy sent elsewhere under the
/// prefix is another delivery and can never mark this one processed. At the endpoint's own
/// path (`below` empty) the key is `exact` as it is, byte for byte what earlier versions
/// stored: deliveries committed before an upgrade stay duplicates.
pub(crate) fn scoped_key(exact: String, below: &[String]) -> String {
    if below.is_empty() {
        return exact;
    }
    let mut h = Sha256::new();
    h.update([BELOW]);
    // 64 hex digits, then the segments, each after a '/' (no segment holds one).
    h.update(exact.as_bytes());
    for segment in below {
        h.update(b"/");
        h.update(segment.as_bytes());
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests;
