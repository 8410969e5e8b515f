//! Hostile input, end to end: well over a hundred malformed, oversized, repeated, truncated,
//! slow and otherwise odd requests against a real Envoy. Every case gets its documented
//! answer, the upstream sees nothing unverified, Envoy logs no panic, and a valid delivery
//! is still answered afterwards.

use std::time::Duration;

use crate::common::*;

const GITHUB: &str = "hostile-github-secret-01";
const GENESYS: &str = "hostile-genesys-secret-01";
const STRIPE: &str = "hostile-stripe-secret-001";
const STANDARD: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SLACK: &str = "hostile-slack-secret-0001";

fn config() -> String {
    format!(
        r#"{{ "max_body_bytes": 4096, "endpoints": [
  {{ "name": "github", "path_prefix": "/gh", "preset": "github", "secrets": [{{ "id": "s", "value": "{GITHUB}" }}] }},
  {{ "name": "genesys", "path_prefix": "/genesys", "preset": "genesys-open-messaging", "secrets": [{{ "id": "s", "value": "{GENESYS}" }}] }},
  {{ "name": "stripe", "path_prefix": "/stripe", "preset": "stripe", "secrets": [{{ "id": "s", "value": "{STRIPE}" }}] }},
  {{ "name": "standard", "path_prefix": "/sw", "preset": "standard-webhooks", "secrets": [{{ "id": "s", "value": "{STANDARD}" }}] }},
  {{ "name": "slack", "path_prefix": "/slack", "preset": "slack", "secrets": [{{ "id": "s", "value": "{SLACK}" }}] }}
] }}"#
    )
}

