//! End to end, one endpoint per signature family the presets are built from, through the
//! built filter inside a real Envoy: SHA-1 (intercom), SHA-512 (custom), a shared token
//! (gitlab), URL-signed (twilio, hubspot, square), a signature inside the body (mailgun),
//! Ed25519 (discord; standard-webhooks v1a) and ECDSA P-256 (sendgrid). Each delivery is
//! signed through the filter crate's own scheme definitions (`sign::sign_message`), as
//! `webhook-guard send` signs them.

use crate::common::*;
use webhook_guard::sign::{sample, sign_message, Message, SigningKey};

const SHARED: &str = "families-shared-secret-0123";
const WRONG: &str = "families-wrong-secret-0123";
const ED_SEED: &str = "0202020202020202020202020202020202020202020202020202020202020202";
const P256_SCALAR: &str = "0505050505050505050505050505050505050505050505050505050505050505";

/// (endpoint name, preset, extra fields)
const FAMILIES: [(&str, &str, &str); 10] = [
    ("intercom", "intercom", ""),
    (
        "sha512",
        "custom",
        r#", "algorithm": "hmac-sha512", "signature_header": "X-Signature-512", "signature_prefix": "sha512=""#,
    ),
    ("gitlab", "gitlab", ""),
    (
        "twilio",
        "twilio",
        r#", "public_url": "https://hooks.example.com""#,
    ),
    (
        "hubspot",
        "hubspot",
        r#", "public_url": "https://hooks.example.com""#,
    ),
    (
        "square",
        "square",
        r#", "public_url": "https://hooks.example.com""#,
    ),
    ("mailgun", "mailgun", ""),
    ("discord", "discord", ""),
    ("standard", "standard-webhooks", ""),
    ("sendgrid", "sendgrid", ""),
];

fn preset_of(name: &str) -> &'static str {
    FAMILIES
        .iter()
        .find(|f| f.0 == name)
        .map(|f| f.1)
        .expect("family")
}

/// The key a family's sender signs with (`wrong`: one the endpoint does not have).
fn signing_key(name: &str, wrong: bool) -> SigningKey {
    let scheme = webhook_guard::scheme::presets::preset(preset_of(name)).expect("preset");
    let (text, private) = match (name, wrong) {
        ("discord" | "standard", false) => (ED_SEED.to_string(), true),
        ("discord" | "standard", true) => ("03".repeat(32), true),
        ("sendgrid", false) => (P256_SCALAR.to_string(), true),
        ("sendgrid", true) => ("06".repeat(32), true),
        (_, false) => (SHARED.to_string(), false),
        (_, true) => (WRONG.to_string(), false),
    };
    SigningKey::from_text(&scheme, &text, private).expect("key")
}

