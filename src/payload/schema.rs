//! A strict subset of JSON Schema draft 2020-12, compiled once at configuration time and
//! evaluated per delivery.
//!
//! Strict on purpose: any keyword outside the supported set is a compile error, so a typo
//! such as `requried` fails the configuration instead of silently accepting every payload.
//! Only the first violation is reported (the filter answers with its instance pointer), in a
//! fixed, deterministic order: see [`Schema::validate`].

use regex_lite::Regex;
use serde_json::{Map, Value};
use std::cell::Cell;
use std::fmt;

/// Nesting limit for both the schema (at compile time) and subschema applications (at
/// validation time). Without `$ref` a validation cannot nest deeper than the schema itself;
/// with a recursive `$ref` it can, and this bound keeps the stack small (wasm has ~1 MiB).
const MAX_DEPTH: usize = 64;

/// Most subschema applications one validation may make. Depth alone does not bound the
/// work: `anyOf` of two branches that both recurse into a child doubles it at every level
/// (2^64 at the depth limit). Past the budget the payload is refused (`budget`); an honest
/// webhook payload needs a small fraction of it.
pub(crate) const MAX_WORK: u64 = 1_000_000;

/// A compiled schema.
#[derive(Debug)]
pub struct Schema {
    /// Index 0 is the root; 1.. are the root's `$defs`, in name order.
    nodes: Vec<Node>,
}

/// A schema that does not compile: where, and why. The two stay separate fields (a
/// property may be named `a: b`, so the displayed text cannot be split back into them).
#[derive(Debug, PartialEq)]
pub struct SchemaError {
    /// JSON pointer inside the schema, e.g. `/properties/id/type`.
    pub at: String,
    pub reason: String,
}

impl SchemaError {
    /// The configuration field it is about, relative to the endpoint:
    /// `payload_schema/properties/id/type`.
    pub fn field(&self) -> String {
        format!("payload_schema{}", self.at)
    }
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field(), self.reason)
    }
}

impl std::error::Error for SchemaError {}

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
        let work = Cell::new(MAX_WORK.saturating_sub(budget));
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

    /// One schema applied to one value: the keywords of every type, then those of the
    /// value's type, then the applicators that apply other schemas to the same value.
    fn check(
        &self,
        node: &Node,
        v: &Value,
        loc: &Loc<'_>,
        depth: usize,
        work: &Cell<u64>,
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
        r.check_any(v, loc)?;
        match v {
            Value::String(s) => r.check_string(s, loc)?,
            Value::Number(n) => r.check_number(n, loc)?,
            Value::Array(a) => self.check_array(r, a, loc, sub, work)?,
            Value::Object(m) => self.check_object(r, m, loc, sub, work)?,
            _ => {}
        }
        self.check_applicators(r, v, loc, sub, work)
    }

    /// `minItems`, `maxItems`, then each item against `prefixItems` or `items`.
    fn check_array(
        &self,
        r: &Rules,
        a: &[Value],
        loc: &Loc<'_>,
        sub: usize,
        work: &Cell<u64>,
    ) -> Result<(), Violation> {
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
        Ok(())
    }

    /// `required` in its listed order, `properties` by name, `additionalProperties` by name.
    fn check_object(
        &self,
        r: &Rules,
        m: &Map<String, Value>,
        loc: &Loc<'_>,
        sub: usize,
        work: &Cell<u64>,
    ) -> Result<(), Violation> {
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
        Ok(())
    }

    /// `$ref`, `allOf`, `anyOf`, `oneOf`, `not`: other schemas applied to the same value.
    fn check_applicators(
        &self,
        r: &Rules,
        v: &Value,
        loc: &Loc<'_>,
        sub: usize,
        work: &Cell<u64>,
    ) -> Result<(), Violation> {
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

impl Rules {
    /// `type`, `enum`, `const`: the keywords of every instance type.
    fn check_any(&self, v: &Value, loc: &Loc<'_>) -> Result<(), Violation> {
        if self.types != 0 && self.types & type_bits(v) == 0 {
            return Err(loc.violation("type"));
        }
        if let Some(options) = &self.enum_ {
            if !options.iter().any(|o| json_eq(o, v)) {
                return Err(loc.violation("enum"));
            }
        }
        if let Some(c) = &self.const_ {
            if !json_eq(c, v) {
                return Err(loc.violation("const"));
            }
        }
        Ok(())
    }

    /// `minLength`, `maxLength`, `pattern`, `format`.
    fn check_string(&self, s: &str, loc: &Loc<'_>) -> Result<(), Violation> {
        // Lengths count code points, as the spec says (not bytes, not UTF-16 units).
        if self.min_length.is_some() || self.max_length.is_some() {
            let n = s.chars().count() as u64;
            if self.min_length.is_some_and(|m| n < m) {
                return Err(loc.violation("minLength"));
            }
            if self.max_length.is_some_and(|m| n > m) {
                return Err(loc.violation("maxLength"));
            }
        }
        if self.pattern.as_ref().is_some_and(|re| !re.is_match(s)) {
            return Err(loc.violation("pattern"));
        }
        let ok = match self.format {
            Format::Ignored => true,
            Format::Uuid => is_uuid(s),
            Format::DateTime => crate::payload::rfc3339::rfc3339_to_unix_seconds(s).is_some(),
        };
        if !ok {
            return Err(loc.violation("format"));
        }
        Ok(())
    }

    /// `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`.
    fn check_number(&self, n: &serde_json::Number, loc: &Loc<'_>) -> Result<(), Violation> {
        // f64 comparison: exact for every integer up to 2^53, enough for payloads.
        // serde_json numbers are always finite f64-representable; fail closed if not.
        let Some(x) = n.as_f64() else {
            return Err(loc.violation("type"));
        };
        if self.minimum.is_some_and(|m| x < m) {
            return Err(loc.violation("minimum"));
        }
        if self.maximum.is_some_and(|m| x > m) {
            return Err(loc.violation("maximum"));
        }
        if self.exclusive_minimum.is_some_and(|m| x <= m) {
            return Err(loc.violation("exclusiveMinimum"));
        }
        if self.exclusive_maximum.is_some_and(|m| x >= m) {
            return Err(loc.violation("exclusiveMaximum"));
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
mod tests;