#[derive(Debug, Clone)]
enum Expect {
    /// The filter's JSON answer.
    Answer(u16, &'static str),
    /// Forwarded.
    Ok,
    /// Refused by Envoy's own HTTP parser (before the filter): just the status.
    Status(u16),
    /// The connection ends without an answer, or with Envoy's 400/408.
    NoAnswerOrParserError,
}

use Expect::*;

#[derive(Debug, Clone)]
enum Body {
    Plain(Vec<u8>),
    Chunked(Vec<Vec<u8>>),
    ChunkedTrailers(Vec<Vec<u8>>),
    /// Declares more than it sends, then stops writing.
    Truncated(Vec<u8>),
    /// Chunks 100 ms apart.
    Slow(Vec<Vec<u8>>),
}

struct Case {
    name: String,
    method: &'static str,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Body,
    expect: Expect,
}

fn sign(endpoint: &str, secret: &str, body: &[u8], ts: &str, id: &str) -> Vec<(String, Vec<u8>)> {
    sign_for(&config(), &[], endpoint, secret, body, ts, id)
}

/// Replaces (or adds) a header.
fn with(mut headers: Vec<(String, Vec<u8>)>, name: &str, value: &[u8]) -> Vec<(String, Vec<u8>)> {
    headers.retain(|(n, _)| n != name);
    headers.push((name.to_string(), value.to_vec()));
    headers
}

fn without(mut headers: Vec<(String, Vec<u8>)>, name: &str) -> Vec<(String, Vec<u8>)> {
    headers.retain(|(n, _)| n != name);
    headers
}

fn twice(mut headers: Vec<(String, Vec<u8>)>, name: &str) -> Vec<(String, Vec<u8>)> {
    let copy = headers
        .iter()
        .find(|(n, _)| n == name)
        .cloned()
        .expect("header to repeat");
    headers.push(copy);
    headers
}

fn cases() -> Vec<Case> {
    let now = now_unix();
    let ts = now.to_string();
    let mut cases: Vec<Case> = Vec::new();
    let mut add =
        |name: &str, path: &str, headers: Vec<(String, Vec<u8>)>, body: Body, expect: Expect| {
            cases.push(Case {
                name: name.to_string(),
                method: "POST",
                path: path.to_string(),
                headers,
                body,
                expect,
            })
        };

    // --- Garbage in every endpoint's signature header -----------------------------------
    let endpoints = [
        ("github", "/gh", "x-hub-signature-256"),
        ("genesys", "/genesys", "x-hub-signature-256"),
        ("stripe", "/stripe", "stripe-signature"),
        ("standard", "/sw", "webhook-signature"),
        ("slack", "/slack", "x-slack-signature"),
    ];
    let big = vec![b'a'; 9000];
    let garbage: [(&str, &[u8]); 10] = [
        ("empty", b""),
        ("space", b" "),
        ("equals", b"="),
        ("comma", b","),
        ("huge", &big),
        ("non-utf8", b"\xff\xfe\xfd\xfc"),
        ("latin1", b"sha256=\xe9\xe8"),
        ("json", br#"{"sig":"x"}"#),
        ("null-word", b"null"),
        ("prefix-only", b"sha256="),
    ];
    for (endpoint, path, header) in endpoints {
        let body = genesys_body("g", now);
        for (what, value) in garbage {
            // An empty header value is the same as an absent one to Envoy.
            let expect = if value.is_empty() || value == b" " {
                Answer(401, "missing_signature")
            } else {
                Answer(401, "malformed_signature")
            };
            let headers = with(
                sign(endpoint, secret_of(endpoint), body.as_bytes(), &ts, "m1"),
                header,
                value,
            );
            add(
                &format!("{endpoint}: {what} signature"),
                path,
                headers,
                Body::Plain(body.clone().into_bytes()),
                expect,
            );
        }
        let signed = sign(endpoint, secret_of(endpoint), body.as_bytes(), &ts, "m1");
        add(
            &format!("{endpoint}: signature twice"),
            path,
            twice(signed.clone(), header),
            Body::Plain(body.clone().into_bytes()),
            Answer(401, "malformed_signature"),
        );
        add(
            &format!("{endpoint}: no signature"),
            path,
            without(signed.clone(), header),
            Body::Plain(body.clone().into_bytes()),
            Answer(401, "missing_signature"),
        );
        let mut tampered = body.clone().into_bytes();
        tampered[10] ^= 1;
        add(
            &format!("{endpoint}: tampered body"),
            path,
            signed.clone(),
            Body::Plain(tampered),
            Answer(401, "invalid_signature"),
        );
        add(
            &format!("{endpoint}: body with a trailing byte"),
            path,
            signed.clone(),
            Body::Plain(format!("{body} ").into_bytes()),
            Answer(401, "invalid_signature"),
        );
        add(
            &format!("{endpoint}: empty body"),
            path,
            signed.clone(),
            Body::Plain(Vec::new()),
            Answer(401, "invalid_signature"),
        );
        add(
            &format!("{endpoint}: valid, 1-byte chunks"),
            path,
            signed.clone(),
            Body::Chunked(body.bytes().map(|b| vec![b]).collect()),
            Ok,
        );
        add(
            &format!("{endpoint}: valid, with trailers"),
            path,
            signed.clone(),
            Body::ChunkedTrailers(vec![body.clone().into_bytes()]),
            Ok,
        );
        add(
            &format!("{endpoint}: valid, slow client"),
            path,
            signed.clone(),
            Body::Slow(body.as_bytes().chunks(100).map(<[u8]>::to_vec).collect()),
            Ok,
        );
        add(
            &format!("{endpoint}: over the limit, chunked"),
            path,
            signed.clone(),
            Body::Chunked(vec![vec![b' '; 3000], vec![b' '; 3000]]),
            Answer(413, "body_too_large"),
        );
        add(
            &format!("{endpoint}: over the limit, declared"),
            path,
            signed.clone(),
            Body::Plain(vec![b' '; 5000]),
            Answer(413, "body_too_large"),
        );
        add(
            &format!("{endpoint}: truncated body"),
            path,
            signed.clone(),
            Body::Truncated(body.clone().into_bytes()),
            NoAnswerOrParserError,
        );
        add(
            &format!("{endpoint}: NUL in the signature"),
            path,
            with(signed.clone(), header, b"sha256=\x00abc"),
            Body::Plain(body.clone().into_bytes()),
            Status(400),
        );
    }

    // --- Hex and base64 MACs of the wrong shape ------------------------------------------
    let body = genesys_body("m", now);
    let gh = sign("github", GITHUB, body.as_bytes(), "", "");
    let good_hex = String::from_utf8(gh[0].1.clone()).unwrap();
    let hex = good_hex.trim_start_matches("sha256=").to_string();
    let b = || Body::Plain(body.clone().into_bytes());
    for (what, value, expect) in [
        (
            "63 hex digits",
            format!("sha256={}", &hex[..63]),
            Answer(401, "malformed_signature"),
        ),
        (
            "65 hex digits",
            format!("sha256={hex}0"),
            Answer(401, "malformed_signature"),
        ),
        (
            "a non-hex digit",
            format!("sha256=g{}", &hex[1..]),
            Answer(401, "malformed_signature"),
        ),
        (
            "upper-case prefix",
            format!("SHA256={hex}"),
            Answer(401, "malformed_signature"),
        ),
        (
            "space after the prefix",
            format!("sha256= {hex}"),
            Answer(401, "malformed_signature"),
        ),
        (
            "sha1 prefix",
            format!("sha1={hex}"),
            Answer(401, "malformed_signature"),
        ),
        (
            "upper-case hex",
            format!("sha256={}", hex.to_uppercase()),
            Ok,
        ),
        ("surrounding spaces", format!("  sha256={hex}  "), Ok),
        (
            "another body's MAC",
            format!("sha256={}", "0".repeat(64)),
            Answer(401, "invalid_signature"),
        ),
    ] {
        add(
            &format!("github: {what}"),
            "/gh",
            with(gh.clone(), "x-hub-signature-256", value.as_bytes()),
            b(),
            expect,
        );
    }
    let gen = sign("genesys", GENESYS, body.as_bytes(), "", "");
    let b64 = String::from_utf8(gen[0].1.clone())
        .unwrap()
        .trim_start_matches("sha256=")
        .to_string();
    for (what, value, expect) in [
        (
            "base64 without padding",
            format!("sha256={}", b64.trim_end_matches('=')),
            Answer(401, "malformed_signature"),
        ),
        (
            "base64url alphabet",
            format!("sha256={}", b64.replace('+', "-").replace('/', "_")),
            if b64.contains(['+', '/']) {
                Answer(401, "malformed_signature")
            } else {
                Ok
            },
        ),
        (
            "hex MAC on a base64 endpoint",
            format!("sha256={hex}"),
            Answer(401, "malformed_signature"),
        ),
        (
            "truncated base64",
            format!("sha256={}", &b64[..20]),
            Answer(401, "malformed_signature"),
        ),
    ] {
        add(
            &format!("genesys: {what}"),
            "/genesys",
            with(gen.clone(), "x-hub-signature-256", value.as_bytes()),
            b(),
            expect,
        );
    }

    // --- Signed, but the body is hostile -------------------------------------------------
    let signed_body = |body: &str| {
        (
            sign("genesys", GENESYS, body.as_bytes(), "", ""),
            Body::Plain(body.as_bytes().to_vec()),
        )
    };
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let dup = genesys_body("d", now).replacen(r#""id":"d""#, r#""id":"d","id":"other""#, 1);
    let trailing = format!("{} {{}}", genesys_body("t", now));
    for (what, body, expect) in [
        ("not JSON", "hello".to_string(), Answer(400, "invalid_json")),
        ("deeply nested", deep, Answer(400, "invalid_json")),
        ("duplicate keys", dup, Answer(400, "invalid_json")),
        ("trailing data", trailing, Answer(400, "invalid_json")),
        (
            "a JSON array",
            "[]".to_string(),
            Answer(401, "missing_timestamp"),
        ),
        (
            "JSON null",
            "null".to_string(),
            Answer(401, "missing_timestamp"),
        ),
        (
            "a numeric time",
            genesys_body("n", now).replace(
                &format!(r#""time":"{}""#, rfc3339(now)),
                r#""time":1700000000"#,
            ),
            Answer(401, "missing_timestamp"),
        ),
        (
            "a time in year 9999",
            genesys_body("f", now).replace(&rfc3339(now), "9999-12-31T23:59:59Z"),
            Answer(401, "stale_timestamp"),
        ),
        (
            "a time in year 0",
            genesys_body("z", now).replace(&rfc3339(now), "0000-01-01T00:00:00Z"),
            Answer(401, "stale_timestamp"),
        ),
        (
            "a time 30 days from now",
            genesys_body("a", now + 30 * 86400),
            Answer(401, "stale_timestamp"),
        ),
        (
            "a time of 31 February",
            genesys_body("b", now).replace(&rfc3339(now), "2025-02-31T00:00:00Z"),
            Answer(401, "missing_timestamp"),
        ),
        (
            "a huge number",
            r#"{"id":"x","channel":{"time":1e400}}"#.to_string(),
            Answer(400, "invalid_json"),
        ),
    ] {
        let (headers, body) = signed_body(&body);
        add(
            &format!("genesys: signed body, {what}"),
            "/genesys",
            headers,
            body,
            expect,
        );
    }
    let bad_utf8: Vec<u8> = [br#"{"id":""#.as_slice(), b"\xff\xfe", br#"","channel":{}}"#].concat();
    add(
        "genesys: signed body, invalid UTF-8",
        "/genesys",
        sign("genesys", GENESYS, &bad_utf8, "", ""),
        Body::Plain(bad_utf8.clone()),
        Answer(400, "invalid_json"),
    );

    // --- Stripe's structured header --------------------------------------------------------
    let sbody = br#"{"id":"evt_1"}"#;
    let stripe = |t: &str| sign("stripe", STRIPE, sbody, t, "");
    let good = String::from_utf8(stripe(&ts)[0].1.clone()).unwrap();
    let v1 = good.split(",v1=").nth(1).unwrap().to_string();
    let sb = || Body::Plain(sbody.to_vec());
    for (what, value, expect) in [
        (
            "no t",
            format!("v1={v1}"),
            Answer(401, "malformed_signature"),
        ),
        (
            "t twice",
            format!("t={ts},t={ts},v1={v1}"),
            Answer(401, "malformed_signature"),
        ),
        (
            "nine v1",
            format!("t={ts}{}", format!(",v1={v1}").repeat(9)),
            Answer(401, "malformed_signature"),
        ),
        (
            "only v0",
            format!("t={ts},v0={v1}"),
            Answer(401, "malformed_signature"),
        ),
        (
            "short v1",
            format!("t={ts},v1={}", &v1[..10]),
            Answer(401, "malformed_signature"),
        ),
        (
            "item without =",
            format!("t={ts},v1={v1},junk"),
            Answer(401, "malformed_signature"),
        ),
        ("spaces around items", format!("t={ts}, v1={v1}"), Ok),
        (
            "v1 for another t",
            format!("t={},v1={v1}", now - 1),
            Answer(401, "invalid_signature"),
        ),
    ] {
        add(
            &format!("stripe: {what}"),
            "/stripe",
            vec![("stripe-signature".into(), value.into_bytes())],
            sb(),
            expect,
        );
    }
    for (what, t, expect) in [
        (
            "a signed t that is not a number",
            "abc".to_string(),
            Answer(401, "missing_timestamp"),
        ),
        (
            "a signed negative t",
            "-5".to_string(),
            Answer(401, "missing_timestamp"),
        ),
        (
            "a signed t an hour ahead",
            (now + 3600).to_string(),
            Answer(401, "stale_timestamp"),
        ),
        (
            "a signed t a day old",
            (now - 86400).to_string(),
            Answer(401, "stale_timestamp"),
        ),
        (
            "a signed 20-digit t",
            "9".repeat(20),
            Answer(401, "missing_timestamp"),
        ),
    ] {
        add(
            &format!("stripe: {what}"),
            "/stripe",
            stripe(&t),
            sb(),
            expect,
        );
    }

    // --- Standard Webhooks ---------------------------------------------------------------
    let wbody = br#"{"type":"x"}"#;
    let sw = |t: &str| sign("standard", STANDARD, wbody, t, "msg_1");
    let wb = || Body::Plain(wbody.to_vec());
    let sig = sw(&ts)
        .into_iter()
        .find(|(n, _)| n == "webhook-signature")
        .unwrap()
        .1;
    let sig = String::from_utf8(sig).unwrap();
    for (what, headers, expect) in [
        (
            "no webhook-id",
            without(sw(&ts), "webhook-id"),
            Answer(401, "malformed_signature"),
        ),
        (
            "no timestamp",
            without(sw(&ts), "webhook-timestamp"),
            Answer(401, "missing_timestamp"),
        ),
        (
            "timestamp twice",
            twice(sw(&ts), "webhook-timestamp"),
            Answer(401, "missing_timestamp"),
        ),
        (
            "a signed 1e9 timestamp",
            sw("1e9"),
            Answer(401, "missing_timestamp"),
        ),
        (
            "v1a only",
            with(sw(&ts), "webhook-signature", b"v1a,abcd"),
            Answer(401, "malformed_signature"),
        ),
        (
            "nine signatures",
            with(
                sw(&ts),
                "webhook-signature",
                [sig.as_str(); 9].join(" ").as_bytes(),
            ),
            Answer(401, "malformed_signature"),
        ),
        (
            "empty v1",
            with(sw(&ts), "webhook-signature", b"v1,"),
            Answer(401, "malformed_signature"),
        ),
        (
            "v2 and v1",
            with(
                sw(&ts),
                "webhook-signature",
                format!("v2,xyz {sig}").as_bytes(),
            ),
            Ok,
        ),
        (
            "timestamp 320 s ahead",
            sw(&(now + 320).to_string()),
            Answer(401, "stale_timestamp"),
        ),
        ("timestamp 280 s ahead", sw(&(now + 280).to_string()), Ok),
    ] {
        add(
            &format!("standard-webhooks: {what}"),
            "/sw",
            headers,
            wb(),
            expect,
        );
    }
    let svix: Vec<(String, Vec<u8>)> = sw(&ts)
        .into_iter()
        .map(|(n, v)| (n.replace("webhook-", "svix-"), v))
        .collect();
    add(
        "standard-webhooks: svix header names",
        "/sw",
        svix,
        wb(),
        Ok,
    );

    // --- Slack ---------------------------------------------------------------------------
    let kbody = b"token=t&text=hello";
    let slack = |t: &str| sign("slack", SLACK, kbody, t, "");
    let kb = || Body::Plain(kbody.to_vec());
    for (what, headers, expect) in [
        (
            "a signed empty timestamp",
            slack(""),
            Answer(401, "missing_timestamp"),
        ),
        (
            "a signed +timestamp",
            slack(&format!("+{now}")),
            Answer(401, "missing_timestamp"),
        ),
        (
            "a signed 20-digit timestamp",
            slack(&"1".repeat(20)),
            Answer(401, "missing_timestamp"),
        ),
        (
            "v0= only",
            with(slack(&ts), "x-slack-signature", b"v0="),
            Answer(401, "malformed_signature"),
        ),
        (
            "v1= prefix",
            with(
                slack(&ts),
                "x-slack-signature",
                String::from_utf8(slack(&ts)[0].1.clone())
                    .unwrap()
                    .replace("v0=", "v1=")
                    .as_bytes(),
            ),
            Answer(401, "malformed_signature"),
        ),
        (
            "no timestamp header",
            without(slack(&ts), "x-slack-request-timestamp"),
            Answer(401, "missing_timestamp"),
        ),
    ] {
        add(&format!("slack: {what}"), "/slack", headers, kb(), expect);
    }

    // --- Paths and methods -----------------------------------------------------------------
    add(
        "unknown path",
        "/nowhere",
        gh.clone(),
        b(),
        Answer(404, "unknown_endpoint"),
    );
    add(
        "prefix without a segment boundary",
        "/ghx",
        gh.clone(),
        b(),
        Answer(404, "unknown_endpoint"),
    );
    add("query string", "/gh?delivery=1", gh.clone(), b(), Ok);
    add("sub-path", "/gh/org/repo", gh.clone(), b(), Ok);
    // A method the sender never uses is refused before anything is read, whatever the
    // request carries (the copy of a delivery it may be would otherwise be answered by the
    // receiver's framework and mark the delivery processed).
    let mut upper = Case {
        name: "the signature header's name in capitals".into(),
        method: "POST",
        path: "/gh".into(),
        headers: gh.clone(),
        body: b(),
        expect: Ok,
    };
    upper.headers = without(upper.headers, "x-hub-signature-256");
    upper
        .headers
        .push(("X-Hub-Signature-256".into(), good_hex.clone().into_bytes()));
    let put = Case {
        name: "PUT with a valid signature".into(),
        method: "PUT",
        path: "/gh".into(),
        headers: upper.headers.clone(),
        body: b(),
        expect: Answer(405, "method_not_allowed"),
    };
    cases.push(upper);
    cases.push(Case {
        name: "GET without a body".into(),
        method: "GET",
        path: "/gh".into(),
        headers: Vec::new(),
        body: Body::Plain(Vec::new()),
        expect: Answer(405, "method_not_allowed"),
    });
    cases.push(Case {
        name: "DELETE without a signature".into(),
        method: "DELETE",
        path: "/gh".into(),
        headers: Vec::new(),
        body: b(),
        expect: Answer(405, "method_not_allowed"),
    });
    // (A lower-case `post` is refused by Envoy's HTTP/1 parser first; the filter refuses it too.)
    for method in ["OPTIONS", "PATCH", "TRACE"] {
        cases.push(Case {
            name: format!("{method} with a valid signature"),
            method,
            path: "/gh".into(),
            headers: gh.clone(),
            body: b(),
            expect: Answer(405, "method_not_allowed"),
        });
    }
    cases.push(put);
    cases
}

fn secret_of(endpoint: &str) -> &'static str {
    match endpoint {
        "github" => GITHUB,
        "genesys" => GENESYS,
        "stripe" => STRIPE,
        "standard" => STANDARD,
        _ => SLACK,
    }
}

fn run(envoy: &Envoy, c: &Case) -> Option<Response> {
    let refs = as_refs(&c.headers);
    match &c.body {
        Body::Plain(body) => {
            let mut req = request_head(c.method, &c.path, &refs, Some(body.len()));
            req.extend_from_slice(body);
            try_exchange(envoy.port, &[&req], Duration::ZERO)
        }
        Body::Chunked(pieces) | Body::ChunkedTrailers(pieces) | Body::Slow(pieces) => {
            let pieces: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
            let trailers: &[(&str, &str)] = match c.body {
                Body::ChunkedTrailers(_) => &[("x-trailer", "end")],
                _ => &[],
            };
            let writes = chunked_request(&c.path, &refs, &pieces, trailers);
            let writes: Vec<&[u8]> = writes.iter().map(Vec::as_slice).collect();
            let pause = if matches!(c.body, Body::Slow(_)) {
                Duration::from_millis(100)
            } else {
                Duration::ZERO
            };
            try_exchange(envoy.port, &writes, pause)
        }
        Body::Truncated(body) => {
            let mut req = request_head(c.method, &c.path, &refs, Some(body.len() + 100));
            req.extend_from_slice(body);
            truncated_exchange(envoy.port, &req)
        }
    }
}

/// Writes a request whose body never completes, closes the write side, reads what comes.
fn truncated_exchange(port: u16, req: &[u8]) -> Option<Response> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    stream.write_all(req).ok()?;
    stream.shutdown(std::net::Shutdown::Write).ok()?;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let status = String::from_utf8_lossy(&raw)
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(Response {
        status,
        headers: Vec::new(),
        body: Vec::new(),
    })
}

#[test]
fn hostile_requests_get_their_documented_answers() {
    if !e2e_ready() {
        return;
    }
    let upstream = Upstream::start();
    let config = config();
    let envoy = Envoy::start(&EnvoyOptions::new(&config, upstream.port));
    let cases = cases();
    assert!(cases.len() >= 100, "only {} cases", cases.len());

    let mut failures = Vec::new();
    let mut forwarded = 0;
    for c in &cases {
        let before = upstream.heads();
        let answer = run(&envoy, c);
        let got = answer.as_ref().map(|r| {
            let code = serde_json::from_slice::<serde_json::Value>(&r.body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string));
            (r.status, code)
        });
        let reached = upstream.heads() - before;
        let ok = match (&c.expect, &got) {
            (Answer(status, code), Some((s, Some(got_code)))) => {
                s == status && got_code == code && reached == 0
            }
            (Ok, Some((200, _))) => reached == 1,
            (Status(status), Some((s, _))) => s == status && reached == 0,
            (NoAnswerOrParserError, None) => reached == 0,
            (NoAnswerOrParserError, Some((s, _))) => (*s == 400 || *s == 408) && reached == 0,
            _ => false,
        };
        if matches!(c.expect, Ok) {
            forwarded += 1;
        }
        if !ok {
            failures.push(format!(
                "{}: expected {:?}, got {:?}, upstream saw {reached}",
                c.name, c.expect, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Nothing but the valid deliveries reached the upstream, and each arrived whole.
    assert_eq!(upstream.requests().len(), forwarded);
    for r in upstream.requests() {
        assert!(
            r.header("x-webhook-guard-secret-id").is_some(),
            "{} {} unverified",
            r.method,
            r.path
        );
    }
    envoy.assert_no_panic();

    // And Envoy still answers a valid delivery.
    let body = genesys_body("after", now_unix());
    let headers = sign("github", GITHUB, body.as_bytes(), "", "");
    let r = send(
        envoy.port,
        "POST",
        "/gh",
        &as_refs(&headers),
        body.as_bytes(),
    );
    assert_eq!(r.status, 200);
}
