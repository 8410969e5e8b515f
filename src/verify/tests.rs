use super::*;
use crate::config::Config;
use crate::request::headers::CapturedHeaders;

const GENESYS_BODY: &str = r#"{"id":"d7d58935af65a45e5234ac77de017a0a","channel":{"id":"e6b352de-ecd0-49c7-94de-7787418869bc","platform":"Open","type":"Private","to":{"id":"recipient-123","idType":"Opaque"},"from":{"nickname":"Support","id":"e6b352de-ecd0-49c7-94de-7787418869bc","idType":"Opaque"},"time":"2025-06-10T21:03:05.427Z","messageId":"d7d58935af65a45e5234ac77de017a0a"},"type":"Text","text":"Hi","originatingEntity":"Human","direction":"Outbound","conversationId":"5d0d331e-d2a8-4fb5-96f7-7021bef2a8ee"}"#;
const GENESYS_TIME: i64 = 1749589385;

/// One endpoint of `preset` with the given secrets and extra fields.
fn endpoint(preset: &str, secrets: &[(&str, &str)], extra: &str, dedupe: bool) -> Config {
    let secrets: Vec<String> = secrets
        .iter()
        .map(|(id, v)| format!(r#"{{"id":"{id}","value":"{v}"}}"#))
        .collect();
    let idem = if dedupe {
        r#""idempotency":{"cluster":"cache"},"#
    } else {
        ""
    };
    let json = format!(
        r#"{{{idem}"endpoints":[{{"name":"ep","path_prefix":"/h","preset":"{preset}","secrets":[{}]{extra}}}]}}"#,
        secrets.join(",")
    );
    match Config::parse(json.as_bytes(), &|_| None) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

fn run(c: &Config, headers: &[(&str, &str)], body: &str, now: i64) -> Result<Verified, Reject> {
    let ep = &c.endpoints[0];
    let captured = CapturedHeaders::capture(
        headers.iter().map(|(n, v)| (*n, v.as_bytes())),
        &ep.wanted_headers,
    );
    verify(ep, &captured, body.as_bytes(), now)
}

fn ok(secret_id: &str, secret_index: usize) -> Result<Verified, Reject> {
    Ok(Verified {
        secret_id: secret_id.to_string(),
        secret_index,
        idempotency_key: None,
    })
}

#[test]
fn github_documented_vector_and_tampered_twin() {
    let c = endpoint("github", &[("s", "It's a Secret to Everybody")], "", false);
    let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    let h = [("x-hub-signature-256", sig)];
    assert_eq!(run(&c, &h, "Hello, World!", 0), ok("s", 0));
    assert_eq!(
        run(&c, &h, "Hello, World?", 0),
        Err(Reject::InvalidSignature)
    );
    assert_eq!(
        run(&c, &[], "Hello, World!", 0),
        Err(Reject::MissingSignature)
    );
    let twice = [("x-hub-signature-256", sig), ("x-hub-signature-256", sig)];
    assert_eq!(
        run(&c, &twice, "Hello, World!", 0),
        Err(Reject::MalformedSignature)
    );
}

#[test]
fn slack_documented_vector() {
    let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    let c = endpoint(
        "slack",
        &[("s", "8f742231b10e8888abcd99yyyzzz85a5")],
        "",
        false,
    );
    let sig = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    let h = [
        ("x-slack-signature", sig),
        ("x-slack-request-timestamp", "1531420618"),
    ];
    assert_eq!(run(&c, &h, body, 1531420618 + 10), ok("s", 0));
    // The form body is not JSON and needs not be: Slack's preset reads none of it.
    let tampered = body.replace("roadrunner", "coyote");
    assert_eq!(
        run(&c, &h, &tampered, 1531420618),
        Err(Reject::InvalidSignature)
    );
    let other_ts = [
        ("x-slack-signature", sig),
        ("x-slack-request-timestamp", "1531420619"),
    ];
    assert_eq!(
        run(&c, &other_ts, body, 1531420618),
        Err(Reject::InvalidSignature)
    );
    assert_eq!(
        run(&c, &h, body, 1531420618 + 301),
        Err(Reject::StaleTimestamp)
    );
    assert_eq!(
        run(&c, &h, body, 1531420618 - 61),
        Err(Reject::StaleTimestamp)
    );
    assert_eq!(
        run(&c, &h[..1], body, 1531420618),
        Err(Reject::MissingTimestamp)
    );
}

#[test]
fn standard_webhooks_documented_vector() {
    let c = endpoint(
        "standard-webhooks",
        &[("s", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")],
        "",
        false,
    );
    let body = r#"{"test": 2432232314}"#;
    let sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    let h = [
        ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
        ("webhook-timestamp", "1614265330"),
        ("webhook-signature", sig),
    ];
    assert_eq!(run(&c, &h, body, 1614265330), ok("s", 0));
    // Svix names, several signatures (the sender's own rotation), future within 300 s.
    let multi = format!(
        "v1,{} {sig}",
        crate::scheme::signature::Encoding::Base64.encode(&[1; 32])
    );
    let svix = [
        ("svix-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
        ("svix-timestamp", "1614265330"),
        ("svix-signature", multi.as_str()),
    ];
    assert_eq!(run(&c, &svix, body, 1614265330 - 299), ok("s", 0));
    assert_eq!(
        run(&c, &svix, body, 1614265330 - 301),
        Err(Reject::StaleTimestamp)
    );
    let wrong_id = [
        ("webhook-id", "msg_other"),
        ("webhook-timestamp", "1614265330"),
        ("webhook-signature", sig),
    ];
    assert_eq!(
        run(&c, &wrong_id, body, 1614265330),
        Err(Reject::InvalidSignature)
    );
    let no_id = [
        ("webhook-timestamp", "1614265330"),
        ("webhook-signature", sig),
    ];
    assert_eq!(
        run(&c, &no_id, body, 1614265330),
        Err(Reject::MalformedSignature)
    );
}

#[test]
fn stripe_computed_vector_with_multiple_signatures() {
    let c = endpoint(
        "stripe",
        &[("s", "whsec_test_secret_0123456789")],
        "",
        false,
    );
    let body = r#"{"id":"evt_1","object":"event"}"#;
    let mac = "0f06c232d18bc676bfacfc5240a2cfe4559e99421aacd50637b2ba2c7262e338";
    let other = "00".repeat(32);
    let header = format!("t=1700000000,v1={other},v1={mac},v0={other}");
    let h = [("stripe-signature", header.as_str())];
    assert_eq!(run(&c, &h, body, 1700000100), ok("s", 0));
    assert_eq!(run(&c, &h, body, 1700000301), Err(Reject::StaleTimestamp));
    let moved = format!("t=1700000001,v1={mac}");
    let h2 = [("stripe-signature", moved.as_str())];
    assert_eq!(
        run(&c, &h2, body, 1700000001),
        Err(Reject::InvalidSignature)
    );
    let only_v0 = format!("t=1700000000,v0={mac}");
    let h3 = [("stripe-signature", only_v0.as_str())];
    assert_eq!(
        run(&c, &h3, body, 1700000000),
        Err(Reject::MalformedSignature)
    );
}

#[test]
fn shopify_computed_vector() {
    let c = endpoint("shopify", &[("s", "shopify-secret-0123456789")], "", false);
    let h = [(
        "x-shopify-hmac-sha256",
        "4gX7B9gRZ4X/8qnUfl9Zkz5ZU8zDvs2JSZMxGiia+8A=",
    )];
    assert_eq!(run(&c, &h, r#"{"id":820982911946154508}"#, 0), ok("s", 0));
    assert_eq!(
        run(&c, &h, r#"{"id":820982911946154509}"#, 0),
        Err(Reject::InvalidSignature)
    );
}

#[test]
fn genesys_open_messaging_vector_rotation_and_window() {
    let sig = "sha256=NRM8Jd9jnKt4njo0cd1mT01wMsJEAbB0C+M2gMh1Vnw=";
    let h = [("x-hub-signature-256", sig)];
    let c = endpoint(
        "genesys-open-messaging",
        &[
            ("new", "a-brand-new-secret-value"),
            ("old", "genesys-demo-secret-0123"),
        ],
        "",
        false,
    );
    assert_eq!(run(&c, &h, GENESYS_BODY, GENESYS_TIME + 600), ok("old", 1));
    assert_eq!(
        run(&c, &h, GENESYS_BODY, GENESYS_TIME + 601),
        Err(Reject::StaleTimestamp)
    );
    assert_eq!(
        run(&c, &h, GENESYS_BODY, GENESYS_TIME - 61),
        Err(Reject::StaleTimestamp)
    );
    let hexsig = [("x-hub-signature-256", "sha256=35133c25")];
    assert_eq!(
        run(&c, &hexsig, GENESYS_BODY, GENESYS_TIME),
        Err(Reject::MalformedSignature)
    );
    let retired = endpoint(
        "genesys-open-messaging",
        &[("new", "a-brand-new-secret-value")],
        "",
        false,
    );
    assert_eq!(
        run(&retired, &h, GENESYS_BODY, GENESYS_TIME),
        Err(Reject::InvalidSignature)
    );
}

#[test]
fn genesys_key_is_hashed_with_the_endpoint() {
    let h = [(
        "x-hub-signature-256",
        "sha256=NRM8Jd9jnKt4njo0cd1mT01wMsJEAbB0C+M2gMh1Vnw=",
    )];
    let c = endpoint(
        "genesys-open-messaging",
        &[("s", "genesys-demo-secret-0123")],
        "",
        true,
    );
    let v = run(&c, &h, GENESYS_BODY, GENESYS_TIME).unwrap();
    let expected = hash_key("ep", b"d7d58935af65a45e5234ac77de017a0a");
    assert_eq!(v.idempotency_key, Some(expected));
}

#[test]
fn tutorial_scheme() {
    let body = r#"{"event":"conversation.end","conversationId":"5d0d331e-d2a8-4fb5-96f7-7021bef2a8ee","timestamp":"2025-06-10T21:03:05Z","platformVersion":"v2","data":{}}"#;
    let sig = "19d8309845a6b63f382cfe06dd5809a07d99287d547f353a8590f41850a0cb2f";
    let c = endpoint(
        "genesys-signature-header",
        &[("s", "tutorial-secret-0123456789")],
        "",
        true,
    );
    let v = run(&c, &[("x-genesys-signature", sig)], body, GENESYS_TIME).unwrap();
    // conversationId, a separator byte no UTF-8 text holds, timestamp.
    let key = b"5d0d331e-d2a8-4fb5-96f7-7021bef2a8ee\xfe2025-06-10T21:03:05Z";
    assert_eq!(v.idempotency_key, Some(hash_key("ep", key)));
    assert_eq!(
        run(
            &c,
            &[("x-genesys-signature", sig)],
            body,
            GENESYS_TIME + 301
        ),
        Err(Reject::StaleTimestamp)
    );
}

#[test]
fn signed_but_broken_bodies() {
    let key = b"genesys-demo-secret-0123";
    let c = endpoint(
        "genesys-open-messaging",
        &[("s", "genesys-demo-secret-0123")],
        "",
        true,
    );
    let sign = |body: &str| {
        let scheme = &c.endpoints[0].scheme;
        crate::sign::sign(scheme, key, body.as_bytes(), "", "")
    };
    let check = |body: &str| {
        let h = sign(body);
        let h: Vec<(&str, &str)> = h.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        run(&c, &h, body, GENESYS_TIME)
    };
    assert_eq!(check("not json"), Err(Reject::InvalidJson));
    assert_eq!(check(r#"{"id":"x"}"#), Err(Reject::MissingTimestamp));
    assert_eq!(
        check(r#"{"id":"x","channel":{"time":"yesterday"}}"#),
        Err(Reject::MissingTimestamp)
    );
    let no_id = GENESYS_BODY.replace(r#""id":"d7d58935af65a45e5234ac77de017a0a","#, "");
    assert_eq!(check(&no_id), Err(Reject::MissingIdempotencyKey));
    assert!(check(GENESYS_BODY).is_ok());
}

#[test]
fn custom_scheme_with_header_timestamp_in_ms() {
    let extra = r#","signature_header":"X-Sig","signature_prefix":"hmac ","encoding":"base64","signed_content":"{timestamp}|{header:x-tenant}|{body}","timestamp":"header:x-ts","timestamp_format":"unix_ms","secret_encoding":"base64""#;
    let c = endpoint("custom", &[("s", "MDEyMzQ1Njc4OWFiY2RlZg==")], extra, false);
    let scheme = &c.endpoints[0].scheme;
    let mut h = crate::sign::sign(scheme, b"0123456789abcdef", b"{}", "1700000000123", "acme");
    assert!(h
        .iter()
        .any(|(n, v)| n == "x-sig" && v.starts_with("hmac ")));
    let pairs: Vec<(&str, &str)> = h.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    assert_eq!(run(&c, &pairs, "{}", 1700000000), ok("s", 0));
    h.retain(|(n, _)| n != "x-tenant");
    let pairs: Vec<(&str, &str)> = h.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    assert_eq!(
        run(&c, &pairs, "{}", 1700000000),
        Err(Reject::MalformedSignature)
    );
}

// ---- every preset, table-driven: signed by sign.rs (the same scheme definitions),
// verified here; the documented vectors of the senders that publish one follow.

const NOW: i64 = 1_700_000_000;
const PATH: &str = "/h/hooks?tenant=1";

/// The right and the wrong key of a preset, as configured (JSON secret entries) and as
/// the sender signs with them.
fn keys(
    name: &str,
) -> (
    String,
    String,
    crate::sign::SigningKey,
    crate::sign::SigningKey,
) {
    let scheme = crate::scheme::presets::preset(name).unwrap();
    let shared = |text: &str| crate::sign::SigningKey::from_text(&scheme, text, false).unwrap();
    let (right, wrong) = match name {
        "standard-webhooks" => (
            "whsec_cmlnaHQtc2VjcmV0LTAxMjM0NTY3ODk=",
            "whsec_d3Jvbmctc2VjcmV0LTAxMjM0NTY3ODk=",
        ),
        "discord" => (&*"02".repeat(32).leak(), &*"01".repeat(32).leak()),
        "sendgrid" => (&*"05".repeat(32).leak(), &*"06".repeat(32).leak()),
        _ => ("right-secret-0123456789", "wrong-secret-0123456789"),
    };
    let (r, w) = (shared(right), shared(wrong));
    let entry =
        |id: &str, text: &str, key: &crate::sign::SigningKey| match key.public_key_text(&scheme) {
            Some(public) => format!(r#"{{"id":"{id}","public_key":"{public}"}}"#),
            None => format!(r#"{{"id":"{id}","value":"{text}"}}"#),
        };
    (entry("right", right, &r), entry("wrong", wrong, &w), r, w)
}

fn preset_config(name: &str, secrets: &[&str]) -> Config {
    let extra = match name {
        "custom" => r#","signature_header":"x-sig""#,
        "square" | "hubspot" | "twilio" => r#","public_url":"https://hooks.example.com""#,
        _ => "",
    };
    let json = format!(
        r#"{{"idempotency":{{"cluster":"c"}},"endpoints":[{{"name":"ep","path_prefix":"/h","preset":"{name}","secrets":[{}]{extra}}}]}}"#,
        secrets.join(",")
    );
    Config::parse(json.as_bytes(), &|_| None).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Signs the preset's sample delivery dated `at`: (headers, body).
fn signed(
    c: &Config,
    key: &crate::sign::SigningKey,
    name: &str,
    at: i64,
) -> (Vec<(String, String)>, Vec<u8>) {
    let (body, ts) = crate::sign::sample(name, "evt_1", at);
    let m = crate::sign::Message {
        body: body.as_bytes(),
        timestamp: &ts,
        id: "msg_1",
        method: "POST",
        path: PATH,
    };
    let s = crate::sign::sign_message(&c.endpoints[0].scheme, key, &m).unwrap();
    (s.headers, s.body)
}

fn deliver(c: &Config, headers: &[(String, String)], body: &[u8]) -> Result<Verified, Reject> {
    let mut all: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    all.push((":method", b"POST"));
    all.push((":path", PATH.as_bytes()));
    let ep = &c.endpoints[0];
    let captured = CapturedHeaders::capture(all, &ep.wanted_headers);
    verify(ep, &captured, body, NOW)
}

fn flip_last_alnum(body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    if let Some(x) = b.iter_mut().rev().find(|x| x.is_ascii_alphanumeric()) {
        *x ^= 0x01;
    }
    b
}

#[test]
fn every_preset_signed_tampered_wrong_key_rotated_missing_and_stale() {
    for name in crate::scheme::presets::PRESET_NAMES {
        let (right, wrong, rk, wk) = keys(name);
        let c = preset_config(name, &[&wrong, &right]);
        let scheme = &c.endpoints[0].scheme;
        let (headers, body) = signed(&c, &rk, name, NOW);
        // Rotation: the second key verifies, and is the one reported.
        let v = deliver(&c, &headers, &body).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(
            (v.secret_id.as_str(), v.secret_index),
            ("right", 1),
            "{name}"
        );
        assert_eq!(
            v.idempotency_key.is_some(),
            scheme.default_key.is_some(),
            "{name}: the default key"
        );

        // Signed with the wrong key only.
        let only_right = preset_config(name, &[&right]);
        let (wh, wb) = signed(&c, &wk, name, NOW);
        assert_eq!(
            deliver(&only_right, &wh, &wb),
            Err(Reject::InvalidSignature),
            "{name}"
        );

        // One byte changed after signing (a token signs nothing; Mailgun signs its token).
        if scheme.algorithm != crate::scheme::signature::Algorithm::Token && name != "mailgun" {
            assert_eq!(
                deliver(&c, &headers, &flip_last_alnum(&body)),
                Err(Reject::InvalidSignature),
                "{name}"
            );
        }
        // No signature at all.
        let expected = if name == "mailgun" {
            Reject::MalformedSignature
        } else {
            Reject::MissingSignature
        };
        let body_unsigned = if name == "mailgun" {
            crate::sign::sample(name, "evt_1", NOW).0.into_bytes()
        } else {
            body.clone()
        };
        let signature_names: Vec<String> = match &scheme.signature {
            SignatureSource::Headers(list) => list.iter().flat_map(|h| h.names.clone()).collect(),
            SignatureSource::Body(_) => Vec::new(),
        };
        let no_sig: Vec<(String, String)> = headers
            .iter()
            .filter(|(n, _)| !signature_names.contains(n))
            .cloned()
            .collect();
        assert_eq!(
            deliver(&c, &no_sig, &body_unsigned),
            Err(expected),
            "{name}"
        );

        // Dated a day ago: stale, wherever the scheme dates its deliveries.
        if scheme.timestamp != TimestampSource::None {
            let (oh, ob) = signed(&c, &rk, name, NOW - 86_400);
            assert_eq!(deliver(&c, &oh, &ob), Err(Reject::StaleTimestamp), "{name}");
        }
    }
}

#[test]
fn zendesk_documented_vectors() {
    // developer.zendesk.com publishes one vector, on its Event Connectors page, whose
    // signature is over body + timestamp, while the Webhooks page (what the preset
    // follows) says timestamp + body. The preset refuses that vector; the same preset
    // with signed_content overridden verifies it: both orders are one field apart.
    let secret = [("s", "HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA=")];
    let h = [
        (
            "x-zendesk-webhook-signature",
            "tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw=",
        ),
        (
            "x-zendesk-webhook-signature-timestamp",
            "2021-07-25T10:00:00Z",
        ),
    ];
    let at = 1_627_207_200;
    let body = r#"{"say": "hello"}"#;
    let webhooks = endpoint("zendesk", &secret, "", false);
    assert_eq!(run(&webhooks, &h, body, at), Err(Reject::InvalidSignature));
    let connectors = endpoint(
        "zendesk",
        &secret,
        r#","signed_content":"{body}{timestamp}""#,
        false,
    );
    assert_eq!(run(&connectors, &h, body, at), ok("s", 0));
    assert_eq!(
        run(&connectors, &h, r#"{"say": "hellO"}"#, at),
        Err(Reject::InvalidSignature)
    );
    assert_eq!(
        run(&connectors, &h, body, at + 301),
        Err(Reject::StaleTimestamp)
    );
    // The Webhooks page's order, computed: timestamp then body.
    let mac =
        crate::scheme::signature::Encoding::Base64.encode(&crate::scheme::signature::hmac_sha256(
            secret[0].1.as_bytes(),
            &[b"2021-07-25T10:00:00Z", body.as_bytes()],
        ));
    let h2 = [
        ("x-zendesk-webhook-signature", mac.as_str()),
        (
            "x-zendesk-webhook-signature-timestamp",
            "2021-07-25T10:00:00Z",
        ),
    ];
    assert_eq!(run(&webhooks, &h2, body, at), ok("s", 0));
}

#[test]
fn discord_ed25519_rfc8032_vector() {
    // RFC 8032 section 7.1, TEST 2: message 0x72 ("r"). Signed as Discord does,
    // timestamp + body, with an empty timestamp: the signature holds over "" + "r", and
    // the delivery is refused for its empty timestamp, which is checked first.
    let public = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
    let sig = "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";
    let json = format!(
        r#"{{"endpoints":[{{"name":"ep","path_prefix":"/h","preset":"discord","secrets":[{{"id":"app","public_key":"{public}"}}]}}]}}"#
    );
    let c = Config::parse(json.as_bytes(), &|_| None).unwrap();
    let h = [("x-signature-ed25519", sig), ("x-signature-timestamp", "")];
    assert_eq!(run(&c, &h, "r", NOW), Err(Reject::MissingTimestamp));
    assert_eq!(run(&c, &h, "s", NOW), Err(Reject::MissingTimestamp));
    let upper = sig.to_uppercase();
    let h2 = [
        ("x-signature-ed25519", upper.as_str()),
        ("x-signature-timestamp", ""),
    ];
    assert_eq!(run(&c, &h2, "r", NOW), Err(Reject::MissingTimestamp));
    // The vector itself, through the same header parsing and key check.
    let ep = &c.endpoints[0];
    for header in [sig, upper.as_str()] {
        let captured = CapturedHeaders::capture(
            [("x-signature-ed25519", header.as_bytes())],
            &ep.wanted_headers,
        );
        let offered = offered_signatures(&ep.scheme, &captured, b"").unwrap();
        let check = |m: &[u8]| matching_secret(&ep.secrets, &[b"", m], &offered.sigs);
        assert_eq!(check(b"r"), Some(0));
        assert_eq!(check(b"s"), None);
    }
    // A signature of the wrong length or alphabet is malformed, not a panic.
    for bad in [&sig[..126], "zz", &format!("{sig}00")] {
        let h3 = [("x-signature-ed25519", bad), ("x-signature-timestamp", "1")];
        assert_eq!(
            run(&c, &h3, "r", NOW),
            Err(Reject::MalformedSignature),
            "{bad}"
        );
    }
}

#[test]
fn standard_webhooks_v1a_with_whpk_keys_beside_v1() {
    let scheme = crate::scheme::presets::preset("standard-webhooks").unwrap();
    let ed = crate::sign::SigningKey::from_text(&scheme, &"03".repeat(32), true).unwrap();
    let whpk = ed.public_key_text(&scheme).unwrap();
    assert!(whpk.starts_with("whpk_"));
    let hmac = r#"{"id":"hmac","value":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}"#;
    let public = format!(r#"{{"id":"ed","public_key":"{whpk}"}}"#);
    let both = preset_config("standard-webhooks", &[hmac, &public]);
    let (h, b) = signed(&both, &ed, "standard-webhooks", NOW);
    assert!(h.iter().any(|(_, v)| v.starts_with("v1a,")));
    let v = deliver(&both, &h, &b).unwrap();
    assert_eq!(v.secret_id, "ed");
    // A v1a signature is no v1 one: an HMAC-only endpoint refuses it...
    let hmac_only = preset_config("standard-webhooks", &[hmac]);
    assert_eq!(deliver(&hmac_only, &h, &b), Err(Reject::InvalidSignature));
    // ... and a v1 signature is nothing to an Ed25519-only endpoint.
    let ed_only = preset_config("standard-webhooks", &[&public]);
    let shared = crate::sign::SigningKey::from_text(
        &scheme,
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        false,
    )
    .unwrap();
    let (h1, b1) = signed(&ed_only, &shared, "standard-webhooks", NOW);
    assert_eq!(deliver(&ed_only, &h1, &b1), Err(Reject::InvalidSignature));
    // Both in one header (a sender mid-rotation): the endpoint with both keys accepts.
    let sig_v1 = h1
        .iter()
        .find(|(n, _)| n == "webhook-signature")
        .unwrap()
        .1
        .clone();
    let mut mixed = h.clone();
    for (n, v) in &mut mixed {
        if n == "webhook-signature" {
            *v = format!("{sig_v1} {v}");
        }
    }
    assert_eq!(deliver(&both, &mixed, &b).unwrap().secret_id, "hmac");
}

#[test]
fn sendgrid_accepts_high_s_and_pem_keys_and_refuses_garbage() {
    use p256::ecdsa::signature::DigestSigner;
    use sha2::Digest;
    let scalar = "05".repeat(32);
    let scheme = crate::scheme::presets::preset("sendgrid").unwrap();
    let key = crate::sign::SigningKey::from_text(&scheme, &scalar, false).unwrap();
    let der = key.public_key_text(&scheme).unwrap();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\\n{}\\n{}\\n-----END PUBLIC KEY-----",
        &der[..64],
        &der[64..]
    );
    let c = preset_config(
        "sendgrid",
        &[&format!(r#"{{"id":"pem","public_key":"{pem}"}}"#)],
    );
    let (h, b) = signed(&c, &key, "sendgrid", NOW);
    assert_eq!(deliver(&c, &h, &b).unwrap().secret_id, "pem");
    // The same signature with s replaced by n - s (what Java and Go signers may send).
    let crate::sign::SigningKey::P256(sk) = &key else {
        unreachable!()
    };
    let ts = NOW.to_string();
    let mut d = sha2::Sha256::new();
    d.update(ts.as_bytes());
    d.update(&b);
    let sig: p256::ecdsa::Signature = sk.sign_digest(d);
    let (r, s) = sig.split_scalars();
    let high = p256::ecdsa::Signature::from_scalars(r, -*s).unwrap();
    assert!(high.normalize_s().is_some(), "the twin is high-S");
    let b64 = crate::scheme::signature::Encoding::Base64.encode(high.to_der().as_bytes());
    let hh = [
        ("x-twilio-email-event-webhook-signature".to_string(), b64),
        (
            "x-twilio-email-event-webhook-timestamp".to_string(),
            ts.clone(),
        ),
    ];
    assert_eq!(deliver(&c, &hh, &b).unwrap().secret_id, "pem");
    // Not DER, or DER of another length: malformed or invalid, never a panic.
    for bad in ["MEQCIA==", "AAAAAAAAAAA=", &"A".repeat(100)] {
        let hb = [
            (
                "x-twilio-email-event-webhook-signature".to_string(),
                bad.to_string(),
            ),
            (
                "x-twilio-email-event-webhook-timestamp".to_string(),
                ts.clone(),
            ),
        ];
        assert!(matches!(
            deliver(&c, &hb, &b),
            Err(Reject::MalformedSignature | Reject::InvalidSignature)
        ));
    }
}

#[test]
fn docusign_reads_every_signature_header() {
    let c = endpoint(
        "docusign",
        &[
            ("old", "docusign-old-key-0123"),
            ("new", "docusign-new-key-0123"),
        ],
        "",
        false,
    );
    let body = r#"{"event":"envelope-completed"}"#;
    let mac = |k: &[u8]| {
        crate::scheme::signature::Encoding::Base64.encode(&crate::scheme::signature::hmac_sha256(
            k,
            &[body.as_bytes()],
        ))
    };
    // DocuSign signs with each of its keys, one header each; ours is the second.
    let (other, ours) = (mac(b"unrelated-key-0123456"), mac(b"docusign-new-key-0123"));
    let h = [
        ("x-docusign-signature-1", other.as_str()),
        ("x-docusign-signature-2", ours.as_str()),
    ];
    assert_eq!(run(&c, &h, body, NOW), ok("new", 1));
    let h = [("x-docusign-signature-8", ours.as_str())];
    assert_eq!(run(&c, &h, body, NOW), ok("new", 1));
    // One of them unreadable: the delivery is malformed, whichever the other says.
    let h = [
        ("x-docusign-signature-1", "%%%"),
        ("x-docusign-signature-2", ours.as_str()),
    ];
    assert_eq!(run(&c, &h, body, NOW), Err(Reject::MalformedSignature));
    let h = [("x-docusign-signature-9", ours.as_str())];
    assert_eq!(run(&c, &h, body, NOW), Err(Reject::MissingSignature));
}

#[test]
fn twilio_form_and_json_bodies() {
    let (right, _, rk, _) = keys("twilio");
    let c = preset_config("twilio", &[&right]);
    let scheme = &c.endpoints[0].scheme;
    // A JSON body: the URL carries bodySHA256, the signature covers the URL only.
    let body = br#"{"CallSid":"CA1"}"#;
    use sha2::Digest;
    let path = format!(
        "/h/hooks?bodySHA256={}",
        hex::encode(sha2::Sha256::digest(body))
    );
    let m = crate::sign::Message {
        body,
        timestamp: "",
        id: "",
        method: "POST",
        path: &path,
    };
    let s = crate::sign::sign_message(scheme, &rk, &m).unwrap();
    let captured = |p: &str| {
        let mut all: Vec<(&str, &[u8])> = s
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        all.push((":path", p.as_bytes()));
        CapturedHeaders::capture(all, &c.endpoints[0].wanted_headers)
    };
    let ep = &c.endpoints[0];
    assert!(verify(ep, &captured(&path), body, NOW).is_ok());
    assert_eq!(
        verify(ep, &captured(&path), br#"{"CallSid":"CA2"}"#, NOW),
        Err(Reject::InvalidSignature)
    );
    // The same signature on another URL, or without its path: refused (without its
    // bodySHA256 the JSON body is read as a form, and is none).
    assert_eq!(
        verify(ep, &captured("/h/other"), body, NOW),
        Err(Reject::MalformedSignature)
    );
    // Form parameters in another order are the same delivery; another value is not.
    let form = b"b=2&a=1";
    let m = crate::sign::Message {
        body: form,
        timestamp: "",
        id: "",
        method: "POST",
        path: "/h",
    };
    let s = crate::sign::sign_message(scheme, &rk, &m).unwrap();
    let mut all: Vec<(&str, &[u8])> = s
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    all.push((":path", b"/h"));
    let cap = CapturedHeaders::capture(all, &ep.wanted_headers);
    assert!(verify(ep, &cap, b"a=1&b=2", NOW).is_ok());
    assert_eq!(
        verify(ep, &cap, b"a=1&b=3", NOW),
        Err(Reject::InvalidSignature)
    );
}

#[test]
fn mailgun_signs_its_token_not_the_event() {
    let (right, _, rk, _) = keys("mailgun");
    let c = preset_config("mailgun", &[&right]);
    let (h, body) = signed(&c, &rk, "mailgun", NOW);
    let text = String::from_utf8(body).unwrap();
    assert!(deliver(&c, &h, text.as_bytes()).is_ok());
    // What Mailgun does not sign: the event. docs/configuration.md says so; the token dedupes it.
    let other_event = text.replace("delivered", "failed");
    let a = deliver(&c, &h, text.as_bytes()).unwrap();
    let b = deliver(&c, &h, other_event.as_bytes()).unwrap();
    assert_eq!(
        a.idempotency_key, b.idempotency_key,
        "one token, one delivery"
    );
    // What it signs: the token and the timestamp.
    let other_token = text.replace("evt_1-0123", "evt_2-0123");
    assert_eq!(
        deliver(&c, &h, other_token.as_bytes()),
        Err(Reject::InvalidSignature)
    );
    // Two "signature" objects: which would the receiver read? Refused before any MAC.
    let twice = text.replacen('{', r#"{"signature":{"token":"x"},"#, 1);
    assert_eq!(deliver(&c, &h, twice.as_bytes()), Err(Reject::InvalidJson));
    assert_eq!(deliver(&c, &h, b"not json"), Err(Reject::InvalidJson));
    let number = text.replace(r#""signature":"#, r#""signature":5,"x":"#);
    assert!(deliver(&c, &h, number.as_bytes()).is_err());
}

#[test]
fn twitch_keys_on_its_signed_message_id() {
    let (right, _, rk, _) = keys("twitch");
    let c = preset_config("twitch", &[&right]);
    let (h, b) = signed(&c, &rk, "twitch", NOW);
    let v = deliver(&c, &h, &b).unwrap();
    assert_eq!(v.idempotency_key, Some(hash_key("ep", b"msg_1")));
    let mut other = h.clone();
    for (n, v) in &mut other {
        if n == "twitch-eventsub-message-id" {
            *v = "msg_2".into();
        }
    }
    assert_eq!(deliver(&c, &other, &b), Err(Reject::InvalidSignature));
}

#[test]
fn tokens_are_exact_and_headers_configurable() {
    let c = endpoint("gitlab", &[("t", "gitlab-token-0123456789")], "", false);
    for (token, expected) in [
        ("gitlab-token-0123456789", ok("t", 0)),
        ("  gitlab-token-0123456789 ", ok("t", 0)),
        ("gitlab-token-012345678", Err(Reject::InvalidSignature)),
        ("GITLAB-TOKEN-0123456789", Err(Reject::InvalidSignature)),
        (
            "gitlab-token-0123456789\u{0}",
            Err(Reject::InvalidSignature),
        ),
    ] {
        assert_eq!(
            run(&c, &[("x-gitlab-token", token)], "{}", NOW),
            expected,
            "{token:?}"
        );
    }
    let okta = endpoint(
        "okta",
        &[("t", "okta-shared-secret-0123")],
        r#","signature_header":"X-Okta-Secret""#,
        false,
    );
    assert_eq!(
        run(
            &okta,
            &[("x-okta-secret", "okta-shared-secret-0123")],
            "{}",
            NOW
        ),
        ok("t", 0)
    );
    assert_eq!(
        run(
            &okta,
            &[("authorization", "okta-shared-secret-0123")],
            "{}",
            NOW
        ),
        Err(Reject::MissingSignature)
    );
}

#[test]
fn hubspot_signs_method_decoded_url_body_and_ms_timestamp() {
    let c = endpoint(
        "hubspot",
        &[("s", "hubspot-client-secret-01")],
        r#","public_url":"https://hooks.example.com""#,
        false,
    );
    let body = r#"[{"eventId":1}]"#;
    let ts = (NOW * 1000).to_string();
    let uri = "https://hooks.example.com/h?x=a:b";
    let text = format!("POST{uri}{body}{ts}");
    let mac = crate::scheme::signature::Encoding::Base64.encode(
        &crate::scheme::signature::hmac_sha256(b"hubspot-client-secret-01", &[text.as_bytes()]),
    );
    let h = [
        ("x-hubspot-signature-v3", mac.as_str()),
        ("x-hubspot-request-timestamp", ts.as_str()),
        (":method", "POST"),
        (":path", "/h?x=a%3Ab"),
    ];
    assert_eq!(run(&c, &h, body, NOW), ok("s", 0));
    let mut get = h;
    get[2] = (":method", "GET");
    assert_eq!(run(&c, &get, body, NOW), Err(Reject::InvalidSignature));
    assert_eq!(run(&c, &h, body, NOW + 301), Err(Reject::StaleTimestamp));
}

#[test]
fn more_signatures_than_a_rotation_needs_are_refused() {
    let c = endpoint("pagerduty", &[("s", "pagerduty-secret-0123")], "", false);
    let mac = hex::encode([1u8; 32]);
    let nine = vec![format!("v1={mac}"); 9].join(",");
    assert_eq!(
        run(&c, &[("x-pagerduty-signature", &nine)], "{}", NOW),
        Err(Reject::MalformedSignature)
    );
    let huge = "v1=".repeat(5000);
    assert_eq!(
        run(&c, &[("x-pagerduty-signature", &huge)], "{}", NOW),
        Err(Reject::MalformedSignature)
    );
    assert_eq!(
        run(&c, &[("x-pagerduty-signature", " ")], "{}", NOW),
        Err(Reject::MissingSignature)
    );
}

#[test]
fn readme_custom_example() {
    // The guide to a custom configuration (docs/configuration.md): its example block, as
    // written.
    let reference = include_str!("../../docs/configuration.md");
    let block = reference
        .split("<!-- custom-example -->\n")
        .nth(1)
        .and_then(|rest| rest.split_once("```json\n"))
        .and_then(|(_, rest)| rest.split("```\n<!-- /custom-example -->").next())
        .expect("docs/configuration.md's custom example");
    let json = format!(r#"{{"idempotency":{{"cluster":"c"}},"endpoints":[{block}]}}"#);
    let env = |k: &str| {
        (k == "ACME_WEBHOOK_SECRET").then(|| "YWNtZS1zZWNyZXQta2V5LTAxMjM0NTY3".to_string())
    };
    let c = Config::parse(json.as_bytes(), &env).unwrap_or_else(|e| panic!("{e}"));
    // Signed here by hand, not through sign.rs: HMAC-SHA512 of "{t}.{body}".
    use hmac::{Hmac, Mac};
    let body = r#"{"id":"evt_42","type":"payment.settled"}"#;
    let mut mac = Hmac::<sha2::Sha512>::new_from_slice(b"acme-secret-key-01234567").unwrap();
    mac.update(format!("{NOW}.{body}").as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    let other = hex::encode([0u8; 64]);
    let header = format!("t={NOW};sha512={other};sha512={sig}");
    let h = [("x-acme-signature", header.as_str())];
    let v = run(&c, &h, body, NOW).unwrap();
    assert_eq!(v.secret_id, "current");
    assert_eq!(v.idempotency_key, Some(hash_key("acme", b"evt_42")));
    assert_eq!(
        run(&c, &h, &body.replace("42", "43"), NOW),
        Err(Reject::InvalidSignature)
    );
    assert_eq!(run(&c, &h, body, NOW + 301), Err(Reject::StaleTimestamp));
    let no_t = format!("sha512={sig}");
    assert_eq!(
        run(&c, &[("x-acme-signature", &no_t)], body, NOW),
        Err(Reject::MalformedSignature)
    );
}

#[test]
fn a_signed_body_field_is_read_from_a_body_without_repeated_keys() {
    // A custom scheme signing a field beside the body: {"a":"x","a":"y"} would let the
    // filter sign one "a" and the receiver read the other.
    let extra = r#","signature_header":"x-sig","signed_content":"{json:/a}.{body}""#;
    let c = endpoint("custom", &[("s", "custom-secret-0123456789")], extra, false);
    let body = r#"{"a":"x","a":"y"}"#;
    let mac = hex::encode(crate::scheme::signature::hmac_sha256(
        b"custom-secret-0123456789",
        &[b"x.", body.as_bytes()],
    ));
    assert_eq!(
        run(&c, &[("x-sig", &mac)], body, NOW),
        Err(Reject::InvalidJson)
    );
    let once = r#"{"a":"x"}"#;
    let mac = hex::encode(crate::scheme::signature::hmac_sha256(
        b"custom-secret-0123456789",
        &[b"x.", once.as_bytes()],
    ));
    assert_eq!(run(&c, &[("x-sig", &mac)], once, NOW), ok("s", 0));
}

/// `n` distinct public keys of a public-key preset: their configuration entries (public
/// key text) and the private keys that sign for them.
fn public_keys(name: &str, n: u8) -> (Vec<String>, Vec<crate::sign::SigningKey>) {
    let scheme = crate::scheme::presets::preset(name).unwrap();
    (1..=n)
        .map(|i| {
            let seed = format!("{:02x}", 0x10 + i).repeat(32);
            let key = crate::sign::SigningKey::from_text(&scheme, &seed, true).unwrap();
            let public = key.public_key_text(&scheme).unwrap();
            (format!(r#"{{"id":"k{i}","public_key":"{public}"}}"#), key)
        })
        .unzip()
}

fn parse_error(name: &str, secrets: &[String]) -> crate::config::ConfigError {
    let json = format!(
        r#"{{"endpoints":[{{"name":"ep","path_prefix":"/h","preset":"{name}","secrets":[{}]}}]}}"#,
        secrets.join(",")
    );
    match Config::parse(json.as_bytes(), &|_| None) {
        Ok(_) => panic!("{name}: {} keys accepted", secrets.len()),
        Err(e) => e,
    }
}

/// Six shared Standard Webhooks secrets (`whsec_`), beside the public keys.
fn whsec_entries(n: usize) -> Vec<String> {
    use base64::Engine;
    (0..n)
        .map(|i| {
            let key = base64::engine::general_purpose::STANDARD.encode([b'a' + i as u8; 24]);
            format!(r#"{{"id":"s{i}","value":"whsec_{key}"}}"#)
        })
        .collect()
}

#[test]
fn keys_per_endpoint_are_capped_at_configuration_naming_the_field() {
    use crate::scheme::signature::{
        MAX_PUBLIC_KEYS, MAX_PUBLIC_KEY_CHECKS, MAX_PUBLIC_KEY_SIGNATURES,
    };
    const { assert!(MAX_PUBLIC_KEYS * MAX_PUBLIC_KEY_SIGNATURES <= MAX_PUBLIC_KEY_CHECKS) };
    const { assert!(MAX_PUBLIC_KEYS >= 2, "a rotation needs two keys") };
    for name in ["discord", "sendgrid", "standard-webhooks"] {
        let (entries, _) = public_keys(name, MAX_PUBLIC_KEYS as u8 + 1);
        let e = parse_error(name, &entries);
        assert_eq!(e.field, "endpoints[0] (ep).secrets", "{name}");
        let text = e.to_string();
        assert!(text.contains("at most 2"), "{name}: {text}");
        for entry in &entries {
            let public = entry.split('"').nth(7).unwrap();
            assert!(!text.contains(public), "{name}: the error quotes a key");
        }
        // As many as the cap: accepted.
        preset_config(
            name,
            &entries[..MAX_PUBLIC_KEYS]
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
    }
    // The public keys are capped, not the endpoint's shared secrets beside them: two
    // whpk_ and six whsec_ fill the eight slots of a Standard Webhooks endpoint.
    let (mut entries, _) = public_keys("standard-webhooks", 2);
    entries.extend(whsec_entries(6));
    let refs: Vec<&str> = entries.iter().map(String::as_str).collect();
    assert_eq!(
        preset_config("standard-webhooks", &refs).endpoints[0]
            .secrets
            .len(),
        8
    );
    // Nine secrets of any kind: refused, naming the field, quoting none.
    let nine: Vec<String> = (0..9)
        .map(|i| format!(r#"{{"id":"s{i}","value":"shared-secret-number-{i}"}}"#))
        .collect();
    let e = parse_error("github", &nine);
    assert_eq!(e.field, "endpoints[0] (ep).secrets");
    assert!(!e.to_string().contains("shared-secret-number"));
}

/// A Standard Webhooks endpoint with the most keys it may have (two public keys, six
/// shared secrets), and a forged delivery at `ts` offering `v1a` signatures and a `v1`.
fn forged_standard_webhooks(ts: i64, v1a: usize) -> (Config, Vec<(String, String)>) {
    use base64::Engine;
    let (mut entries, _) = public_keys("standard-webhooks", 2);
    entries.extend(whsec_entries(6));
    let refs: Vec<&str> = entries.iter().map(String::as_str).collect();
    let c = preset_config("standard-webhooks", &refs);
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mut sigs: Vec<String> = (0..v1a)
        .map(|i| format!("v1a,{}", b64(&[i as u8 + 1; 64])))
        .collect();
    sigs.push(format!("v1,{}", b64(&[9; 32])));
    let h = vec![
        ("webhook-id".to_string(), "msg_1".to_string()),
        ("webhook-timestamp".to_string(), ts.to_string()),
        ("webhook-signature".to_string(), sigs.join(" ")),
    ];
    (c, h)
}

#[test]
fn a_stale_forgery_is_refused_before_any_key_is_tried() {
    let body = br#"{"type":"x"}"#;
    // Fresh: every pair is tried, and none matches.
    let (c, fresh) = forged_standard_webhooks(NOW, 2);
    assert_eq!(deliver(&c, &fresh, body), Err(Reject::InvalidSignature));
    // Stale (or too far ahead): refused for its timestamp, which is read before any key
    // is tried (the answer was invalid_signature when the keys came first).
    for ts in [NOW - 301, NOW + 301] {
        let (c, stale) = forged_standard_webhooks(ts, 2);
        assert_eq!(deliver(&c, &stale, body), Err(Reject::StaleTimestamp));
    }
    // Likewise an unreadable timestamp.
    let (c, mut bad) = forged_standard_webhooks(NOW, 2);
    bad[1].1 = "yesterday".into();
    assert_eq!(deliver(&c, &bad, body), Err(Reject::MissingTimestamp));
    // A genuine delivery of a while ago (captured, replayed) is stale too.
    let (right, _, rk, _) = keys("standard-webhooks");
    let c = preset_config("standard-webhooks", &[&right]);
    let (h, b) = signed(&c, &rk, "standard-webhooks", NOW - 3600);
    assert_eq!(deliver(&c, &h, &b), Err(Reject::StaleTimestamp));
}

#[test]
fn public_key_pairs_per_delivery_are_capped() {
    use crate::keys::ToVerify;
    use crate::scheme::signature::{MAX_PUBLIC_KEY_CHECKS, MAX_PUBLIC_KEY_SIGNATURES};
    let body = br#"{"type":"x"}"#;
    // More v1a signatures than the cap: malformed, before any key is tried.
    let (c, h) = forged_standard_webhooks(NOW, MAX_PUBLIC_KEY_SIGNATURES + 1);
    assert_eq!(deliver(&c, &h, body), Err(Reject::MalformedSignature));
    // At the cap, against the most public keys: every pair is tried once, no more.
    let (c, h) = forged_standard_webhooks(NOW, MAX_PUBLIC_KEY_SIGNATURES);
    let ep = &c.endpoints[0];
    let all: Vec<(&str, &[u8])> = h.iter().map(|(n, v)| (n.as_str(), v.as_bytes())).collect();
    let captured = CapturedHeaders::capture(all, &ep.wanted_headers);
    let offered = offered_signatures(&ep.scheme, &captured, body).unwrap();
    let pieces: [&[u8]; 2] = [b"msg_1.", body];
    let to_verify = ToVerify::new(&pieces, &offered.sigs);
    let hits: Vec<bool> = ep.secrets.iter().map(|s| s.verifies(&to_verify)).collect();
    assert!(hits.iter().all(|h| !h));
    assert_eq!(to_verify.public_key_checks(), MAX_PUBLIC_KEY_CHECKS);
    // SendGrid (ECDSA): one signature per header, one header; two keys, two checks.
    let (entries, _) = public_keys("sendgrid", 2);
    let refs: Vec<&str> = entries.iter().map(String::as_str).collect();
    let c = preset_config("sendgrid", &refs);
    let ep = &c.endpoints[0];
    let (_, _, rk, _) = keys("sendgrid");
    let (h, b) = signed(&c, &rk, "sendgrid", NOW);
    let all: Vec<(&str, &[u8])> = h.iter().map(|(n, v)| (n.as_str(), v.as_bytes())).collect();
    let captured = CapturedHeaders::capture(all, &ep.wanted_headers);
    let offered = offered_signatures(&ep.scheme, &captured, &b).unwrap();
    let pieces: [&[u8]; 1] = [&b];
    let to_verify = ToVerify::new(&pieces, &offered.sigs);
    assert!(ep.secrets.iter().all(|s| !s.verifies(&to_verify)));
    assert_eq!(to_verify.public_key_checks(), 2);
    assert_eq!(deliver(&c, &h, &b), Err(Reject::InvalidSignature));
}
