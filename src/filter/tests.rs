//! The glue, callback by callback, against the fake host: every state transition of a
//! request, the claim's every way out, report mode, trailers, and the root context's
//! retries. What Envoy itself does is the end-to-end suite's job (tests/).

use std::cell::Ref;
use std::time::Duration;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::Action;

use super::fake::Fake;
use super::http::State;
use super::root::{GuardHandle, Root, OUTCOME_QUEUE};
use crate::dedupe::client::{Queued, Settlement};
use crate::dedupe::fate::flags;

/// The root context's id, and the first request context's.
const ROOT_ID: u32 = 1;
const FIRST_CONTEXT: u32 = 100;

type Guard = GuardHandle<Fake>;

/// A request's state, as the root shares it.
fn state(guard: &Guard) -> Ref<'_, State> {
    Ref::map(guard.0.borrow(), |g| &g.state)
}

/// A new request context.
fn new_guard(root: &Root<Fake>, fake: &Fake) -> Guard {
    let id = {
        let mut st = fake.st();
        st.next_context += 1;
        FIRST_CONTEXT + st.next_context
    };
    GuardHandle(root.guard(id).unwrap())
}

const SECRET: &str = "glue-secret-0123456789";
const NOW: u64 = 1_750_000_000;
/// `new_token([0xab; 16])`: the fake's random bytes.
const TOKEN: &str = "abababababababababababababababab";

