//! A `google.protobuf.Struct` in protobuf's wire format, as JSON. Envoy hands a plugin whose
//! `configuration` is a Struct (YAML written in place, rather than a JSON string) the Any's
//! raw bytes: the serialized message, not its JSON. This reads exactly the three messages
//! involved, host-free and bounded (depth, entries), and never panics on any input:
//!
//! - `Struct { map<string, Value> fields = 1; }`, each entry a message `{1: key, 2: Value}`;
//! - `Value { oneof kind { NullValue null_value = 1; double number_value = 2;
//!   string string_value = 3; bool bool_value = 4; Struct struct_value = 5;
//!   ListValue list_value = 6; } }`;
//! - `ListValue { repeated Value values = 1; }`.
//!
//! A whole number (as every YAML integer becomes: a double) is given back as a JSON integer,
//! so that `max_body_bytes: 1048576` reads as it would from JSON text.

use serde_json::{Map, Number, Value};

/// Objects and lists nested deeper than any configuration needs (a payload schema's own
/// nesting included), about serde_json's limit for JSON text.
pub const MAX_DEPTH: usize = 128;

/// More values than any configuration holds: bounds the work of a hostile or broken input.
pub const MAX_VALUES: usize = 100_000;

/// Why some bytes are not a `google.protobuf.Struct`. Never quotes the bytes (a secret may
/// be among them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StructError(&'static str);

/// The JSON object a serialized `google.protobuf.Struct` holds.
pub fn struct_to_json(bytes: &[u8]) -> Result<Value, StructError> {
    let mut budget = MAX_VALUES;
    read_struct(bytes, 1, &mut budget).map(Value::Object)
}

/// Protobuf's wire types this reader meets.
const VARINT: u64 = 0;
const FIXED64: u64 = 1;
const LEN: u64 = 2;
const FIXED32: u64 = 5;

