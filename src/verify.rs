//! The checks between a buffered body and the upstream, in the README's order: signature,
//! timestamp, JSON, schema, idempotency key. Host-free: the proxy-wasm glue hands in the
//! captured headers, the body and the clock, and gets back a verdict.

use serde_json::Value;

use crate::answer::Reject;
use crate::config::Endpoint;
use crate::headers::{CapturedHeaders, Lookup};
use crate::idempotency::hash_key;
use crate::json::{parse_bounded, MAX_DEPTH};
use crate::signature::{matching_secret, Offered};
use crate::timestamp::TimestampSource;

/// A delivery that passed every check.
#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    /// The id of the secret whose signature matched (tells operators when an old one is idle).
    pub secret_id: String,
    /// Its position in the endpoint's `secrets`.
    pub secret_index: usize,
    /// SHA-256 hex of endpoint + key, when the endpoint deduplicates.
    pub idempotency_key: Option<String>,
}

/// The signature header's MACs (and Stripe's `t`), or why there are none.
pub(crate) fn offered(ep: &Endpoint, headers: &CapturedHeaders) -> Result<Offered, Reject> {
    let scheme = &ep.scheme;
    match headers.get(&scheme.signature_header) {
        // An empty value is how some proxies pass on a header the sender did not set.
        Lookup::Absent => Err(Reject::MissingSignature),
        Lookup::One(raw) if raw.trim_ascii().is_empty() => Err(Reject::MissingSignature),
        Lookup::Repeated => Err(Reject::MalformedSignature),
        Lookup::One(raw) => scheme
            .format
            .parse(raw)
            .map_err(|_| Reject::MalformedSignature),
    }
}

/// The timestamp as received: it is part of what Stripe, Slack and Standard Webhooks sign.
/// `Err` when the signed content needs one and there is none.
pub(crate) fn raw_timestamp<'a>(
    ep: &Endpoint,
    headers: &'a CapturedHeaders,
    offered: &'a Offered,
) -> Result<Option<&'a [u8]>, Reject> {
    let scheme = &ep.scheme;
    let raw = match &scheme.timestamp {
        TimestampSource::Header(h) => match headers.get(h) {
            Lookup::One(v) => Some(v),
            Lookup::Absent | Lookup::Repeated => None,
        },
        TimestampSource::SignatureHeader => offered.timestamp.as_deref(),
        TimestampSource::None | TimestampSource::Body(_) => None,
    };
    if scheme.signed_content.uses_timestamp() && raw.is_none() {
        return Err(Reject::MissingTimestamp);
    }
    Ok(raw)
}

/// The freshness window of a timestamp read from a header (or the signature header). Only
/// once the signature held.
pub(crate) fn check_header_timestamp(
    ep: &Endpoint,
    raw: Option<&[u8]>,
    now_unix: i64,
) -> Result<(), Reject> {
    let scheme = &ep.scheme;
    if matches!(
        scheme.timestamp,
        TimestampSource::None | TimestampSource::Body(_)
    ) {
        return Ok(());
    }
    let ts = raw
        .and_then(|raw| scheme.timestamp_format.seconds(raw))
        .ok_or(Reject::MissingTimestamp)?;
    scheme.window.check(ts, now_unix)
}

pub fn verify(
    ep: &Endpoint,
    headers: &CapturedHeaders,
    body: &[u8],
    now_unix: i64,
) -> Result<Verified, Reject> {
    let scheme = &ep.scheme;
    let offered = offered(ep, headers)?;
    let raw_timestamp = raw_timestamp(ep, headers, &offered)?;

    let pieces = scheme
        .signed_content
        .pieces(body, raw_timestamp.unwrap_or_default(), headers)
        .ok_or(Reject::MalformedSignature)?;
    let index =
        matching_secret(&ep.secrets, &pieces, &offered.macs).ok_or(Reject::InvalidSignature)?;
    let secret_id = ep
        .secrets
        .get(index)
        .map(|s| s.id.clone())
        .unwrap_or_default();

    // Only an authenticated body is read past this point.
    let format = scheme.timestamp_format;
    check_header_timestamp(ep, raw_timestamp, now_unix)?;

    let json: Option<Value> = if ep.needs_json {
        Some(parse_bounded(body, MAX_DEPTH).ok_or(Reject::InvalidJson)?)
    } else {
        None
    };

    if let TimestampSource::Body(pointer) = &scheme.timestamp {
        let ts = json
            .as_ref()
            .and_then(|j| j.pointer(pointer))
            .and_then(|v| format.seconds_from_json(v))
            .ok_or(Reject::MissingTimestamp)?;
        scheme.window.check(ts, now_unix)?;
    }

    if let (Some(schema), Some(json)) = (&ep.schema, &json) {
        schema
            .validate(json)
            .map_err(|v| Reject::SchemaViolation { at: v.at })?;
    }

    let idempotency_key = match &ep.idempotency_key {
        None => None,
        Some(source) => {
            let key = source
                .extract(body, headers, &pieces)
                .ok_or(Reject::MissingIdempotencyKey)?;
            Some(hash_key(&ep.name, &key))
        }
    };

    Ok(Verified {
        secret_id,
        secret_index: index,
        idempotency_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::headers::CapturedHeaders;

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
            crate::signature::Encoding::Base64.encode(&[1; 32])
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
}
