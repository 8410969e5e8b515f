//! Idempotency keys: where a delivery's identity is read, and the hash that stands for it
//! outside the filter (so no payload data ever reaches the cache service).

use sha2::{Digest, Sha256};

use crate::headers::{CapturedHeaders, HeaderRef, Lookup};
use crate::json::raw_at;

/// Longest key text accepted before hashing; a longer "id" is not an id.
pub const MAX_KEY_BYTES: usize = 1024;

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
/// whole, or as the body arrived: `crate::stream`).
pub fn signed_content_key(digest: &[u8]) -> Vec<u8> {
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
            return crate::signature::valid_header_name(name)
                .then(|| KeySource::Header(HeaderRef::new(&[name])));
        }
        text.starts_with('/')
            .then(|| KeySource::Pointer(text.to_string()))
    }

    pub fn needs_json(&self) -> bool {
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
pub fn hash_key(endpoint: &str, key: &[u8]) -> String {
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

/// The key of a delivery sent to `below` (`crate::delivery::below_prefix`): the path below
/// the endpoint's prefix is part of what the sender sent, so a copy sent elsewhere under the
/// prefix is another delivery and can never mark this one processed. At the endpoint's own
/// path (`below` empty) the key is `exact` as it is, byte for byte what earlier versions
/// stored: deliveries committed before an upgrade stay duplicates.
pub fn scoped_key(exact: String, below: &[String]) -> String {
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
mod tests {
    use super::*;

    fn key(src: &KeySource, body: &str) -> Option<Vec<u8>> {
        src.extract(body.as_bytes(), &CapturedHeaders::default(), &[])
    }

    #[test]
    fn pointer_keys() {
        let body = r#"{"id": "abc", "n": 7, "o": {}, "e": "", "b": true, "z": null}"#;
        let k = |p: &str| key(&KeySource::Pointer(p.into()), body);
        assert_eq!(k("/id"), Some(b"abc".to_vec()));
        assert_eq!(k("/n"), Some(b"\xff7".to_vec()));
        for none in ["/o", "/e", "/b", "/z", "/missing"] {
            assert_eq!(k(none), None, "{none}");
        }
        assert_eq!(key(&KeySource::Pointer("/id".into()), "not json"), None);
    }

    #[test]
    fn distinct_ids_never_make_one_key() {
        let k = |body: &str| key(&KeySource::Pointer("/id".into()), body);
        let pairs = [
            (
                r#"{"id":18446744073709551616}"#,
                r#"{"id":18446744073709551617}"#,
            ),
            (r#"{"id":5}"#, r#"{"id":"5"}"#),
            (r#"{"id":1.0}"#, r#"{"id":1}"#),
            (r#"{"id":9007199254740993}"#, r#"{"id":9007199254740992}"#),
        ];
        for (a, b) in pairs {
            assert_ne!(k(a), k(b), "{a} {b}");
            assert!(k(a).is_some() && k(b).is_some());
        }
        // The same string however it is escaped is the same id; its key is its text, as in
        // earlier versions (deliveries remembered before an upgrade stay duplicates).
        assert_eq!(k(r#"{"id":"A"}"#), k(r#"{"id":"\u0041"}"#));
        assert_eq!(k(r#"{"id":"A"}"#), Some(b"A".to_vec()));
    }

    #[test]
    fn tutorial_keys() {
        let src = KeySource::GenesysTutorial;
        let with_id = r#"{"eventId": "e1", "conversationId": "c", "timestamp": "t"}"#;
        let without = r#"{"conversationId": "c", "timestamp": "t"}"#;
        let neither = r#"{"conversationId": "c"}"#;
        assert_eq!(key(&src, with_id), Some(b"e1".to_vec()));
        assert_eq!(key(&src, without), Some(b"c\xfet".to_vec()));
        assert_eq!(key(&src, neither), None);
        // A separator inside a value cannot shift the boundary.
        assert_ne!(
            key(&src, r#"{"conversationId": "a\nb", "timestamp": "c"}"#),
            key(&src, r#"{"conversationId": "a", "timestamp": "b\nc"}"#)
        );
    }

    #[test]
    fn header_keys() {
        let wanted = vec!["x-github-delivery".to_string()];
        let h = CapturedHeaders::capture([("x-github-delivery", &b" d-1 "[..])], &wanted);
        let src = KeySource::parse("header:X-GitHub-Delivery").unwrap();
        assert!(!src.needs_json());
        assert_eq!(src.extract(b"", &h, &[]), Some(b"d-1".to_vec()));
    }

    #[test]
    fn signed_content_keys_digest_what_the_mac_covered() {
        let src = KeySource::parse("signed_content").unwrap();
        assert!(!src.needs_json());
        let h = CapturedHeaders::default();
        let a = src.extract(b"ignored", &h, &[b"ab", b"c"]).unwrap();
        assert_eq!(a.len(), 33);
        assert_eq!(Some(a.clone()), src.extract(b"", &h, &[b"a", b"bc"]));
        assert_ne!(Some(a), src.extract(b"", &h, &[b"abd"]));
    }

    #[test]
    fn hash_depends_on_endpoint_and_key() {
        let a = hash_key("genesys", b"id-1");
        assert_eq!(a.len(), 64);
        assert_ne!(a, hash_key("github", b"id-1"));
        assert_ne!(a, hash_key("genesys", b"id-2"));
        assert_eq!(a, hash_key("genesys", b"id-1"));
    }

    /// The stored keys of earlier versions, pinned: an upgrade must not make a delivery
    /// committed before it processable again.
    #[test]
    fn keys_at_the_endpoints_own_path_are_unchanged() {
        // SHA-256 of "genesys", NUL, "id-1" (computed apart from this code).
        let exact = hash_key("genesys", b"id-1");
        assert_eq!(
            exact,
            "d76ec56f7374465d05652b41821053b044f87a146e956f21bea2e2446a085f95"
        );
        assert_eq!(scoped_key(exact.clone(), &[]), exact);
        // GitHub's documented body, keyed on its signed content.
        let digest = Sha256::digest(b"Hello, World!");
        let exact = hash_key("github", &signed_content_key(&digest));
        assert_eq!(
            exact,
            "6ebeb7a9e81244a4ce0fb2d6cede27267658b0b920a852df2c3d384e2336dd32"
        );
        assert_eq!(scoped_key(exact.clone(), &[]), exact);
    }

    #[test]
    fn a_path_below_the_prefix_is_another_delivery() {
        let exact = hash_key("github", b"\xfdabc");
        let seg = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let a = scoped_key(exact.clone(), &seg(&["anything"]));
        assert_eq!(a.len(), 64);
        assert_ne!(a, exact);
        assert_ne!(a, scoped_key(exact.clone(), &seg(&["other"])));
        // Segment boundaries count: a/b is not ab, nor a and b reordered.
        assert_ne!(
            scoped_key(exact.clone(), &seg(&["a", "b"])),
            scoped_key(exact.clone(), &seg(&["ab"]))
        );
        assert_ne!(
            scoped_key(exact.clone(), &seg(&["a", "b"])),
            scoped_key(exact.clone(), &seg(&["b", "a"]))
        );
        assert_eq!(a, scoped_key(exact, &seg(&["anything"])));
    }
}
