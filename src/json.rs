//! JSON parsing with bounds, so a hostile (but validly signed) body cannot exhaust the VM,
//! and strict about duplicate keys, so the filter and the receiver cannot read two different
//! payloads out of one body (`{"id":"a","id":"b"}`: which id was deduplicated?).

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Deepest nesting accepted. Webhook payloads nest a handful of levels; serde_json's own
/// recursion limit (128) is a stack guard, this is a tighter policy.
pub const MAX_DEPTH: usize = 64;

/// Parses `body` as JSON if it nests no deeper than `max_depth`.
pub fn parse_bounded(body: &[u8], max_depth: usize) -> Option<Value> {
    if depth_exceeds(body, max_depth) {
        return None;
    }
    serde_json::from_slice::<Strict>(body).ok().map(|s| s.0)
}

/// A `Value` that refuses objects with a repeated key.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Strict, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom("duplicate key"));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
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
    fn duplicate_keys_are_refused_at_any_depth() {
        assert!(parse_bounded(br#"{"id":"a","id":"b"}"#, 64).is_none());
        assert!(parse_bounded(br#"{"x":[{"k":1,"k":1}]}"#, 64).is_none());
        let ok = parse_bounded(
            br#"{"a":{"id":1},"b":{"id":1.5},"c":[true,null,"s",-3]}"#,
            64,
        );
        assert_eq!(ok.unwrap()["b"]["id"], 1.5);
    }

    #[test]
    fn invalid_json_is_none() {
        for bad in [
            &b""[..],
            b"{",
            b"{\"a\":1}x",
            b"\xff",
            b"{\"a\":\"\xff\"}",
            b"\xef\xbb\xbf{}",
            b"{\"a\":01}",
            b"NaN",
        ] {
            assert!(parse_bounded(bad, 64).is_none(), "{bad:?}");
        }
    }
}
