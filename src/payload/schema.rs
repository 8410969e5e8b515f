//! A strict subset of JSON Schema draft 2020-12, compiled once at configuration time and
//! evaluated per delivery.
//!
//! Strict on purpose: any keyword outside the supported set is a compile error, so a typo
//! such as `requried` fails the configuration instead of silently accepting every payload.
//! Only the first violation is reported (the filter answers with its instance pointer), in a
//! fixed, deterministic order: see [`Schema::validate`].

use regex_lite::Regex;
use serde_json::Value;
use std::fmt;

/// Nesting limit for both the schema (at compile time) and subschema applications (at
/// validation time). Without `$ref` a validation cannot nest deeper than the schema itself;
/// with a recursive `$ref` it can, and this bound keeps the stack small (wasm has ~1 MiB).
const MAX_DEPTH: usize = 64;

/// Most subschema applications one validation may make. Depth alone does not bound the
/// work: `anyOf` of two branches that both recurse into a child doubles it at every level
/// (2^64 at the depth limit). Past the budget the payload is refused (`budget`); an honest
/// webhook payload needs a small fraction of it.
pub const MAX_WORK: u64 = 1_000_000;

/// A compiled schema.
#[derive(Debug)]
pub struct Schema {
    /// Index 0 is the root; 1.. are the root's `$defs`, in name order.
    nodes: Vec<Node>,
}

#[derive(Debug, PartialEq)]
pub struct SchemaError {
    /// JSON pointer inside the schema, e.g. `/properties/id/type`.
    pub at: String,
    pub reason: String,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "payload_schema{}: {}", self.at, self.reason)
    }
}

#[derive(Debug, PartialEq)]
pub struct Violation {
    /// JSON pointer (RFC 6901) of the failing instance location, `""` for the root.
    pub at: String,
    /// The keyword that failed, e.g. `required`, `type`, `false`, `depth`.
    pub keyword: &'static str,
}

#[derive(Debug)]
enum Node {
    Bool(bool),
    Rules(Box<Rules>),
}

/// One schema object; `None`/empty means the keyword is absent.
#[derive(Debug, Default)]
struct Rules {
    types: u8,
    enum_: Option<Vec<Value>>,
    const_: Option<Value>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    pattern: Option<Regex>,
    format: Format,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: Option<f64>,
    exclusive_maximum: Option<f64>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    prefix_items: Vec<Node>,
    items: Option<Node>,
    required: Vec<String>,
    properties: Vec<(String, Node)>,
    additional_properties: Option<Node>,
    ref_: Option<usize>,
    all_of: Vec<Node>,
    any_of: Vec<Node>,
    one_of: Vec<Node>,
    not: Option<Node>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
enum Format {
    /// Absent, or a format we treat as an annotation only (`email`, `uri`, ...).
    #[default]
    Ignored,
    Uuid,
    DateTime,
}

// Type bits. An integral number carries both NUMBER and INTEGER.
const NULL: u8 = 1;
const BOOLEAN: u8 = 2;
const OBJECT: u8 = 4;
const ARRAY: u8 = 8;
const NUMBER: u8 = 16;
const INTEGER: u8 = 32;
const STRING: u8 = 64;

const TYPE_NAMES: [(&str, u8); 7] = [
    ("null", NULL),
    ("boolean", BOOLEAN),
    ("object", OBJECT),
    ("array", ARRAY),
    ("number", NUMBER),
    ("integer", INTEGER),
    ("string", STRING),
];

/// Keywords accepted and ignored: they never change the outcome.
const ANNOTATIONS: [&str; 10] = [
    "$schema",
    "$id",
    "$comment",
    "title",
    "description",
    "examples",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
];

impl Schema {
    /// Compiles a schema; errors name the schema location (`/properties/id/type`).
    pub fn compile(schema: &Value) -> Result<Schema, SchemaError> {
        // Names of the root's `$defs` first, so references (also cyclic ones) resolve to
        // indexes before any body is compiled.
        let defs: Vec<(&String, &Value)> = match schema.get("$defs") {
            None => Vec::new(),
            Some(Value::Object(m)) => m.iter().collect(),
            Some(_) => return Err(error("/$defs", "must be an object of schemas")),
        };
        let c = Compiler {
            def_names: defs.iter().map(|(k, _)| k.as_str()).collect(),
        };
        let mut nodes = Vec::with_capacity(defs.len() + 1);
        nodes.push(c.node(schema, "", 1)?);
        let mut names = vec![String::new()];
        for (name, def) in defs {
            let at = format!("/$defs/{}", escape(name));
            nodes.push(c.node(def, &at, 2)?);
            names.push(at);
        }
        if let Some(i) = same_value_cycle(&nodes) {
            return Err(error(
                &names[i],
                "a $ref cycle that never moves to a child value would not end: recurse through properties or items",
            ));
        }
        Ok(Schema { nodes })
    }

    /// The first violation, or `Ok`. Keywords of one schema object are checked in this fixed
    /// order: `type`, `enum`, `const`, string keywords (`minLength`, `maxLength`, `pattern`,
    /// `format`), number keywords (`minimum`, `maximum`, `exclusiveMinimum`,
    /// `exclusiveMaximum`), array keywords (`minItems`, `maxItems`, `prefixItems`, `items`),
    /// object keywords (`required` in its listed order, `properties` by name,
    /// `additionalProperties` by name), then `$ref`, `allOf`, `anyOf`, `oneOf`, `not`.
    pub fn validate(&self, instance: &Value) -> Result<(), Violation> {
        self.validate_within(instance, MAX_WORK)
    }

    /// `validate` with another work budget (the tests use a small one).
    fn validate_within(&self, instance: &Value, budget: u64) -> Result<(), Violation> {
        let root = Loc {
            seg: Seg::Root,
            parent: None,
        };
        // Counts up from what the budget leaves unspent, so `check` compares with MAX_WORK.
        let work = std::cell::Cell::new(MAX_WORK.saturating_sub(budget));
        let verdict = match self.nodes.first() {
            Some(node) => self.check(node, instance, &root, 1, &work),
            // Unreachable (compile always pushes the root); fail closed all the same.
            None => Err(root.violation("false")),
        };
        // Over budget, whatever the combinators made of the failures (`not` would turn one
        // into a success): refused.
        if work.get() > MAX_WORK {
            return Err(root.violation("budget"));
        }
        verdict
    }

