use super::*;

#[test]
fn bodies_are_json_with_the_code() {
    for r in REFUSALS {
        let v: serde_json::Value = serde_json::from_str(&r.body()).unwrap();
        assert_eq!(v["error"], r.code());
    }
}

#[test]
fn schema_violation_escapes_the_pointer() {
    let r = Reject::SchemaViolation {
        at: "/a\"b".to_string(),
    };
    let v: serde_json::Value = serde_json::from_str(&r.body()).unwrap();
    assert_eq!(v["at"], "/a\"b");
    assert_eq!(r.status(), 400);
}

#[test]
fn long_pointers_are_cut_on_a_char_boundary() {
    let r = Reject::SchemaViolation {
        at: format!("/{}", "é".repeat(300)),
    };
    let v: serde_json::Value = serde_json::from_str(&r.body()).unwrap();
    assert!(v["at"].as_str().unwrap().len() <= MAX_POINTER_BYTES);
}

#[test]
fn retryable_answers_carry_retry_after() {
    assert_eq!(Reject::InFlight.status(), 429);
    assert_eq!(Reject::InFlight.retry_after(), Some("5"));
    assert_eq!(Reject::IdempotencyUnavailable.status(), 503);
    assert!(Reject::InvalidSignature.retry_after().is_none());
    assert_eq!(Reject::Duplicate.body(), r#"{"status":"duplicate"}"#);
}

#[test]
fn a_wrong_method_is_405_with_allow() {
    let r = Reject::MethodNotAllowed {
        allow: "POST, GET".to_string(),
    };
    assert_eq!(r.status(), 405);
    assert_eq!(r.body(), r#"{"error":"method_not_allowed"}"#);
    assert_eq!(r.allow(), Some("POST, GET"));
    assert!(r.retry_after().is_none());
    assert!(Reject::SourceIpDenied.allow().is_none());
}
