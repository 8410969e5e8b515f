//! The HTTP API, independent of the server plumbing: a request's method, path and body in,
//! a status and JSON body out. The protocol itself (paths, bodies, rules) is the
//! `webhook-guard-protocol` crate's, shared with the filter.

use std::time::{Duration, Instant};

use webhook_guard_protocol::{
    Answer as Body200, BatchAnswer, BatchRequest, BatchResult, ClaimRequest, CommitRequest, Error,
    ErrorAnswer, Operation, Outcome, ReleaseRequest, BATCH_PATH, HEALTH_PATH, MAX_BATCH_OPS,
    METRICS_PATH,
};
pub use webhook_guard_protocol::{MAX_BATCH_BYTES, MAX_BODY_BYTES, MAX_TTL_MS};

use crate::metrics::{Metrics, Result as Label};
use crate::store::{Claim, Done, Op, Settled, Store, StoreError};
use log::{debug, error, warn};

pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

fn json(status: u16, body: String) -> Answer {
    Answer {
        status,
        content_type: "application/json",
        body,
    }
}

fn error(e: Error) -> Answer {
    json(
        e.status(),
        serde_json::to_string(&ErrorAnswer { error: e }).unwrap_or_default(),
    )
}

fn outcome(result: Outcome, token: Option<String>) -> Answer {
    json(
        result.status(),
        serde_json::to_string(&Body200 { result, token }).unwrap_or_default(),
    )
}

/// A request, once read and checked against the protocol's rules.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
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

impl Request {
    fn operation(&self) -> Operation {
        match self {
            Request::Claim { .. } => Operation::Claim,
            Request::Commit { .. } => Operation::Commit,
            Request::Release { .. } => Operation::Release,
        }
    }

    fn key(&self) -> &str {
        match self {
            Request::Claim { key, .. }
            | Request::Commit { key, .. }
            | Request::Release { key, .. } => key,
        }
    }
}

