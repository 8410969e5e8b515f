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

/// The exact text of the value at JSON pointer `pointer` (RFC 6901) in `body`, for a body
/// that `parse_bounded` accepted (valid, no key repeated, so the walk is unambiguous).
/// `serde_json::Value` cannot give it: it turns `18446744073709551617` into a float equal to
/// `18446744073709551616`, and an idempotency key must not merge two such ids. A byte scan
/// rather than serde_json's `raw_value` feature, which costs 18 KB of Wasm.
pub fn raw_at<'a>(body: &'a [u8], pointer: &str) -> Option<&'a [u8]> {
    let tokens: Vec<String> = match pointer {
        "" => Vec::new(),
        p => p
            .strip_prefix('/')?
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect(),
    };
    let mut s = Scan { b: body, i: 0 };
    s.ws();
    for token in &tokens {
        match s.peek()? {
            b'{' => s.enter_member(token)?,
            b'[' => {
                // RFC 6901 indexes: digits, no leading zero.
                if token.is_empty() || (token.len() > 1 && token.starts_with('0')) {
                    return None;
                }
                s.enter_element(token.parse().ok()?)?
            }
            _ => return None,
        }
    }
    let start = s.i;
    s.skip_value(MAX_DEPTH + 1)?;
    body.get(start..s.i)
}

