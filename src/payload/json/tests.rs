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
