//! The HTTP API, independent of the server plumbing: a request's method, path and body in,
//! a status and JSON body out.
//!
//! ```text
//! POST /v1/claim    {"key":K,"ttl_ms":N[,"token":T]}  200 {"result":"claimed","token":T} | {"result":"in_flight"} | {"result":"done"} | {"result":"abandoned"}
//! POST /v1/commit   {"key":K,"token":T,"ttl_ms":N}    200 {"result":"committed"} | 409 {"result":"not_owner"}
//! POST /v1/release  {"key":K,"token":T[,"ttl_ms":N]}  200 {"result":"released"}  | 409 {"result":"not_owner"}
//! GET  /healthz                                    200 {"status":"ok"} | 503 {"status":"unavailable"}
//! GET  /metrics                                    Prometheus text
//! errors: 400 bad_request, 404 not_found, 405 method_not_allowed, 413 too_large,
//!         503 backend_unavailable | capacity
//! ```

use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::log::{debug, error, warning};
use crate::metrics::Metrics;
use crate::store::{Claim, Settled, Store, StoreError};

/// Largest request body read; real ones are under 200 bytes.
pub const MAX_BODY_BYTES: usize = 4096;
/// Longest TTL accepted: 30 days.
pub const MAX_TTL_MS: u64 = 30 * 24 * 3600 * 1000;

pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

fn json(status: u16, body: &str) -> Answer {
    Answer {
        status,
        content_type: "application/json",
        body: body.to_string(),
    }
}

