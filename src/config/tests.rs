use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse(json: &str) -> Result<Config, ConfigError> {
    Config::parse(json.as_bytes(), &no_env)
}

const SECRET: &str = r#"[{"id":"current","value":"0123456789abcdef"}]"#;
const SECRET_ONE: &str = r#"{"id":"current","value":"0123456789abcdef"}"#;

fn one(endpoint_fields: &str) -> Result<Config, ConfigError> {
    parse(&format!(
        r#"{{"endpoints":[{{"name":"e","path_prefix":"/h","secrets":{SECRET}{endpoint_fields}}}]}}"#
    ))
}

/// The field an error names.
fn field_of(r: Result<Config, ConfigError>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.field,
    }
}

fn error_of(r: Result<Config, ConfigError>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_design_example_parses() {
    let env = |k: &str| match k {
        "GENESYS_WEBHOOK_SECRET" => Some("a-long-enough-secret".to_string()),
        "GENESYS_WEBHOOK_SECRET_PREVIOUS" => Some("the-previous-secret".to_string()),
        _ => None,
    };
    let json = r#"{
      "max_body_bytes": 1048576,
      "idempotency": { "cluster": "webhook_guard_cache", "authority": "webhook-guard-cache",
                       "timeout_ms": 250, "in_flight_ttl_seconds": 60, "done_ttl_seconds": 86400,
                       "on_unavailable": "reject" },
      "endpoints": [
        { "name": "genesys", "path_prefix": "/webhooks/genesys",
          "preset": "genesys-open-messaging",
          "secrets": [ { "id": "current",  "env": "GENESYS_WEBHOOK_SECRET" },
                       { "id": "previous", "env": "GENESYS_WEBHOOK_SECRET_PREVIOUS" } ],
          "source_ips": [ "52.200.73.32/32", "2600:1f18::/32" ],
          "max_age_seconds": 600,
          "payload_schema": { "type": "object", "required": ["id", "channel"] },
          "idempotency_key": "/id" }
      ]
    }"#;
    let c = Config::parse(json.as_bytes(), &env).unwrap();
    let e = &c.endpoints[0];
    assert_eq!(e.secrets.len(), 2);
    assert_eq!(e.secrets[1].id, "previous");
    assert_eq!(e.idempotency_key, Some(KeySource::Pointer("/id".into())));
    assert!(e.needs_json);
    assert_eq!(c.idempotency.unwrap().timeout_ms, 250);
}

/// Below 20 ms no claim could wait for the batch in flight and still be sent: with
/// `on_unavailable: allow` that would turn deduplication off without a word.
#[test]
fn a_call_out_timeout_too_short_to_claim_is_refused() {
    let with = |ms: u64| {
        let json = format!(
            r#"{{"idempotency":{{"cluster":"c","timeout_ms":{ms}}},"endpoints":[
                {{"name":"g","path_prefix":"/g","preset":"github",
                  "secrets":[{{"id":"a","value":"a-long-enough-secret"}}]}}]}}"#
        );
        Config::parse(json.as_bytes(), &|_: &str| None)
    };
    for ms in [0, 1, 5, 19, 10_001] {
        assert_eq!(field_of(with(ms)), "idempotency.timeout_ms", "{ms}");
    }
    for ms in [20, 250, 10_000] {
        assert_eq!(with(ms).unwrap().idempotency.unwrap().timeout_ms, ms);
    }
}

