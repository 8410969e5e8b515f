use super::*;
use crate::config::Config;
use crate::verify::verify;

/// A small deterministic generator (xorshift), so failures replay.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SECRET: &str = "stream-secret-0123456789";
const OTHER: &str = "stream-other-secret-0123";
const NOW: i64 = 1_700_000_000;

/// Standard Webhooks' secrets are `whsec_` + base64.
fn secrets(preset: &str) -> (&'static str, &'static str) {
    if preset == "standard-webhooks" {
        (
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_c3RyZWFtLW90aGVyLXNlY3JldC0wMTIz",
        )
    } else {
        (SECRET, OTHER)
    }
}

fn config(preset: &str, extra: &str) -> Config {
    let (secret, other) = secrets(preset);
    let json = format!(
        r#"{{"idempotency":{{"cluster":"c"}},"endpoints":[{{"name":"ep","path_prefix":"/h","preset":"{preset}",
          "secrets":[{{"id":"old","value":"{other}"}},{{"id":"new","value":"{secret}"}}]{extra}}}]}}"#
    );
    match Config::parse(json.as_bytes(), &|_| None) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

/// The streamed verdict over `chunks`, or `None` when the endpoint is not streamed.
fn streamed(
    ep: &Endpoint,
    headers: &CapturedHeaders,
    body: &[u8],
    rng: &mut Rng,
) -> Option<Result<Verified, Reject>> {
    let mut s = BodyMac::start(ep, headers, || NOW)?;
    let mut at = 0;
    while at < body.len() {
        let n = 1 + rng.below(body.len() - at);
        s.update(&body[at..at + n]);
        at += n;
    }
    assert_eq!(s.fed(), body.len());
    Some(s.finish(ep, headers, NOW))
}

#[test]
fn the_streamed_verdict_is_the_whole_bodys_for_every_streamable_preset() {
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let cases: [(&str, &str, bool); 17] = [
        ("github", "", true),
        ("bitbucket", "", true),
        ("intercom", "", false),
        ("pagerduty", "", false),
        ("typeform", "", false),
        ("docusign", "", true),
        ("zoom", "", true),
        ("calendly", "", true),
        (
            "custom",
            r#","algorithm":"hmac-sha512","signature_header":"x-sig","encoding":"hex","signed_content":"{body}","idempotency_key":"signed_content""#,
            true,
        ),
        // Not an HMAC over the body, or keyed on a JSON field: the whole-body path.
        ("gitlab", "", false),
        ("shopify", "", true),
        ("slack", "", true),
        ("standard-webhooks", "", true),
        ("github", r#","idempotency_key":null"#, true),
        (
            "custom",
            r#","signature_header":"x-sig","encoding":"hex","signed_content":"a{header:x-a}{body}z{header:x-z}.","idempotency_key":"signed_content""#,
            true,
        ),
        // JSON needed: the whole body, as before.
        ("stripe", "", false),
        ("genesys-open-messaging", "", false),
    ];
    for (preset, extra, streams) in cases {
        let c = config(preset, extra);
        let ep = &c.endpoints[0];
        for round in 0..40 {
            let len = [0, 1, 63, 64, 65, 1000, 5000][round % 7] + rng.below(3);
            let body: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let (secret, other) = secrets(preset);
            let secret = if round % 3 == 0 { other } else { secret };
            let key = ep.scheme.secret_encoding.decode(secret).unwrap();
            let ts = NOW.to_string();
            // Every `{header:..}` piece is signed with (and sent as) the id.
            let mut signed = crate::sign::sign(&ep.scheme, &key, &body, &ts, "msg_1");
            match round % 5 {
                // Tampered body.
                1 if !body.is_empty() => {}
                // A stale timestamp, a signature of the wrong length, none at all.
                2 => signed.retain(|(n, _)| !n.contains("timestamp")),
                3 => {
                    for (_, v) in signed.iter_mut() {
                        v.push('0');
                    }
                }
                4 => signed.clear(),
                _ => {}
            }
            let headers = CapturedHeaders::capture(
                signed.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
                &ep.wanted_headers,
            );
            let mut body = body;
            if round % 5 == 1 && !body.is_empty() {
                body[0] ^= 1;
            }
            let whole = verify(ep, &headers, &body, NOW);
            match streamed(ep, &headers, &body, &mut rng) {
                Some(v) => {
                    assert!(streams, "{preset} must not stream");
                    assert_eq!(v, whole, "{preset} round {round}");
                }
                None => assert!(
                    !streams || whole.is_err(),
                    "{preset} round {round}: not streamed, yet {whole:?}"
                ),
            }
            if streams && round % 5 == 0 {
                assert!(whole.is_ok(), "{preset} round {round}: {whole:?}");
            }
        }
    }
}

#[test]
fn the_streamed_signed_content_key_is_the_whole_bodys() {
    let c = config("github", "");
    let ep = &c.endpoints[0];
    let body = b"{\"zen\":\"Keep it logically awesome.\"}".repeat(100);
    let key = ep.scheme.secret_encoding.decode(SECRET).unwrap();
    let signed = crate::sign::sign(&ep.scheme, &key, &body, "", "");
    let headers = CapturedHeaders::capture(
        signed.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
        &ep.wanted_headers,
    );
    let whole = verify(ep, &headers, &body, NOW).unwrap();
    assert!(whole.idempotency_key.is_some());
    let mut s = BodyMac::start(ep, &headers, || NOW).unwrap();
    for chunk in body.chunks(7) {
        s.update(chunk);
    }
    assert_eq!(s.finish(ep, &headers, NOW), Ok(whole));
}

#[test]
fn a_stale_delivery_is_answered_without_hashing_its_body() {
    let c = config("slack", "");
    let ep = &c.endpoints[0];
    let key = ep.scheme.secret_encoding.decode(SECRET).unwrap();
    let body = b"token=x&team_id=T1";
    let capture = |ts: i64| {
        let signed = crate::sign::sign(&ep.scheme, &key, body, &ts.to_string(), "");
        CapturedHeaders::capture(
            signed.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
            &ep.wanted_headers,
        )
    };
    // Stale at the headers: no MAC state is started, and the whole-body path answers
    // it before any key is tried.
    let stale = capture(NOW - 301);
    assert!(BodyMac::start(ep, &stale, || NOW).is_none());
    assert_eq!(verify(ep, &stale, body, NOW), Err(Reject::StaleTimestamp));
    let fresh = capture(NOW);
    let mut s = BodyMac::start(ep, &fresh, || NOW).unwrap();
    s.update(body);
    // Stale by the end (a slow body): still the timestamp's answer, before the MACs'.
    assert_eq!(s.finish(ep, &fresh, NOW + 301), Err(Reject::StaleTimestamp));
    // An endpoint without a window never reads the clock.
    let g = config("github", "");
    let ep = &g.endpoints[0];
    let key = ep.scheme.secret_encoding.decode(SECRET).unwrap();
    let signed = crate::sign::sign(&ep.scheme, &key, body, "", "");
    let h = CapturedHeaders::capture(
        signed.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
        &ep.wanted_headers,
    );
    let clock_read = std::cell::Cell::new(false);
    assert!(BodyMac::start(ep, &h, || {
        clock_read.set(true);
        NOW
    })
    .is_some());
    assert!(!clock_read.get());
}
