use super::*;

fn key(src: &KeySource, body: &str) -> Option<Vec<u8>> {
    src.extract(body.as_bytes(), &CapturedHeaders::default(), &[])
}

#[test]
fn pointer_keys() {
    let body = r#"{"id": "abc", "n": 7, "o": {}, "e": "", "b": true, "z": null}"#;
    let k = |p: &str| key(&KeySource::Pointer(p.into()), body);
    assert_eq!(k("/id"), Some(b"abc".to_vec()));
    assert_eq!(k("/n"), Some(b"\xff7".to_vec()));
    for none in ["/o", "/e", "/b", "/z", "/missing"] {
        assert_eq!(k(none), None, "{none}");
    }
    assert_eq!(key(&KeySource::Pointer("/id".into()), "not json"), None);
}

#[test]
fn distinct_ids_never_make_one_key() {
    let k = |body: &str| key(&KeySource::Pointer("/id".into()), body);
    let pairs = [
        (
            r#"{"id":18446744073709551616}"#,
            r#"{"id":18446744073709551617}"#,
        ),
        (r#"{"id":5}"#, r#"{"id":"5"}"#),
        (r#"{"id":1.0}"#, r#"{"id":1}"#),
        (r#"{"id":9007199254740993}"#, r#"{"id":9007199254740992}"#),
    ];
    for (a, b) in pairs {
        assert_ne!(k(a), k(b), "{a} {b}");
        assert!(k(a).is_some() && k(b).is_some());
    }
    // The same string however it is escaped is the same id; its key is its text, as in
    // earlier versions (deliveries remembered before an upgrade stay duplicates).
    assert_eq!(k(r#"{"id":"A"}"#), k(r#"{"id":"\u0041"}"#));
    assert_eq!(k(r#"{"id":"A"}"#), Some(b"A".to_vec()));
}

#[test]
fn tutorial_keys() {
    let src = KeySource::GenesysTutorial;
    let with_id = r#"{"eventId": "e1", "conversationId": "c", "timestamp": "t"}"#;
    let without = r#"{"conversationId": "c", "timestamp": "t"}"#;
    let neither = r#"{"conversationId": "c"}"#;
    assert_eq!(key(&src, with_id), Some(b"e1".to_vec()));
    assert_eq!(key(&src, without), Some(b"c\xfet".to_vec()));
    assert_eq!(key(&src, neither), None);
    // A separator inside a value cannot shift the boundary.
    assert_ne!(
        key(&src, r#"{"conversationId": "a\nb", "timestamp": "c"}"#),
        key(&src, r#"{"conversationId": "a", "timestamp": "b\nc"}"#)
    );
}

#[test]
fn header_keys() {
    let wanted = vec!["x-github-delivery".to_string()];
    let h = CapturedHeaders::capture([("x-github-delivery", &b" d-1 "[..])], &wanted);
    let src = KeySource::parse("header:X-GitHub-Delivery").unwrap();
    assert!(!src.needs_json());
    assert_eq!(src.extract(b"", &h, &[]), Some(b"d-1".to_vec()));
}

#[test]
fn signed_content_keys_digest_what_the_mac_covered() {
    let src = KeySource::parse("signed_content").unwrap();
    assert!(!src.needs_json());
    let h = CapturedHeaders::default();
    let a = src.extract(b"ignored", &h, &[b"ab", b"c"]).unwrap();
    assert_eq!(a.len(), 33);
    assert_eq!(Some(a.clone()), src.extract(b"", &h, &[b"a", b"bc"]));
    assert_ne!(Some(a), src.extract(b"", &h, &[b"abd"]));
}

#[test]
fn hash_depends_on_endpoint_and_key() {
    let a = hash_key("genesys", b"id-1");
    assert_eq!(a.len(), 64);
    assert_ne!(a, hash_key("github", b"id-1"));
    assert_ne!(a, hash_key("genesys", b"id-2"));
    assert_eq!(a, hash_key("genesys", b"id-1"));
}

/// The stored keys of earlier versions, pinned: an upgrade must not make a delivery
/// committed before it processable again.
#[test]
fn keys_at_the_endpoints_own_path_are_unchanged() {
    // SHA-256 of "genesys", NUL, "id-1" (computed apart from this code).
    let exact = hash_key("genesys", b"id-1");
    assert_eq!(
        exact,
        "d76ec56f7374465d05652b41821053b044f87a146e956f21bea2e2446a085f95"
    );
    assert_eq!(scoped_key(exact.clone(), &[]), exact);
    // GitHub's documented body, keyed on its signed content.
    let digest = Sha256::digest(b"Hello, World!");
    let exact = hash_key("github", &signed_content_key(&digest));
    assert_eq!(
        exact,
        "6ebeb7a9e81244a4ce0fb2d6cede27267658b0b920a852df2c3d384e2336dd32"
    );
    assert_eq!(scoped_key(exact.clone(), &[]), exact);
}

#[test]
fn a_path_below_the_prefix_is_another_delivery() {
    let exact = hash_key("github", b"\xfdabc");
    let seg = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let a = scoped_key(exact.clone(), &seg(&["anything"]));
    assert_eq!(a.len(), 64);
    assert_ne!(a, exact);
    assert_ne!(a, scoped_key(exact.clone(), &seg(&["other"])));
    // Segment boundaries count: a/b is not ab, nor a and b reordered.
    assert_ne!(
        scoped_key(exact.clone(), &seg(&["a", "b"])),
        scoped_key(exact.clone(), &seg(&["ab"]))
    );
    assert_ne!(
        scoped_key(exact.clone(), &seg(&["a", "b"])),
        scoped_key(exact.clone(), &seg(&["b", "a"]))
    );
    assert_eq!(a, scoped_key(exact, &seg(&["anything"])));
}
