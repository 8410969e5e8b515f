//! End to end: a delivery is what the sender sent. A copy of a signed delivery sent with
//! another method, or to a path below the endpoint's, never marks the delivery processed;
//! the senders' verification challenges reach the receiver every time and are never
//! deduplicated; deliveries still are. A real Envoy with the built filter, the real cache
//! service and a receiver that answers 2xx to anything (as a framework answers `OPTIONS`).

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::*;
use webhook_guard::sign::{sign_message, Message, SigningKey};

const SECRET: &str = "deliveries-secret-0123456789";
const ED_SEED: &str = "0707070707070707070707070707070707070707070707070707070707070707";

fn discord_key() -> (webhook_guard::scheme::Scheme, SigningKey) {
    let scheme = webhook_guard::scheme::presets::preset("discord").expect("preset");
    let key = SigningKey::from_text(&scheme, ED_SEED, true).expect("key");
    (scheme, key)
}

fn config() -> String {
    let (scheme, key) = discord_key();
    let public = key.public_key_text(&scheme).expect("public key");
    let endpoint = |name: &str, preset: &str, extra: &str| {
        format!(
            r#"{{ "name": "{name}", "path_prefix": "/webhooks/{name}", "preset": "{preset}",
                 "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ]{extra} }}"#
        )
    };
    let endpoints = [
        endpoint("genesys", "genesys-open-messaging", ""),
        endpoint("okta", "okta", ""),
        endpoint("twitch", "twitch", ""),
        endpoint("zoom", "zoom", ""),
        // Slack's preset keys nothing by default: keyed here, so a challenge could be a
        // duplicate.
        endpoint("slack", "slack", r#", "idempotency_key": "signed_content""#),
        format!(
            r#"{{ "name": "discord", "path_prefix": "/webhooks/discord", "preset": "discord",
                 "secrets": [ {{ "id": "current", "public_key": "{public}" }} ] }}"#
        ),
    ];
    format!(
        r#"{{ "idempotency": {{ "cluster": "webhook_guard_cache", "timeout_ms": 1000,
                             "in_flight_ttl_seconds": 30, "done_ttl_seconds": 3600 }},
             "endpoints": [ {} ] }}"#,
        endpoints.join(",\n")
    )
}

struct Setup {
    upstream: Upstream,
    envoy: Envoy,
    config: String,
    _cache: Cache,
}

fn setup() -> Setup {
    let cache = Cache::start(0, &[]);
    let upstream = Upstream::start();
    let config = config();
    let mut opts = EnvoyOptions::new(&config, upstream.port);
    opts.cache_port = Some(cache.port);
    let envoy = Envoy::start(&opts);
    Setup {
        upstream,
        envoy,
        config,
        _cache: cache,
    }
}

fn is_duplicate(r: &Response) -> bool {
    r.status == 200 && r.body == br#"{"status":"duplicate"}"#
}

fn processed(r: &Response) -> bool {
    r.status == 200 && r.body == b"ok"
}

/// Sends until the answer is no longer `429 in_flight`: a commit travels through the root
/// context after the first answer, so the very next attempt may still see the claim.
fn settled(send: impl Fn() -> Response) -> Response {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = send();
        if r.status != 429 || Instant::now() > deadline {
            return r;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// A `HEAD` request with a body: only the answer's head is read (a `HEAD` answer has no body,
/// whatever its `content-length` says).
fn head(port: u16, path: &str, headers: &[(&str, &[u8])], body: &[u8]) -> (u16, String) {
    let mut req = request_head("HEAD", path, headers, Some(body.len()));
    req.extend_from_slice(body);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to envoy");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream.write_all(&req).expect("write");
    let mut reader = BufReader::new(&stream);
    let mut text = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        text.push_str(&line);
    }
    let _ = stream.shutdown(Shutdown::Both);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text.to_ascii_lowercase())
}