/// A cursor over JSON text known to be valid; every step still checks its bounds, so
/// anything else ends in `None`, never a panic.
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        self.ws();
        (self.peek()? == byte).then(|| self.i += 1)
    }

    /// From `{`, moves to the value of member `key`.
    fn enter_member(&mut self, key: &str) -> Option<()> {
        self.eat(b'{')?;
        loop {
            self.ws();
            let start = self.i;
            self.skip_string()?;
            let name: String = serde_json::from_slice(self.b.get(start..self.i)?).ok()?;
            self.eat(b':')?;
            self.ws();
            if name == key {
                return Some(());
            }
            self.skip_value(MAX_DEPTH + 1)?;
            self.ws();
            if self.peek()? != b',' {
                return None;
            }
            self.i += 1;
        }
    }

    /// From `[`, moves to element `index`.
    fn enter_element(&mut self, index: usize) -> Option<()> {
        self.eat(b'[')?;
        self.ws();
        if self.peek()? == b']' {
            return None;
        }
        for _ in 0..index {
            self.skip_value(MAX_DEPTH + 1)?;
            self.eat(b',')?;
            self.ws();
        }
        Some(())
    }

    fn skip_string(&mut self) -> Option<()> {
        if self.peek()? != b'"' {
            return None;
        }
        self.i += 1;
        loop {
            match self.peek()? {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                _ => self.i += 1,
            }
        }
    }

    fn skip_value(&mut self, depth: usize) -> Option<()> {
        let depth = depth.checked_sub(1)?;
        match self.peek()? {
            b'"' => self.skip_string(),
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.i += 1;
                self.ws();
                if self.peek()? == close {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    if open == b'{' {
                        self.skip_string()?;
                        self.eat(b':')?;
                        self.ws();
                    }
                    self.skip_value(depth)?;
                    self.ws();
                    match self.peek()? {
                        b',' => {
                            self.i += 1;
                            self.ws();
                        }
                        c if c == close => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            // A number, true, false or null: up to the next delimiter.
            _ => {
                let start = self.i;
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                ) {
                    self.i += 1;
                }
                (self.i > start).then_some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_values_keep_their_exact_text() {
        let body = br#"{"id":18446744073709551617,"s":"5","n":5,"f":1.50,"e":1e3,
            "o":{"a/b":{"~":["x",{"k":-0}]}},"u":"\u0041","t":true,"z":null}"#;
        let raw = |p: &str| raw_at(body, p).map(|r| String::from_utf8_lossy(r).into_owned());
        assert_eq!(raw("/id").as_deref(), Some("18446744073709551617"));
        assert_eq!(raw("/s").as_deref(), Some(r#""5""#));
        assert_eq!(raw("/n").as_deref(), Some("5"));
        assert_eq!(raw("/f").as_deref(), Some("1.50"));
        assert_eq!(raw("/e").as_deref(), Some("1e3"));
        assert_eq!(raw("/o/a~1b/~0/0").as_deref(), Some(r#""x""#));
        assert_eq!(raw("/o/a~1b/~0/1/k").as_deref(), Some("-0"));
        assert_eq!(raw("/u").as_deref(), Some(r#""\u0041""#));
        assert_eq!(raw("/t").as_deref(), Some("true"));
        assert_eq!(raw("/z").as_deref(), Some("null"));
        for missing in [
            "/nope",
            "/o/a~1b/~0/2",
            "/o/a~1b/~0/01",
            "/id/x",
            "/s/0",
            "x",
            "/o/a/b",
        ] {
            assert_eq!(raw(missing), None, "{missing}");
        }
        assert_eq!(raw("").map(|r| r.len()), Some(body.len()));
        assert_eq!(raw_at(b"[1,2]", "/1"), Some(&b"2"[..]));
        assert_eq!(raw_at(b" [ 1 , [2] ] ", "/1/0"), Some(&b"2"[..]));
        assert_eq!(raw_at(br#"{"\u0069d":7,"i\"d":8}"#, "/id"), Some(&b"7"[..]));
        assert_eq!(
            raw_at(br#"{"a":{},"b":[],"c":"}\"]"}"#, "/c"),
            Some(&br#""}\"]""#[..])
        );
        assert_eq!(raw_at(b"[]", "/0"), None);
        assert_eq!(raw_at(b"{}", "/a"), None);
        for bad in [
            &b"not json"[..],
            b"{",
            b"[",
            b"{\"a\"",
            b"{\"a\":",
            b"\"",
            b"[1,",
            b"{\"a\":1,}",
        ] {
            let _ = raw_at(bad, "/a");
            let _ = raw_at(bad, "/0");
        }
        let deep = "[".repeat(100_000);
        assert_eq!(raw_at(deep.as_bytes(), ""), None);
        assert_eq!(raw_at(deep.as_bytes(), "/0/0/0"), None);
    }

    /// Every pointer into `v`, escaped as RFC 6901 wants.
    fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
        out.push(at.clone());
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let token = k.replace('~', "~0").replace('/', "~1");
                    pointers(x, format!("{at}/{token}"), out);
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    pointers(x, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn raw_at_finds_what_pointer_finds() {
        let docs = [
            r#"{"id":"d7","channel":{"time":"2025-06-10T21:03:05.427Z","to":{"id":"r"}},"n":[1,2.5,-3e2,{"k":[[],{}]}]}"#,
            " { \"a b\" : [ true , false , null ] , \"\\u00e9\\\"\" : { } , \"~/\" : \"x\\\"y\" } ",
            r#"[{"id":1},{"id":"1"},[["deep"]],"s",0]"#,
            r#""just a string""#,
            "12345678901234567890123",
        ];
        for doc in docs {
            let v = parse_bounded(doc.as_bytes(), MAX_DEPTH).unwrap();
            let mut all = Vec::new();
            pointers(&v, String::new(), &mut all);
            for p in all {
                let raw = raw_at(doc.as_bytes(), &p).unwrap_or_else(|| panic!("{doc} {p}"));
                let reparsed: Value = serde_json::from_slice(raw).unwrap();
                assert_eq!(Some(&reparsed), v.pointer(&p), "{doc} {p}");
            }
            for missing in ["/nope", "/0/nope", "/99", "/id/0"] {
                if v.pointer(missing).is_none() {
                    assert_eq!(raw_at(doc.as_bytes(), missing), None, "{doc} {missing}");
                }
            }
        }
    }

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