fn error(status: u16, code: &str) -> Answer {
    json(status, &format!(r#"{{"error":"{code}"}}"#))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimRequest {
    key: String,
    ttl_ms: u64,
    /// Chosen by the client, so it can release a claim whose answer it never saw; minted
    /// here when absent.
    token: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommitRequest {
    key: String,
    token: String,
    ttl_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseRequest {
    key: String,
    token: String,
    /// How long a tombstone lasts when the key is free (the claim may still be on its way).
    ttl_ms: Option<u64>,
}

fn valid_key(k: &str) -> bool {
    (1..=128).contains(&k.len())
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_:.-".contains(&b))
}

fn valid_token(t: &str) -> bool {
    t.len() == 32
        && t.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn valid_ttl(ms: u64) -> Option<Duration> {
    (1..=MAX_TTL_MS)
        .contains(&ms)
        .then(|| Duration::from_millis(ms))
}

/// What a request asks for, once validated.
#[derive(Debug, PartialEq, Eq)]
pub enum Op {
    Claim {
        key: String,
        token: Option<String>,
        ttl: Duration,
    },
    Commit {
        key: String,
        token: String,
        ttl: Duration,
    },
    Release {
        key: String,
        token: String,
        tombstone: Option<Duration>,
    },
}

/// Validates a POST body for `path`; `None` for anything malformed.
pub fn parse_op(path: &str, body: &[u8]) -> Option<Op> {
    match path {
        "/v1/claim" => {
            let r: ClaimRequest = serde_json::from_slice(body).ok()?;
            (valid_key(&r.key) && r.token.as_deref().is_none_or(valid_token)).then_some(())?;
            Some(Op::Claim {
                ttl: valid_ttl(r.ttl_ms)?,
                key: r.key,
                token: r.token,
            })
        }
        "/v1/commit" => {
            let r: CommitRequest = serde_json::from_slice(body).ok()?;
            (valid_key(&r.key) && valid_token(&r.token)).then_some(())?;
            Some(Op::Commit {
                ttl: valid_ttl(r.ttl_ms)?,
                key: r.key,
                token: r.token,
            })
        }
        "/v1/release" => {
            let r: ReleaseRequest = serde_json::from_slice(body).ok()?;
            (valid_key(&r.key) && valid_token(&r.token)).then_some(())?;
            let tombstone = match r.ttl_ms {
                None => None,
                Some(ms) => Some(valid_ttl(ms)?),
            };
            Some(Op::Release {
                key: r.key,
                token: r.token,
                tombstone,
            })
        }
        _ => None,
    }
}

/// A request body as read by the server: its bytes, or why there are none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body<'a> {
    Bytes(&'a [u8]),
    /// More than `MAX_BODY_BYTES`.
    TooLarge,
    /// The client broke off while sending it.
    Broken,
}

pub async fn handle<S: Store>(
    store: &S,
    metrics: &Metrics,
    method: &str,
    path: &str,
    body: Body<'_>,
) -> Answer {
    match (method, path) {
        ("GET", "/healthz") => {
            if store.healthy().await {
                json(200, r#"{"status":"ok"}"#)
            } else {
                json(503, r#"{"status":"unavailable"}"#)
            }
        }
        ("GET", "/metrics") => Answer {
            status: 200,
            content_type: "text/plain; version=0.0.4",
            body: metrics.render(store.entries()),
        },
        ("POST", "/v1/claim" | "/v1/commit" | "/v1/release") => {
            let body = match body {
                Body::Bytes(b) if b.len() <= MAX_BODY_BYTES => b,
                Body::Bytes(_) | Body::TooLarge => return error(413, "too_large"),
                Body::Broken => return error(400, "bad_request"),
            };
            match parse_op(path, body) {
                Some(op) => run(store, metrics, op).await,
                None => error(400, "bad_request"),
            }
        }
        (_, "/healthz" | "/metrics" | "/v1/claim" | "/v1/commit" | "/v1/release") => {
            error(405, "method_not_allowed")
        }
        _ => error(404, "not_found"),
    }
}

async fn run<S: Store>(store: &S, metrics: &Metrics, op: Op) -> Answer {
    let started = Instant::now();
    let (name, result) = match &op {
        Op::Claim { key, token, ttl } => {
            let result = match token {
                Some(t) => store.claim(key, t, *ttl).await,
                None => match crate::store::new_token() {
                    Ok(t) => store.claim(key, &t, *ttl).await,
                    Err(e) => Err(e),
                },
            };
            ("claim", result.map(Outcome::Claim))
        }
        Op::Commit { key, token, ttl } => (
            "commit",
            store.commit(key, token, *ttl).await.map(Outcome::Commit),
        ),
        Op::Release {
            key,
            token,
            tombstone,
        } => (
            "release",
            store
                .release(key, token, *tombstone)
                .await
                .map(Outcome::Release),
        ),
    };
    metrics.latency(started.elapsed());
    let key = match &op {
        Op::Claim { key, .. } | Op::Commit { key, .. } | Op::Release { key, .. } => key,
    };
    let (label, answer) = match result {
        Ok(Outcome::Claim(Claim::Claimed(token))) => (
            "claimed",
            json(200, &format!(r#"{{"result":"claimed","token":"{token}"}}"#)),
        ),
        Ok(Outcome::Claim(Claim::InFlight)) => {
            ("in_flight", json(200, r#"{"result":"in_flight"}"#))
        }
        Ok(Outcome::Claim(Claim::Done)) => ("done", json(200, r#"{"result":"done"}"#)),
        Ok(Outcome::Claim(Claim::Abandoned)) => {
            ("abandoned", json(200, r#"{"result":"abandoned"}"#))
        }
        Ok(Outcome::Commit(Settled::Yes)) => ("committed", json(200, r#"{"result":"committed"}"#)),
        Ok(Outcome::Release(Settled::Yes)) => ("released", json(200, r#"{"result":"released"}"#)),
        Ok(Outcome::Commit(Settled::NotOwner) | Outcome::Release(Settled::NotOwner)) => {
            ("not_owner", json(409, r#"{"result":"not_owner"}"#))
        }
        Err(StoreError::Capacity) => {
            warning!("{name} refused: memory backend full (--memory-max-entries)");
            ("capacity", error(503, "capacity"))
        }
        Err(StoreError::Unavailable(why)) => {
            metrics.backend_error();
            error!("{name} failed: backend unavailable: {why}");
            ("error", error(503, "backend_unavailable"))
        }
    };
    debug!("{name} key={key} -> {label}");
    metrics.request(name, label);
    answer
}

enum Outcome {
    Claim(Claim),
    Commit(Settled),
    Release(Settled),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;

    const KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    async fn call(
        store: &MemoryStore,
        m: &Metrics,
        method: &str,
        path: &str,
        body: &str,
    ) -> Answer {
        handle(store, m, method, path, Body::Bytes(body.as_bytes())).await
    }

    #[test]
    fn parses_valid_requests() {
        let claim = format!(r#"{{"key":"{KEY}","ttl_ms":60000}}"#);
        assert_eq!(
            parse_op("/v1/claim", claim.as_bytes()),
            Some(Op::Claim {
                key: KEY.into(),
                token: None,
                ttl: Duration::from_secs(60)
            })
        );
        let minted = format!(r#"{{"key":"{KEY}","ttl_ms":60000,"token":"{TOKEN}"}}"#);
        assert_eq!(
            parse_op("/v1/claim", minted.as_bytes()),
            Some(Op::Claim {
                key: KEY.into(),
                token: Some(TOKEN.into()),
                ttl: Duration::from_secs(60)
            })
        );
        let tombstone = format!(r#"{{"key":"{KEY}","token":"{TOKEN}","ttl_ms":5000}}"#);
        assert_eq!(
            parse_op("/v1/release", tombstone.as_bytes()),
            Some(Op::Release {
                key: KEY.into(),
                token: TOKEN.into(),
                tombstone: Some(Duration::from_secs(5))
            })
        );
        let commit = format!(r#" {{ "ttl_ms" : 1, "token":"{TOKEN}", "key":"{KEY}" }} "#);
        assert_eq!(
            parse_op("/v1/commit", commit.as_bytes()),
            Some(Op::Commit {
                key: KEY.into(),
                token: TOKEN.into(),
                ttl: Duration::from_millis(1)
            })
        );
        let release = format!(r#"{{"key":"{KEY}","token":"{TOKEN}"}}"#);
        assert!(parse_op("/v1/release", release.as_bytes()).is_some());
        // The edges of what is allowed.
        let edge = format!(
            r#"{{"key":"{}","ttl_ms":{MAX_TTL_MS}}}"#,
            "aZ09_:.-".repeat(16)
        );
        assert!(parse_op("/v1/claim", edge.as_bytes()).is_some());
        assert!(parse_op("/v1/claim", br#"{"key":"k","ttl_ms":1}"#).is_some());
    }

    #[test]
    fn refuses_malformed_requests() {
        let bad = [
            ("/v1/claim", "not json".to_string()),
            ("/v1/claim", "".to_string()),
            ("/v1/claim", "[]".to_string()),
            ("/v1/claim", "null".to_string()),
            (
                "/v1/claim",
                format!(r#"{{"key":"{KEY}","ttl_ms":60000}} x"#),
            ),
            // Unknown, missing, duplicate and mistyped fields.
            (
                "/v1/claim",
                format!(r#"{{"key":"{KEY}","ttl_ms":60000,"x":1}}"#),
            ),
            (
                "/v1/claim",
                format!(r#"{{"key":"{KEY}","ttl_ms":60000,"token":"short"}}"#),
            ),
            (
                "/v1/claim",
                format!(
                    r#"{{"key":"{KEY}","ttl_ms":60000,"token":"{}"}}"#,
                    TOKEN.to_uppercase()
                ),
            ),
            ("/v1/claim", format!(r#"{{"key":"{KEY}"}}"#)),
            (
                "/v1/claim",
                format!(r#"{{"key":"{KEY}","key":"{KEY}","ttl_ms":1}}"#),
            ),
            (
                "/v1/claim",
                format!(r#"{{"key":"{KEY}","ttl_ms":"60000"}}"#),
            ),
            ("/v1/claim", format!(r#"{{"key":"{KEY}","ttl_ms":1.5}}"#)),
            ("/v1/claim", r#"{"key":7,"ttl_ms":1}"#.to_string()),
            // Keys: empty, too long, outside [0-9A-Za-z_:.-].
            ("/v1/claim", r#"{"key":"","ttl_ms":1}"#.to_string()),
            (
                "/v1/claim",
                format!(r#"{{"key":"{}","ttl_ms":1}}"#, "a".repeat(129)),
            ),
            ("/v1/claim", r#"{"key":"a b","ttl_ms":1}"#.to_string()),
            ("/v1/claim", r#"{"key":"a/b","ttl_ms":1}"#.to_string()),
            ("/v1/claim", r#"{"key":"é","ttl_ms":1}"#.to_string()),
            ("/v1/claim", r#"{"key":"a\u0000","ttl_ms":1}"#.to_string()),
            // TTLs: zero, negative, over 30 days, over u64.
            ("/v1/claim", format!(r#"{{"key":"{KEY}","ttl_ms":0}}"#)),
            ("/v1/claim", format!(r#"{{"key":"{KEY}","ttl_ms":-1}}"#)),
            (
                "/v1/claim",
                format!(r#"{{"key":"{KEY}","ttl_ms":{}}}"#, MAX_TTL_MS + 1),
            ),
            (
                "/v1/claim",
                format!(r#"{{"key":"{KEY}","ttl_ms":99999999999999999999999}}"#),
            ),
            // Tokens: short, long, uppercase, not hex, missing.
            (
                "/v1/commit",
                format!(r#"{{"key":"{KEY}","token":"short","ttl_ms":1}}"#),
            ),
            (
                "/v1/commit",
                format!(r#"{{"key":"{KEY}","token":"{TOKEN}0","ttl_ms":1}}"#),
            ),
            (
                "/v1/commit",
                format!(
                    r#"{{"key":"{KEY}","token":"{}","ttl_ms":1}}"#,
                    TOKEN.to_uppercase()
                ),
            ),
            (
                "/v1/commit",
                format!(
                    r#"{{"key":"{KEY}","token":"{}","ttl_ms":1}}"#,
                    "g".repeat(32)
                ),
            ),
            ("/v1/commit", format!(r#"{{"key":"{KEY}","ttl_ms":1}}"#)),
            (
                "/v1/commit",
                format!(r#"{{"key":"{KEY}","token":"{TOKEN}","ttl_ms":0}}"#),
            ),
            ("/v1/release", format!(r#"{{"key":"{KEY}"}}"#)),
            (
                "/v1/release",
                format!(r#"{{"key":"{KEY}","token":"{TOKEN}","ttl_ms":0}}"#),
            ),
            (
                "/v1/release",
                format!(r#"{{"key":"{KEY}","token":"{TOKEN}","done":1}}"#),
            ),
            ("/v1/release", format!(r#"{{"key":"","token":"{TOKEN}"}}"#)),
            ("/v1/other", format!(r#"{{"key":"{KEY}"}}"#)),
        ];
        for (path, body) in bad {
            assert_eq!(parse_op(path, body.as_bytes()), None, "{path} {body}");
        }
        // Arbitrary bytes never panic.
        for body in [
            &b"\xff\xfe"[..],
            b"{",
            b"{\"key\":\"\\ud800\",\"ttl_ms\":1}",
        ] {
            assert_eq!(parse_op("/v1/claim", body), None);
        }
    }

    #[tokio::test]
    async fn answers_and_statuses() {
        let store = MemoryStore::new(10);
        let m = Metrics::default();
        let claim = format!(r#"{{"key":"{KEY}","ttl_ms":60000}}"#);
        let a = call(&store, &m, "POST", "/v1/claim", &claim).await;
        assert_eq!((a.status, a.content_type), (200, "application/json"));
        let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(v["result"], "claimed");
        let token = v["token"].as_str().unwrap().to_string();
        let a = call(&store, &m, "POST", "/v1/claim", &claim).await;
        assert_eq!(
            (a.status, a.body.as_str()),
            (200, r#"{"result":"in_flight"}"#)
        );
        let commit = format!(r#"{{"key":"{KEY}","token":"{TOKEN}","ttl_ms":1000}}"#);
        let a = call(&store, &m, "POST", "/v1/commit", &commit).await;
        assert_eq!(
            (a.status, a.body.as_str()),
            (409, r#"{"result":"not_owner"}"#)
        );
        let commit = format!(r#"{{"key":"{KEY}","token":"{token}","ttl_ms":1000}}"#);
        let a = call(&store, &m, "POST", "/v1/commit", &commit).await;
        assert_eq!(
            (a.status, a.body.as_str()),
            (200, r#"{"result":"committed"}"#)
        );
        let a = call(&store, &m, "POST", "/v1/claim", &claim).await;
        assert_eq!((a.status, a.body.as_str()), (200, r#"{"result":"done"}"#));
        let release = format!(r#"{{"key":"{KEY}","token":"{token}"}}"#);
        let a = call(&store, &m, "POST", "/v1/release", &release).await;
        assert_eq!(
            (a.status, a.body.as_str()),
            (409, r#"{"result":"not_owner"}"#)
        );

        let a = call(&store, &m, "POST", "/v1/claim", "{}").await;
        assert_eq!(
            (a.status, a.body.as_str()),
            (400, r#"{"error":"bad_request"}"#)
        );
        let a = call(&store, &m, "GET", "/v1/claim", "").await;
        assert_eq!(
            (a.status, a.body.as_str()),
            (405, r#"{"error":"method_not_allowed"}"#)
        );
        assert_eq!(call(&store, &m, "POST", "/healthz", "").await.status, 405);
        let a = call(&store, &m, "GET", "/nope", "").await;
        assert_eq!(
            (a.status, a.body.as_str()),
            (404, r#"{"error":"not_found"}"#)
        );
        assert_eq!(call(&store, &m, "GET", "/v1/claim/x", "").await.status, 404);
        let big = " ".repeat(MAX_BODY_BYTES + 1);
        let a = call(&store, &m, "POST", "/v1/claim", &big).await;
        assert_eq!(
            (a.status, a.body.as_str()),
            (413, r#"{"error":"too_large"}"#)
        );
        let a = handle(&store, &m, "POST", "/v1/commit", Body::TooLarge).await;
        assert_eq!(a.status, 413);
        // A body of exactly the limit is read (and here refused as JSON, not as too large).
        let edge = " ".repeat(MAX_BODY_BYTES);
        assert_eq!(
            call(&store, &m, "POST", "/v1/claim", &edge).await.status,
            400
        );
        let a = call(&store, &m, "GET", "/healthz", "").await;
        assert_eq!((a.status, a.body.as_str()), (200, r#"{"status":"ok"}"#));

        let a = call(&store, &m, "GET", "/metrics", "").await;
        assert_eq!(a.content_type, "text/plain; version=0.0.4");
        for line in [
            r#"webhook_guard_cache_requests_total{op="claim",result="claimed"} 1"#,
            r#"webhook_guard_cache_requests_total{op="claim",result="in_flight"} 1"#,
            r#"webhook_guard_cache_requests_total{op="claim",result="done"} 1"#,
            r#"webhook_guard_cache_requests_total{op="commit",result="not_owner"} 1"#,
            r#"webhook_guard_cache_requests_total{op="commit",result="committed"} 1"#,
            r#"webhook_guard_cache_requests_total{op="release",result="not_owner"} 1"#,
            "webhook_guard_cache_backend_seconds_count 6",
            "webhook_guard_cache_memory_entries 1",
        ] {
            assert!(a.body.lines().any(|l| l == line), "{line}\n{}", a.body);
        }
    }

    #[tokio::test]
    async fn capacity_is_a_503() {
        let store = MemoryStore::new(1);
        let m = Metrics::default();
        assert_eq!(
            call(
                &store,
                &m,
                "POST",
                "/v1/claim",
                r#"{"key":"a","ttl_ms":60000}"#
            )
            .await
            .status,
            200
        );
        let a = call(
            &store,
            &m,
            "POST",
            "/v1/claim",
            r#"{"key":"b","ttl_ms":60000}"#,
        )
        .await;
        assert_eq!(
            (a.status, a.body.as_str()),
            (503, r#"{"error":"capacity"}"#)
        );
        let text = m.render(store.entries());
        assert!(
            text.contains(r#"webhook_guard_cache_requests_total{op="claim",result="capacity"} 1"#)
        );
    }
}
