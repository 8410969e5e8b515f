//! The request headers a delivery's checks need, captured once as raw bytes.
//!
//! Header values are read as bytes (never as `String`: a non-UTF-8 value must be an answer,
//! not a panic). A header that appears more than once is kept as `Repeated`, so an attacker
//! cannot smuggle a second signature or timestamp past the check that reads the first.

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
pub const MAX_HEADER_VALUE_BYTES: usize = 8 * 1024;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(pairs: &[(&str, &[u8])], wanted: &[&str]) -> CapturedHeaders {
        let wanted: Vec<String> = wanted.iter().map(|s| s.to_string()).collect();
        CapturedHeaders::capture(pairs.iter().copied(), &wanted)
    }

    #[test]
    fn keeps_only_wanted_headers_as_bytes() {
        let h = capture(&[("x-sig", b"\xff\xfe"), ("other", b"x")], &["x-sig"]);
        assert_eq!(h.get(&HeaderRef::new(&["x-sig"])), Lookup::One(b"\xff\xfe"));
        assert_eq!(h.get(&HeaderRef::new(&["other"])), Lookup::Absent);
    }

    #[test]
    fn repeated_and_oversized_headers_are_unusable() {
        let big = vec![b'a'; MAX_HEADER_VALUE_BYTES + 1];
        let h = capture(
            &[("x-sig", b"a"), ("x-sig", b"b"), ("x-big", &big)],
            &["x-sig", "x-big"],
        );
        assert_eq!(h.get(&HeaderRef::new(&["x-sig"])), Lookup::Repeated);
        assert_eq!(h.get(&HeaderRef::new(&["x-big"])), Lookup::Repeated);
    }

    #[test]
    fn first_present_alias_wins() {
        let h = capture(&[("svix-id", b"2")], &["webhook-id", "svix-id"]);
        let r = HeaderRef::new(&["webhook-id", "svix-id"]);
        assert_eq!(h.get(&r), Lookup::One(b"2"));
    }
}
