//! JSON parsing with bounds, so a hostile (but validly signed) body cannot exhaust the VM,
//! and strict about duplicate keys, so the filter and the receiver cannot read two different
//! payloads out of one body (`{"id":"a","id":"b"}`: which id was deduplicated?).

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Deepest nesting accepted. Webhook payloads nest a handful of levels; serde_json's own
/// recursion limit (128) is a stack guard, this is a tighter policy.
pub const MAX_DEPTH: usize = 64;

/// Parses `body` as JSON if it nests no deeper than `max_depth` and repeats no key.
pub fn parse_bounded(body: &[u8], max_depth: usize) -> Option<Value> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = Strict { depth: max_depth }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(value)
}

/// Deserializes a `Value`, refusing repeated keys and nesting deeper than `depth` as it
/// goes (no second pass over the bytes). serde_json's own recursion limit (128) stays in
/// force underneath.
#[derive(Clone, Copy)]
struct Strict {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl Strict {
    /// The seed for the values inside an array or object, one level deeper.
    fn nested<E: serde::de::Error>(self) -> Result<Strict, E> {
        match self.depth.checked_sub(1) {
            Some(depth) => Ok(Strict { depth }),
            None => Err(E::custom("nested too deep")),
        }
    }
}

impl<'de> Visitor<'de> for Strict {
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
        let inner = self.nested()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom("duplicate key"));
            }
            let value = map.next_value_seed(inner)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
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
    fn depth_counts_containers_not_scalars() {
        assert!(parse_bounded(br#"{"a":{"b":1}}"#, 2).is_some());
        assert!(parse_bounded(br#"{"a":{"b":{}}}"#, 2).is_none());
        assert!(parse_bounded(b"1", 0).is_some());
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
