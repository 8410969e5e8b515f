//! Idempotency keys: where a delivery's identity is read, and the hash that stands for it
//! outside the filter (so no payload data ever reaches the cache service).

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::headers::{CapturedHeaders, HeaderRef, Lookup};

/// Longest key text accepted before hashing; a longer "id" is not an id.
pub const MAX_KEY_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A JSON pointer into the verified body, e.g. `/id`.
    Pointer(String),
    /// A header, e.g. `X-GitHub-Delivery`.
    Header(HeaderRef),
    /// The tutorial scheme: `/eventId`, else `/conversationId` + `/timestamp`.
    GenesysTutorial,
}

impl KeySource {
    /// `header:NAME` or a JSON pointer.
    pub fn parse(text: &str) -> Option<KeySource> {
        if let Some(name) = text.strip_prefix("header:") {
            return crate::signature::valid_header_name(name)
                .then(|| KeySource::Header(HeaderRef::new(&[name])));
        }
        text.starts_with('/')
            .then(|| KeySource::Pointer(text.to_string()))
    }

    pub fn needs_json(&self) -> bool {
        !matches!(self, KeySource::Header(_))
    }

    /// The key text, or `None` when the delivery carries none (or an unusable one).
    pub fn extract(&self, json: Option<&Value>, headers: &CapturedHeaders) -> Option<Vec<u8>> {
        let key = match self {
            KeySource::Header(h) => match headers.get(h) {
                Lookup::One(v) => v.trim_ascii().to_vec(),
                _ => return None,
            },
            KeySource::Pointer(p) => scalar(json?.pointer(p)?)?,
            KeySource::GenesysTutorial => {
                let json = json?;
                match json.pointer("/eventId").and_then(scalar) {
                    Some(id) => id,
                    None => {
                        let mut k = scalar(json.pointer("/conversationId")?)?;
                        k.push(b'\n');
                        k.extend(scalar(json.pointer("/timestamp")?)?);
                        k
                    }
                }
            }
        };
        (!key.is_empty() && key.len() <= MAX_KEY_BYTES).then_some(key)
    }
}

/// Strings and numbers identify; objects, arrays, booleans and null do not.
fn scalar(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Number(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}

/// SHA-256 hex of the endpoint name and the key: the same id sent to two endpoints is two
/// deliveries, and the hash reveals neither.
pub fn hash_key(endpoint: &str, key: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(endpoint.as_bytes());
    h.update([0u8]);
    h.update(key);
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointer_keys() {
        let body = json!({"id": "abc", "n": 7, "o": {}, "e": ""});
        let h = CapturedHeaders::default();
        let k = |p: &str| KeySource::Pointer(p.into()).extract(Some(&body), &h);
        assert_eq!(k("/id"), Some(b"abc".to_vec()));
        assert_eq!(k("/n"), Some(b"7".to_vec()));
        assert_eq!(k("/o"), None);
        assert_eq!(k("/e"), None);
        assert_eq!(k("/missing"), None);
        assert_eq!(KeySource::Pointer("/id".into()).extract(None, &h), None);
    }

    #[test]
    fn tutorial_keys() {
        let h = CapturedHeaders::default();
        let with_id = json!({"eventId": "e1", "conversationId": "c", "timestamp": "t"});
        let without = json!({"conversationId": "c", "timestamp": "t"});
        let neither = json!({"conversationId": "c"});
        let src = KeySource::GenesysTutorial;
        assert_eq!(src.extract(Some(&with_id), &h), Some(b"e1".to_vec()));
        assert_eq!(src.extract(Some(&without), &h), Some(b"c\nt".to_vec()));
        assert_eq!(src.extract(Some(&neither), &h), None);
    }

    #[test]
    fn header_keys() {
        let wanted = vec!["x-github-delivery".to_string()];
        let h = CapturedHeaders::capture([("x-github-delivery", &b" d-1 "[..])], &wanted);
        let src = KeySource::parse("header:X-GitHub-Delivery").unwrap();
        assert!(!src.needs_json());
        assert_eq!(src.extract(None, &h), Some(b"d-1".to_vec()));
    }

    #[test]
    fn hash_depends_on_endpoint_and_key() {
        let a = hash_key("genesys", b"id-1");
        assert_eq!(a.len(), 64);
        assert_ne!(a, hash_key("github", b"id-1"));
        assert_ne!(a, hash_key("genesys", b"id-2"));
        assert_eq!(a, hash_key("genesys", b"id-1"));
    }
}
