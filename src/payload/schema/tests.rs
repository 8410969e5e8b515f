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
    let s = compile(json!({"properties": {"v": {"anyOf": [{"type": "string"}, {"minimum": 2}]}}}));
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
    let s =
        compile(json!({"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "maxLength": 1}));
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

const OPEN_MESSAGING: &str = include_str!("../schemas/genesys-open-messaging.json");
const CONVERSATION_EVENT: &str = include_str!("../schemas/genesys-conversation-event.json");

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

/// The configuration names a schema error's field from its typed location, never from its
/// text: a property named `a: b` (or a `$defs` entry so named) is not cut at its `": "`.
#[test]
fn the_configuration_names_the_field_of_a_property_named_with_a_colon() {
    let parse = |schema: &str| {
        let json = format!(
            r#"{{"endpoints":[{{"name":"e","path_prefix":"/h","preset":"github","secrets":[{{"id":"a","value":"0123456789abcdef"}}],"payload_schema":{schema}}}]}}"#
        );
        match crate::config::Config::parse(json.as_bytes(), &|_| None) {
            Ok(_) => panic!("{schema} compiled"),
            Err(e) => (e.field, e.reason),
        }
    };
    let cases = [
        (
            r#"{"properties":{"a: b":{"type":"strng"}}}"#,
            "endpoints[0] (e).payload_schema/properties/a: b/type",
            r#"unknown type "strng""#,
        ),
        (
            r#"{"properties":{"a: b/c: d":{"pattern":"(unclosed"}}}"#,
            "endpoints[0] (e).payload_schema/properties/a: b~1c: d/pattern",
            "invalid regex: ",
        ),
        (
            r##"{"$defs":{": ":{"$ref":"#/$defs/%3A%20"}}}"##,
            "endpoints[0] (e).payload_schema/$defs/: ",
            "a $ref cycle that never moves",
        ),
        (
            r#"{"requried: yes":[]}"#,
            "endpoints[0] (e).payload_schema/requried: yes",
            r#"unknown or unsupported keyword "requried: yes""#,
        ),
    ];
    for (schema, field, reason) in cases {
        let (f, r) = parse(schema);
        assert_eq!(f, field, "{schema}");
        assert!(r.starts_with(reason), "{schema}: {r}");
    }
}