#[test]
fn copies_sent_with_another_method_never_reach_the_receiver_nor_mark_the_delivery() {
    if !e2e_ready() {
        return;
    }
    let s = setup();
    let port = s.envoy.port;
    let (headers, body) = genesys_delivery(&s.config, SECRET, "method-copy-1");
    let headers = as_refs(&headers);
    for method in ["OPTIONS", "GET", "PUT", "PATCH", "DELETE"] {
        let r = send(port, method, "/webhooks/genesys", &headers, body.as_bytes());
        assert_eq!(
            (r.status, r.error()),
            (405, "method_not_allowed".to_string()),
            "{method}"
        );
        assert_eq!(r.header("allow").as_deref(), Some("POST"), "{method}");
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/json")
        );
    }
    // A POST that asks the receiver to take it for another method (Symfony and Laravel read
    // the header by default, Laravel the query parameter).
    for (name, value) in [
        ("x-http-method-override", "OPTIONS"),
        ("X-HTTP-Method", "HEAD"),
        ("x-method-override", "GET"),
    ] {
        let mut with: Vec<(&str, &[u8])> = headers.clone();
        with.push((name, value.as_bytes()));
        let r = send(port, "POST", "/webhooks/genesys", &with, body.as_bytes());
        assert_eq!(
            (r.status, r.error()),
            (405, "method_not_allowed".into()),
            "{name}"
        );
    }
    for query in ["?_method=OPTIONS", "?a=1&%5Fmethod=GET", "?.method=HEAD"] {
        let path = format!("/webhooks/genesys{query}");
        let r = send(port, "POST", &path, &headers, body.as_bytes());
        assert_eq!(
            (r.status, r.error()),
            (405, "method_not_allowed".into()),
            "{query}"
        );
    }
    let (status, head_text) = head(port, "/webhooks/genesys", &headers, body.as_bytes());
    assert_eq!(status, 405, "{head_text}");
    assert!(head_text.contains("allow: post"), "{head_text}");
    assert!(
        s.upstream.requests().is_empty(),
        "a copy reached the receiver"
    );
    assert_eq!(
        s.envoy.metric(
            r#"webhook_guard_filter_rejected_total{endpoint="genesys",reason="method_not_allowed"}"#
        ),
        12
    );

    // The sender's own POST afterwards is processed, not answered as a duplicate.
    let r = send(port, "POST", "/webhooks/genesys", &headers, body.as_bytes());
    assert!(processed(&r), "{r:?}");
    assert_eq!(s.upstream.requests().len(), 1);
    assert_eq!(s.upstream.requests()[0].method, "POST");
    // And its copies stay what they were: a POST retry is a duplicate, an OPTIONS a 405.
    let again = settled(|| send(port, "POST", "/webhooks/genesys", &headers, body.as_bytes()));
    assert!(is_duplicate(&again), "{again:?}");
    let r = send(
        port,
        "OPTIONS",
        "/webhooks/genesys",
        &headers,
        body.as_bytes(),
    );
    assert_eq!(r.status, 405);
    assert_eq!(s.upstream.requests().len(), 1);
    s.envoy.assert_no_panic();
}

#[test]
fn a_copy_sent_below_the_endpoints_path_is_another_delivery() {
    if !e2e_ready() {
        return;
    }
    let s = setup();
    let port = s.envoy.port;
    let (headers, body) = genesys_delivery(&s.config, SECRET, "path-copy-1");
    let headers = as_refs(&headers);
    let post = |path: &str| send(port, "POST", path, &headers, body.as_bytes());

    // The receiver answers the copy 2xx (as a catch-all route would): committed, under a key
    // of its own.
    let r = post("/webhooks/genesys/anything");
    assert!(processed(&r), "{r:?}");
    let copy_key = s.upstream.requests()[0].header("x-webhook-guard-idempotency-key");
    let again = settled(|| post("/webhooks/genesys/anything"));
    assert!(is_duplicate(&again), "the copy, sent again: {again:?}");
    assert_eq!(s.upstream.requests().len(), 1);

    // The sender's delivery to the endpoint's own path is processed all the same.
    let r = post("/webhooks/genesys");
    assert!(
        processed(&r),
        "the delivery was marked processed by its copy: {r:?}"
    );
    let requests = s.upstream.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].path, "/webhooks/genesys");
    let key = requests[1].header("x-webhook-guard-idempotency-key");
    assert_ne!(key, copy_key);
    assert_eq!(key.as_deref().map(str::len), Some(64));

    // The same path spelt with a trailing slash, or with a query, is the same delivery
    // (receivers route them to the same handler): a duplicate.
    for same in ["/webhooks/genesys?x=1", "/webhooks/genesys/"] {
        let r = settled(|| post(same));
        assert!(is_duplicate(&r), "{same}: {r:?}");
    }
    assert_eq!(s.upstream.requests().len(), 2);
    // Spellings below the prefix that a lenient receiver serves as the endpoint's own path
    // and a strict one as a path below it: neither key would be safe, so they are refused.
    for spelling in ["/webhooks/genesys/;x", "/webhooks/genesys/;a=1/"] {
        let r = post(spelling);
        assert_eq!(
            (r.status, r.error()),
            (400, "ambiguous_path".into()),
            "{spelling}"
        );
    }
    assert_eq!(s.upstream.requests().len(), 2);
    s.envoy.assert_no_panic();
}