fn config() -> String {
    let endpoints: Vec<String> = FAMILIES
        .iter()
        .map(|(name, preset, extra)| {
            let scheme = webhook_guard::scheme::presets::preset(preset).expect("preset");
            let secret = match signing_key(name, false).public_key_text(&scheme) {
                Some(public) => format!(r#"{{ "id": "k", "public_key": "{public}" }}"#),
                None => format!(r#"{{ "id": "k", "value": "{SHARED}" }}"#),
            };
            format!(
                r#"{{ "name": "{name}", "path_prefix": "/webhooks/{name}", "preset": "{preset}", "secrets": [ {secret} ]{extra} }}"#
            )
        })
        .collect();
    format!(
        r#"{{ "max_body_bytes": 65536, "endpoints": [ {} ] }}"#,
        endpoints.join(",\n")
    )
}

struct Delivery {
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// A delivery of family `name`, signed as its sender signs (the scheme as the endpoint
/// configures it: public_url included), dated `at`.
fn delivery(config: &str, name: &str, wrong: bool, at: i64) -> Delivery {
    let parsed = webhook_guard::config::Config::parse(config.as_bytes(), &|_| None)
        .unwrap_or_else(|e| panic!("test config: {e}"));
    let ep = parsed
        .endpoints
        .iter()
        .find(|e| e.name == name)
        .expect("endpoint");
    let path = format!("/webhooks/{name}?tenant=7");
    let (body, timestamp) = sample(preset_of(name), &format!("evt-{name}-{at}"), at);
    let m = Message {
        body: body.as_bytes(),
        timestamp: &timestamp,
        id: &format!("msg-{name}-{at}"),
        method: "POST",
        path: &path,
    };
    let signed = sign_message(&ep.scheme, &signing_key(name, wrong), &m).expect("sign");
    Delivery {
        path,
        headers: signed
            .headers
            .into_iter()
            .map(|(n, v)| (n, v.into_bytes()))
            .collect(),
        body: signed.body,
    }
}

fn post(port: u16, d: &Delivery, body: &[u8]) -> Response {
    send(port, "POST", &d.path, &as_refs(&d.headers), body)
}

#[test]
fn every_family_forwards_signed_and_refuses_tampered_wrong_key_and_stale() {
    if !e2e_ready() {
        return;
    }
    let upstream = Upstream::start();
    let config = config();
    let envoy = Envoy::start(&EnvoyOptions::new(&config, upstream.port));
    let now = now_unix();
    for (name, _, _) in FAMILIES {
        let d = delivery(&config, name, false, now);
        let before = upstream.requests().len();
        let r = post(envoy.port, &d, &d.body);
        assert_eq!(
            r.status,
            200,
            "{name}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let got = upstream.requests();
        assert_eq!(got.len(), before + 1, "{name}");
        let req = &got[before];
        assert_eq!(req.body, d.body, "{name}: body changed");
        assert_eq!(req.path, d.path, "{name}");
        assert_eq!(
            req.header("x-webhook-guard-secret-id").as_deref(),
            Some("k")
        );

        // Signed with a key the endpoint does not have.
        let w = delivery(&config, name, true, now);
        let r = post(envoy.port, &w, &w.body);
        assert_eq!(
            (r.status, r.error()),
            (401, "invalid_signature".into()),
            "{name}"
        );

        // Changed after signing: a byte of the body (a shared token signs none; Mailgun
        // signs its token, which is what is changed there).
        if name != "gitlab" {
            let mut tampered = d.body.clone();
            let at = if name == "mailgun" {
                let text = String::from_utf8_lossy(&tampered).into_owned();
                text.find("\"token\":\"").map(|i| i + 9).expect("token")
            } else {
                tampered
                    .iter()
                    .rposition(|b| b.is_ascii_alphanumeric())
                    .expect("a letter")
            };
            tampered[at] ^= 0x01;
            let r = post(envoy.port, &d, &tampered);
            assert_eq!(
                (r.status, r.error()),
                (401, "invalid_signature".into()),
                "{name}"
            );
        }

        // The URL-signed senders: the same signature on another path.
        if matches!(name, "twilio" | "hubspot" | "square") {
            let moved = format!("/webhooks/{name}?tenant=8");
            let r = send(envoy.port, "POST", &moved, &as_refs(&d.headers), &d.body);
            assert_eq!(
                (r.status, r.error()),
                (401, "invalid_signature".into()),
                "{name}"
            );
        }

        // Dated a day ago, where the scheme dates deliveries.
        if !matches!(name, "intercom" | "sha512" | "gitlab" | "twilio" | "square") {
            let old = delivery(&config, name, false, now - 86_400);
            let r = post(envoy.port, &old, &old.body);
            assert_eq!(
                (r.status, r.error()),
                (401, "stale_timestamp".into()),
                "{name}"
            );
        }
    }
    // Nothing but the valid deliveries reached the upstream, and no key reached the log.
    assert_eq!(upstream.requests().len(), FAMILIES.len());
    let log = envoy.log();
    let log = format!("{log}\n{}", filter_strings(&log));
    assert!(!log.contains(SHARED) && !log.contains(ED_SEED) && !log.contains(P256_SCALAR));
    assert!(
        !filter_events(&log).is_empty(),
        "every filter line is a JSON object"
    );
    envoy.assert_no_panic();
}

#[test]
fn a_public_key_in_the_wrong_field_stops_envoy_with_what_the_preset_wants() {
    if !e2e_ready() {
        return;
    }
    let upstream = Upstream::start();
    let dir = scratch_dir("families-badconfig");
    let bad = config().replace(
        r#""preset": "sendgrid", "secrets": [ { "id": "k", "public_key""#,
        r#""preset": "sendgrid", "secrets": [ { "id": "k", "value""#,
    );
    assert_ne!(bad, config());
    let path = dir.join("bad.yaml");
    std::fs::write(&path, envoy_yaml(&EnvoyOptions::new(&bad, upstream.port))).expect("write");
    let (ok, out) = validate(&path, &[]);
    assert!(!ok);
    let said = filter_strings(&out);
    assert!(
        said.contains(
            "endpoints[9] (sendgrid).secrets[0]: the key is a public key given as \"value\""
        ) && said.contains("P-256 public key (base64 DER"),
        "{out}"
    );
}
