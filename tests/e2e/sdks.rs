//! The senders' own SDKs against the filter, both ways: deliveries signed by the SDK (or,
//! where the SDK only verifies, by the library it verifies with) go through a real Envoy;
//! and what `webhook-guard send`'s signing code produces is accepted by the SDK's verifier.
//! twilio (form and JSON bodies), standardwebhooks, PyNaCl (what Discord's documentation
//! verifies with), sendgrid's EventWebhook; and, verifying only, paddle-python-sdk's
//! Verifier, squareup's verify_signature and hubspot-api-client's Signature (v3); stripe's
//! WebhookSignature and slack_sdk's SignatureVerifier, both ways; @linear/sdk's
//! LinearWebhookClient (npm, through tests/sdk/linear.mjs). `make
//! sdks` installs them into .venv; the
//! filter depends on none of them.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::*;
use serde_json::{json, Value};
use webhook_guard::sign::{sample, sign_message, Message, SigningKey};

const TWILIO: &str = "twilio-auth-token-0123456789abcd";
const STANDARD: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ED_SEED: &str = "0909090909090909090909090909090909090909090909090909090909090909";
const P256_SCALAR: &str = "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b";
const PUBLIC_URL: &str = "https://hooks.example.com";

/// Whether the SDKs are installed (`make sdks`); required under `make test`.
fn sdks_ready() -> bool {
    let python = repo_root().join(".venv/bin/python");
    let ok = python.exists()
        && repo_root()
            .join("tests/sdk/node_modules/@linear/sdk")
            .exists()
        && Command::new(&python)
            .args([
                "-c",
                "import twilio, standardwebhooks, sendgrid, nacl, paddle_billing, square, hubspot, stripe, slack_sdk",
            ])
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        let required = std::env::var("WEBHOOK_GUARD_E2E").is_ok_and(|v| v == "required");
        assert!(!required, "the senders' SDKs are missing: make sdks");
        eprintln!("skipped: the senders' SDKs are missing (make sdks)");
    }
    ok
}

/// Runs tests/sdk/senders.py with one JSON request.
fn sdk(request: Value) -> Value {
    let mut child = Command::new(repo_root().join(".venv/bin/python"))
        .arg(repo_root().join("tests/sdk/senders.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "senders.py failed on {request}");
    serde_json::from_slice(&out.stdout).expect("JSON from senders.py")
}

fn key(preset: &str) -> SigningKey {
    let scheme = webhook_guard::scheme::presets::preset(preset).expect("preset");
    let (text, private) = match preset {
        "twilio" | "paddle" | "square" | "hubspot" | "stripe" | "slack" | "linear" => {
            (TWILIO, false)
        }
        "standard-webhooks" => (STANDARD, false),
        "discord" => (ED_SEED, true),
        _ => (P256_SCALAR, true),
    };
    SigningKey::from_text(&scheme, text, private).expect("key")
}

fn public(preset: &str) -> String {
    let scheme = webhook_guard::scheme::presets::preset(preset).expect("preset");
    key(preset).public_key_text(&scheme).expect("public key")
}

fn config() -> String {
    format!(
        r#"{{ "endpoints": [
  {{ "name": "twilio", "path_prefix": "/webhooks/twilio", "preset": "twilio", "public_url": "{PUBLIC_URL}",
     "secrets": [ {{ "id": "k", "value": "{TWILIO}" }} ] }},
  {{ "name": "standard", "path_prefix": "/webhooks/standard", "preset": "standard-webhooks",
     "secrets": [ {{ "id": "k", "value": "{STANDARD}" }} ] }},
  {{ "name": "discord", "path_prefix": "/webhooks/discord", "preset": "discord",
     "secrets": [ {{ "id": "k", "public_key": "{}" }} ] }},
  {{ "name": "sendgrid", "path_prefix": "/webhooks/sendgrid", "preset": "sendgrid",
     "secrets": [ {{ "id": "k", "public_key": "{}" }} ] }},
  {{ "name": "stripe", "path_prefix": "/webhooks/stripe", "preset": "stripe", "idempotency_key": null,
     "secrets": [ {{ "id": "k", "value": "{TWILIO}" }} ] }},
  {{ "name": "slack", "path_prefix": "/webhooks/slack", "preset": "slack",
     "secrets": [ {{ "id": "k", "value": "{TWILIO}" }} ] }}
] }}"#,
        public("discord"),
        public("sendgrid")
    )
}

/// The path and query a URL's sender calls.
fn path_of(url: &str) -> &str {
    &url[PUBLIC_URL.len()..]
}

fn headers_of(v: &Value) -> Vec<(String, Vec<u8>)> {
    v["headers"]
        .as_object()
        .expect("headers")
        .iter()
        .map(|(n, v)| (n.clone(), v.as_str().expect("text").as_bytes().to_vec()))
        .collect()
}

