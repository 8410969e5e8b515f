use super::*;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn tokens_ask_for_randomness_once_and_never_repeat() {
    let tokens = Tokens::default();
    assert_eq!(tokens.next(|| None), None, "no random source: no token");
    let mut asked = 0;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..1000 {
        let t = tokens
            .next(|| {
                asked += 1;
                Some([0xff; 16])
            })
            .unwrap();
        assert_eq!(t.len(), 32);
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert!(seen.insert(t), "a token repeated");
    }
    assert_eq!(asked, 1);
    // From the top of the range it wraps rather than overflows.
    assert!(seen.contains(&"0".repeat(32)));
}

#[test]
fn claim_answers() {
    let ok = format!(r#"{{"result":"claimed","token":"{TOKEN}"}}"#);
    let parse = |status, body| parse_claim(status, body, TOKEN);
    assert_eq!(
        parse(Some(b"200"), ok.as_bytes()),
        ClaimVerdict::Claimed {
            token: TOKEN.into()
        }
    );
    assert_eq!(
        parse(Some(b"200"), br#"{"result":"in_flight"}"#),
        ClaimVerdict::InFlight
    );
    assert_eq!(
        parse(Some(b"200"), br#"{"result":"done"}"#),
        ClaimVerdict::Done
    );
    for (status, body) in [
        (None, &b""[..]),
        (Some(&b"504"[..]), &b"upstream request timeout"[..]),
        (Some(b"503"), br#"{"error":"capacity"}"#),
        (Some(b"200"), b"garbage"),
        (Some(b"200"), br#"{"result":"claimed"}"#),
        (
            Some(b"200"),
            br#"{"result":"claimed","token":"\" injected"}"#,
        ),
        (Some(b"200"), br#"{"result":"maybe"}"#),
        (Some(b"200"), br#"{"result":"abandoned"}"#),
        (Some(b"200"), br#"{"result":"committed"}"#),
        // Claimed, but not with our token: not ours to forward under.
        (
            Some(b"200"),
            br#"{"result":"claimed","token":"ffffffffffffffffffffffffffffffff"}"#,
        ),
    ] {
        assert_eq!(parse(status, body), ClaimVerdict::Unavailable, "{body:?}");
    }
}

#[test]
fn settlements_round_trip_through_the_queue() {
    let key = "ab".repeat(32);
    for (settlement, path, ttl) in [
        (Settlement::Commit, "/v1/commit", Some(86_400_000)),
        (Settlement::Release, "/v1/release", None),
        (Settlement::Abandon, "/v1/release", Some(60_000)),
    ] {
        let q = Queued {
            settlement,
            body: settlement.request(&key, TOKEN, 86400, 60),
            attempt: 2,
        };
        assert_eq!(Queued::decode(&q.encode()), Some(q.clone()));
        assert_eq!(q.path(), path);
        let body: serde_json::Value = serde_json::from_slice(&q.body).unwrap();
        assert_eq!(body["token"], TOKEN);
        assert_eq!(body["key"], key.as_str());
        assert_eq!(body.get("ttl_ms").and_then(|v| v.as_u64()), ttl);
    }
    for bad in [
        b"".to_vec(),
        b"commit".to_vec(),
        b"commit 1".to_vec(),
        b"drop 1 {}".to_vec(),
        b"commit x {}".to_vec(),
        b"commit 1 not json".to_vec(),
        b"commit 1 {}".to_vec(),
        // Would have closed the batch's JSON early: `{"id":0,"commit":{}]}`.
        br#"commit 1 {"key":"k","token":"t","ttl_ms":1}]}"#.to_vec(),
        br#"commit 1 {"key":"k","token":"t","ttl_ms":1,"more":1}"#.to_vec(),
        br#"release 1 {"key":"k","ttl_ms":1}"#.to_vec(),
        b"commit 300 {}".to_vec(),
        [b"commit 1 {".as_slice(), &[b' '; 5000], b"}"].concat(),
        b"\xff".to_vec(),
    ] {
        assert_eq!(
            Queued::decode(&bad),
            None,
            "{:?}",
            String::from_utf8_lossy(&bad)
        );
    }
}

#[test]
fn what_is_settled_and_what_is_worth_sending_again() {
    assert!(Queued::settled(Some(b"200")) && Queued::settled(Some(b"409")));
    assert!(!Queued::settled(Some(b"503")) && !Queued::settled(None));
    for retry in [None, Some(&b"503"[..]), Some(b"504"), Some(b"429")] {
        assert!(Queued::retryable(retry), "{retry:?}");
    }
    for give_up in [&b"400"[..], b"404", b"413"] {
        assert!(!Queued::retryable(Some(give_up)));
    }
}

#[test]
fn retries_back_off() {
    let delays: Vec<u64> = (1..MAX_ATTEMPTS).map(retry_delay_ms).collect();
    assert_eq!(delays, [250, 500, 1000, 2000]);
    assert_eq!(retry_delay_ms(200), 250 << 6);
}

#[test]
fn claim_request_is_the_protocols() {
    let token = new_token([0xab; 16]);
    assert_eq!(token, "ab".repeat(16));
    let r: ClaimRequest = serde_json::from_slice(&claim_request("abc", &token, 60)).unwrap();
    assert_eq!(
        r,
        ClaimRequest {
            key: "abc".into(),
            ttl_ms: 60_000,
            token: Some(token)
        }
    );
    assert!(r.valid());
}
