//! Placeholder replaced by the full RFC 3339 parser.
pub fn rfc3339_to_unix_seconds(_s: &str) -> Option<i64> {
    None
}
