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
mod tests;