#[test]
fn deliveries_signed_by_the_senders_sdks_pass_through_envoy() {
    if !e2e_ready() || !sdks_ready() {
        return;
    }
    let upstream = Upstream::start();
    let envoy = Envoy::start(&EnvoyOptions::new(&config(), upstream.port));
    let now = now_unix();
    let json_body = r#"{"CallSid":"CA0123","Status":"completed"}"#;
    let form_url = format!("{PUBLIC_URL}/webhooks/twilio?tenant=7");
    let cases: Vec<(&str, Value, String)> = vec![
        (
            "twilio form",
            sdk(
                json!({"mode": "sign", "kind": "twilio-form", "secret": TWILIO, "url": form_url,
                "params": {"To": "+15558675310", "From": "+15017122661", "Body": "Hello & bye 👋", "MessageSid": "SM1"}}),
            ),
            path_of(&form_url).to_string(),
        ),
        (
            "twilio json",
            sdk(
                json!({"mode": "sign", "kind": "twilio-json", "secret": TWILIO, "url": form_url, "body": json_body}),
            ),
            String::new(),
        ),
        (
            "standard-webhooks",
            sdk(
                json!({"mode": "sign", "kind": "standard-webhooks", "secret": STANDARD, "id": "msg_sdk1",
                "timestamp": now, "body": r#"{"type":"user.created"}"#}),
            ),
            "/webhooks/standard".into(),
        ),
        (
            "discord",
            sdk(
                json!({"mode": "sign", "kind": "discord", "seed": ED_SEED, "timestamp": now,
                "body": r#"{"id":"123","type":1}"#}),
            ),
            "/webhooks/discord".into(),
        ),
        (
            "sendgrid",
            sdk(
                json!({"mode": "sign", "kind": "sendgrid", "scalar": P256_SCALAR, "timestamp": now,
                "body": r#"[{"event":"delivered","sg_event_id":"e1"}]"#}),
            ),
            "/webhooks/sendgrid".into(),
        ),
        (
            "stripe",
            sdk(
                json!({"mode": "sign", "kind": "stripe", "secret": TWILIO, "timestamp": now,
                "body": r#"{"id":"evt_sdk1","object":"event","type":"charge.succeeded"}"#}),
            ),
            "/webhooks/stripe".into(),
        ),
        (
            "slack",
            sdk(
                json!({"mode": "sign", "kind": "slack", "secret": TWILIO, "timestamp": now,
                "body": "token=x&team_id=T1&command=%2Fdeploy&text=now"}),
            ),
            "/webhooks/slack".into(),
        ),
    ];
    for (what, signed, path) in cases {
        let path = match signed["url"].as_str() {
            Some(url) => path_of(url).to_string(),
            None => path,
        };
        let body = signed["body"].as_str().expect("body").as_bytes().to_vec();
        let headers = headers_of(&signed);
        let r = send(envoy.port, "POST", &path, &as_refs(&headers), &body);
        assert_eq!(
            r.status,
            200,
            "{what}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(
            upstream.requests().pop().expect("forwarded").body,
            body,
            "{what}"
        );
        let mut tampered = body.clone();
        let at = tampered
            .iter()
            .rposition(|b| b.is_ascii_alphanumeric())
            .expect("letter");
        tampered[at] ^= 0x01;
        let r = send(envoy.port, "POST", &path, &as_refs(&headers), &tampered);
        assert_eq!(
            (r.status, r.error()),
            (401, "invalid_signature".into()),
            "{what}"
        );
    }
    envoy.assert_no_panic();
}

#[test]
fn the_senders_sdks_accept_what_webhook_guard_signs() {
    if !sdks_ready() {
        return;
    }
    let path = "/webhooks/x?tenant=7";
    for (preset, kind) in [
        ("twilio", "twilio"),
        ("standard-webhooks", "standard-webhooks"),
        ("discord", "discord"),
        ("sendgrid", "sendgrid"),
        ("paddle", "paddle"),
        ("square", "square"),
        ("hubspot", "hubspot"),
        ("stripe", "stripe"),
        ("slack", "slack"),
        ("linear", "linear"),
    ] {
        let mut scheme = webhook_guard::scheme::presets::preset(preset).expect("preset");
        scheme.public_url = PUBLIC_URL.into();
        // Dated now for each: Paddle's SDK allows 5 s, and each SDK takes a while to load.
        let now = now_unix();
        let (body, timestamp) = sample(preset, "evt_1", now);
        let m = Message {
            body: body.as_bytes(),
            timestamp: &timestamp,
            id: "msg_1",
            method: "POST",
            path,
        };
        let signed = sign_message(&scheme, &key(preset), &m).expect("sign");
        let headers: serde_json::Map<String, Value> = signed
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), Value::String(v.clone())))
            .collect();
        let secret = match preset {
            "twilio" | "paddle" | "square" | "hubspot" | "stripe" | "slack" | "linear" => TWILIO,
            _ => STANDARD,
        };
        let public_key = match preset {
            "discord" | "sendgrid" => public(preset),
            _ => String::new(),
        };
        let body = String::from_utf8(signed.body).expect("text");
        let ask = |body: &str| {
            sdk(
                json!({"mode": "verify", "kind": kind, "headers": headers, "body": body,
                "secret": secret, "public_key": public_key, "url": format!("{PUBLIC_URL}{path}")}),
            )["valid"]
                .as_bool()
        };
        assert_eq!(
            ask(&body),
            Some(true),
            "{preset}: the SDK refuses our signature"
        );
        assert_eq!(
            ask(&body.replace("evt_1", "evt_2")),
            Some(false),
            "{preset}: tampered"
        );
    }
}