#[test]
fn oktas_verifications_all_reach_the_receiver_and_its_events_are_deduplicated() {
    if !e2e_ready() {
        return;
    }
    let s = setup();
    let port = s.envoy.port;
    let auth = sign_for(&s.config, &[], "okta", SECRET, b"", "", "");
    for challenge in ["challenge-1", "challenge-2", "challenge-1"] {
        let mut headers = auth.clone();
        headers.push((
            "x-okta-verification-challenge".into(),
            challenge.as_bytes().to_vec(),
        ));
        let r = send(port, "GET", "/webhooks/okta", &as_refs(&headers), b"");
        assert!(processed(&r), "{challenge}: {r:?}");
        let last = s.upstream.requests().pop().expect("forwarded");
        assert_eq!(last.method, "GET");
        assert_eq!(
            last.header("x-okta-verification-challenge").as_deref(),
            Some(challenge)
        );
        assert_eq!(last.header("x-webhook-guard-idempotency-key"), None);
    }
    assert_eq!(s.upstream.requests().len(), 3);
    // A GET that is no verification, a HEAD that carries one, a verification with the
    // wrong secret: refused, never forwarded.
    let r = send(port, "GET", "/webhooks/okta", &as_refs(&auth), b"");
    assert_eq!(
        (r.status, r.header("allow")),
        (405, Some("POST, GET".into()))
    );
    let mut challenge = auth.clone();
    challenge.push(("x-okta-verification-challenge".into(), b"c".to_vec()));
    let (status, _) = head(port, "/webhooks/okta", &as_refs(&challenge), b"");
    assert_eq!(status, 405);
    let forged = [
        ("authorization", &b"not-the-okta-secret-0123"[..]),
        ("x-okta-verification-challenge", b"c"),
    ];
    assert_eq!(
        send(port, "GET", "/webhooks/okta", &forged, b"").status,
        401
    );
    assert_eq!(s.upstream.requests().len(), 3);

    // An event delivery is still deduplicated.
    let body = br#"{"eventType":"com.okta.event_hook","eventId":"e-1","data":{"events":[]}}"#;
    let headers = sign_for(&s.config, &[], "okta", SECRET, body, "", "");
    let r = send(port, "POST", "/webhooks/okta", &as_refs(&headers), body);
    assert!(processed(&r), "{r:?}");
    let again = settled(|| send(port, "POST", "/webhooks/okta", &as_refs(&headers), body));
    assert!(is_duplicate(&again), "{again:?}");
    assert_eq!(s.upstream.requests().len(), 4);
    s.envoy.assert_no_panic();
}

