//! Issue 21, reviewed as an attacker, a flaky network and a busy operator would: what the
//! new rules (methods, challenges, secrets in configuration errors, path keys) still let
//! through. Host-free: the filter crate's own modules, as the glue calls them.

use webhook_guard::config::Config;
use webhook_guard::delivery::overrides_method;
use webhook_guard::headers::CapturedHeaders;
use webhook_guard::sign::{sign_message, Message, SigningKey};
use webhook_guard::verify::verify;

const ED_SEED: &str = "0202020202020202020202020202020202020202020202020202020202020202";
const NOW: i64 = 1_700_000_000;

fn discord_config(extra: &str) -> String {
    let scheme = webhook_guard::presets::preset("discord").expect("preset");
    let key = SigningKey::from_text(&scheme, ED_SEED, true).expect("key");
    let public = key.public_key_text(&scheme).expect("public key");
    format!(
        r#"{{ "idempotency": {{ "cluster": "webhook_guard_cache" }}, "endpoints": [
            {{ "name": "discord", "path_prefix": "/webhooks/discord", "preset": "discord",
               "secrets": [ {{ "id": "k", "public_key": "{public}" }} ]{extra} }} ] }}"#
    )
}

/// Discord signs its Webhook Events (`APPLICATION_AUTHORIZED`, `ENTITLEMENT_CREATE`, ...)
/// exactly as its interactions, with the same headers and key, to an endpoint configured in
/// the same place. There, `type` 0 is the PING and `type` 1 is an event: the preset's
/// challenge (`{"type":1}`, the interactions' PING) takes every event for a challenge, so it
/// is forwarded unclaimed and each retry of it is processed again.
#[test]
#[ignore = "issue 21 review: a Discord Webhook Event (type 1) passes for the PING and is never deduplicated"]
fn a_discord_webhook_event_is_not_a_challenge() {
    let config = discord_config(r#", "idempotency_key": "signed_content""#);
    let parsed = Config::parse(config.as_bytes(), &|_| None).expect("config");
    let ep = &parsed.endpoints[0];
    let body = br#"{"version":1,"application_id":"1234560123453231555","type":1,"event":{"type":"ENTITLEMENT_CREATE","timestamp":"2024-10-18T18:41:21.109604","data":{"id":"1297","sku_id":"1","user_id":"2","type":8}}}"#;
    let ts = NOW.to_string();
    let m = Message {
        body,
        timestamp: &ts,
        id: "",
        method: "POST",
        path: "/webhooks/discord",
    };
    let scheme = webhook_guard::presets::preset("discord").expect("preset");
    let key = SigningKey::from_text(&scheme, ED_SEED, true).expect("key");
    let signed = sign_message(&ep.scheme, &key, &m).expect("sign");
    let headers = CapturedHeaders::capture(
        signed
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes())),
        &ep.wanted_headers,
    );
    let verified = verify(ep, &headers, &signed.body, NOW).expect("a signed event");
    assert!(
        verified.idempotency_key.is_some(),
        "a signed event must be claimed, not forwarded as a challenge"
    );
}

/// PHP (so Laravel, which turns `_method` overriding on, and Symfony with
/// `http_method_override`) reads a query parameter's name after dropping its leading
/// spaces (`+` or `%20`), and stops it at a NUL byte: `?%20_method=GET`, `?+_method=GET`
/// and `?_method%00x=GET` all set `$_GET['_method']`. Each is a copy of a delivery taken for
/// a `GET`, which `overrides_method` should refuse as it refuses `?_method=GET`.
#[test]
#[ignore = "issue 21 review: PHP's own spellings of _method (leading spaces, a NUL) pass the override check"]
fn every_spelling_php_reads_as_method_is_an_override() {
    let none: [&[u8]; 0] = [];
    for path in [
        "/h?%20_method=GET",
        "/h?+_method=GET",
        "/h?++_method=GET",
        "/h?_method%00=GET",
        "/h?_method%00x=GET",
    ] {
        assert!(overrides_method(none, path.as_bytes()), "{path}");
    }
}

/// A secret pasted into `env` (instead of `value`) is shown in the error whenever it
/// looks like a variable name: letters, digits, `_`, not starting with a digit. Slack's
/// signing secret (32 hex digits) does whenever it starts with a letter (6 times in 16),
/// `openssl rand -hex` secrets likewise, a GitHub token (`ghp_` + 36 alphanumerics) always.
#[test]
#[ignore = "issue 21 review: a secret in env that looks like a variable name is printed in the error"]
fn a_secret_pasted_into_env_is_never_in_the_error() {
    for secret in [
        "a3f1c9e07b2d4f6a8c0e1b3d5f7a9c2e",
        "ghp_Q8vZ2xT5nL9kR3mW7yB1cF4hJ6dS0aE2gP5u",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ] {
        for secrets in [
            format!(r#"[ {{ "id": "k", "env": "{secret}" }} ]"#),
            format!(
                r#"[ {{ "id": "k", "env": "{secret}", "optional": true }}, {{ "id": "j", "value": "0123456789abcdef0123" }} ]"#
            ),
        ] {
            let config = format!(
                r#"{{ "endpoints": [ {{ "name": "e", "path_prefix": "/e", "preset": "slack", "secrets": {secrets} }} ] }}"#
            );
            let mut skipped = String::new();
            match Config::parse(config.as_bytes(), &|_| None) {
                Err(e) => {
                    let text = e.to_string();
                    assert!(!text.contains(secret), "{text}");
                }
                Ok(c) => {
                    for line in c.endpoints.iter().flat_map(|e| &e.skipped_secrets) {
                        skipped.push_str(line);
                    }
                    assert!(!skipped.contains(secret), "{skipped}");
                }
            }
        }
    }
}

/// The README's parent/child setup: `/hooks` in report mode, `/hooks/strict` enforcing.
fn parent_and_child() -> Config {
    let secret = r#"[ { "id": "k", "value": "0123456789abcdef0123" } ]"#;
    let config = format!(
        r#"{{ "endpoints": [
            {{ "name": "loose", "path_prefix": "/hooks", "preset": "github", "mode": "report", "secrets": {secret} }},
            {{ "name": "strict", "path_prefix": "/hooks/strict", "preset": "github", "secrets": {secret} }} ] }}"#
    );
    Config::parse(config.as_bytes(), &|_| None).expect("config")
}

/// An encoded `?` or `#` ends the path for whatever decodes the path and parses it as a
/// URL again: nginx in front of the receiver with `proxy_pass http://app$uri` (`$uri` is
/// decoded), Apache's `mod_rewrite` substituting a decoded path, any gateway that
/// rebuilds the URL from the decoded path. `/hooks/strict%3Fx` is exactly under the
/// report-mode parent, so a forged delivery is forwarded, and reaches the receiver as
/// `/hooks/strict?x`: the strict endpoint's handler. It should be refused like the other
/// spellings no canonical form settles.
#[test]
#[ignore = "issue 21 review: an encoded ? or # below a child path is routed to the report-mode parent"]
fn an_encoded_query_or_fragment_mark_is_not_the_parents() {
    use webhook_guard::config::Route;
    let config = parent_and_child();
    assert_eq!(config.route(b"/hooks/strict"), Route::Endpoint(1));
    assert_eq!(config.route(b"/hooks/other"), Route::Endpoint(0));
    for path in [
        "/hooks/strict%3Fx",
        "/hooks/strict%3f",
        "/hooks/strict%23",
        "/hooks/strict%3F/x",
        "/hooks/strict%253F",
    ] {
        assert_ne!(config.route(path.as_bytes()), Route::Endpoint(0), "{path}");
    }
}