/// A cursor over one message's bytes.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, StructError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let (&b, rest) = self
                .bytes
                .split_first()
                .ok_or(StructError("truncated (a varint)"))?;
            self.bytes = rest;
            // The tenth byte may only hold the top bit of a u64.
            if i == 9 && b > 1 {
                return Err(StructError("a varint longer than 64 bits"));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(StructError("a varint longer than 64 bits"))
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], StructError> {
        let n = usize::try_from(n).map_err(|_| StructError("truncated (a length)"))?;
        if n > self.bytes.len() {
            return Err(StructError("truncated (a length runs past the end)"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    /// The next field's number and wire type, or `None` at the end.
    fn tag(&mut self) -> Result<Option<(u64, u64)>, StructError> {
        if self.bytes.is_empty() {
            return Ok(None);
        }
        let tag = self.varint()?;
        Ok(Some((tag >> 3, tag & 7)))
    }

    /// A field's payload for the wire types a Struct uses.
    fn payload(&mut self, wire: u64) -> Result<Field<'a>, StructError> {
        match wire {
            VARINT => self.varint().map(Field::Varint),
            FIXED64 => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Ok(Field::Fixed64(u64::from_le_bytes(a)))
            }
            LEN => {
                let n = self.varint()?;
                self.take(n).map(Field::Len)
            }
            FIXED32 => self.take(4).map(|_| Field::Fixed32),
            _ => Err(StructError("a group or an unknown wire type")),
        }
    }
}

enum Field<'a> {
    Varint(u64),
    Fixed64(u64),
    Len(&'a [u8]),
    Fixed32,
}

fn spend(budget: &mut usize) -> Result<(), StructError> {
    *budget = budget
        .checked_sub(1)
        .ok_or(StructError("more values than a configuration holds"))?;
    Ok(())
}

fn read_struct(
    bytes: &[u8],
    depth: usize,
    budget: &mut usize,
) -> Result<Map<String, Value>, StructError> {
    if depth > MAX_DEPTH {
        return Err(StructError("nested too deeply"));
    }
    let mut out = Map::new();
    let mut r = Reader { bytes };
    while let Some((field, wire)) = r.tag()? {
        match (field, r.payload(wire)?) {
            (1, Field::Len(entry)) => {
                spend(budget)?;
                let (key, value) = read_entry(entry, depth, budget)?;
                // As protobuf's own parsers do: the last entry of a key wins.
                out.insert(key, value);
            }
            _ => return Err(StructError("a field that is not part of a Struct")),
        }
    }
    Ok(out)
}

fn read_entry(
    bytes: &[u8],
    depth: usize,
    budget: &mut usize,
) -> Result<(String, Value), StructError> {
    let mut key = String::new();
    let mut value = None;
    let mut r = Reader { bytes };
    while let Some((field, wire)) = r.tag()? {
        match (field, r.payload(wire)?) {
            (1, Field::Len(k)) => {
                key = std::str::from_utf8(k)
                    .map_err(|_| StructError("a key that is not UTF-8"))?
                    .to_string();
            }
            (2, Field::Len(v)) => value = Some(read_value(v, depth, budget)?),
            _ => return Err(StructError("a field that is not part of a Struct entry")),
        }
    }
    let value = value.ok_or(StructError("an entry without a value"))?;
    Ok((key, value))
}

/// One Value inside a container nested `depth` deep.
fn read_value(bytes: &[u8], depth: usize, budget: &mut usize) -> Result<Value, StructError> {
    let mut kind = None;
    let mut r = Reader { bytes };
    while let Some((field, wire)) = r.tag()? {
        // A oneof: the last member on the wire wins, as in protobuf's own parsers.
        kind = Some(match (field, r.payload(wire)?) {
            (1, Field::Varint(_)) => Value::Null,
            (2, Field::Fixed64(bits)) => number(f64::from_bits(bits))?,
            (3, Field::Len(s)) => Value::String(
                std::str::from_utf8(s)
                    .map_err(|_| StructError("a string that is not UTF-8"))?
                    .to_string(),
            ),
            (4, Field::Varint(b)) => Value::Bool(b != 0),
            (5, Field::Len(s)) => Value::Object(read_struct(s, depth + 1, budget)?),
            (6, Field::Len(l)) => Value::Array(read_list(l, depth + 1, budget)?),
            _ => return Err(StructError("a field that is not part of a Value")),
        });
    }
    kind.ok_or(StructError("a Value with no kind set"))
}

fn read_list(bytes: &[u8], depth: usize, budget: &mut usize) -> Result<Vec<Value>, StructError> {
    if depth > MAX_DEPTH {
        return Err(StructError("nested too deeply"));
    }
    let mut out = Vec::new();
    let mut r = Reader { bytes };
    while let Some((field, wire)) = r.tag()? {
        match (field, r.payload(wire)?) {
            (1, Field::Len(v)) => {
                spend(budget)?;
                out.push(read_value(v, depth, budget)?);
            }
            _ => return Err(StructError("a field that is not part of a ListValue")),
        }
    }
    Ok(out)
}

/// A double as JSON: a whole number within 2^53 as an integer (YAML's `250` arrives as
/// `250.0`), any other finite one as a float; JSON has no NaN or infinity.
fn number(x: f64) -> Result<Value, StructError> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if x.fract() == 0.0 && x.abs() <= EXACT {
        // Exact: a whole number of at most 53 bits (the casts cannot truncate).
        return Ok(if x >= 0.0 {
            Value::from(x as u64)
        } else {
            Value::from(x as i64)
        });
    }
    Number::from_f64(x)
        .map(Value::Number)
        .ok_or(StructError("a number that is NaN or infinite"))
}

/// The serialized `google.protobuf.Struct` of a JSON object, as Envoy would hand it: for
/// the tools (`webhook-guard check` reads a Struct written in YAML as Envoy does) and tests.
/// Numbers become doubles, as in protobuf.
pub fn json_to_struct(map: &Map<String, Value>) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in map {
        let mut entry = Vec::new();
        put_len(&mut entry, 1, k.as_bytes());
        put_len(&mut entry, 2, &encode_value(v));
        put_len(&mut out, 1, &entry);
    }
    out
}

fn encode_value(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    match v {
        Value::Null => {
            put_varint(&mut out, 1 << 3);
            put_varint(&mut out, 0);
        }
        Value::Number(n) => {
            put_varint(&mut out, (2 << 3) | FIXED64);
            out.extend_from_slice(&n.as_f64().unwrap_or(0.0).to_bits().to_le_bytes());
        }
        Value::String(s) => put_len(&mut out, 3, s.as_bytes()),
        Value::Bool(b) => {
            put_varint(&mut out, 4 << 3);
            put_varint(&mut out, u64::from(*b));
        }
        Value::Object(m) => put_len(&mut out, 5, &json_to_struct(m)),
        Value::Array(list) => {
            let mut l = Vec::new();
            for item in list {
                put_len(&mut l, 1, &encode_value(item));
            }
            put_len(&mut out, 6, &l);
        }
    }
    out
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_len(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_varint(out, (field << 3) | LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests;