/// The key each preset's test endpoint is configured with: a kind the preset wants.
pub(crate) fn secret_for(p: &str) -> String {
    let fixed = match p {
        "standard-webhooks" => r#"[{"id":"a","value":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]"#,
        // RFC 8032's first public key.
        "discord" => {
            r#"[{"id":"a","public_key":"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"}]"#
        }
        // The public key of the scalar 0x07..07, base64 DER as SendGrid shows it.
        "sendgrid" => {
            let scheme = preset("sendgrid").unwrap();
            let key = crate::sign::SigningKey::from_text(&scheme, &"07".repeat(32), false).unwrap();
            let public = key.public_key_text(&scheme).unwrap();
            return format!(r#"[{{"id":"a","public_key":"{public}"}}]"#);
        }
        _ => SECRET,
    };
    fixed.to_string()
}

#[test]
fn every_preset_builds() {
    for p in PRESET_NAMES {
        let extra = match p {
            "custom" => r#","signature_header":"x-sig""#,
            "square" | "hubspot" | "twilio" => r#","public_url":"https://hooks.example.com""#,
            _ => "",
        };
        let secret = secret_for(p);
        let json = format!(
            r#"{{"endpoints":[{{"name":"e","path_prefix":"/h","preset":"{p}","secrets":{secret}{extra}}}]}}"#
        );
        assert!(parse(&json).is_ok(), "{p}: {:?}", parse(&json).err());
    }
}

#[test]
fn errors_name_the_field() {
    let cases = [
        (
            r#","preset":"github","colour":"red""#,
            "endpoints[0]: unknown field `colour`",
        ),
        (
            r#","preset":"gitlab-ee""#,
            "endpoints[0] (e).preset: unknown preset",
        ),
        (
            r#","preset":"github","mode":"audit""#,
            "endpoints[0] (e).mode",
        ),
        (
            r#","preset":"custom""#,
            "endpoints[0] (e).signature_header: required",
        ),
        (
            r#","preset":"custom","signature_header":"x","encoding":"b32""#,
            ".encoding",
        ),
        (
            r#","preset":"stripe","signature_separator":"ab""#,
            ".signature_separator",
        ),
        (
            r#","preset":"github","signature_header":"x","signature_field":"/s""#,
            "signature_header/signature_field",
        ),
        (
            r#","preset":"github","algorithm":"md5""#,
            ".algorithm: must be \"hmac-sha256\"",
        ),
        (r#","preset":"square""#, ".public_url: required"),
        (
            r#","preset":"github","public_url":"https://h.example""#,
            ".public_url: is not used",
        ),
        (
            r#","preset":"square","public_url":"https://h.example/""#,
            ".public_url: must be",
        ),
        (
            r#","preset":"mailgun","signed_content":"{body}""#,
            "cannot contain {body}",
        ),
        (
            r#","preset":"custom","signature_header":"x","signed_content":"{header:x-a}""#,
            "must contain {body}",
        ),
        (
            r#","preset":"gitlab","timestamp":"header:x-ts","signed_content":"{timestamp}{body}""#,
            "a shared token signs nothing",
        ),
        (
            r#","preset":"github","timestamp":"signature:t=""#,
            "needs signature_separator",
        ),
        (
            r#","preset":"discord""#,
            "secrets[0]: the key is a public key given as \"value\"",
        ),
        (
            r#","preset":"github","signed_content":"{nope}""#,
            ".signed_content",
        ),
        (
            r#","preset":"github","signed_content":"{timestamp}.{body}""#,
            "signed_content: uses {timestamp}",
        ),
        (r#","preset":"github","timestamp":"time""#, ".timestamp"),
        (
            r#","preset":"github","timestamp_format":"iso""#,
            ".timestamp_format",
        ),
        (
            r#","preset":"github","secret_encoding":"rot13""#,
            ".secret_encoding",
        ),
        (
            r#","preset":"github","max_age_seconds":0"#,
            ".max_age_seconds",
        ),
        (r#","preset":"github","source_ips":[]"#, ".source_ips"),
        (
            r#","preset":"github","idempotency_key":"/id""#,
            "needs the top-level",
        ),
    ];
    for (fields, expected) in cases {
        let e = match one(fields) {
            Ok(_) => panic!("{fields}: accepted"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains(expected), "{fields}: {e}");
    }
}

#[test]
fn secret_errors_never_quote_the_secret() {
    let short = r#"{"endpoints":[{"name":"e","path_prefix":"/h","preset":"github","secrets":[{"id":"a","value":"tiny-secret"}]}]}"#;
    let e = error_of(parse(short));
    assert!(
        e.contains("secrets[0]") && e.contains("shorter than 16 bytes"),
        "{e}"
    );
    assert!(!e.contains("tiny-secret"));

    let missing = r#"{"endpoints":[{"name":"e","path_prefix":"/h","preset":"github","secrets":[{"id":"a","env":"NOPE_SECRET"}]}]}"#;
    assert!(error_of(parse(missing)).contains("secrets[0].env: environment variable NOPE_SECRET"));

    let both = r#"{"endpoints":[{"name":"e","path_prefix":"/h","preset":"github","secrets":[{"id":"a","env":"X","value":"0123456789abcdef"}]}]}"#;
    assert!(error_of(parse(both)).contains("exactly one"));

    let dup = r#"{"endpoints":[{"name":"e","path_prefix":"/h","preset":"github","secrets":[{"id":"a","value":"0123456789abcdef"},{"id":"a","value":"0123456789abcdeg"}]}]}"#;
    assert!(error_of(parse(dup)).contains("duplicate secret id"));
}

#[test]
fn shape_errors_never_quote_the_value() {
    // A secret pasted where an object or a number belongs: serde's own message would
    // quote it.
    let bare = r#"{"endpoints":[{"name":"e","path_prefix":"/h","preset":"github","secrets":["my-real-\"secret\"-value"]}]}"#;
    let e = error_of(parse(bare));
    assert!(
        e.starts_with("endpoints[0] (e).secrets[0]: must be an object"),
        "{e}"
    );
    assert!(!e.contains("my-real") && !e.contains("value\""), "{e}");

    let idem = r#"{"idempotency":{"cluster":"c","timeout_ms":"hunter2-hunter2"},"endpoints":[]}"#;
    let e = error_of(parse(idem));
    assert!(e.starts_with("idempotency: invalid type"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
}

/// The digits of a token that YAML, templated without quotes, turns into a number.
const TOKEN: &str = "918273645501928374";

/// Every JSON type, each holding the token (a boolean is its own value).
fn every_type() -> Vec<String> {
    vec![
        TOKEN.to_string(),
        format!("-{TOKEN}"),
        format!("{TOKEN}.25"),
        format!("{TOKEN}e2"),
        "true".into(),
        "false".into(),
        format!("[{TOKEN}]"),
        format!(r#"["{TOKEN}"]"#),
        format!(r#"{{"k":"{TOKEN}"}}"#),
        "null".into(),
        // Too short a secret, so that a string value is an error too.
        format!(r#""{}""#, &TOKEN[..11]),
    ]
}

/// Neither the token's digits nor a value in serde's backticks (`boolean `true``).
fn assert_not_quoted(what: &str, e: &str) {
    assert!(
        !e.contains(&TOKEN[..9])
            && !e.contains(&TOKEN[9..])
            && !e.contains("`true`")
            && !e.contains("`false`"),
        "{what}: {e}"
    );
}

fn with_secrets(secrets: &str) -> Result<Config, ConfigError> {
    parse(&format!(
        r#"{{"endpoints":[{{"name":"e","path_prefix":"/h","preset":"github","secrets":{secrets}}}]}}"#
    ))
}

/// serde quotes a number or a boolean of the wrong type in backticks: a secret of any
/// JSON type, in any field of a secret, as an entry of the list or as the list, is
/// never shown.
#[test]
fn secrets_of_any_json_type_are_never_quoted() {
    for v in every_type() {
        for field in ["value", "public_key", "env", "id", "optional"] {
            let string = v.starts_with('"');
            let id = if field == "id" { "" } else { r#""id":"a","# };
            let secrets = format!(r#"[{{{id}"{field}":{v}}}]"#);
            let r = with_secrets(&secrets);
            // A string, or a boolean in `optional`, is the right type: the entry still
            // fails (too short, or no key), for its own reason.
            let e = error_of(r);
            assert_not_quoted(&secrets, &e);
            let right_type = string || (field == "optional" && v.len() <= 5);
            if !right_type && v != "null" {
                assert!(
                    e.contains(&format!("secrets[0].{field}: must be")),
                    "{secrets}: {e}"
                );
            }
        }
        for secrets in [format!("[{v}]"), v.clone()] {
            assert_not_quoted(&secrets, &error_of(with_secrets(&secrets)));
        }
    }
    // YAML reads `{value:TOKEN}` as one key: an unknown key is not shown either.
    let key = format!(r#"[{{"id":"a","value:{TOKEN}":null}}]"#);
    let e = error_of(with_secrets(&key));
    assert!(e.contains("secrets[0]: has an unknown field"), "{e}");
    assert_not_quoted(&key, &e);
    assert!(error_of(with_secrets(r#"[{"id":"a","vaule":"x"}]"#))
        .contains("secrets[0]: has an unknown field `vaule`; expected"));
    // What the errors say.
    let e = error_of(with_secrets(&format!(r#"[{{"id":"a","value":{TOKEN}}}]"#)));
    assert_eq!(
        e,
        "endpoints[0] (e).secrets[0].value: must be a string, not a number (not shown)"
    );
    let e = error_of(with_secrets(&format!("[{TOKEN}]")));
    assert!(
        e.starts_with("endpoints[0] (e).secrets[0]: must be an object"),
        "{e}"
    );
    let e = error_of(with_secrets("true"));
    assert_eq!(
        e,
        "endpoints[0] (e).secrets: must be a list of secrets, not a boolean"
    );
    assert_eq!(
        field_of(with_secrets(r#"[{"value":"0123456789abcdef"}]"#)),
        "endpoints[0] (e).secrets[0].id"
    );
    assert_eq!(
        field_of(with_secrets(r#"[{"id":"a","env":"X","optional":"yes"}]"#)),
        "endpoints[0] (e).secrets[0].optional"
    );
    // Still read as before.
    let ok = with_secrets(r#"[{"id":"a","value":"0123456789abcdef","public_key":null}]"#);
    assert_eq!(ok.unwrap().endpoints[0].secrets[0].id, "a");
}

/// The other fields go through serde: its numbers and booleans are scrubbed too.
#[test]
fn shape_errors_never_quote_numbers_or_booleans() {
    for v in every_type() {
        for field in [
            "signature_prefix",
            "max_age_seconds",
            "mode",
            "idempotency_key",
        ] {
            let fields = format!(r#","preset":"github","{field}":{v}"#);
            match one(&fields) {
                Ok(_) => assert!(v == "null" || v.starts_with('"'), "{fields}: accepted"),
                Err(e) => assert_not_quoted(&fields, &e.to_string()),
            }
        }
    }
    // Field names in backticks stay; an unknown key that is no field name is not shown.
    assert!(error_of(one(r#","preset":"github","colour":1"#)).contains("`colour`"));
    let e = error_of(one(&format!(r#","preset":"github","value:{TOKEN}":null"#)));
    assert!(
        e.contains("unknown field (name not shown), expected one of `name`"),
        "{e}"
    );
    assert_not_quoted("key", &e);
}

/// A secret pasted into `env` is not a variable name: not shown.
#[test]
fn an_env_that_is_no_variable_name_is_not_shown() {
    for var in [TOKEN, "a-secret-value", "p@ss word", ""] {
        let secrets = format!(r#"[{{"id":"a","env":"{var}"}}]"#);
        let e = error_of(with_secrets(&secrets));
        assert!(e.contains("environment variable (not shown"), "{e}");
        if !var.is_empty() {
            assert!(!e.contains(var), "{e}");
        }
        let optional = format!(r#"[{{"id":"a","env":"{var}","optional":true}},{SECRET_ONE}]"#);
        let c = with_secrets(&optional).unwrap();
        let skipped = &c.endpoints[0].skipped_secrets[0];
        assert!(skipped.contains("(not shown"), "{skipped}");
    }
    let e = error_of(with_secrets(r#"[{"id":"a","env":"GITHUB_SECRET_2"}]"#));
    assert!(
        e.contains("environment variable GITHUB_SECRET_2 is not set"),
        "{e}"
    );
}

#[test]
fn a_header_timestamp_must_be_signed() {
    let cases = [
        r#","preset":"custom","signature_header":"x-sig","timestamp":"header:x-ts""#,
        r#","preset":"stripe","signed_content":"{body}""#,
        r#","preset":"slack","signed_content":"v0:{body}""#,
    ];
    for fields in cases {
        let e = error_of(one(fields));
        assert!(
            e.contains(".timestamp: a timestamp read from a header must be signed"),
            "{fields}: {e}"
        );
    }
    let signed = r#","preset":"custom","signature_header":"x-sig","timestamp":"header:x-ts","signed_content":"{timestamp}.{body}""#;
    assert!(one(signed).is_ok());
    // A body timestamp is inside the signed body already.
    let body = r#","preset":"custom","signature_header":"x-sig","timestamp":"/time""#;
    assert!(one(body).is_ok());
}

#[test]
fn a_window_needs_a_timestamp() {
    for fields in [
        r#","preset":"github","max_age_seconds":600"#,
        r#","preset":"shopify","max_future_seconds":0"#,
    ] {
        assert!(
            error_of(one(fields)).contains("reads no timestamp"),
            "{fields}"
        );
    }
    assert!(one(r#","preset":"slack","max_age_seconds":600"#).is_ok());
}

#[test]
fn top_level_errors() {
    assert!(error_of(parse("[]")).contains("JSON object"));
    assert!(error_of(parse("{")).contains("not valid JSON"));
    assert!(error_of(parse(r#"{"endpoints":[]}"#)).contains("at least one"));
    assert!(error_of(parse(r#"{"endpoints":[],"x":1}"#)).starts_with("x: unknown field"));
    let e = error_of(parse(r#"{"endpoints":[],"value:918273645501928374":1}"#));
    assert!(e.starts_with("(a key not shown): unknown field"), "{e}");
    assert!(error_of(parse(r#"{"max_body_bytes":0,"endpoints":[]}"#)).contains("max_body_bytes"));
    let idem = r#"{"idempotency":{"cluster":"c","on_unavailable":"maybe"},"endpoints":[]}"#;
    assert!(error_of(parse(idem)).contains("idempotency.on_unavailable"));
}

#[test]
fn idempotency_defaults_follow_the_block() {
    let json = |idem: &str, key: &str| {
        format!(
            r#"{{{idem}"endpoints":[{{"name":"e","path_prefix":"/h","preset":"github","secrets":{SECRET}{key}}}]}}"#
        )
    };
    let block = r#""idempotency":{"cluster":"cache"},"#;
    let off = parse(&json("", "")).unwrap();
    assert_eq!(off.endpoints[0].idempotency_key, None);
    let on = parse(&json(block, "")).unwrap();
    assert_eq!(
        on.endpoints[0].idempotency_key,
        Some(KeySource::SignedContent),
        "github's delivery header is unsigned: the default key is the signed body"
    );
    assert!(on.endpoints[0]
        .wanted_headers
        .contains(&"x-github-delivery".to_string()));
    assert_eq!(on.idempotency.as_ref().unwrap().authority, "cache");
    let null = parse(&json(block, r#","idempotency_key":null"#)).unwrap();
    assert_eq!(null.endpoints[0].idempotency_key, None);
}

#[test]
fn endpoint_matching_respects_segments() {
    let json = format!(
        r#"{{"endpoints":[
          {{"name":"a","path_prefix":"/hooks","preset":"github","secrets":{SECRET}}},
          {{"name":"b","path_prefix":"/hooks/genesys","preset":"github","secrets":{SECRET}}},
          {{"name":"c","path_prefix":"/x/","preset":"github","secrets":{SECRET}}}]}}"#
    );
    let c = parse(&json).unwrap();
    let name = |p: &[u8]| c.endpoint_for(p).map(|i| c.endpoints[i].name.as_str());
    assert_eq!(name(b"/hooks"), Some("a"));
    assert_eq!(name(b"/hooks/other"), Some("a"));
    assert_eq!(name(b"/hooks/genesys?x=1"), Some("b"));
    assert_eq!(name(b"/hooks/genesys/1"), Some("b"));
    assert_eq!(name(b"/hooksx"), None);
    assert_eq!(name(b"/x/y"), Some("c"));
    assert_eq!(name(b"/"), None);
    assert_eq!(name(b"\xff"), None);
}

#[test]
fn a_spelling_routed_elsewhere_by_a_receiver_is_ambiguous() {
    let json = format!(
        r#"{{"endpoints":[
          {{"name":"loose","path_prefix":"/hooks","preset":"github","mode":"report","secrets":{SECRET}}},
          {{"name":"strict","path_prefix":"/hooks/strict","preset":"github","secrets":{SECRET}}}]}}"#
    );
    let c = parse(&json).unwrap();
    assert_eq!(c.route(b"/hooks/strict"), Route::Endpoint(EndpointId(1)));
    assert_eq!(
        c.route(b"/hooks/strict/x?y=1"),
        Route::Endpoint(EndpointId(1))
    );
    assert_eq!(c.route(b"/hooks/other"), Route::Endpoint(EndpointId(0)));
    assert_eq!(c.route(b"/hooks/other;x=1"), Route::Endpoint(EndpointId(0)));
    assert_eq!(c.route(b"/elsewhere"), Route::Unknown);
    for spelling in [
        "/hooks/strict;x=1",
        "/hooks/strict;/x",
        "/hooks/STRICT/x",
        "/hooks/Strict",
        "/hooks/strict.",
        "/hooks/strict%2e",
        "/hooks/%73trict",
        "/hooks/\u{17f}trict",
        "/hooks\\strict",
        "/HOOKS/strict",
        "/Hooks",
        "/hooks/strict.json",
        "/hooks/str%C4%B0ct",
        "/hooks/%u0073trict",
    ] {
        assert_eq!(c.route(spelling.as_bytes()), Route::Ambiguous, "{spelling}");
    }
}

/// The parent/child setup of docs/configuration.md's path spellings: what a receiver trims or folds, or decodes twice,
/// never reaches the report-mode parent instead of the enforcing child.
#[test]
fn unsettled_spellings_are_refused_wherever_an_endpoint_could_serve_them() {
    let json = format!(
        r#"{{"endpoints":[
          {{"name":"loose","path_prefix":"/hooks","preset":"github","mode":"report","secrets":{SECRET}}},
          {{"name":"strict","path_prefix":"/hooks/strict","preset":"github","secrets":{SECRET}}}]}}"#
    );
    let c = parse(&json).unwrap();
    let mut refused: Vec<String> = Vec::new();
    for b in (0..0x20).chain([0x7f]) {
        for hex in [format!("%{b:02X}"), format!("%{b:02x}")] {
            refused.push(format!("/hooks/strict{hex}"));
            refused.push(format!("/hooks/{hex}strict"));
            refused.push(format!("/hooks/strict{hex}/x"));
            refused.push(format!("/hooks/other{hex}"));
            refused.push(format!("/hooks/strict/x{hex}y"));
        }
    }
    for ch in ['\u{a0}', '\u{3000}', '\u{feff}', '\u{85}', '\u{ff53}'] {
        let enc: String = ch
            .to_string()
            .bytes()
            .map(|b| format!("%{b:02X}"))
            .collect();
        refused.push(format!("/hooks/strict{enc}"));
        refused.push(format!("/hooks/{enc}trict"));
    }
    refused.extend(
        [
            "/hooks/%2573trict",
            "/hooks/strict%2509",
            "/hooks/%C1%B3trict",
            "/hooks/strict%C0%AE",
            "/hooks/%u3000strict",
            "/hooks/%20strict",
            "/%09hooks/strict",
            "/hooks%09/strict",
            "/hooks/strict;%09",
            "/hooks/strict%3F%09",
            "/hooks/strict+",
            "/hooks/+strict%2B",
        ]
        .map(String::from),
    );
    for path in &refused {
        assert_eq!(c.route(path.as_bytes()), Route::Ambiguous, "{path}");
    }
    // Outside every endpoint: unknown, as before; the query string is not the path.
    assert_eq!(c.route(b"/elsewhere%09"), Route::Unknown);
    assert_eq!(c.route(b"/else%2573where"), Route::Unknown);
    assert_eq!(
        c.route(b"/hooks/strict?x=%09%2573%C3%A9"),
        Route::Endpoint(EndpointId(1))
    );
    assert_eq!(
        c.route(b"/hooks/other?x=%0a"),
        Route::Endpoint(EndpointId(0))
    );
    // Printable escapes where they change no route: as before.
    assert_eq!(c.route(b"/hooks/other%41"), Route::Endpoint(EndpointId(0)));
    assert_eq!(
        c.route(b"/hooks/strict/a%20b%7e"),
        Route::Endpoint(EndpointId(1))
    );
    assert_eq!(c.route(b"/hooks/100%25"), Route::Endpoint(EndpointId(0)));
}

#[test]
fn a_prefix_that_every_request_would_be_refused_under_is_an_error() {
    for prefix in [
        "/hooks/%2573",
        "/hooks/caf\u{e9}",
        "/hooks/%C3%A9",
        "/h%09",
        "/h?x",
        "/h#x",
    ] {
        let json = format!(
            r#"{{"endpoints":[{{"name":"e","path_prefix":"{prefix}","preset":"github","secrets":{SECRET}}}]}}"#
        );
        assert_eq!(
            field_of(parse(&json)),
            "endpoints[0] (e).path_prefix",
            "{prefix}"
        );
    }
    let json = format!(
        r#"{{"endpoints":[{{"name":"e","path_prefix":"/hooks/a%20b","preset":"github","secrets":{SECRET}}}]}}"#
    );
    assert!(parse(&json).is_ok());
}

#[test]
fn prefixes_one_receiver_would_confuse_are_refused() {
    let json = format!(
        r#"{{"endpoints":[
          {{"name":"a","path_prefix":"/hooks/a","preset":"github","secrets":{SECRET}}},
          {{"name":"b","path_prefix":"/Hooks/A.","preset":"github","secrets":{SECRET}}}]}}"#
    );
    let e = error_of(parse(&json));
    assert!(
        e.starts_with("endpoints[1].path_prefix") && e.contains("\"a\""),
        "{e}"
    );
}

#[test]
fn the_examples_placeholders_are_not_secrets() {
    let env = |k: &str| (k == "S").then(|| "replace-me-with-the-integration-secret".to_string());
    let json = r#"{"endpoints":[{"name":"e","path_prefix":"/h","preset":"github","secrets":[{"id":"a","env":"S"}]}]}"#;
    let e = Config::parse(json.as_bytes(), &env).err().unwrap();
    assert_eq!(e.field, "endpoints[0] (e).secrets[0]");
    assert!(e.reason.contains("placeholder") && !e.to_string().contains("integration-secret"));
}

#[test]
fn an_optional_secret_slot_may_be_unset() {
    let env = |k: &str| match k {
        "CURRENT_SECRET" => Some("a-long-enough-secret".to_string()),
        "EMPTY_SECRET" => Some(String::new()),
        _ => None,
    };
    let json = |secrets: &str| {
        format!(
            r#"{{"endpoints":[{{"name":"e","path_prefix":"/h","preset":"github","secrets":{secrets}}}]}}"#
        )
    };
    let parse_env = |j: String| Config::parse(j.as_bytes(), &env);
    let c = parse_env(json(
        r#"[{"id":"current","env":"CURRENT_SECRET"},{"id":"next","env":"NEXT_SECRET","optional":true},{"id":"old","env":"EMPTY_SECRET","optional":true}]"#,
    ))
    .unwrap();
    let ep = &c.endpoints[0];
    assert_eq!(ep.secrets.len(), 1);
    assert_eq!(ep.skipped_secrets.len(), 2);
    assert!(
        ep.skipped_secrets[0].contains("secrets[1] (next)")
            && ep.skipped_secrets[0].contains("NEXT_SECRET")
    );
    // Not optional: an error, as before.
    let e = parse_env(json(
        r#"[{"id":"current","env":"CURRENT_SECRET"},{"id":"next","env":"NEXT_SECRET"}]"#,
    ))
    .err()
    .unwrap();
    assert_eq!(e.field, "endpoints[0] (e).secrets[1].env");
    // Every slot optional and unset: nothing to verify with.
    let e = parse_env(json(
        r#"[{"id":"next","env":"NEXT_SECRET","optional":true}]"#,
    ))
    .err()
    .unwrap();
    assert_eq!(e.field, "endpoints[0] (e).secrets");
    // Optional applies to env slots only.
    let e = parse_env(json(
        r#"[{"id":"a","value":"0123456789abcdef","optional":true}]"#,
    ))
    .err()
    .unwrap();
    assert_eq!(e.field, "endpoints[0] (e).secrets[0].optional");
}

#[test]
fn an_unsigned_idempotency_header_needs_an_explicit_opt_in() {
    let idem = r#""idempotency":{"cluster":"cache"},"#;
    let json = |fields: &str| {
        format!(
            r#"{{{idem}"endpoints":[{{"name":"e","path_prefix":"/h","preset":"github","secrets":{SECRET}{fields}}}]}}"#
        )
    };
    let e = error_of(parse(&json(
        r#","idempotency_key":"header:X-GitHub-Delivery""#,
    )));
    assert!(e.contains("endpoints[0] (e).idempotency_key") && e.contains("not covered"));
    let ok = parse(&json(
        r#","idempotency_key":"header:X-GitHub-Delivery","allow_unsigned_idempotency_key":true"#,
    ))
    .unwrap();
    assert!(matches!(
        ok.endpoints[0].idempotency_key,
        Some(KeySource::Header(_))
    ));
    assert_eq!(
        field_of(parse(&json(r#","allow_unsigned_idempotency_key":true"#))),
        "endpoints[0] (e).allow_unsigned_idempotency_key"
    );
    // A header the signature covers needs no opt-in.
    let signed = parse(&format!(
        r#"{{{idem}"endpoints":[{{"name":"e","path_prefix":"/h","preset":"custom","signature_header":"x-sig","signed_content":"{{header:X-Id}}.{{body}}","idempotency_key":"header:x-id","secrets":{SECRET}}}]}}"#
    ));
    assert!(signed.is_ok(), "{:?}", signed.err());
    let digest = parse(&json(r#","idempotency_key":"signed_content""#)).unwrap();
    assert_eq!(
        digest.endpoints[0].idempotency_key,
        Some(KeySource::SignedContent)
    );
}

#[test]
fn methods_are_the_presets_or_known_tokens_listed() {
    use crate::scheme::delivery::{Method, Methods};
    let c = one(r#","preset":"github""#).unwrap();
    assert_eq!(c.endpoints[0].methods, Methods::POST);
    assert_eq!(c.endpoints[0].allow, "POST");
    let c = one(r#","preset":"okta""#).unwrap();
    assert_eq!(c.endpoints[0].allow, "POST, GET", "Okta's verification GET");
    let c = one(r#","preset":"twilio","public_url":"https://h.example","methods":["GET","POST"]"#)
        .unwrap();
    assert_eq!(
        c.endpoints[0].methods,
        Methods::of(&[Method::Get, Method::Post])
    );
    assert_eq!(c.endpoints[0].allow, "POST, GET");
    for (bad, says) in [
        (r#"[]"#, "at least one"),
        (r#"["post"]"#, "unknown method"),
        (r#"["FETCH"]"#, "unknown method"),
        (r#"["HEAD"]"#, "answer them themselves"),
        (r#"["POST","options"]"#, "methods[1]: HEAD and OPTIONS"),
        (r#""POST""#, "methods"),
        (r#"[1]"#, "methods"),
    ] {
        let r = one(&format!(r#","preset":"github","methods":{bad}"#));
        let text = error_of(r);
        assert!(text.starts_with("endpoints[0]"), "{bad}: {text}");
        assert!(text.contains("methods"), "{bad}: {text}");
        assert!(text.contains(says), "{bad}: {text}");
        assert!(!text.contains("FETCH") && !text.contains("post"), "{text}");
    }
}

/// Envoy hands a configuration written as YAML in place (`google.protobuf.Struct`) to the
/// plugin as the serialized message: it reads as the same configuration as its JSON text.
#[test]
fn a_serialized_struct_is_the_same_configuration_as_its_json() {
    let json = format!(
        r#"{{"max_body_bytes": 2048, "log_level": "warn",
            "idempotency": {{"cluster": "c", "timeout_ms": 250, "on_unavailable": "allow"}},
            "endpoints": [{{"name": "e", "path_prefix": "/h", "preset": "stripe",
                            "secrets": {SECRET}, "max_age_seconds": 300,
                            "payload_schema": {{"type": "object", "required": ["id"]}},
                            "idempotency_key": null}}]}}"#
    );
    let v: Value = serde_json::from_str(&json).unwrap();
    let bytes = crate::payload::protobuf::json_to_struct(v.as_object().unwrap());
    assert_eq!(bytes[0], 0x0a);
    let (a, b) = (
        parse(&json).unwrap(),
        Config::parse(&bytes, &no_env).unwrap(),
    );
    assert_eq!(
        (a.max_body_bytes, a.log_level),
        (b.max_body_bytes, b.log_level)
    );
    assert_eq!(a.idempotency, b.idempotency);
    assert_eq!(a.endpoints[0].name, b.endpoints[0].name);
    assert_eq!(
        a.endpoints[0].idempotency_key,
        b.endpoints[0].idempotency_key
    );
    assert!(b.endpoints[0].schema.is_some());
    // The same rules: a Struct's error is the JSON text's.
    let bad = serde_json::json!({"endpoints": [], "x": 1});
    let bytes = crate::payload::protobuf::json_to_struct(bad.as_object().unwrap());
    assert_eq!(
        error_of(Config::parse(&bytes, &no_env)),
        error_of(parse(&bad.to_string()))
    );
}

#[test]
fn a_configuration_neither_json_nor_struct_gets_a_clear_error() {
    // JSON text starting with a newline is still JSON.
    assert!(error_of(parse("\n{\"endpoints\":[]}")).contains("at least one"));
    let e = error_of(Config::parse(&[0x0a, 0x05, 0x0a], &no_env));
    assert!(
        e.starts_with("configuration: neither a google.protobuf.Struct (truncated"),
        "{e}"
    );
    assert!(e.contains("nor valid JSON"), "{e}");
    // A google.protobuf.UInt32Value, say.
    let e = error_of(Config::parse(&[0x08, 0x2a], &no_env));
    assert!(e.starts_with("configuration: not valid JSON"), "{e}");
    let e = error_of(Config::parse(b"", &no_env));
    assert!(e.starts_with("configuration: empty"), "{e}");
}