/// Reads a POST body for `path`; `None` for anything malformed.
pub fn parse_request(path: &str, body: &[u8]) -> Option<Request> {
    match Operation::from_path(path)? {
        Operation::Claim => {
            let r: ClaimRequest = serde_json::from_slice(body).ok()?;
            r.valid().then(|| Request::Claim {
                ttl: Duration::from_millis(r.ttl_ms),
                key: r.key,
                token: r.token,
            })
        }
        Operation::Commit => {
            let r: CommitRequest = serde_json::from_slice(body).ok()?;
            r.valid().then(|| Request::Commit {
                ttl: Duration::from_millis(r.ttl_ms),
                key: r.key,
                token: r.token,
            })
        }
        Operation::Release => {
            let r: ReleaseRequest = serde_json::from_slice(body).ok()?;
            r.valid().then(|| Request::Release {
                tombstone: r.ttl_ms.map(Duration::from_millis),
                key: r.key,
                token: r.token,
            })
        }
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

/// The memory backend's live entries and bound, for `/metrics`.
fn memory_gauges<S: Store>(store: &S) -> Option<(usize, usize)> {
    Some((store.entries()?, store.max_entries()?))
}

pub async fn handle<S: Store>(
    store: &S,
    metrics: &Metrics,
    method: &str,
    path: &str,
    body: Body<'_>,
) -> Answer {
    let known = path == HEALTH_PATH
        || path == METRICS_PATH
        || path == BATCH_PATH
        || Operation::from_path(path).is_some();
    match (method, path) {
        ("GET", HEALTH_PATH) => {
            if store.healthy().await {
                json(200, r#"{"status":"ok"}"#.into())
            } else {
                json(503, r#"{"status":"unavailable"}"#.into())
            }
        }
        ("GET", METRICS_PATH) => Answer {
            status: 200,
            content_type: "text/plain; version=0.0.4",
            body: metrics.render(memory_gauges(store)),
        },
        ("POST", BATCH_PATH) => {
            let body = match body {
                Body::Bytes(b) if b.len() <= MAX_BATCH_BYTES => b,
                Body::Bytes(_) | Body::TooLarge => return error(Error::TooLarge),
                Body::Broken => return error(Error::BadRequest),
            };
            match parse_batch(body) {
                Some(entries) => run_batch(store, metrics, entries).await,
                None => error(Error::BadRequest),
            }
        }
        ("POST", _) if Operation::from_path(path).is_some() => {
            let body = match body {
                Body::Bytes(b) if b.len() <= MAX_BODY_BYTES => b,
                Body::Bytes(_) | Body::TooLarge => return error(Error::TooLarge),
                Body::Broken => return error(Error::BadRequest),
            };
            match parse_request(path, body) {
                Some(request) => run(store, metrics, request).await,
                None => error(Error::BadRequest),
            }
        }
        _ if known => error(Error::MethodNotAllowed),
        _ => error(Error::NotFound),
    }
}

/// A batch entry: its id, and its request when it keeps the protocol's rules (`None`: that
/// entry alone is answered `bad_request`).
pub type BatchEntry = (u32, Option<Request>);

/// Reads a batch body; `None` (the whole batch is a 400) for anything that is not a list of
/// 1 to `MAX_BATCH_OPS` entries with distinct ids. An entry that is not exactly one op, or
/// whose op breaks a rule (key, token, TTL), fails only itself.
pub fn parse_batch(body: &[u8]) -> Option<Vec<BatchEntry>> {
    let batch: BatchRequest = serde_json::from_slice(body).ok()?;
    if batch.ops.is_empty() || batch.ops.len() > MAX_BATCH_OPS {
        return None;
    }
    let mut ids: Vec<u32> = batch.ops.iter().map(|op| op.id).collect();
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        return None;
    }
    Some(
        batch
            .ops
            .into_iter()
            .map(|op| {
                let request = match (op.claim, op.commit, op.release) {
                    (Some(r), None, None) => r.valid().then(|| Request::Claim {
                        ttl: Duration::from_millis(r.ttl_ms),
                        key: r.key,
                        token: r.token,
                    }),
                    (None, Some(r), None) => r.valid().then(|| Request::Commit {
                        ttl: Duration::from_millis(r.ttl_ms),
                        key: r.key,
                        token: r.token,
                    }),
                    (None, None, Some(r)) => r.valid().then(|| Request::Release {
                        tombstone: r.ttl_ms.map(Duration::from_millis),
                        key: r.key,
                        token: r.token,
                    }),
                    _ => None,
                };
                (op.id, request)
            })
            .collect(),
    )
}

impl Request {
    /// The store's op, with a token minted here for a claim that brought none.
    fn into_op(self) -> Result<Op, StoreError> {
        Ok(match self {
            Request::Claim { key, token, ttl } => Op::Claim {
                token: match token {
                    Some(t) => t,
                    None => crate::store::new_token()?,
                },
                key,
                ttl,
            },
            Request::Commit { key, token, ttl } => Op::Commit { key, token, ttl },
            Request::Release {
                key,
                token,
                tombstone,
            } => Op::Release {
                key,
                token,
                tombstone,
            },
        })
    }
}

/// What the store's answer to one op says, in the protocol's terms.
fn outcome_of(op: &Op, done: Done) -> (Outcome, Option<String>) {
    match done {
        Done::Claim(Claim::Claimed(t)) => (Outcome::Claimed, Some(t)),
        Done::Claim(Claim::InFlight) => (Outcome::InFlight, None),
        Done::Claim(Claim::Done) => (Outcome::Done, None),
        Done::Claim(Claim::Abandoned) => (Outcome::Abandoned, None),
        Done::Settled(Settled::NotOwner) => (Outcome::NotOwner, None),
        Done::Settled(Settled::Yes) => match op {
            Op::Release { .. } => (Outcome::Released, None),
            _ => (Outcome::Committed, None),
        },
    }
}

/// Counts one op's result and turns a failure into the protocol's error.
fn account(
    metrics: &Metrics,
    op: Operation,
    key: &str,
    result: Result<(Outcome, Option<String>), StoreError>,
) -> Result<(Outcome, Option<String>), Error> {
    let name = op.name();
    let (label, answer) = match result {
        Ok((outcome, token)) => (Label::Answered(outcome), Ok((outcome, token))),
        Err(StoreError::Capacity) => {
            warn!(event = "capacity_refused", op = name; "{name} refused: memory backend full (--memory-max-entries)");
            (Label::Capacity, Err(Error::Capacity))
        }
        Err(StoreError::Unavailable(why)) => {
            metrics.backend_error();
            error!(event = "backend_error", op = name, error = why.as_str(); "{name} failed: backend unavailable: {why}");
            (Label::Error, Err(Error::BackendUnavailable))
        }
    };
    debug!(event = "operation", op = name, key = key, result = label.name(); "{name} key={key} -> {}", label.name());
    metrics.request(op, label);
    answer
}

async fn run<S: Store>(store: &S, metrics: &Metrics, request: Request) -> Answer {
    let started = Instant::now();
    let operation = request.operation();
    let key = request.key().to_string();
    let result = match request.into_op() {
        Ok(op) => store.one(&op).await.map(|done| outcome_of(&op, done)),
        Err(e) => Err(e),
    };
    metrics.latency(started.elapsed());
    match account(metrics, operation, &key, result) {
        Ok((result, token)) => outcome(result, token),
        Err(e) => error(e),
    }
}

/// Runs a batch's valid entries in one store call and answers every entry by its id.
async fn run_batch<S: Store>(store: &S, metrics: &Metrics, entries: Vec<BatchEntry>) -> Answer {
    metrics.batch(entries.len());
    let mut results: Vec<BatchResult> = Vec::with_capacity(entries.len());
    // (id, operation, key, op) of the entries the store runs.
    let mut runnable = Vec::with_capacity(entries.len());
    for (id, request) in entries {
        let Some(request) = request else {
            metrics.bad_request();
            results.push(failed(id, Error::BadRequest));
            continue;
        };
        let operation = request.operation();
        let key = request.key().to_string();
        match request.into_op() {
            Ok(op) => runnable.push((id, operation, key, op)),
            Err(e) => {
                if let Err(e) = account(metrics, operation, &key, Err(e)) {
                    results.push(failed(id, e));
                }
            }
        }
    }
    if !runnable.is_empty() {
        let ops: Vec<Op> = runnable.iter().map(|r| r.3.clone()).collect();
        let started = Instant::now();
        let done = store.batch(&ops).await;
        metrics.latency(started.elapsed());
        let mut done = done.into_iter();
        for (id, operation, key, op) in runnable {
            // A store answers every op; one that did not is a backend failure, not a panic.
            let result = done
                .next()
                .unwrap_or_else(|| Err(StoreError::Unavailable("no result".into())))
                .map(|d| outcome_of(&op, d));
            results.push(match account(metrics, operation, &key, result) {
                Ok((result, token)) => BatchResult {
                    id,
                    result: Some(result),
                    token,
                    error: None,
                },
                Err(e) => failed(id, e),
            });
        }
    }
    json(
        200,
        serde_json::to_string(&BatchAnswer { results }).unwrap_or_default(),
    )
}

fn failed(id: u32, e: Error) -> BatchResult {
    BatchResult {
        id,
        result: None,
        token: None,
        error: Some(e),
    }
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
            parse_request("/v1/claim", claim.as_bytes()),
            Some(Request::Claim {
                key: KEY.into(),
                token: None,
                ttl: Duration::from_secs(60)
            })
        );
        let minted = format!(r#"{{"key":"{KEY}","ttl_ms":60000,"token":"{TOKEN}"}}"#);
        assert_eq!(
            parse_request("/v1/claim", minted.as_bytes()),
            Some(Request::Claim {
                key: KEY.into(),
                token: Some(TOKEN.into()),
                ttl: Duration::from_secs(60)
            })
        );
        let tombstone = format!(r#"{{"key":"{KEY}","token":"{TOKEN}","ttl_ms":5000}}"#);
        assert_eq!(
            parse_request("/v1/release", tombstone.as_bytes()),
            Some(Request::Release {
                key: KEY.into(),
                token: TOKEN.into(),
                tombstone: Some(Duration::from_secs(5))
            })
        );
        let commit = format!(r#" {{ "ttl_ms" : 1, "token":"{TOKEN}", "key":"{KEY}" }} "#);
        assert_eq!(
            parse_request("/v1/commit", commit.as_bytes()),
            Some(Request::Commit {
                key: KEY.into(),
                token: TOKEN.into(),
                ttl: Duration::from_millis(1)
            })
        );
        let release = format!(r#"{{"key":"{KEY}","token":"{TOKEN}"}}"#);
        assert!(parse_request("/v1/release", release.as_bytes()).is_some());
        // The edges of what is allowed.
        let edge = format!(
            r#"{{"key":"{}","ttl_ms":{MAX_TTL_MS}}}"#,
            "aZ09_:.-".repeat(16)
        );
        assert!(parse_request("/v1/claim", edge.as_bytes()).is_some());
        assert!(parse_request("/v1/claim", br#"{"key":"k","ttl_ms":1}"#).is_some());
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
            assert_eq!(parse_request(path, body.as_bytes()), None, "{path} {body}");
        }
        // Arbitrary bytes never panic.
        for body in [
            &b"\xff\xfe"[..],
            b"{",
            b"{\"key\":\"\\ud800\",\"ttl_ms\":1}",
        ] {
            assert_eq!(parse_request("/v1/claim", body), None);
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
        let text = m.render(memory_gauges(&store));
        assert!(
            text.contains("webhook_guard_cache_memory_max_entries 1\n"),
            "{text}"
        );
        assert!(
            text.contains(r#"webhook_guard_cache_requests_total{op="claim",result="capacity"} 1"#)
        );
    }
}