/// Each challenge sent twice, identical (same id, same body, same timestamp): what would
/// be a duplicate if it were a delivery reaches the receiver both times. The same sender's
/// delivery sent twice is a duplicate.
#[test]
fn the_senders_challenges_reach_the_receiver_every_time() {
    if !e2e_ready() {
        return;
    }
    let s = setup();
    let port = s.envoy.port;
    let now = now_unix();
    let ts = now.to_string();
    let sign = |name: &str, body: &str, timestamp: &str, id: &str| {
        sign_for(&s.config, &[], name, SECRET, body.as_bytes(), timestamp, id)
    };
    let (discord_scheme, discord_key) = discord_key();
    let discord = |body: &str| {
        let m = Message {
            body: body.as_bytes(),
            timestamp: &ts,
            id: "",
            method: "POST",
            path: "/webhooks/discord",
        };
        let signed = sign_message(&discord_scheme, &discord_key, &m).expect("sign");
        signed
            .headers
            .into_iter()
            .map(|(n, v)| (n, v.into_bytes()))
            .collect::<Vec<_>>()
    };
    let twitch_type = |mut h: Vec<(String, Vec<u8>)>, kind: &str| {
        h.push((
            "twitch-eventsub-message-type".into(),
            kind.as_bytes().to_vec(),
        ));
        h
    };
    let twitch_challenge = r#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"id":"f1c2a387","type":"channel.follow","version":"2","status":"webhook_callback_verification_pending"}}"#;
    let twitch_event =
        r#"{"subscription":{"id":"f1c2a387","type":"channel.follow"},"event":{"user_id":"1337"}}"#;
    let zoom_challenge = r#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
    let zoom_event =
        r#"{"event":"meeting.started","event_ts":1654503849680,"payload":{"object":{"id":"1"}}}"#;
    let slack_challenge = r#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let slack_event =
        r#"{"token":"x","type":"event_callback","event_id":"Ev1","event":{"type":"app_mention"}}"#;
    let discord_ping = r#"{"id":"1188","application_id":"42","type":1,"version":1}"#;
    let discord_command = r#"{"id":"1189","application_id":"42","type":2,"data":{"name":"demo"}}"#;

    let rfc = rfc3339(now);
    // Per sender: its challenge (headers, body), then one of its deliveries.
    type Signed = Vec<(String, Vec<u8>)>;
    let cases: Vec<(&str, Signed, &str, Signed, &str)> = vec![
        (
            "twitch",
            twitch_type(
                sign("twitch", twitch_challenge, &rfc, "msg-challenge-1"),
                "webhook_callback_verification",
            ),
            twitch_challenge,
            twitch_type(
                sign("twitch", twitch_event, &rfc, "msg-event-1"),
                "notification",
            ),
            twitch_event,
        ),
        (
            "zoom",
            sign("zoom", zoom_challenge, &ts, ""),
            zoom_challenge,
            sign("zoom", zoom_event, &ts, ""),
            zoom_event,
        ),
        (
            "slack",
            sign("slack", slack_challenge, &ts, ""),
            slack_challenge,
            sign("slack", slack_event, &ts, ""),
            slack_event,
        ),
        (
            "discord",
            discord(discord_ping),
            discord_ping,
            discord(discord_command),
            discord_command,
        ),
    ];
    // Every sender is tried before the verdict, so a failure names each one that fails.
    let mut swallowed = Vec::new();
    for (name, ch_headers, ch_body, ev_headers, ev_body) in &cases {
        let path = format!("/webhooks/{name}");
        let before = s.upstream.requests().len();
        for round in 0..2 {
            let r = send(
                port,
                "POST",
                &path,
                &as_refs(ch_headers),
                ch_body.as_bytes(),
            );
            if !processed(&r) {
                swallowed.push(format!("{name} challenge, round {round}: {r:?}"));
            }
        }
        let requests = s.upstream.requests();
        let forwarded = &requests[before..];
        if forwarded.len() != 2
            || !forwarded.iter().all(|r| {
                r.header("x-webhook-guard-idempotency-key").is_none()
                    && r.body == ch_body.as_bytes()
            })
        {
            swallowed.push(format!(
                "{name}: {} challenge(s) forwarded, or claimed",
                forwarded.len()
            ));
        }
        let before = requests.len();

        let r = send(
            port,
            "POST",
            &path,
            &as_refs(ev_headers),
            ev_body.as_bytes(),
        );
        assert!(processed(&r), "{name} event: {r:?}");
        let again = settled(|| {
            send(
                port,
                "POST",
                &path,
                &as_refs(ev_headers),
                ev_body.as_bytes(),
            )
        });
        assert!(is_duplicate(&again), "{name} event, again: {again:?}");
        assert_eq!(s.upstream.requests().len(), before + 1, "{name}");
    }
    assert!(swallowed.is_empty(), "{swallowed:#?}");
    // Twitch's message type is not signed: a notification relabelled as a challenge is no
    // challenge (its body has none), so it stays a duplicate of the notification.
    let (_, _, _, notification, ev_body) = &cases[0];
    let mut relabelled: Vec<(String, Vec<u8>)> = notification
        .iter()
        .filter(|(n, _)| n != "twitch-eventsub-message-type")
        .cloned()
        .collect();
    relabelled.push((
        "twitch-eventsub-message-type".into(),
        b"webhook_callback_verification".to_vec(),
    ));
    let before = s.upstream.requests().len();
    let r = send(
        port,
        "POST",
        "/webhooks/twitch",
        &as_refs(&relabelled),
        ev_body.as_bytes(),
    );
    assert!(is_duplicate(&r), "{r:?}");
    assert_eq!(s.upstream.requests().len(), before);
    // A challenge with a signature that does not hold is refused like any delivery.
    let mut forged = sign("zoom", zoom_challenge, &ts, "");
    forged.retain(|(n, _)| n != "x-zm-signature");
    forged.push((
        "x-zm-signature".into(),
        format!("v0={}", "00".repeat(32)).into_bytes(),
    ));
    let r = send(
        port,
        "POST",
        "/webhooks/zoom",
        &as_refs(&forged),
        zoom_challenge.as_bytes(),
    );
    assert_eq!(r.status, 401);
    s.envoy.assert_no_panic();
}

