use super::*;
use serde_json::json;

fn round_trip(v: Value) -> Value {
    let Value::Object(map) = &v else {
        panic!("an object")
    };
    struct_to_json(&json_to_struct(map)).expect("decodes")
}

#[test]
fn reads_every_kind_back() {
    let v = json!({
        "s": "text ✓", "n": 1048576, "neg": -3, "f": 0.5, "t": true, "no": false, "z": null,
        "list": [1, "two", [3], {"four": 4}], "obj": {"a": {"b": []}}, "empty": {}
    });
    assert_eq!(round_trip(v.clone()), v);
}

#[test]
fn whole_doubles_are_integers_and_others_stay_floats() {
    // As YAML's `250` arrives: the double 250.0, read as the integer JSON text would give.
    let v = round_trip(json!({"a": 250.0, "b": 2.5, "big": 1e300}));
    assert_eq!(v["a"].as_u64(), Some(250));
    assert_eq!(v["b"].as_f64(), Some(2.5));
    assert_eq!(v["big"].as_u64(), None);
}

/// The bytes protoc gives for `{"a": "b"}` (Struct, one entry, a string Value).
#[test]
fn reads_bytes_as_protoc_writes_them() {
    let bytes = [0x0a, 0x08, 0x0a, 0x01, b'a', 0x12, 0x03, 0x1a, 0x01, b'b'];
    assert_eq!(struct_to_json(&bytes).unwrap(), json!({"a": "b"}));
    assert_eq!(
        json_to_struct(json!({"a": "b"}).as_object().unwrap()),
        bytes
    );
}

#[test]
fn refuses_what_is_not_a_struct() {
    let cases: &[(&[u8], &str)] = &[
        (b"{\"a\": 1}", "a group or an unknown wire type"),
        (&[0x10, 0x01], "not part of a Struct"),
        (&[0x0a, 0x05, 0x0a], "truncated"),
        (&[0x0a, 0x03, 0x0a, 0x01, b'a'], "without a value"),
        (&[0x0a, 0x05, 0x0a, 0x01, b'a', 0x12, 0x00], "no kind"),
        (
            &[0x0a, 0x06, 0x0a, 0x01, b'a', 0x12, 0x01, 0x08],
            "truncated",
        ),
        (
            &[0x0a, 0x07, 0x0a, 0x01, 0xff, 0x12, 0x02, 0x08, 0x00],
            "not UTF-8",
        ),
        (&[0x0b], "group"),
        (
            &[
                0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ],
            "truncated",
        ),
        (
            &[
                0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
            ],
            "64 bits",
        ),
        // number_value sent as a varint: a wire type the field does not have.
        (
            &[0x0a, 0x07, 0x0a, 0x01, b'a', 0x12, 0x02, 0x10, 0x01],
            "not part of a Value",
        ),
    ];
    for (bytes, want) in cases {
        let e = struct_to_json(bytes).expect_err("refused").to_string();
        assert!(e.contains(want), "{bytes:?}: {e}");
    }
}

#[test]
fn refuses_nan_and_infinity() {
    for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut value = vec![0x11];
        value.extend_from_slice(&x.to_bits().to_le_bytes());
        let mut entry = vec![0x0a, 0x01, b'a', 0x12, value.len() as u8];
        entry.extend_from_slice(&value);
        let mut bytes = vec![0x0a, entry.len() as u8];
        bytes.extend_from_slice(&entry);
        let e = struct_to_json(&bytes).expect_err("refused").to_string();
        assert!(e.contains("NaN or infinite"), "{e}");
    }
}

#[test]
fn bounds_depth_and_values() {
    // The top object and MAX_DEPTH - 1 lists: as deep as allowed; one more is refused.
    let mut v = json!({ "k": 1 });
    for _ in 0..MAX_DEPTH - 2 {
        v = json!([v]);
    }
    let deepest = json!({ "a": v });
    let bytes = json_to_struct(deepest.as_object().unwrap());
    assert_eq!(struct_to_json(&bytes).unwrap(), deepest);
    let bytes = json_to_struct(json!({ "a": [v] }).as_object().unwrap());
    assert_eq!(
        struct_to_json(&bytes).unwrap_err().to_string(),
        "nested too deeply"
    );

    let many = json!({ "a": vec![Value::Null; MAX_VALUES + 1] });
    let bytes = json_to_struct(many.as_object().unwrap());
    assert!(struct_to_json(&bytes)
        .unwrap_err()
        .to_string()
        .contains("more values"));
}

/// Every prefix of a real configuration's bytes, every byte of it flipped, and random bytes:
/// an answer (value or error) each time, never a panic.
#[test]
fn never_panics_on_truncated_flipped_or_random_bytes() {
    let config = json!({
        "max_body_bytes": 1048576, "log_level": "info",
        "idempotency": { "cluster": "cache", "timeout_ms": 250, "on_unavailable": "reject" },
        "endpoints": [{ "name": "github", "path_prefix": "/webhooks/github", "preset": "github",
                        "secrets": [{ "id": "current", "env": "GITHUB_WEBHOOK_SECRET", "optional": false }],
                        "idempotency_key": null, "max_age_seconds": 300.5 }]
    });
    let bytes = json_to_struct(config.as_object().unwrap());
    assert_eq!(struct_to_json(&bytes).unwrap(), config);
    for n in 0..bytes.len() {
        let _ = struct_to_json(&bytes[..n]);
    }
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            let _ = struct_to_json(&b);
        }
    }
    // xorshift: reproducible random inputs, some starting like a Struct.
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..20_000 {
        let mut b = Vec::new();
        let len = (round % 64) + 1;
        for _ in 0..len {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            b.push(s as u8);
        }
        if round % 2 == 0 {
            b[0] = 0x0a;
        }
        let _ = struct_to_json(&b);
    }
}