    fn check(
        &self,
        node: &Node,
        v: &Value,
        loc: &Loc<'_>,
        depth: usize,
        work: &std::cell::Cell<u64>,
    ) -> Result<(), Violation> {
        work.set(work.get() + 1);
        if work.get() > MAX_WORK {
            return Err(loc.violation("budget"));
        }
        if depth > MAX_DEPTH {
            return Err(loc.violation("depth"));
        }
        let r = match node {
            Node::Bool(true) => return Ok(()),
            Node::Bool(false) => return Err(loc.violation("false")),
            Node::Rules(r) => r,
        };
        let sub = depth + 1;

        if r.types != 0 && r.types & type_bits(v) == 0 {
            return Err(loc.violation("type"));
        }
        if let Some(options) = &r.enum_ {
            if !options.iter().any(|o| json_eq(o, v)) {
                return Err(loc.violation("enum"));
            }
        }
        if let Some(c) = &r.const_ {
            if !json_eq(c, v) {
                return Err(loc.violation("const"));
            }
        }

        match v {
            Value::String(s) => {
                // Lengths count code points, as the spec says (not bytes, not UTF-16 units).
                if r.min_length.is_some() || r.max_length.is_some() {
                    let n = s.chars().count() as u64;
                    if r.min_length.is_some_and(|m| n < m) {
                        return Err(loc.violation("minLength"));
                    }
                    if r.max_length.is_some_and(|m| n > m) {
                        return Err(loc.violation("maxLength"));
                    }
                }
                if r.pattern.as_ref().is_some_and(|re| !re.is_match(s)) {
                    return Err(loc.violation("pattern"));
                }
                let ok = match r.format {
                    Format::Ignored => true,
                    Format::Uuid => is_uuid(s),
                    Format::DateTime => {
                        crate::payload::rfc3339::rfc3339_to_unix_seconds(s).is_some()
                    }
                };
                if !ok {
                    return Err(loc.violation("format"));
                }
            }
            Value::Number(n) => {
                // f64 comparison: exact for every integer up to 2^53, enough for payloads.
                // serde_json numbers are always finite f64-representable; fail closed if not.
                let Some(x) = n.as_f64() else {
                    return Err(loc.violation("type"));
                };
                if r.minimum.is_some_and(|m| x < m) {
                    return Err(loc.violation("minimum"));
                }
                if r.maximum.is_some_and(|m| x > m) {
                    return Err(loc.violation("maximum"));
                }
                if r.exclusive_minimum.is_some_and(|m| x <= m) {
                    return Err(loc.violation("exclusiveMinimum"));
                }
                if r.exclusive_maximum.is_some_and(|m| x >= m) {
                    return Err(loc.violation("exclusiveMaximum"));
                }
            }
            Value::Array(a) => {
                let n = a.len() as u64;
                if r.min_items.is_some_and(|m| n < m) {
                    return Err(loc.violation("minItems"));
                }
                if r.max_items.is_some_and(|m| n > m) {
                    return Err(loc.violation("maxItems"));
                }
                for (i, item) in a.iter().enumerate() {
                    // prefixItems covers the first items; `items` the rest.
                    let schema = match r.prefix_items.get(i) {
                        Some(s) => s,
                        None => match &r.items {
                            Some(s) => s,
                            None => continue,
                        },
                    };
                    let child = loc.child(Seg::Index(i));
                    // `items: false` past the prefix means "no more items": say so.
                    if i >= r.prefix_items.len() && matches!(schema, Node::Bool(false)) {
                        return Err(child.violation("items"));
                    }
                    self.check(schema, item, &child, sub, work)?;
                }
            }
            Value::Object(m) => {
                for name in &r.required {
                    if !m.contains_key(name) {
                        return Err(loc.child(Seg::Key(name)).violation("required"));
                    }
                }
                for (name, schema) in &r.properties {
                    if let Some(value) = m.get(name) {
                        self.check(schema, value, &loc.child(Seg::Key(name)), sub, work)?;
                    }
                }
                if let Some(extra) = &r.additional_properties {
                    for (name, value) in m {
                        if r.properties.iter().any(|(p, _)| p == name) {
                            continue;
                        }
                        let child = loc.child(Seg::Key(name));
                        // `additionalProperties: false` is reported as that keyword.
                        if matches!(extra, Node::Bool(false)) {
                            return Err(child.violation("additionalProperties"));
                        }
                        self.check(extra, value, &child, sub, work)?;
                    }
                }
            }
            _ => {}
        }

        if let Some(i) = r.ref_ {
            match self.nodes.get(i) {
                Some(target) => self.check(target, v, loc, sub, work)?,
                None => return Err(loc.violation("$ref")), // unreachable: resolved at compile
            }
        }
        for s in &r.all_of {
            self.check(s, v, loc, sub, work)?;
        }
        if !r.any_of.is_empty()
            && !r
                .any_of
                .iter()
                .any(|s| self.check(s, v, loc, sub, work).is_ok())
        {
            return Err(loc.violation("anyOf"));
        }
        if !r.one_of.is_empty() {
            let mut matches = 0;
            for s in &r.one_of {
                if self.check(s, v, loc, sub, work).is_ok() {
                    matches += 1;
                    if matches > 1 {
                        break;
                    }
                }
            }
            if matches != 1 {
                return Err(loc.violation("oneOf"));
            }
        }
        if let Some(s) = &r.not {
            if self.check(s, v, loc, sub, work).is_ok() {
                return Err(loc.violation("not"));
            }
        }
        Ok(())
    }
}

/// The `$ref` targets a schema applies to the very value it is checking: through `$ref`,
/// `allOf`, `anyOf`, `oneOf` and `not`, not through the keywords that move to a child.
fn same_value_refs(node: &Node, out: &mut Vec<usize>) {
    let Node::Rules(r) = node else { return };
    out.extend(r.ref_);
    for s in r
        .all_of
        .iter()
        .chain(&r.any_of)
        .chain(&r.one_of)
        .chain(&r.not)
    {
        same_value_refs(s, out);
    }
}

/// A top-level schema (root or `$defs` entry, by index) on a cycle of same-value `$ref`s:
/// such a cycle would apply itself to one value for ever.
fn same_value_cycle(nodes: &[Node]) -> Option<usize> {
    let edges: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| {
            let mut out = Vec::new();
            same_value_refs(n, &mut out);
            out
        })
        .collect();
    // Depth-first search: 0 unvisited, 1 on the current path, 2 done.
    fn visit(i: usize, edges: &[Vec<usize>], state: &mut [u8]) -> Option<usize> {
        match state.get(i) {
            Some(1) => return Some(i),
            Some(0) => {}
            _ => return None,
        }
        state[i] = 1;
        for &j in edges.get(i).map(Vec::as_slice).unwrap_or_default() {
            if let Some(found) = visit(j, edges, state) {
                return Some(found);
            }
        }
        state[i] = 2;
        None
    }
    let mut state = vec![0u8; nodes.len()];
    (0..nodes.len()).find_map(|i| visit(i, &edges, &mut state))
}

