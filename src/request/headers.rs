//! The request headers a delivery's checks need, captured once as raw bytes.
//!
//! Header values are read as bytes (never as `String`: a non-UTF-8 value must be an answer,
//! not a panic). A header that appears more than once is kept as `Repeated`, so an attacker
//! cannot smuggle a second signature or timestamp past the check that reads the first.

/// A header map as the host serialises it (proxy-wasm ABI): a little-endian u32 count, then
/// a (name length, value length) pair of u32 per entry, then each name and value followed by
/// a NUL. Read in place: one buffer per request instead of a `String` and a `Vec` per header
/// (the SDK's `get_map_bytes`, which also panics on a name that is not UTF-8).
#[derive(Debug, Default, Clone)]
pub(crate) struct SerializedMap(pub Vec<u8>);

impl SerializedMap {
    #[cfg(test)]
    /// Serialises `pairs` as the host does (for tests and the fake host).
    pub fn encode<'a, I>(pairs: I) -> SerializedMap
    where
        I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
        I::IntoIter: Clone,
    {
        let pairs = pairs.into_iter();
        let count = pairs.clone().count();
        let mut out = Vec::new();
        out.extend_from_slice(&(count as u32).to_le_bytes());
        for (n, v) in pairs.clone() {
            out.extend_from_slice(&(n.len() as u32).to_le_bytes());
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        }
        for (n, v) in pairs {
            out.extend_from_slice(n);
            out.push(0);
            out.extend_from_slice(v);
            out.push(0);
        }
        SerializedMap(out)
    }

    /// The entries, names and values as bytes, in order. A map that does not parse
    /// (truncated, lengths past the end) reads as empty: never a panic on what the host
    /// hands over.
    pub fn pairs(&self) -> Vec<(&[u8], &[u8])> {
        self.try_pairs().unwrap_or_default()
    }

    fn try_pairs(&self) -> Option<Vec<(&[u8], &[u8])>> {
        let b = self.0.as_slice();
        if b.is_empty() {
            return Some(Vec::new());
        }
        let u32_at = |at: usize| -> Option<usize> {
            let bytes = b.get(at..at.checked_add(4)?)?;
            Some(u32::from_le_bytes(bytes.try_into().ok()?) as usize)
        };
        let count = u32_at(0)?;
        // Each entry takes 8 bytes of lengths and 2 NULs: a count the buffer cannot hold is
        // refused before anything is reserved for it.
        if count > b.len() / 10 {
            return None;
        }
        let mut data = 4 + count * 8;
        let mut pairs = Vec::with_capacity(count);
        for i in 0..count {
            let name_len = u32_at(4 + i * 8)?;
            let value_len = u32_at(8 + i * 8)?;
            // Each of them ends with a NUL, which is where the next begins.
            let mut take = |len: usize| -> Option<&[u8]> {
                let end = data.checked_add(len)?;
                let bytes = b.get(data..end)?;
                if b.get(end) != Some(&0) {
                    return None;
                }
                data = end + 1;
                Some(bytes)
            };
            let name = take(name_len)?;
            let value = take(value_len)?;
            pairs.push((name, value));
        }
        Some(pairs)
    }
}

/// A header looked up by its first present name (lowercase), e.g. `webhook-id` then `svix-id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderRef {
    pub names: Vec<String>,
}

impl HeaderRef {
    pub fn new(names: &[&str]) -> HeaderRef {
        HeaderRef {
            names: names.iter().map(|n| n.to_ascii_lowercase()).collect(),
        }
    }
}

/// What a lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'a> {
    Absent,
    One(&'a [u8]),
    Repeated,
}

/// Longest header value the filter keeps; longer ones are treated as repeated (unusable).
/// Envoy's own limit (60 KiB of headers by default) is far above any signature header.
pub(crate) const MAX_HEADER_VALUE_BYTES: usize = 8 * 1024;

#[derive(Debug, Default, Clone)]
pub struct CapturedHeaders {
    entries: Vec<(String, Option<Vec<u8>>)>,
}

impl CapturedHeaders {
    /// Keeps the headers named in `wanted` (lowercase) out of `all` (Envoy's names are
    /// lowercase already). `None` marks a name seen twice or with an oversized value.
    pub fn capture<'a, I>(all: I, wanted: &[String]) -> CapturedHeaders
    where
        I: IntoIterator<Item = (&'a str, &'a [u8])>,
    {
        let mut entries: Vec<(String, Option<Vec<u8>>)> = Vec::new();
        for (name, value) in all {
            if !wanted.iter().any(|w| w.eq_ignore_ascii_case(name)) {
                continue;
            }
            let name = name.to_ascii_lowercase();
            match entries.iter_mut().find(|(n, _)| *n == name) {
                Some(entry) => entry.1 = None,
                None => {
                    let kept = (value.len() <= MAX_HEADER_VALUE_BYTES).then(|| value.to_vec());
                    entries.push((name, kept));
                }
            }
        }
        CapturedHeaders { entries }
    }

    pub fn get(&self, header: &HeaderRef) -> Lookup<'_> {
        for name in &header.names {
            if let Some((_, value)) = self.entries.iter().find(|(n, _)| n == name) {
                return match value {
                    Some(v) => Lookup::One(v),
                    None => Lookup::Repeated,
                };
            }
        }
        Lookup::Absent
    }
}

/// The headers this filter adds upstream. Any a client sends are removed first, so the
/// upstream can trust them; so are `_` spellings (`x_webhook_guard_endpoint`), which CGI
/// and WSGI receivers read as the same `HTTP_X_WEBHOOK_GUARD_ENDPOINT`.
pub mod own {
    const PREFIX: &str = "x-webhook-guard-";

    /// The endpoint that verified the delivery.
    pub(crate) const ENDPOINT: &str = "x-webhook-guard-endpoint";
    /// The id of the secret that verified it.
    pub(crate) const SECRET_ID: &str = "x-webhook-guard-secret-id";
    /// The hash of its idempotency key, when the endpoint deduplicates.
    pub(crate) const IDEMPOTENCY_KEY: &str = "x-webhook-guard-idempotency-key";

    /// Whether `name` bears this filter's prefix, in any letter case, `-` or `_`.
    pub(crate) fn is_own(name: &[u8]) -> bool {
        name.len() >= PREFIX.len()
            && name
                .iter()
                .zip(PREFIX.as_bytes())
                .all(|(&n, &p)| n.to_ascii_lowercase() == p || (n == b'_' && p == b'-'))
    }
}

#[cfg(test)]
mod tests;