/// Found by a review of the rules above, as an attacker would try them: a Discord Webhook
/// Event taken for the PING, PHP's own spellings of `_method`, a secret pasted into `env`,
/// an encoded `?` below a child path (host-free, through the crate's own modules).
mod review {

    use webhook_guard::config::Config;
    use webhook_guard::request::headers::CapturedHeaders;
    use webhook_guard::scheme::delivery::overrides_method;
    use webhook_guard::sign::{sign_message, Message, SigningKey};
    use webhook_guard::verify::verify;

    const ED_SEED: &str = "0202020202020202020202020202020202020202020202020202020202020202";
    const NOW: i64 = 1_700_000_000;

    fn discord_config(extra: &str) -> String {
        let scheme = webhook_guard::scheme::presets::preset("discord").expect("preset");
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
        let scheme = webhook_guard::scheme::presets::preset("discord").expect("preset");
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

    /// The parent/child setup of docs/configuration.md's path spellings: `/hooks` in report mode, `/hooks/strict` enforcing.
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
    fn an_encoded_query_or_fragment_mark_is_not_the_parents() {
        use webhook_guard::config::Route;
        let config = parent_and_child();
        assert!(matches!(config.route(b"/hooks/strict"), Route::Endpoint(id) if id.index() == 1));
        assert!(matches!(config.route(b"/hooks/other"), Route::Endpoint(id) if id.index() == 0));
        for path in [
            "/hooks/strict%3Fx",
            "/hooks/strict%3f",
            "/hooks/strict%23",
            "/hooks/strict%3F/x",
            "/hooks/strict%253F",
        ] {
            assert!(
                !matches!(config.route(path.as_bytes()), Route::Endpoint(id) if id.index() == 0),
                "{path}"
            );
        }
    }
}

/// The same review, end to end: copies that ask the receiver's framework for another path
/// or method.
mod review_e2e {
    use crate::common::*;

    const SECRET: &str = "review-i21-secret-0123456789";

    fn config() -> String {
        format!(
            r#"{{ "idempotency": {{ "cluster": "webhook_guard_cache", "timeout_ms": 1000,
                                 "in_flight_ttl_seconds": 30, "done_ttl_seconds": 3600 }},
                 "endpoints": [ {{ "name": "genesys", "path_prefix": "/webhooks/genesys",
                     "preset": "genesys-open-messaging",
                     "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ] }} ] }}"#
        )
    }

    /// A copy that asks the receiver to serve another path (`X-Original-URL`, `X-Rewrite-URL`:
    /// IIS's URL Rewrite, Zend Framework, Symfony before CVE-2018-14773) or another method in
    /// PHP's own spellings of `_method` (Laravel) is no delivery: the framework routes it to
    /// another handler, whose 2xx would commit the sender's delivery unprocessed. It should be
    /// refused before any claim, as the override headers of `crate::delivery` are; and the
    /// sender's POST afterwards must be processed.
    #[test]
    fn copies_that_ask_for_another_path_or_method_do_not_mark_the_delivery() {
        if !e2e_ready() {
            return;
        }
        let cache = Cache::start(0, &[]);
        let upstream = Upstream::start();
        let config = config();
        let mut opts = EnvoyOptions::new(&config, upstream.port);
        opts.cache_port = Some(cache.port);
        let envoy = Envoy::start(&opts);
        let port = envoy.port;
        let (headers, body) = genesys_delivery(&config, SECRET, "review-override-1");
        let headers = as_refs(&headers);
        let copies: [(&str, Option<(&str, &str)>); 4] = [
            ("/webhooks/genesys", Some(("x-original-url", "/health"))),
            ("/webhooks/genesys", Some(("x-rewrite-url", "/health"))),
            ("/webhooks/genesys?%20_method=OPTIONS", None),
            ("/webhooks/genesys?_method%00=OPTIONS", None),
        ];
        for (path, extra) in copies {
            let mut with: Vec<(&str, &[u8])> = headers.clone();
            if let Some((n, v)) = extra {
                with.push((n, v.as_bytes()));
            }
            let r = send(port, "POST", path, &with, body.as_bytes());
            assert!(
                (400..500).contains(&r.status) && r.status != 429,
                "{path} {extra:?}: {r:?}"
            );
        }
        assert!(
            upstream.requests().is_empty(),
            "a copy reached the receiver"
        );
        let r = send(port, "POST", "/webhooks/genesys", &headers, body.as_bytes());
        assert!(r.status == 200 && r.body == b"ok", "{r:?}");
        envoy.assert_no_panic();
    }
}