/// Instance location as a linked list on the stack: no allocation unless a violation is
/// rendered.
#[derive(Clone, Copy)]
enum Seg<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

struct Loc<'a> {
    seg: Seg<'a>,
    parent: Option<&'a Loc<'a>>,
}

impl<'a> Loc<'a> {
    fn child(&'a self, seg: Seg<'a>) -> Loc<'a> {
        Loc {
            seg,
            parent: Some(self),
        }
    }

    fn pointer(&self) -> String {
        let mut segs = Vec::new();
        let mut cur = Some(self);
        while let Some(l) = cur {
            segs.push(l.seg);
            cur = l.parent;
        }
        let mut out = String::new();
        for seg in segs.iter().rev() {
            match seg {
                Seg::Root => {}
                Seg::Key(k) => {
                    out.push('/');
                    out.push_str(&escape(k));
                }
                Seg::Index(i) => {
                    out.push('/');
                    out.push_str(&i.to_string());
                }
            }
        }
        out
    }

    fn violation(&self, keyword: &'static str) -> Violation {
        Violation {
            at: self.pointer(),
            keyword,
        }
    }
}

/// RFC 6901 escaping of one reference token.
fn escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

fn type_bits(v: &Value) -> u8 {
    match v {
        Value::Null => NULL,
        Value::Bool(_) => BOOLEAN,
        Value::Object(_) => OBJECT,
        Value::Array(_) => ARRAY,
        Value::String(_) => STRING,
        Value::Number(n) if is_integral(n) => NUMBER | INTEGER,
        Value::Number(_) => NUMBER,
    }
}

/// "integer" in JSON Schema is a number with a zero fractional part, so 1.0 is one.
fn is_integral(n: &serde_json::Number) -> bool {
    n.is_i64()
        || n.is_u64()
        || n.as_f64()
            .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
}

/// JSON equality where numbers compare by value (1 == 1.0), as `enum` and `const` require.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, xv)| y.get(k).is_some_and(|yv| json_eq(xv, yv)))
        }
        _ => a == b,
    }
}

/// RFC 4122 textual form, any version, either case: 8-4-4-4-12 hex digits.
fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn error(at: &str, reason: impl Into<String>) -> SchemaError {
    SchemaError {
        at: at.to_string(),
        reason: reason.into(),
    }
}

struct Compiler<'s> {
    def_names: Vec<&'s str>,
}

impl Compiler<'_> {
    fn node(&self, v: &Value, at: &str, depth: usize) -> Result<Node, SchemaError> {
        if depth > MAX_DEPTH {
            return Err(error(at, format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let m = match v {
            Value::Bool(b) => return Ok(Node::Bool(*b)),
            Value::Object(m) => m,
            _ => return Err(error(at, "a schema must be an object or a boolean")),
        };
        let mut r = Rules::default();
        for (key, value) in m {
            let at = &format!("{at}/{}", escape(key));
            let sub = |v: &Value, at: &str| self.node(v, at, depth + 1);
            match key.as_str() {
                "type" => r.types = types(value, at)?,
                "enum" => match value {
                    Value::Array(a) => r.enum_ = Some(a.clone()),
                    _ => return Err(error(at, "must be an array")),
                },
                "const" => r.const_ = Some(value.clone()),
                "minLength" => r.min_length = Some(count(value, at)?),
                "maxLength" => r.max_length = Some(count(value, at)?),
                "minItems" => r.min_items = Some(count(value, at)?),
                "maxItems" => r.max_items = Some(count(value, at)?),
                "pattern" => {
                    let p = value
                        .as_str()
                        .ok_or_else(|| error(at, "must be a string"))?;
                    let re = Regex::new(p).map_err(|e| error(at, format!("invalid regex: {e}")))?;
                    r.pattern = Some(re);
                }
                "format" => {
                    r.format = match value.as_str() {
                        Some("uuid") => Format::Uuid,
                        Some("date-time") => Format::DateTime,
                        Some(_) => Format::Ignored,
                        None => return Err(error(at, "must be a string")),
                    }
                }
                "minimum" => r.minimum = Some(number(value, at)?),
                "maximum" => r.maximum = Some(number(value, at)?),
                "exclusiveMinimum" => r.exclusive_minimum = Some(number(value, at)?),
                "exclusiveMaximum" => r.exclusive_maximum = Some(number(value, at)?),
                "required" => {
                    let a = value
                        .as_array()
                        .ok_or_else(|| error(at, "must be an array"))?;
                    for (i, name) in a.iter().enumerate() {
                        let name = name
                            .as_str()
                            .ok_or_else(|| error(&format!("{at}/{i}"), "must be a string"))?;
                        if r.required.iter().any(|n| n == name) {
                            return Err(error(&format!("{at}/{i}"), "duplicate name"));
                        }
                        r.required.push(name.to_string());
                    }
                }
                "properties" => {
                    let props = value
                        .as_object()
                        .ok_or_else(|| error(at, "must be an object"))?;
                    for (name, s) in props {
                        let node = sub(s, &format!("{at}/{}", escape(name)))?;
                        r.properties.push((name.clone(), node));
                    }
                }
                "additionalProperties" => r.additional_properties = Some(sub(value, at)?),
                "items" => {
                    if value.is_array() {
                        // Draft 4-2019 tuple form: 2020-12 spells it `prefixItems`.
                        return Err(error(at, "must be a schema (use prefixItems for tuples)"));
                    }
                    r.items = Some(sub(value, at)?);
                }
                "prefixItems" => r.prefix_items = schemas(value, at, sub)?,
                "allOf" => r.all_of = schemas(value, at, sub)?,
                "anyOf" => r.any_of = schemas(value, at, sub)?,
                "oneOf" => r.one_of = schemas(value, at, sub)?,
                "not" => r.not = Some(sub(value, at)?),
                "$ref" => r.ref_ = Some(self.reference(value, at)?),
                // Compiled by `Schema::compile`; elsewhere it could only be reached by refs we
                // do not resolve.
                "$defs" if depth == 1 => {}
                "$defs" => return Err(error(at, "is supported at the schema root only")),
                k if ANNOTATIONS.contains(&k) => {}
                k => return Err(error(at, format!("unknown or unsupported keyword {k:?}"))),
            }
        }
        Ok(Node::Rules(Box::new(r)))
    }

    /// `#` (the root) or `#/$defs/<name>`, resolved to an index into `Schema::nodes`.
    fn reference(&self, v: &Value, at: &str) -> Result<usize, SchemaError> {
        let s = v.as_str().ok_or_else(|| error(at, "must be a string"))?;
        if s == "#" {
            return Ok(0);
        }
        let unsupported = || {
            error(
                at,
                format!("unsupported $ref {s:?}: only \"#\" and \"#/$defs/<name>\" are supported"),
            )
        };
        let token = s.strip_prefix("#/$defs/").ok_or_else(unsupported)?;
        if token.contains('/') {
            return Err(unsupported());
        }
        // A `$ref` is a URI: its fragment is percent-encoded (`%25` is `%`), then a JSON
        // pointer (`~1` is `/`).
        let token = percent_decode(token).ok_or_else(unsupported)?;
        if token.contains('/') {
            return Err(unsupported());
        }
        let name = unescape(&token).ok_or_else(unsupported)?;
        self.def_names
            .iter()
            .position(|n| *n == name)
            .map(|i| i + 1)
            .ok_or_else(|| error(at, format!("unresolvable $ref {s:?}: no such $defs entry")))
    }
}

/// RFC 6901 unescaping of one reference token; `None` for a `~` not followed by 0 or 1.
/// `%XX` escapes decoded; `None` for a malformed escape or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn unescape(token: &str) -> Option<String> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn types(v: &Value, at: &str) -> Result<u8, SchemaError> {
    let bit = |name: &Value, at: &str| -> Result<u8, SchemaError> {
        let s = name.as_str().ok_or_else(|| error(at, "must be a string"))?;
        TYPE_NAMES
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, b)| *b)
            .ok_or_else(|| error(at, format!("unknown type {s:?}")))
    };
    match v {
        Value::Array(a) if a.is_empty() => Err(error(at, "must not be empty")),
        Value::Array(a) => {
            let mut bits = 0;
            for (i, name) in a.iter().enumerate() {
                let at = &format!("{at}/{i}");
                let b = bit(name, at)?;
                if bits & b != 0 {
                    return Err(error(at, "duplicate type"));
                }
                bits |= b;
            }
            Ok(bits)
        }
        _ => bit(v, at),
    }
}