fn config(on_unavailable: &str) -> String {
    format!(
        r#"{{
  "idempotency": {{ "cluster": "cache", "on_unavailable": "{on_unavailable}" }},
  "endpoints": [
    {{ "name": "genesys", "path_prefix": "/genesys", "preset": "genesys-open-messaging",
      "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ] }},
    {{ "name": "loose", "path_prefix": "/hooks", "preset": "github", "mode": "report",
      "idempotency_key": null, "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ] }},
    {{ "name": "strict", "path_prefix": "/hooks/strict", "preset": "github",
      "idempotency_key": null, "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ] }}
  ]
}}"#
    )
}

fn start(config: &str) -> (Root<Fake>, Fake) {
    let fake = Fake::new();
    fake.st().configuration = config.as_bytes().to_vec();
    fake.st().now = Duration::from_secs(NOW);
    let mut root = Root::new(fake.clone(), ROOT_ID);
    assert!(root.on_configure(0), "configuration refused");
    (root, fake)
}

/// Headers a sender signs `body` with for endpoint `name`.
fn signed(root: &Root<Fake>, name: &str, body: &str) -> Vec<(String, Vec<u8>)> {
    let config = root.config.as_ref().unwrap();
    let ep = config.endpoints.iter().find(|e| e.name == name).unwrap();
    let key = ep.scheme.secret_encoding.decode(SECRET).unwrap();
    crate::sign::sign(&ep.scheme, &key, body.as_bytes(), "", "")
        .into_iter()
        .map(|(n, v)| (n, v.into_bytes()))
        .collect()
}

fn genesys_body(id: &str) -> String {
    let time = crate::payload::rfc3339::unix_seconds_to_rfc3339(NOW as i64);
    format!(r#"{{"id":"{id}","channel":{{"time":"{time}"}}}}"#)
}

/// Sets up the request on the fake and runs the request callbacks through the body.
fn request(
    root: &Root<Fake>,
    fake: &Fake,
    path: &str,
    headers: Vec<(String, Vec<u8>)>,
    body: &str,
) -> (Guard, Action) {
    request_with(root, fake, "POST", path, headers, body)
}

/// The same with another method.
fn request_with(
    root: &Root<Fake>,
    fake: &Fake,
    method: &str,
    path: &str,
    headers: Vec<(String, Vec<u8>)>,
    body: &str,
) -> (Guard, Action) {
    let mut all = vec![
        (":method".to_string(), method.as_bytes().to_vec()),
        (":path".to_string(), path.as_bytes().to_vec()),
        ("x-request-id".to_string(), b"req-1".to_vec()),
        (
            "content-length".to_string(),
            body.len().to_string().into_bytes(),
        ),
    ];
    all.extend(headers);
    // A new request: its headers may be read until its response starts.
    fake.st().response_started = false;
    fake.st().request_headers = all;
    fake.st().body = body.as_bytes().to_vec();
    let mut guard = new_guard(root, fake);
    let action = guard.on_http_request_headers(3, body.is_empty());
    if action != Action::Pause || !matches!(*state(&guard), State::Buffering { .. }) {
        return (guard, action);
    }
    let action = guard.on_http_request_body(body.len(), true);
    (guard, action)
}

/// A verified Genesys delivery, claimed (waiting for the cache's answer).
fn claiming(root: &Root<Fake>, fake: &Fake, id: &str) -> Guard {
    let body = genesys_body(id);
    let (guard, action) = request(
        root,
        fake,
        "/genesys",
        signed(root, "genesys", &body),
        &body,
    );
    assert_eq!(action, Action::Pause);
    assert!(
        matches!(*state(&guard), State::Claiming { .. }),
        "{:?}",
        *state(&guard)
    );
    guard
}

/// The root's own wake-up queue.
fn wake_queue(fake: &Fake) -> u32 {
    let st = fake.st();
    let i = st
        .queue_names
        .iter()
        .position(|n| n.starts_with("webhook_guard_batch_"))
        .expect("a wake-up queue");
    i as u32 + 1
}

/// The root wakes up and sends what waits; the token of the batch it sent.
fn wake(root: &mut Root<Fake>, fake: &Fake) -> u32 {
    root.on_queue_ready(wake_queue(fake));
    fake.st().calls.len() as u32
}

/// The cache answers the batch in flight as `token` (`None`: no answer at all).
fn answer_batch(root: &mut Root<Fake>, fake: &Fake, token: u32, status: Option<&str>, body: &str) {
    fake.st().call_status = status.map(|s| s.as_bytes().to_vec());
    fake.st().call_body = body.as_bytes().to_vec();
    root.on_http_call_response(token, usize::from(status.is_some()), body.len(), 0);
}

/// The root sends the waiting claim alone, and the cache answers it: a single op's answer
/// (`{"result":..}`) as that batch's one entry; anything else as the whole batch's answer.
fn answer(root: &mut Root<Fake>, fake: &Fake, status: Option<&str>, body: &str) {
    let token = wake(root, fake);
    let entry = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .filter(|v| status == Some("200") && v.get("result").is_some());
    let body = match entry {
        Some(mut v) => {
            v["id"] = 0.into();
            format!(r#"{{"results":[{v}]}}"#)
        }
        None => body.to_string(),
    };
    answer_batch(root, fake, token, status, &body);
}

/// Every commit, release and abandon handed to the root so far, sent or waiting, oldest
/// first, as the queue message it would be (`commit 1 {...}`).
fn settled(root: &Root<Fake>, fake: &Fake) -> Vec<String> {
    let mut out = Vec::new();
    let calls = fake.st().calls.clone();
    for (path, body) in calls {
        assert_eq!(path, "/v1/batch");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        for op in v["ops"].as_array().unwrap() {
            let (name, body) = match (op.get("commit"), op.get("release")) {
                (Some(c), _) => ("commit", c),
                (_, Some(r)) if r.get("ttl_ms").is_some() => ("abandon", r),
                (_, Some(r)) => ("release", r),
                _ => continue,
            };
            out.push(format!("{name} 1 {body}"));
        }
    }
    let waiting = root.link.batcher.borrow().waiting_settlements();
    out.extend(
        waiting
            .iter()
            .map(|q| String::from_utf8_lossy(&q.encode()).into_owned()),
    );
    out.extend(fake.queued());
    out
}

/// The ops of the batch sent as call `token` (1-based), as JSON.
fn batch_ops(fake: &Fake, token: u32) -> Vec<serde_json::Value> {
    let st = fake.st();
    let (path, body) = &st.calls[token as usize - 1];
    assert_eq!(path, "/v1/batch");
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    v["ops"].as_array().unwrap().clone()
}

fn claimed_answer() -> String {
    format!(r#"{{"result":"claimed","token":"{TOKEN}"}}"#)
}

fn claims(fake: &Fake, outcome: &str) -> u64 {
    fake.count(&format!(
        "webhook_guard_filter.claims_total.outcome.{outcome}"
    ))
}

fn last_reply(fake: &Fake) -> (u32, String) {
    let st = fake.st();
    let (status, _, body) = st.replies.last().expect("a local reply");
    (*status, String::from_utf8_lossy(body).into_owned())
}

/// The upstream's answer arrives (or Envoy's own, by `details` and `flags`).
fn respond(guard: &mut Guard, fake: &Fake, status: &str, details: &str, response_flags: u64) {
    let mut st = fake.st();
    st.response_status = status.as_bytes().to_vec();
    st.properties
        .insert("response.code_details".into(), details.as_bytes().to_vec());
    st.properties.insert(
        "response.flags".into(),
        response_flags.to_le_bytes().to_vec(),
    );
    drop(st);
    assert_eq!(guard.on_http_response_headers(2, true), Action::Continue);
}

#[test]
fn paths_no_endpoint_serves_or_that_a_receiver_would_route_elsewhere_are_refused() {
    let (root, fake) = start(&config("reject"));
    let (guard, action) = request(&root, &fake, "/elsewhere", vec![], "{}");
    assert_eq!(action, Action::Pause);
    assert!(matches!(*state(&guard), State::Done));
    assert_eq!(
        last_reply(&fake),
        (404, r#"{"error":"unknown_endpoint"}"#.into())
    );
    for path in ["/hooks/Strict", "/hooks/strict;x=1", "/hooks/strict."] {
        let (_, action) = request(&root, &fake, path, vec![], "{}");
        assert_eq!(action, Action::Pause);
        assert_eq!(
            last_reply(&fake),
            (400, r#"{"error":"ambiguous_path"}"#.into())
        );
    }
    assert_eq!(
        fake.count("webhook_guard_filter.rejected_total.endpoint.none.reason.ambiguous_path"),
        3
    );
}

#[test]
fn a_verified_delivery_is_forwarded_with_only_the_filters_own_headers() {
    let (root, fake) = start(&config("reject"));
    let body = r#"{"action":"opened"}"#;
    let mut headers = signed(&root, "strict", body);
    for forged in [
        "x-webhook-guard-endpoint",
        "x_webhook_guard_secret_id",
        "X-Webhook-Guard_X",
    ] {
        headers.push((forged.to_string(), b"forged".to_vec()));
    }
    let (guard, action) = request(&root, &fake, "/hooks/strict", headers, body);
    assert_eq!(action, Action::Continue);
    assert!(matches!(*state(&guard), State::Done));
    assert!(fake.st().replies.is_empty());
    assert_eq!(
        fake.header("x-webhook-guard-endpoint"),
        Some(b"strict".to_vec())
    );
    assert_eq!(
        fake.header("x-webhook-guard-secret-id"),
        Some(b"current".to_vec())
    );
    assert_eq!(fake.header("x_webhook_guard_secret_id"), None);
    assert_eq!(fake.header("X-Webhook-Guard_X"), None);
    assert_eq!(
        fake.count("webhook_guard_filter.accepted_total.endpoint.strict.secret_id.current"),
        1
    );
    assert!(fake.st().calls.is_empty(), "no claim without deduplication");
}

#[test]
fn report_mode_counts_and_forwards_what_it_would_refuse() {
    let (root, fake) = start(&config("reject"));
    let headers = vec![("x-hub-signature-256".to_string(), b"sha256=00".to_vec())];
    let (_, action) = request(&root, &fake, "/hooks/other", headers, "{}");
    assert_eq!(action, Action::Continue);
    assert!(fake.st().replies.is_empty());
    assert_eq!(
        fake.count(
            "webhook_guard_filter.would_reject_total.endpoint.loose.reason.malformed_signature"
        ),
        1
    );
}

#[test]
fn bodies_over_the_limit_are_refused_from_the_header_or_as_they_grow() {
    let (root, fake) = start(&config("reject"));
    let mut guard = new_guard(&root, &fake);
    fake.st().request_headers = vec![
        (":method".into(), b"POST".to_vec()),
        (":path".into(), b"/hooks/strict".to_vec()),
        ("content-length".into(), b"99999999".to_vec()),
    ];
    assert_eq!(guard.on_http_request_headers(2, false), Action::Pause);
    assert_eq!(last_reply(&fake).0, 413);
    let mut guard = new_guard(&root, &fake);
    fake.st().request_headers = vec![
        (":method".into(), b"POST".to_vec()),
        (":path".into(), b"/hooks/strict".to_vec()),
    ];
    assert_eq!(guard.on_http_request_headers(1, false), Action::Pause);
    assert_eq!(guard.on_http_request_body(1024, false), Action::Pause);
    assert_eq!(
        guard.on_http_request_body(2 * 1024 * 1024, false),
        Action::Pause
    );
    assert_eq!(last_reply(&fake).0, 413);
    // Callbacks after the answer change nothing.
    assert_eq!(guard.on_http_request_body(10, true), Action::Continue);
    assert_eq!(fake.st().replies.len(), 2);
}

#[test]
fn a_body_ending_in_trailers_is_verified_at_the_trailers() {
    let (root, fake) = start(&config("reject"));
    let body = r#"{"action":"opened"}"#;
    let mut all = vec![
        (":method".to_string(), b"POST".to_vec()),
        (":path".to_string(), b"/hooks/strict".to_vec()),
    ];
    all.extend(signed(&root, "strict", body));
    fake.st().request_headers = all;
    fake.st().body = body.as_bytes().to_vec();
    let mut guard = new_guard(&root, &fake);
    assert_eq!(guard.on_http_request_headers(2, false), Action::Pause);
    assert_eq!(guard.on_http_request_body(body.len(), false), Action::Pause);
    assert_eq!(guard.on_http_request_trailers(1), Action::Continue);
    assert_eq!(
        fake.header("x-webhook-guard-endpoint"),
        Some(b"strict".to_vec())
    );
    // A tampered body is refused there too.
    fake.st().body = br#"{"action":"closed"}"#.to_vec();
    let mut guard = new_guard(&root, &fake);
    assert_eq!(guard.on_http_request_headers(2, false), Action::Pause);
    assert_eq!(guard.on_http_request_body(body.len(), false), Action::Pause);
    assert_eq!(guard.on_http_request_trailers(1), Action::Pause);
    assert_eq!(last_reply(&fake).0, 401);
}

#[test]
fn own_names_are_removed_from_the_trailers_and_by_their_bytes() {
    let (root, fake) = start(&config("reject"));
    let body = r#"{"action":"opened"}"#;
    let mut all = vec![
        (":method".to_string(), b"POST".to_vec()),
        (":path".to_string(), b"/hooks/strict".to_vec()),
        ("x-webhook-guard-endpoint-2".to_string(), b"forged".to_vec()),
    ];
    all.extend(signed(&root, "strict", body));
    fake.st().request_headers = all;
    fake.st().request_trailers = vec![
        ("x-webhook-guard-secret-id".to_string(), b"forged".to_vec()),
        ("X_Webhook_Guard_Endpoint".to_string(), b"forged".to_vec()),
        ("x-trailer".to_string(), b"end".to_vec()),
    ];
    fake.st().body = body.as_bytes().to_vec();
    let mut guard = new_guard(&root, &fake);
    assert_eq!(guard.on_http_request_headers(2, false), Action::Pause);
    assert_eq!(guard.on_http_request_body(body.len(), false), Action::Pause);
    assert_eq!(guard.on_http_request_trailers(3), Action::Continue);
    let st = fake.st();
    assert_eq!(
        st.request_trailers,
        vec![("x-trailer".to_string(), b"end".to_vec())],
        "only the client's own trailer is left"
    );
    let forged: Vec<_> = st
        .request_headers
        .iter()
        .filter(|(_, v)| v == b"forged")
        .collect();
    assert!(forged.is_empty(), "{forged:?}");
    // Names are matched as bytes: one that is not UTF-8 is still ours to remove (Envoy's
    // codecs refuse such names, a filter before this one might not).
    assert!(crate::request::headers::own::is_own(
        b"x-webhook-guard-\xff"
    ));
    assert!(crate::request::headers::own::is_own(
        b"X_WEBHOOK_GUARD_\xfe"
    ));
    assert!(!crate::request::headers::own::is_own(b"x-webhook-guar\xff"));
}

#[test]
fn the_claim_carries_the_filters_own_token_and_a_2xx_commits_it() {
    let (mut root, fake) = start(&config("reject"));
    let mut guard = claiming(&root, &fake, "m1");
    assert!(fake.st().calls.is_empty(), "sent by the root, once woken");
    assert_eq!(fake.waiting(wake_queue(&fake)), 1, "the root is woken once");
    let token = wake(&mut root, &fake);
    assert_eq!(
        fake.st().effective.last(),
        Some(&ROOT_ID),
        "the root's own call"
    );
    let ops = batch_ops(&fake, token);
    assert_eq!(ops.len(), 1);
    let claim = &ops[0]["claim"];
    assert_eq!(claim["token"], TOKEN);
    assert_eq!(claim["ttl_ms"], 60_000);
    let key = claim["key"].as_str().unwrap().to_string();
    let entry = format!(r#"{{"results":[{{"id":0,"result":"claimed","token":"{TOKEN}"}}]}}"#);
    answer_batch(&mut root, &fake, token, Some("200"), &entry);
    assert!(
        fake.st().effective.contains(&(FIRST_CONTEXT + 1)),
        "the answer acts for the request"
    );
    assert_eq!(fake.st().effective.last(), Some(&ROOT_ID));
    assert_eq!(fake.st().resumed, 1);
    assert!(matches!(*state(&guard), State::Claimed { .. }));
    assert_eq!(
        fake.header("x-webhook-guard-idempotency-key"),
        Some(key.as_bytes().to_vec())
    );
    respond(&mut guard, &fake, "200", "via_upstream", 0);
    assert_eq!(
        settled(&root, &fake),
        [format!(
            r#"commit 1 {{"key":"{key}","token":"{TOKEN}","ttl_ms":86400000}}"#
        )]
    );
    assert!(matches!(*state(&guard), State::Done));
    guard.on_log();
    assert_eq!(settled(&root, &fake).len(), 1, "settled once");
    assert_eq!(
        (claims(&fake, "claimed"), claims(&fake, "committed")),
        (1, 1)
    );
}

#[test]
fn what_the_receiver_did_not_process_is_released() {
    for (status, details, flags) in [
        ("500", "via_upstream", 0),
        ("404", "via_upstream", 0),
        (
            "503",
            "upstream_reset_before_response_started{remote_connection_failure}",
            flags::UPSTREAM_CONNECTION_FAILURE,
        ),
        ("503", "no_healthy_upstream", flags::NO_HEALTHY_UPSTREAM),
    ] {
        let (mut root, fake) = start(&config("reject"));
        let mut guard = claiming(&root, &fake, "m2");
        answer(&mut root, &fake, Some("200"), &claimed_answer());
        respond(&mut guard, &fake, status, details, flags);
        let queued = settled(&root, &fake);
        assert_eq!(queued.len(), 1, "{status} {details}");
        assert!(queued[0].starts_with("release "), "{queued:?}");
        assert_eq!(claims(&fake, "released"), 1);
    }
}

#[test]
fn an_unknown_outcome_keeps_the_claim() {
    for (status, details, flags) in [
        ("504", "response_timeout", flags::UPSTREAM_REQUEST_TIMEOUT),
        (
            "503",
            "upstream_reset_before_response_started{connection_termination}",
            flags::UPSTREAM_CONNECTION_TERMINATION,
        ),
        (
            "503",
            "upstream_reset_before_response_started{remote_reset}",
            flags::UPSTREAM_REMOTE_RESET,
        ),
        ("200", "direct_response", 0),
    ] {
        let (mut root, fake) = start(&config("reject"));
        let mut guard = claiming(&root, &fake, "m3");
        answer(&mut root, &fake, Some("200"), &claimed_answer());
        respond(&mut guard, &fake, status, details, flags);
        assert!(settled(&root, &fake).is_empty(), "{status} {details}");
        assert_eq!(claims(&fake, "kept"), 1);
        assert!(matches!(*state(&guard), State::Done));
    }
    // The stream ends with no response at all: the client went away after forwarding.
    let (mut root, fake) = start(&config("reject"));
    let mut guard = claiming(&root, &fake, "m4");
    answer(&mut root, &fake, Some("200"), &claimed_answer());
    fake.st().properties.insert(
        "response.flags".into(),
        flags::DOWNSTREAM_CONNECTION_TERMINATION
            .to_le_bytes()
            .to_vec(),
    );
    guard.on_log();
    assert!(settled(&root, &fake).is_empty());
    assert_eq!(claims(&fake, "kept"), 1);
}

#[test]
fn a_stream_that_never_reached_the_upstream_releases_at_its_end() {
    let (mut root, fake) = start(&config("reject"));
    let mut guard = claiming(&root, &fake, "m5");
    answer(&mut root, &fake, Some("200"), &claimed_answer());
    fake.st().properties.insert(
        "response.flags".into(),
        flags::UPSTREAM_CONNECTION_FAILURE.to_le_bytes().to_vec(),
    );
    guard.on_log();
    assert!(settled(&root, &fake)[0].starts_with("release "));
}

#[test]
fn a_claim_whose_answer_is_not_used_is_abandoned() {
    // No answer, an error, garbage, or a claim under another token: 503, and the claim is
    // released with a tombstone.
    for (status, body) in [
        (None, ""),
        (Some("504"), "upstream request timeout"),
        (Some("503"), r#"{"error":"capacity"}"#),
        (Some("200"), "garbage"),
        (
            Some("200"),
            r#"{"result":"claimed","token":"ffffffffffffffffffffffffffffffff"}"#,
        ),
    ] {
        let (mut root, fake) = start(&config("reject"));
        let _guard = claiming(&root, &fake, "m6");
        answer(&mut root, &fake, status, body);
        assert_eq!(
            last_reply(&fake),
            (503, r#"{"error":"idempotency_unavailable"}"#.into()),
            "{body}"
        );
        assert_eq!(fake.st().resumed, 0);
        let queued = settled(&root, &fake);
        assert!(
            queued.len() == 1 && queued[0].starts_with("abandon "),
            "{queued:?}"
        );
        assert_eq!(claims(&fake, "abandoned"), 1);
        assert_eq!(
            fake.count("webhook_guard_filter.cache_errors_total.op.claim"),
            1
        );
    }
    // The client goes away while the claim is on its way.
    let (mut root, fake) = start(&config("reject"));
    let mut guard = claiming(&root, &fake, "m7");
    let token = wake(&mut root, &fake);
    guard.on_log();
    assert!(settled(&root, &fake)[0].starts_with("abandon "));
    assert!(settled(&root, &fake)[0].contains(TOKEN));
    // Its answer, when it comes, finds nobody waiting and changes nothing.
    drop(guard);
    answer_batch(&mut root, &fake, token, Some("200"), &claimed_answer());
    assert_eq!(fake.st().resumed, 0);
    assert_eq!(settled(&root, &fake).len(), 1);
    // Gone before its batch left: withdrawn, never sent, nothing to give up.
    let (mut root, fake) = start(&config("reject"));
    let mut guard = claiming(&root, &fake, "m7b");
    guard.on_log();
    wake(&mut root, &fake);
    assert!(fake.st().calls.is_empty());
    assert!(settled(&root, &fake).is_empty());
    assert_eq!(claims(&fake, "abandoned"), 1);
    assert!(root.on_done());
    // With on_unavailable: allow, the delivery goes on unclaimed, and the claim is given up.
    let (mut root, fake) = start(&config("allow"));
    let mut guard = claiming(&root, &fake, "m8");
    answer(&mut root, &fake, None, "");
    assert_eq!(fake.st().resumed, 1);
    assert!(fake.st().replies.is_empty());
    assert!(settled(&root, &fake)[0].starts_with("abandon "));
    guard.on_log();
    assert_eq!(settled(&root, &fake).len(), 1);
}

#[test]
fn duplicates_and_attempts_in_flight_are_answered_and_hold_nothing() {
    for (body, expected) in [
        (r#"{"result":"done"}"#, (200, r#"{"status":"duplicate"}"#)),
        (
            r#"{"result":"in_flight"}"#,
            (429, r#"{"error":"in_flight"}"#),
        ),
    ] {
        let (mut root, fake) = start(&config("reject"));
        let mut guard = claiming(&root, &fake, "m9");
        answer(&mut root, &fake, Some("200"), body);
        assert_eq!(last_reply(&fake), (expected.0, expected.1.to_string()));
        guard.on_log();
        assert!(settled(&root, &fake).is_empty());
    }
}

#[test]
fn a_claim_that_cannot_be_sent_or_tokened_is_a_503_with_nothing_to_give_up() {
    let (mut root, fake) = start(&config("reject"));
    fake.st().dispatch_fails = true;
    let body = genesys_body("m10");
    let (guard, action) = request(
        &root,
        &fake,
        "/genesys",
        signed(&root, "genesys", &body),
        &body,
    );
    assert_eq!(action, Action::Pause);
    wake(&mut root, &fake);
    assert_eq!(last_reply(&fake).0, 503);
    assert!(matches!(*state(&guard), State::Done));
    assert!(settled(&root, &fake).is_empty());
    assert!(root.on_done(), "nothing left waiting");

    let (root, fake) = start(&config("reject"));
    fake.st().random = None;
    let (_, action) = request(
        &root,
        &fake,
        "/genesys",
        signed(&root, "genesys", &body),
        &body,
    );
    assert_eq!(action, Action::Pause);
    assert_eq!(last_reply(&fake).0, 503);
    assert!(fake.st().calls.is_empty());
}

#[test]
fn the_root_sends_queued_outcomes_and_retries_failures_backing_off() {
    let (mut root, fake) = start(&config("reject"));
    assert!(fake.st().queue_registered);
    let outcomes = fake.queue_id(OUTCOME_QUEUE);
    let mut guard = claiming(&root, &fake, "m11");
    answer(&mut root, &fake, Some("200"), &claimed_answer());
    respond(&mut guard, &fake, "200", "via_upstream", 0);
    wake(&mut root, &fake);
    let calls = |fake: &Fake| fake.st().calls.len();
    assert_eq!(calls(&fake), 2, "the claim, then the commit");
    assert!(batch_ops(&fake, 2)[0].get("commit").is_some());
    // The cache fails: each retry waits (250 ms, then doubling), five sends in all.
    fake.st().call_status = Some(b"503".to_vec());
    let mut sent = 2;
    for (i, delay) in [250u64, 500, 1000, 2000].into_iter().enumerate() {
        let token = calls(&fake) as u32;
        root.on_http_call_response(token, usize::from(i % 2 == 0), 0, 0);
        assert_eq!(fake.st().tick_period, Duration::from_millis(50));
        fake.st().now += Duration::from_millis(delay - 1);
        root.on_tick();
        assert_eq!(calls(&fake), sent, "not before its time");
        fake.st().now += Duration::from_millis(1);
        root.on_tick();
        sent += 1;
        assert_eq!(calls(&fake), sent);
        assert_eq!(
            fake.st().tick_period,
            Duration::ZERO,
            "no tick while nothing waits"
        );
    }
    let token = calls(&fake) as u32;
    root.on_http_call_response(token, 1, 0, 0);
    fake.st().now += Duration::from_secs(60);
    root.on_tick();
    assert_eq!(calls(&fake), sent, "no sixth send");
    assert_eq!(
        fake.count("webhook_guard_filter.cache_errors_total.op.commit"),
        5
    );
    let given_up = "webhook_guard_filter.settlements_given_up_total.op.commit.reason.";
    assert_eq!(fake.count(&format!("{given_up}retries_exhausted")), 1);
    assert_eq!(fake.count(&format!("{given_up}refused")), 0);
    let bodies: Vec<Vec<u8>> = fake.st().calls[1..].iter().map(|c| c.1.clone()).collect();
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "the same body each time"
    );
    // Recorded, or no longer ours (`not_owner`): settled.
    let mut guard = claiming(&root, &fake, "m12");
    answer(&mut root, &fake, Some("200"), &claimed_answer());
    respond(&mut guard, &fake, "500", "via_upstream", 0);
    wake(&mut root, &fake);
    let token = calls(&fake) as u32;
    assert!(batch_ops(&fake, token)[0].get("release").is_some());
    answer_batch(
        &mut root,
        &fake,
        token,
        Some("200"),
        r#"{"results":[{"id":0,"result":"not_owner"}]}"#,
    );
    assert_eq!(
        fake.count("webhook_guard_filter.cache_settled_total.op.release"),
        1
    );
    // An unknown call token, or a message that is not an outcome, changes nothing.
    root.on_http_call_response(999, 1, 0, 0);
    fake.st()
        .queues
        .entry(outcomes)
        .or_default()
        .push_back(b"commit nothex x 1".to_vec());
    root.on_queue_ready(outcomes);
    assert_eq!(calls(&fake) as u32, token);
    // A settlement from the shared queue (a request of an ended root, or of another
    // worker) goes in this root's next batch.
    let q = Queued {
        settlement: Settlement::Commit,
        body: Settlement::Commit.request(&"ab".repeat(32), TOKEN, 60, 60),
        attempt: 1,
    };
    fake.st()
        .queues
        .entry(outcomes)
        .or_default()
        .push_back(q.encode());
    root.on_queue_ready(outcomes);
    let token = calls(&fake) as u32;
    assert_eq!(batch_ops(&fake, token)[0]["commit"]["token"], TOKEN);
}

/// A root on the same Envoy as `fake` (the shared queues are Envoy's, not the VM's): a
/// new VM's root, or a new configuration's in the same VM.
fn successor(fake: &Fake, id: u32) -> Root<Fake> {
    let mut root = Root::new(fake.clone(), id);
    assert!(root.on_configure(0), "configuration refused");
    root
}

/// The messages waiting on the claim-outcome queue.
fn outcome_messages(fake: &Fake) -> Vec<String> {
    fake.queued()
}

/// Calls to the cache so far.
fn calls(fake: &Fake) -> usize {
    fake.st().calls.len()
}

#[test]
fn a_replaced_root_hands_what_it_still_has_to_send_to_the_next_and_ends_at_once() {
    let (mut idle, fake) = start(&config("reject"));
    assert!(idle.on_done(), "nothing pending: it ends at once");
    assert!(
        !idle.link.open.get(),
        "ended: what comes now goes to the shared queue"
    );
    assert!(outcome_messages(&fake).is_empty(), "nothing to hand on");

    // A commit in flight when the root is replaced (its answer will never come): handed on
    // as a send that failed, since the VM and its calls may be gone.
    let (mut root, fake) = start(&config("reject"));
    let mut next = successor(&fake, ROOT_ID + 100);
    let mut guard = claiming(&root, &fake, "m13");
    answer(&mut root, &fake, Some("200"), &claimed_answer());
    respond(&mut guard, &fake, "200", "via_upstream", 0);
    let token = wake(&mut root, &fake);
    assert!(batch_ops(&fake, token)[0].get("commit").is_some());
    // And a release waiting for the next batch: handed on as it is, never sent yet.
    let release = Queued {
        settlement: Settlement::Release,
        body: Settlement::Release.request(&"cd".repeat(32), TOKEN, 60, 60),
        attempt: 1,
    };
    assert!(root.link.batcher.borrow_mut().push_settlement(release));
    assert!(
        root.on_done(),
        "it never holds Envoy up: its VM may go anyway"
    );
    assert_eq!(fake.st().tick_period, Duration::ZERO, "no tick left in it");
    let handed = outcome_messages(&fake);
    assert!(
        handed.len() == 2
            && handed[0].starts_with("release 1 ")
            && handed[1].starts_with("commit 2 ")
            && handed[1].contains(TOKEN),
        "{handed:?}"
    );
    assert!(root.link.batcher.borrow().is_idle(), "nothing left behind");
    // The old root takes nothing more, even if the queue wakes it.
    let outcomes = fake.queue_id(OUTCOME_QUEUE);
    root.on_queue_ready(outcomes);
    root.on_tick();
    assert_eq!(
        fake.waiting(outcomes),
        2,
        "left for the root that replaced it"
    );
    // The root that replaced it (the queue's newest registrant) is woken: the release goes
    // out at once, the commit after the back-off its first send earned.
    let sent = calls(&fake);
    next.on_queue_ready(outcomes);
    assert_eq!(fake.waiting(outcomes), 0);
    assert_eq!(calls(&fake), sent + 1);
    let ops = batch_ops(&fake, calls(&fake) as u32);
    assert!(ops.len() == 1 && ops[0].get("release").is_some(), "{ops:?}");
    answer_batch(
        &mut next,
        &fake,
        calls(&fake) as u32,
        Some("200"),
        r#"{"results":[{"id":0,"result":"released"}]}"#,
    );
    fake.st().now += Duration::from_millis(250);
    next.on_tick();
    let token = calls(&fake) as u32;
    assert_eq!(token as usize, sent + 2);
    assert_eq!(batch_ops(&fake, token)[0]["commit"]["token"], TOKEN);
    answer_batch(
        &mut next,
        &fake,
        token,
        Some("200"),
        r#"{"results":[{"id":0,"result":"committed"}]}"#,
    );
    assert_eq!(
        fake.count("webhook_guard_filter.cache_settled_total.op.commit"),
        1
    );
    assert_eq!(
        fake.count("webhook_guard_filter.cache_settled_total.op.release"),
        1
    );
}

#[test]
fn a_commit_waiting_for_its_retry_survives_replacements_in_a_row_and_a_late_successor() {
    let (mut a, fake) = start(&config("reject"));
    let mut guard = claiming(&a, &fake, "m13b");
    answer(&mut a, &fake, Some("200"), &claimed_answer());
    respond(&mut guard, &fake, "200", "via_upstream", 0);
    let token = wake(&mut a, &fake);
    // The cache is away: the commit waits for its second send.
    answer_batch(&mut a, &fake, token, None, "");
    let outcomes = fake.queue_id(OUTCOME_QUEUE);
    // A is replaced by B, B by A again (a flip-flop), before the retry is due: each hand-off
    // keeps the attempt count, so the cache's absence, not the operator, spends attempts.
    let mut b = successor(&fake, ROOT_ID + 100);
    assert!(a.on_done());
    b.on_queue_ready(outcomes);
    let mut a2 = successor(&fake, ROOT_ID + 200);
    assert!(b.on_done());
    let handed = outcome_messages(&fake);
    assert!(
        handed.len() == 1 && handed[0].starts_with("commit 2 "),
        "{handed:?}"
    );
    a2.on_queue_ready(outcomes);
    // A successor whose VM started after the hand-off (nobody was woken) drains the queue
    // when it is configured.
    assert!(a2.on_done());
    let sent = calls(&fake);
    let mut late = successor(&fake, ROOT_ID + 300);
    assert_eq!(fake.waiting(outcomes), 0, "drained at configuration");
    assert_eq!(calls(&fake), sent, "nothing sent from on_configure");
    fake.st().now += Duration::from_millis(250);
    late.on_tick();
    let token = calls(&fake) as u32;
    assert_eq!(batch_ops(&fake, token)[0]["commit"]["token"], TOKEN);
}

#[test]
fn a_replaced_root_fails_its_waiting_claims_closed_and_gives_them_up() {
    // Envoy ends a root after its last request, so no claim should be waiting then; should
    // one be, its request is answered as if the cache were away, never left hanging.
    let (mut root, fake) = start(&config("reject"));
    let guard = claiming(&root, &fake, "m13c");
    wake(&mut root, &fake);
    assert!(root.on_done());
    assert_eq!(last_reply(&fake).0, 503);
    assert!(matches!(*state(&guard), State::Done));
    let handed = outcome_messages(&fake);
    assert!(
        handed.len() == 1 && handed[0].starts_with("abandon 1 ") && handed[0].contains(TOKEN),
        "{handed:?}"
    );
}

#[test]
fn a_request_the_cache_refuses_is_not_sent_again() {
    let (mut root, fake) = start(&config("reject"));
    let mut guard = claiming(&root, &fake, "m14");
    answer(&mut root, &fake, Some("200"), &claimed_answer());
    respond(&mut guard, &fake, "500", "via_upstream", 0);
    wake(&mut root, &fake);
    answer_batch(
        &mut root,
        &fake,
        2,
        Some("200"),
        r#"{"results":[{"id":0,"error":"bad_request"}]}"#,
    );
    fake.st().now += Duration::from_secs(60);
    root.on_tick();
    assert_eq!(fake.st().calls.len(), 2, "the claim and one release");
    assert_eq!(fake.st().tick_period, Duration::ZERO);
    let given_up = "webhook_guard_filter.settlements_given_up_total.op.release.reason.";
    assert_eq!(fake.count(&format!("{given_up}refused")), 1);
    assert_eq!(fake.count(&format!("{given_up}retries_exhausted")), 0);
}

#[test]
fn build_info_is_one_with_the_crate_version() {
    let (_root, fake) = start(&config("reject"));
    let name = format!(
        "webhook_guard_filter.build_info.version.{}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(fake.count(&name), 1);
    // Every given-up series exists from the start, at 0, for commit and release only.
    let names = fake.st().metric_names.clone();
    let given_up: Vec<&String> = names
        .iter()
        .filter(|n| n.contains(".settlements_given_up_total."))
        .collect();
    assert_eq!(given_up.len(), 6, "{given_up:?}");
    assert!(given_up.iter().all(|n| !n.contains(".op.claim.")));
}

#[test]
fn an_invalid_configuration_is_refused_and_serves_nothing() {
    let fake = Fake::new();
    fake.st().configuration = br#"{"endpoints":[]}"#.to_vec();
    let mut root = Root::new(fake.clone(), ROOT_ID);
    assert!(!root.on_configure(0));
    assert!(root.guard(FIRST_CONTEXT).is_none());
}

#[test]
fn a_body_that_needs_no_json_is_hashed_as_it_arrives_and_never_read_whole() {
    let (root, fake) = start(&config("reject"));
    let body = r#"{"action":"opened","number":1}"#.repeat(40);
    let mut all = vec![
        (":method".to_string(), b"POST".to_vec()),
        (":path".to_string(), b"/hooks/strict".to_vec()),
    ];
    all.extend(signed(&root, "strict", &body));
    fake.st().request_headers = all.clone();
    fake.st().body = body.as_bytes().to_vec();
    let mut guard = new_guard(&root, &fake);
    assert_eq!(guard.on_http_request_headers(2, false), Action::Pause);
    // Envoy's sizes are cumulative: each call reads only what came since the last one.
    let mut reads = Vec::new();
    for size in [100, 100, 700, body.len()] {
        let before = fake.st().body_reads;
        let end = size == body.len();
        let action = guard.on_http_request_body(size, end);
        reads.push(fake.st().body_reads - before);
        assert_eq!(action, if end { Action::Continue } else { Action::Pause });
    }
    assert_eq!(
        reads,
        [1, 0, 1, 1],
        "a read per new part, none of the whole body"
    );
    assert_eq!(
        fake.st().clock_reads,
        0,
        "GitHub signs no timestamp: no clock read"
    );
    assert_eq!(
        fake.header("x-webhook-guard-endpoint"),
        Some(b"strict".to_vec())
    );
    // Tampered in a part already hashed: refused all the same.
    let mut tampered = body.clone().into_bytes();
    tampered[5] ^= 1;
    fake.st().request_headers = all;
    fake.st().body = tampered;
    let mut guard = new_guard(&root, &fake);
    guard.on_http_request_headers(2, false);
    guard.on_http_request_body(10, false);
    assert_eq!(guard.on_http_request_body(body.len(), true), Action::Pause);
    assert_eq!(last_reply(&fake).0, 401);
    // A host that hands over less than it said: the whole body is read and verified.
    let mut all = vec![
        (":method".to_string(), b"POST".to_vec()),
        (":path".to_string(), b"/hooks/strict".to_vec()),
    ];
    all.extend(signed(&root, "strict", &body));
    fake.st().request_headers = all;
    fake.st().body = body.as_bytes()[..50].to_vec();
    let mut guard = new_guard(&root, &fake);
    guard.on_http_request_headers(2, false);
    guard.on_http_request_body(100, false);
    fake.st().body = body.as_bytes().to_vec();
    assert_eq!(
        guard.on_http_request_body(body.len(), true),
        Action::Continue
    );
}

#[test]
fn a_claim_with_no_root_left_to_send_it_fails_closed_at_once() {
    let (mut root, fake) = start(&config("reject"));
    let body = genesys_body("m15");
    let headers = signed(&root, "genesys", &body);
    assert!(root.on_done(), "nothing pending: the root ends");
    let (guard, action) = request(&root, &fake, "/genesys", headers, &body);
    assert_eq!(action, Action::Pause);
    assert!(matches!(*state(&guard), State::Done));
    assert_eq!(
        last_reply(&fake),
        (503, r#"{"error":"idempotency_unavailable"}"#.into())
    );
    assert!(fake.st().calls.is_empty());
    assert_eq!(fake.waiting(wake_queue(&fake)), 0, "nothing to wake");
}

#[test]
fn a_method_the_sender_does_not_use_is_a_405_before_the_body_or_a_claim() {
    let (root, fake) = start(&config("reject"));
    let body = genesys_body("m1");
    let headers = signed(&root, "genesys", &body);
    for method in [
        "OPTIONS", "HEAD", "GET", "PUT", "PATCH", "DELETE", "post", "TRACE",
    ] {
        let (guard, action) =
            request_with(&root, &fake, method, "/genesys", headers.clone(), &body);
        assert_eq!(action, Action::Pause, "{method}");
        assert!(matches!(*state(&guard), State::Done), "{method}");
        assert_eq!(
            last_reply(&fake),
            (405, r#"{"error":"method_not_allowed"}"#.into()),
            "{method}"
        );
        let st = fake.st();
        let (_, reply_headers, _) = st.replies.last().unwrap();
        assert!(reply_headers.contains(&("allow".to_string(), "POST".to_string())));
        assert_eq!(st.body_reads, 0, "{method}: the body is never read");
    }
    // A POST that asks the receiver to take it for another method is that method.
    let mut overridden = headers.clone();
    overridden.push(("X-HTTP-Method-Override".into(), b"OPTIONS".to_vec()));
    let (_, action) = request(&root, &fake, "/genesys", overridden, &body);
    assert_eq!(action, Action::Pause);
    assert_eq!(last_reply(&fake).0, 405);
    let (_, action) = request(&root, &fake, "/genesys?_method=GET", headers.clone(), &body);
    assert_eq!(action, Action::Pause);
    assert_eq!(last_reply(&fake).0, 405);
    assert!(fake.st().calls.is_empty());
    assert_eq!(fake.waiting(wake_queue(&fake)), 0, "nothing claimed");
    assert_eq!(
        fake.count(
            "webhook_guard_filter.rejected_total.endpoint.genesys.reason.method_not_allowed"
        ),
        10
    );
    // The sender's POST afterwards is claimed as usual.
    let _ = claiming(&root, &fake, "m1");
}

#[test]
fn the_path_below_the_prefix_is_part_of_the_claimed_key() {
    let claim_key = |path: &str| {
        let (mut root, fake) = start(&config("reject"));
        let body = genesys_body("m1");
        let (guard, action) = request(&root, &fake, path, signed(&root, "genesys", &body), &body);
        assert_eq!(action, Action::Pause, "{path}");
        assert!(matches!(*state(&guard), State::Claiming { .. }), "{path}");
        let token = wake(&mut root, &fake);
        batch_ops(&fake, token)[0]["claim"]["key"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // The endpoint's own path: SHA-256 of "genesys", NUL, "m1", as every earlier version
    // stored it (computed apart from this code).
    let exact = "3d1f10ae03298b1f66e6e74d55ffb6bc57cdd3f40dae6c69a28c11ac17c20469";
    for same in ["/genesys", "/genesys/", "/genesys?x=1"] {
        assert_eq!(claim_key(same), exact, "{same}");
    }
    let below = claim_key("/genesys/anything");
    assert_ne!(below, exact);
    assert_eq!(
        below,
        crate::dedupe::key::scoped_key(exact.to_string(), &["anything".to_string()])
    );
    assert_eq!(claim_key("/genesys/Anything"), below);
    assert_ne!(claim_key("/genesys/other"), below);
    // The endpoint's own path to a lenient receiver, a path below it to a strict one.
    let (root, fake) = start(&config("reject"));
    let body = genesys_body("m1");
    let (_, action) = request(
        &root,
        &fake,
        "/genesys/;x",
        signed(&root, "genesys", &body),
        &body,
    );
    assert_eq!(action, Action::Pause);
    assert_eq!(
        last_reply(&fake),
        (400, r#"{"error":"ambiguous_path"}"#.into())
    );
}

#[test]
fn oktas_verification_get_is_forwarded_unclaimed_and_its_events_are_claimed() {
    let config = format!(
        r#"{{ "idempotency": {{ "cluster": "cache" }},
  "endpoints": [ {{ "name": "okta", "path_prefix": "/okta", "preset": "okta",
      "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ] }} ] }}"#
    );
    let (root, fake) = start(&config);
    let auth = signed(&root, "okta", "");
    let mut challenge = auth.clone();
    challenge.push(("x-okta-verification-challenge".into(), b"c-1".to_vec()));
    for _ in 0..2 {
        let (guard, action) = request_with(&root, &fake, "GET", "/okta", challenge.clone(), "");
        assert_eq!(action, Action::Continue);
        assert!(matches!(*state(&guard), State::Done));
        assert_eq!(fake.header("x-webhook-guard-idempotency-key"), None);
    }
    assert_eq!(fake.waiting(wake_queue(&fake)), 0, "nothing claimed");
    // Without the challenge header, or as HEAD: not Okta's.
    for (method, headers) in [("GET", auth.clone()), ("HEAD", challenge.clone())] {
        let (_, action) = request_with(&root, &fake, method, "/okta", headers, "");
        assert_eq!(action, Action::Pause, "{method}");
        assert_eq!(last_reply(&fake).0, 405, "{method}");
        let st = fake.st();
        let (_, reply_headers, _) = st.replies.last().unwrap();
        assert!(reply_headers.contains(&("allow".to_string(), "POST, GET".to_string())));
    }
    // The wrong token on the challenge: refused like any delivery.
    let forged = vec![
        ("authorization".to_string(), b"not-the-secret-0123".to_vec()),
        ("x-okta-verification-challenge".to_string(), b"c-2".to_vec()),
    ];
    let (_, action) = request_with(&root, &fake, "GET", "/okta", forged, "");
    assert_eq!(action, Action::Pause);
    assert_eq!(last_reply(&fake).0, 401);
    // An event is a delivery: claimed.
    let body = r#"{"eventType":"event_hook.verified","data":{"events":[]}}"#;
    let (guard, _) = request(&root, &fake, "/okta", signed(&root, "okta", body), body);
    assert!(matches!(*state(&guard), State::Claiming { .. }));
}

#[test]
fn a_settlement_that_cannot_be_handed_on_is_counted_given_up() {
    let (mut root, fake) = start(&config("reject"));
    let mut guard = claiming(&root, &fake, "m15");
    answer(&mut root, &fake, Some("200"), &claimed_answer());
    respond(&mut guard, &fake, "200", "via_upstream", 0);
    wake(&mut root, &fake);
    // The commit fails once: it waits for its retry.
    fake.st().call_status = Some(b"503".to_vec());
    let token = fake.st().calls.len() as u32;
    root.on_http_call_response(token, 1, 0, 0);
    assert_eq!(fake.st().tick_period, Duration::from_millis(50));
    // Replaced with no shared queue to hand it to.
    root.queue = None;
    assert!(root.on_done());
    let given_up = "webhook_guard_filter.settlements_given_up_total.op.commit.reason.";
    assert_eq!(fake.count(&format!("{given_up}queue_full")), 1);
    assert_eq!(fake.count(&format!("{given_up}retries_exhausted")), 0);
}
