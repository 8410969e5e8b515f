//! JSON parsing with bounds, so a hostile (but validly signed) body cannot exhaust the VM.

use serde_json::Value;

/// Deepest nesting accepted. Webhook payloads nest a handful of levels; serde_json's own
/// recursion limit (128) is a stack guard, this is a tighter policy.
pub const MAX_DEPTH: usize = 64;

/// Parses `body` as JSON if it nests no deeper than `max_depth`.
pub fn parse_bounded(body: &[u8], max_depth: usize) -> Option<Value> {
    if depth_exceeds(body, max_depth) {
        return None;
    }
    serde_json::from_slice(body).ok()
}

/// One pass over the bytes counting brackets outside strings; cheap next to the parse.
fn depth_exceeds(body: &[u8], max_depth: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_is_bounded() {
        let ok = format!("{}{}", "[".repeat(64), "]".repeat(64));
        assert!(parse_bounded(ok.as_bytes(), 64).is_some());
        let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert!(parse_bounded(deep.as_bytes(), 64).is_none());
        let huge = "[".repeat(1_000_000);
        assert!(parse_bounded(huge.as_bytes(), 64).is_none());
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let s = format!(r#"{{"a":"{}\"{}"}}"#, "[".repeat(100), "{".repeat(100));
        assert!(parse_bounded(s.as_bytes(), 2).is_some());
    }

    #[test]
    fn invalid_json_is_none() {
        for bad in [&b""[..], b"{", b"{\"a\":1}x", b"\xff", b"{\"a\":\"\xff\"}"] {
            assert!(parse_bounded(bad, 64).is_none(), "{bad:?}");
        }
    }
}