/// A non-negative integer (1.0 counts: 2020-12 treats it as an integer).
fn count(v: &Value, at: &str) -> Result<u64, SchemaError> {
    let n = v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < u64::MAX as f64)
            .map(|f| f as u64)
    });
    n.ok_or_else(|| error(at, "must be a non-negative integer"))
}

fn number(v: &Value, at: &str) -> Result<f64, SchemaError> {
    v.as_f64().ok_or_else(|| error(at, "must be a number"))
}

fn schemas(
    v: &Value,
    at: &str,
    sub: impl Fn(&Value, &str) -> Result<Node, SchemaError>,
) -> Result<Vec<Node>, SchemaError> {
    match v {
        Value::Array(a) if !a.is_empty() => a
            .iter()
            .enumerate()
            .map(|(i, s)| sub(s, &format!("{at}/{i}")))
            .collect(),
        _ => Err(error(at, "must be a non-empty array of schemas")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compile(s: Value) -> Schema {
        Schema::compile(&s).unwrap()
    }

    fn compile_err(s: Value) -> (String, String) {
        let e = Schema::compile(&s).unwrap_err();
        (e.at, e.reason)
    }

    /// `Ok(())` or the violation as (at, keyword), for compact assertions.
    fn run(s: &Schema, i: Value) -> Result<(), (String, &'static str)> {
        s.validate(&i).map_err(|v| (v.at, v.keyword))
    }

    fn fails(at: &str, keyword: &'static str) -> Result<(), (String, &'static str)> {
        Err((at.to_string(), keyword))
    }

    #[test]
    fn boolean_schemas() {
        assert_eq!(run(&compile(json!(true)), json!({"a": 1})), Ok(()));
        assert_eq!(run(&compile(json!(false)), json!(null)), fails("", "false"));
        assert_eq!(run(&compile(json!({})), json!([1, "x"])), Ok(()));
    }

    #[test]
    fn type_keyword() {
        let s = compile(json!({"type": "integer"}));
        assert_eq!(run(&s, json!(3)), Ok(()));
        assert_eq!(run(&s, json!(3.0)), Ok(()));
        assert_eq!(run(&s, json!(-3)), Ok(()));
        assert_eq!(run(&s, json!(3.5)), fails("", "type"));
        assert_eq!(run(&s, json!("3")), fails("", "type"));
        let s = compile(json!({"type": "number"}));
        assert_eq!(run(&s, json!(3)), Ok(()));
        assert_eq!(run(&s, json!(u64::MAX)), Ok(()));
        assert_eq!(run(&s, json!(3.5)), Ok(()));
        assert_eq!(run(&s, json!(null)), fails("", "type"));
        let s = compile(json!({"type": ["string", "null"]}));
        assert_eq!(run(&s, json!("x")), Ok(()));
        assert_eq!(run(&s, json!(null)), Ok(()));
        assert_eq!(run(&s, json!(false)), fails("", "type"));
        for (t, ok, bad) in [
            ("boolean", json!(true), json!(0)),
            ("object", json!({}), json!([])),
            ("array", json!([]), json!({})),
            ("null", json!(null), json!(false)),
            ("string", json!(""), json!(1)),
        ] {
            let s = compile(json!({ "type": t }));
            assert_eq!(run(&s, ok), Ok(()), "{t}");
            assert_eq!(run(&s, bad), fails("", "type"), "{t}");
        }
    }

    #[test]
    fn required_points_at_the_missing_property() {
        let s = compile(json!({
            "required": ["id", "channel"],
            "properties": {"channel": {"required": ["time"]}}
        }));
        assert_eq!(run(&s, json!({"id": 1, "channel": {"time": 0}})), Ok(()));
        assert_eq!(run(&s, json!({"channel": {}})), fails("/id", "required"));
        assert_eq!(
            run(&s, json!({"id": 1, "channel": {}})),
            fails("/channel/time", "required")
        );
        // Only objects are checked.
        assert_eq!(run(&s, json!("not an object")), Ok(()));
    }

    #[test]
    fn properties_and_additional_properties() {
        let s = compile(json!({
            "properties": {"a": {"type": "string"}},
            "additionalProperties": {"type": "integer"}
        }));
        assert_eq!(run(&s, json!({"a": "x", "b": 1})), Ok(()));
        assert_eq!(run(&s, json!({"a": 1})), fails("/a", "type"));
        assert_eq!(run(&s, json!({"a": "x", "b": "y"})), fails("/b", "type"));
        let s = compile(json!({"properties": {"a": true}, "additionalProperties": false}));
        assert_eq!(run(&s, json!({"a": 1})), Ok(()));
        assert_eq!(
            run(&s, json!({"a": 1, "z": 2})),
            fails("/z", "additionalProperties")
        );
        let s = compile(json!({"properties": {"a": false}}));
        assert_eq!(run(&s, json!({"a": 1})), fails("/a", "false"));
        assert_eq!(run(&s, json!({"b": 1})), Ok(()));
    }

    #[test]
    fn pointers_escape_tilde_and_slash() {
        let s = compile(json!({
            "properties": {"a/b": {"properties": {"c~d": {"type": "string"}}}},
            "required": ["m~n/o"]
        }));
        assert_eq!(
            run(&s, json!({"m~n/o": 0, "a/b": {"c~d": 1}})),
            fails("/a~1b/c~0d", "type")
        );
        assert_eq!(run(&s, json!({})), fails("/m~0n~1o", "required"));
        // The schema side is escaped as well.
        let (at, _) = compile_err(json!({"properties": {"x/y": {"type": "strng"}}}));
        assert_eq!(at, "/properties/x~1y/type");
    }

    #[test]
    fn enum_and_const_use_numeric_equality() {
        let s = compile(json!({"enum": ["a", 1, null, [1, {"k": 2.0}]]}));
        for ok in [json!("a"), json!(1.0), json!(null), json!([1.0, {"k": 2}])] {
            assert_eq!(run(&s, ok), Ok(()));
        }
        for bad in [
            json!("b"),
            json!(2),
            json!(false),
            json!([1]),
            json!({"k": 2}),
        ] {
            assert_eq!(run(&s, bad), fails("", "enum"));
        }
        let s = compile(json!({"properties": {"v": {"const": 1.0}}}));
        assert_eq!(run(&s, json!({"v": 1})), Ok(()));
        assert_eq!(run(&s, json!({"v": true})), fails("/v", "const"));
        let s = compile(json!({"const": {"a": [1, 2]}}));
        assert_eq!(run(&s, json!({"a": [1, 2]})), Ok(()));
        assert_eq!(run(&s, json!({"a": [2, 1]})), fails("", "const"));
        assert_eq!(run(&s, json!({"a": [1, 2], "b": 0})), fails("", "const"));
        // Large integers compare exactly.
        let s = compile(json!({"const": u64::MAX}));
        assert_eq!(run(&s, json!(u64::MAX)), Ok(()));
        assert_eq!(run(&s, json!(u64::MAX - 1)), fails("", "const"));
        assert_eq!(run(&compile(json!({"const": -1})), json!(-1.0)), Ok(()));
    }

    #[test]
    fn items_and_prefix_items() {
        let s = compile(json!({"items": {"type": "string"}}));
        assert_eq!(run(&s, json!(["a", "b"])), Ok(()));
        assert_eq!(run(&s, json!(["a", 2, 3])), fails("/1", "type"));
        let s = compile(json!({
            "prefixItems": [{"type": "integer"}, {"type": "string"}],
            "items": false
        }));
        assert_eq!(run(&s, json!([1, "a"])), Ok(()));
        assert_eq!(run(&s, json!([1])), Ok(()));
        assert_eq!(run(&s, json!(["a"])), fails("/0", "type"));
        assert_eq!(run(&s, json!([1, "a", null])), fails("/2", "items"));
        let s = compile(json!({"prefixItems": [false]}));
        assert_eq!(run(&s, json!([1])), fails("/0", "false"));
        let s = compile(json!({"minItems": 1, "maxItems": 2}));
        assert_eq!(run(&s, json!([1])), Ok(()));
        assert_eq!(run(&s, json!([])), fails("", "minItems"));
        assert_eq!(run(&s, json!([1, 2, 3])), fails("", "maxItems"));
        assert_eq!(run(&s, json!("not an array")), Ok(()));
    }

    #[test]
    fn string_lengths_count_code_points() {
        let s = compile(json!({"minLength": 2, "maxLength": 3}));
        assert_eq!(run(&s, json!("ab")), Ok(()));
        assert_eq!(run(&s, json!("\u{1F600}\u{e9}")), Ok(())); // 2 code points, 6 bytes
        assert_eq!(run(&s, json!("\u{1F600}")), fails("", "minLength"));
        assert_eq!(run(&s, json!("abcd")), fails("", "maxLength"));
        assert_eq!(run(&s, json!(12345)), Ok(()));
        // 2020-12: 1.0 is an integer.
        assert!(Schema::compile(&json!({"minLength": 1.0})).is_ok());
    }

    #[test]
    fn pattern_is_an_unanchored_search() {
        let s = compile(json!({"pattern": "[0-9]{3}"}));
        assert_eq!(run(&s, json!("abc123def")), Ok(()));
        assert_eq!(run(&s, json!("ab12")), fails("", "pattern"));
        let s = compile(json!({"pattern": "^sha256=[0-9a-f]+$"}));
        assert_eq!(run(&s, json!("sha256=abc")), Ok(()));
        assert_eq!(run(&s, json!("xsha256=abc")), fails("", "pattern"));
        assert_eq!(run(&s, json!(1)), Ok(()));
    }

    #[test]
    fn numeric_bounds() {
        let s = compile(json!({"minimum": 1, "maximum": 10.5}));
        assert_eq!(run(&s, json!(1)), Ok(()));
        assert_eq!(run(&s, json!(10.5)), Ok(()));
        assert_eq!(run(&s, json!(0.99)), fails("", "minimum"));
        assert_eq!(run(&s, json!(11)), fails("", "maximum"));
        let s = compile(json!({"exclusiveMinimum": 0, "exclusiveMaximum": 5}));
        assert_eq!(run(&s, json!(0.001)), Ok(()));
        assert_eq!(run(&s, json!(0)), fails("", "exclusiveMinimum"));
        assert_eq!(run(&s, json!(5)), fails("", "exclusiveMaximum"));
        assert_eq!(run(&s, json!(-1)), fails("", "exclusiveMinimum"));
        assert_eq!(run(&s, json!("9")), Ok(()));
    }

    #[test]
    fn formats() {
        let s = compile(json!({"format": "uuid"}));
        for ok in [
            "5d0d331e-d2a8-4fb5-96f7-7021bef2a8ee",
            "5D0D331E-D2A8-4FB5-96F7-7021BEF2A8EE",
            "00000000-0000-0000-0000-000000000000",
        ] {
            assert_eq!(run(&s, json!(ok)), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "5d0d331ed2a84fb596f77021bef2a8ee",
            "5d0d331e-d2a8-4fb5-96f7-7021bef2a8e",
            "5d0d331e-d2a8-4fb5-96f7-7021bef2a8eee",
            "5d0d331e-d2a8-4fb5-96f7_7021bef2a8ee",
            "{5d0d331e-d2a8-4fb5-96f7-7021bef2a8ee}",
            "5d0d331g-d2a8-4fb5-96f7-7021bef2a8ee",
            "5d0d331e-d2a84-fb5-96f7-7021bef2a8ee",
            "5d0d331e-d2a8-4fb5-96f7-7021bef2a8\u{e9}",
        ] {
            assert_eq!(run(&s, json!(bad)), fails("", "format"), "{bad}");
        }
        let s = compile(json!({"format": "date-time"}));
        for ok in [
            "2025-06-10T21:03:05.427Z",
            "2025-06-10T23:03:05+02:00",
            "2024-02-29t00:00:00z",
            "2016-12-31T23:59:60Z",
        ] {
            assert_eq!(run(&s, json!(ok)), Ok(()), "{ok}");
        }
        for bad in [
            "2025-06-10",
            "2025-06-10T21:03:05",
            "2023-02-29T00:00:00Z",
            "2025-04-31T00:00:00Z",
            "2025-06-10T21:60:00Z",
            "2025-06-10 21:03:05Z",
            "1749589385",
        ] {
            assert_eq!(run(&s, json!(bad)), fails("", "format"), "{bad}");
        }
        // Formats apply to strings only; other formats are annotations.
        assert_eq!(run(&s, json!(1749589385)), Ok(()));
        for f in ["email", "uri", "ipv4", "no-such-format"] {
            assert_eq!(run(&compile(json!({ "format": f })), json!("nope")), Ok(()));
        }
    }

    #[test]
    fn combinators() {
        let s = compile(json!({"allOf": [{"type": "integer"}, {"minimum": 2}]}));
        assert_eq!(run(&s, json!(3)), Ok(()));
        assert_eq!(run(&s, json!(1)), fails("", "minimum"));
        let s =
            compile(json!({"properties": {"v": {"anyOf": [{"type": "string"}, {"minimum": 2}]}}}));
        assert_eq!(run(&s, json!({"v": "x"})), Ok(()));
        assert_eq!(run(&s, json!({"v": 5})), Ok(()));
        assert_eq!(run(&s, json!({"v": 1})), fails("/v", "anyOf"));
        let s = compile(json!({"oneOf": [{"type": "integer"}, {"minimum": 2}]}));
        assert_eq!(run(&s, json!(1)), Ok(()));
        assert_eq!(run(&s, json!(2.5)), Ok(()));
        assert_eq!(run(&s, json!(3)), fails("", "oneOf"));
        assert_eq!(run(&s, json!(1.5)), fails("", "oneOf"));
        let s = compile(json!({"not": {"type": "null"}}));
        assert_eq!(run(&s, json!(0)), Ok(()));
        assert_eq!(run(&s, json!(null)), fails("", "not"));
    }

    #[test]
    fn refs_to_defs() {
        let s = compile(json!({
            "$defs": {"id": {"type": "string", "minLength": 1}, "a~b/c": {"type": "null"}},
            "properties": {
                "x": {"$ref": "#/$defs/id"},
                "y": {"$ref": "#/$defs/a~0b~1c"}
            }
        }));
        assert_eq!(run(&s, json!({"x": "1", "y": null})), Ok(()));
        assert_eq!(run(&s, json!({"x": ""})), fails("/x", "minLength"));
        assert_eq!(run(&s, json!({"y": 0})), fails("/y", "type"));
        // $ref applies alongside its siblings (2020-12).
        let s = compile(
            json!({"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "maxLength": 1}),
        );
        assert_eq!(run(&s, json!(1)), fails("", "type"));
        assert_eq!(run(&s, json!("ab")), fails("", "maxLength"));
    }

    #[test]
    fn recursive_refs_are_depth_bounded() {
        // A tree: recursion follows the instance, so it ends with the data...
        let s = compile(json!({
            "type": "object",
            "properties": {"children": {"type": "array", "items": {"$ref": "#"}}}
        }));
        assert_eq!(run(&s, json!({"children": [{"children": []}, {}]})), Ok(()));
        assert_eq!(
            run(&s, json!({"children": [{"children": [1]}]})),
            fails("/children/0/children/0", "type")
        );
        // ...unless the data is deeper than the bound.
        let mut deep = json!({});
        for _ in 0..40 {
            deep = json!({ "children": [deep] });
        }
        let v = s.validate(&deep).unwrap_err();
        assert_eq!(v.keyword, "depth");
        assert!(v.at.starts_with("/children/0/children/0"));
    }

    #[test]
    fn ref_fragments_are_percent_decoded() {
        let s = compile(json!({
            "$defs": {"a%b": {"type": "string"}, "c\"d": {"type": "integer"}},
            "properties": {"x": {"$ref": "#/$defs/a%25b"}, "y": {"$ref": "#/$defs/c%22d"}}
        }));
        assert_eq!(run(&s, json!({"x": "s", "y": 1})), Ok(()));
        assert_eq!(run(&s, json!({"x": 1})), fails("/x", "type"));
        for bad in [
            "#/$defs/a%2",
            "#/$defs/a%zz",
            "#/$defs/a%2Fb",
            "#/$defs/%ff",
        ] {
            let (_, reason) = compile_err(json!({"$defs": {"a": {}}, "$ref": bad}));
            assert!(reason.starts_with("unsupported $ref"), "{bad}: {reason}");
        }
    }

    #[test]
    fn refs_that_never_move_to_a_child_are_compile_errors() {
        for schema in [
            json!({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}),
            json!({"anyOf": [{"$ref": "#"}]}),
            json!({"not": {"$ref": "#"}}),
            json!({"allOf": [{"oneOf": [{"type": "string"}, {"$ref": "#"}]}]}),
            // The 88 bytes of issue 14: an anyOf of two self-references, never ending.
            json!({"$defs":{"a":{"anyOf":[{"$ref":"#/$defs/a"},{"$ref":"#/$defs/a"}]}},"$ref":"#/$defs/a"}),
        ] {
            let (_, reason) = compile_err(schema.clone());
            assert!(
                reason.contains("never moves to a child"),
                "{schema}: {reason}"
            );
        }
        // Through a child it is a tree, and fine.
        compile(
            json!({"$defs": {"n": {"properties": {"next": {"$ref": "#/$defs/n"}}}}, "$ref": "#/$defs/n"}),
        );
    }

    #[test]
    fn work_is_bounded_where_depth_is_not_enough() {
        // Two branches that both recurse into the child and fail only at the leaf: each level
        // tries both, 2^depth applications.
        let branch = json!({"required": ["x"], "properties": {"x": {"$ref": "#/$defs/a"}}});
        let s = compile(json!({
            "$defs": {"a": {"anyOf": [branch, branch]}},
            "$ref": "#/$defs/a"
        }));
        let mut deep = json!({});
        for _ in 0..40 {
            deep = json!({ "x": deep });
        }
        let v = s.validate_within(&deep, 10_000).unwrap_err();
        assert_eq!((v.at.as_str(), v.keyword), ("", "budget"));
        // The same under `not`, which must not turn the exhausted budget into a pass.
        let s = compile(json!({
            "$defs": {"a": {"anyOf": [branch, branch]}},
            "not": {"$ref": "#/$defs/a"}
        }));
        assert_eq!(
            s.validate_within(&deep, 10_000).unwrap_err().keyword,
            "budget"
        );
        // A shallow instance is checked as always.
        assert_eq!(s.validate(&json!({"x": {}})), Ok(()));
    }

    #[test]
    fn first_failure_order_is_fixed() {
        let s = compile(json!({
            "type": "object",
            "required": ["z", "a"],
            "properties": {"b": {"type": "string"}, "c": {"type": "string"}},
            "additionalProperties": {"type": "integer"},
            "allOf": [{"required": ["q"]}]
        }));
        // required before properties, in listed order (z before a).
        assert_eq!(run(&s, json!({"b": 1})), fails("/z", "required"));
        assert_eq!(run(&s, json!({"z": 0, "b": 1})), fails("/a", "required"));
        // properties by name, then additionalProperties by name, then allOf.
        let i = json!({"z": 0, "a": 0, "c": 1, "b": 1, "x": "s"});
        assert_eq!(run(&s, i), fails("/b", "type"));
        let i = json!({"z": 0, "a": 0, "c": "", "b": "", "y": "s", "x": "s"});
        assert_eq!(run(&s, i), fails("/x", "type"));
        assert_eq!(run(&s, json!({"z": 0, "a": 0})), fails("/q", "required"));
        // type comes before everything else.
        assert_eq!(run(&s, json!([])), fails("", "type"));
        // The same input always reports the same failure.
        let i = json!({"z": 0, "a": 0, "c": 1, "b": 1});
        for _ in 0..3 {
            assert_eq!(run(&s, i.clone()), fails("/b", "type"));
        }
    }

    #[test]
    fn annotations_are_ignored() {
        let s = compile(json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "urn:x", "$comment": "c", "title": "t", "description": "d",
            "examples": [1], "default": 2, "deprecated": true, "readOnly": false, "writeOnly": false,
            "type": "integer"
        }));
        assert_eq!(run(&s, json!(1)), Ok(()));
    }

    #[test]
    fn compile_errors_name_the_schema_location() {
        let cases = [
            (
                json!({"requried": ["id"]}),
                "/requried",
                "unknown or unsupported keyword \"requried\"",
            ),
            (
                json!({"properties": {"id": {"type": "strng"}}}),
                "/properties/id/type",
                "unknown type \"strng\"",
            ),
            (
                json!({"type": ["string", 1]}),
                "/type/1",
                "must be a string",
            ),
            (
                json!({"type": ["string", "string"]}),
                "/type/1",
                "duplicate type",
            ),
            (json!({"type": []}), "/type", "must not be empty"),
            (
                json!({"minLength": -1}),
                "/minLength",
                "must be a non-negative integer",
            ),
            (
                json!({"maxItems": 1.5}),
                "/maxItems",
                "must be a non-negative integer",
            ),
            (json!({"minimum": "1"}), "/minimum", "must be a number"),
            (json!({"required": "id"}), "/required", "must be an array"),
            (
                json!({"required": ["a", 2]}),
                "/required/1",
                "must be a string",
            ),
            (
                json!({"required": ["a", "a"]}),
                "/required/1",
                "duplicate name",
            ),
            (json!({"enum": "a"}), "/enum", "must be an array"),
            (json!({"format": 1}), "/format", "must be a string"),
            (
                json!({"items": [{}]}),
                "/items",
                "must be a schema (use prefixItems for tuples)",
            ),
            (
                json!({"allOf": []}),
                "/allOf",
                "must be a non-empty array of schemas",
            ),
            (
                json!({"anyOf": [{}, 3]}),
                "/anyOf/1",
                "a schema must be an object or a boolean",
            ),
            (
                json!({"additionalProperties": {"minimum": true}}),
                "/additionalProperties/minimum",
                "must be a number",
            ),
            (
                json!({"properties": {"a": {"$defs": {}}}}),
                "/properties/a/$defs",
                "is supported at the schema root only",
            ),
            (
                json!({"$defs": []}),
                "/$defs",
                "must be an object of schemas",
            ),
            (
                json!({"$defs": {"a": {"typo": 1}}}),
                "/$defs/a/typo",
                "unknown or unsupported keyword \"typo\"",
            ),
            (
                json!("string"),
                "",
                "a schema must be an object or a boolean",
            ),
        ];
        for (schema, at, reason) in cases {
            assert_eq!(
                compile_err(schema.clone()),
                (at.to_string(), reason.to_string()),
                "{schema}"
            );
        }
        let e = Schema::compile(&json!({"properties": {"id": {"type": "strng"}}})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "payload_schema/properties/id/type: unknown type \"strng\""
        );
    }

    #[test]
    fn bad_regex_and_bad_refs_are_compile_errors() {
        let (at, reason) = compile_err(json!({"properties": {"p": {"pattern": "(unclosed"}}}));
        assert_eq!(at, "/properties/p/pattern");
        assert!(reason.starts_with("invalid regex"), "{reason}");
        let (at, reason) = compile_err(json!({"pattern": 5}));
        assert_eq!(
            (at.as_str(), reason.as_str()),
            ("/pattern", "must be a string")
        );

        let (at, reason) = compile_err(json!({"$ref": "#/$defs/missing"}));
        assert_eq!(at, "/$ref");
        assert_eq!(
            reason,
            "unresolvable $ref \"#/$defs/missing\": no such $defs entry"
        );
        for bad in [
            "https://example.com/s.json",
            "other.json#/$defs/a",
            "#/definitions/a",
            "#/$defs/a/properties/b",
            "#/$defs/a~2",
            "#anchor",
        ] {
            let (at, reason) = compile_err(json!({"$defs": {"a": {}}, "items": {"$ref": bad}}));
            assert_eq!(at, "/items/$ref", "{bad}");
            assert!(reason.starts_with("unsupported $ref"), "{bad}: {reason}");
        }
        assert_eq!(compile_err(json!({"$ref": 1})).1, "must be a string");
    }

    #[test]
    fn compile_depth_is_bounded() {
        let mut s = json!({"type": "object"});
        for _ in 0..100 {
            s = json!({ "properties": {"a": s} });
        }
        let (at, reason) = compile_err(s);
        assert_eq!(reason, "nested deeper than 64 levels");
        assert!(at.starts_with("/properties/a/properties/a"));
        let mut s = json!(true);
        for _ in 0..60 {
            s = json!({ "items": s });
        }
        assert!(Schema::compile(&s).is_ok());
    }

    const OPEN_MESSAGING: &str = include_str!("schemas/genesys-open-messaging.json");
    const CONVERSATION_EVENT: &str = include_str!("schemas/genesys-conversation-event.json");

    /// The example body from Genesys' documentation (its Open Messaging outbound message).
    fn genesys_example() -> Value {
        serde_json::from_str(
            r#"{"id":"d7d58935af65a45e5234ac77de017a0a",
             "channel":{"id":"e6b352de-ecd0-49c7-94de-7787418869bc","platform":"Open","type":"Private",
               "to":{"id":"recipient-123","idType":"Opaque"},
               "from":{"nickname":"Support","id":"e6b352de-ecd0-49c7-94de-7787418869bc","idType":"Opaque"},
               "time":"2025-06-10T21:03:05.427Z","messageId":"d7d58935af65a45e5234ac77de017a0a"},
             "type":"Text","text":"Hi","originatingEntity":"Human","direction":"Outbound",
             "conversationId":"5d0d331e-d2a8-4fb5-96f7-7021bef2a8ee"}"#,
        )
        .unwrap()
    }

    fn preset(text: &str) -> Schema {
        Schema::compile(&serde_json::from_str(text).unwrap()).unwrap()
    }

    #[test]
    fn open_messaging_preset() {
        let s = preset(OPEN_MESSAGING);
        assert_eq!(s.validate(&genesys_example()), Ok(()));

        let typing = json!({
            "id": "m1", "type": "Event", "direction": "Outbound",
            "channel": {"id": "c", "platform": "Open", "type": "Private",
                        "time": "2025-06-10T21:03:05Z", "messageId": "m1"},
            "events": [{"eventType": "Typing", "typing": {"type": "On", "duration": 5000}}],
            "someFutureField": {"x": 1}
        });
        assert_eq!(s.validate(&typing), Ok(()));

        let broken = |edit: fn(&mut Value)| {
            let mut v = genesys_example();
            edit(&mut v);
            run(&s, v)
        };
        assert_eq!(
            broken(|v| {
                v.as_object_mut().unwrap().remove("id");
            }),
            fails("/id", "required")
        );
        assert_eq!(broken(|v| v["id"] = json!("")), fails("/id", "minLength"));
        assert_eq!(broken(|v| v["id"] = json!(42)), fails("/id", "type"));
        assert_eq!(
            broken(|v| {
                v["channel"].as_object_mut().unwrap().remove("time");
            }),
            fails("/channel/time", "required")
        );
        assert_eq!(
            broken(|v| v["channel"]["time"] = json!("yesterday")),
            fails("/channel/time", "format")
        );
        assert_eq!(
            broken(|v| v["channel"]["time"] = json!(1749589385)),
            fails("/channel/time", "type")
        );
        assert_eq!(
            broken(|v| v["channel"]["to"] = json!("x")),
            fails("/channel/to", "type")
        );
        assert_eq!(
            broken(|v| v["channel"]["from"]["id"] = json!(7)),
            fails("/channel/from/id", "type")
        );
        assert_eq!(broken(|v| v["type"] = json!("Sms")), fails("/type", "enum"));
        assert_eq!(
            broken(|v| v["direction"] = json!("outbound")),
            fails("/direction", "enum")
        );
        assert_eq!(
            broken(|v| v["content"] = json!([{}, 3])),
            fails("/content/1", "type")
        );
        assert_eq!(broken(|v| *v = json!([])), fails("", "type"));
    }

    #[test]
    fn conversation_event_preset() {
        let s = preset(CONVERSATION_EVENT);
        let good = json!({
            "event": "conversation-created",
            "conversationId": "a8f3c9e1-4b2d-4f6a-9c8e-7d5f3a1b2c4d",
            "timestamp": "2024-06-15T14:32:10.451Z",
            "platformVersion": "2024-06-15",
            "data": {"type": "voice", "direction": "inbound"}
        });
        assert_eq!(s.validate(&good), Ok(()));
        let broken = |k: &str, val: Option<Value>| {
            let mut v = good.clone();
            match val {
                Some(x) => v[k] = x,
                None => {
                    v.as_object_mut().unwrap().remove(k);
                }
            }
            run(&s, v)
        };
        assert_eq!(
            broken("conversationId", Some(json!("not-a-uuid"))),
            fails("/conversationId", "format")
        );
        assert_eq!(
            broken("timestamp", Some(json!("2024-06-15"))),
            fails("/timestamp", "format")
        );
        assert_eq!(
            broken("event", Some(json!(""))),
            fails("/event", "minLength")
        );
        assert_eq!(broken("data", Some(json!(null))), fails("/data", "type"));
        assert_eq!(
            broken("platformVersion", None),
            fails("/platformVersion", "required")
        );
        assert_eq!(broken("event", None), fails("/event", "required"));
        // Genesys example (a different shape) is refused at the first listed required field.
        assert_eq!(run(&s, genesys_example()), fails("/event", "required"));
    }
}
