//! The protocol between the webhook-guard filter and `webhook-guard-cache`, written once:
//! the paths, the request and answer bodies, and the rules for keys, tokens and TTLs. The
//! filter builds requests and reads answers with these types; the service reads requests and
//! writes answers with the same ones.
//!
//! ```text
//! POST /v1/claim    {"key":K,"ttl_ms":N[,"token":T]}
//!   200 {"result":"claimed","token":T}  K was free (absent, expired, or another token's
//!                                       tombstone): now in flight, owned by T, for N ms.
//!                                       T is the client's; the service mints one if absent.
//!   200 {"result":"in_flight"}          another attempt holds an unexpired claim
//!   200 {"result":"done"}               K was committed and its done TTL has not run out
//!   200 {"result":"abandoned"}          T's claim was released before it arrived: not stored
//! POST /v1/commit   {"key":K,"token":T,"ttl_ms":N}
//!   200 {"result":"committed"}          T held K's claim, or K held no claim (T's lapsed and
//!                                       nobody took K since), or T committed already:
//!                                       K is done for N ms
//!   409 {"result":"not_owner"}          K is held by another token
//! POST /v1/release  {"key":K,"token":T[,"ttl_ms":N]}
//!   200 {"result":"released"}           T held K's in-flight claim, now deleted
//!   409 {"result":"not_owner"}          anything else; a done key is never released. With
//!                                       ttl_ms, a free K gets T's tombstone for N ms.
//! POST /v1/batch    {"ops":[{"id":I,"claim":{..}} | {"id":I,"commit":{..}} | {"id":I,"release":{..}}, ...]}
//!   200 {"results":[{"id":I,"result":R[,"token":T]} | {"id":I,"error":CODE}, ...]}
//!                                       each op as its single endpoint above (same bodies,
//!                                       same results, a 409's `not_owner` included), one
//!                                       result per op, in any order, matched by `id`. Ops
//!                                       run in order on memory and a single Redis, but
//!                                       concurrently on Redis Cluster: no two ops of one
//!                                       key whose order matters in one batch. One failing
//!                                       (503 capacity, a bad key) fails only its own entry. 1 to MAX_BATCH_OPS ops,
//!                                       ids distinct, body at most MAX_BATCH_BYTES; else the
//!                                       whole batch is answered 400 or 413.
//! GET  /healthz     200 {"status":"ok"} | 503 {"status":"unavailable"}
//! GET  /metrics     Prometheus text
//! Errors: 400 bad_request, 404 not_found, 405 method_not_allowed, 413 too_large,
//!         503 backend_unavailable | capacity: {"error":CODE}
//! ```
//!
//! A key is 1 to 128 characters of `[0-9A-Za-z_:.-]` (the filter sends SHA-256 hex); a token
//! is 32 lowercase hex characters (128 bits); a TTL is 1 ms to 30 days. Request bodies are
//! JSON objects with exactly these fields (unknown fields are refused), at most 4096 bytes.

use serde::{Deserialize, Serialize};

pub const CLAIM_PATH: &str = "/v1/claim";
pub const COMMIT_PATH: &str = "/v1/commit";
pub const RELEASE_PATH: &str = "/v1/release";
/// Several claims, commits and releases in one request (the filter's only path since batching).
pub const BATCH_PATH: &str = "/v1/batch";
pub const HEALTH_PATH: &str = "/healthz";
pub const METRICS_PATH: &str = "/metrics";

/// Largest request body the service reads, and largest answer the filter reads.
pub const MAX_BODY_BYTES: usize = 4096;
/// Most operations in one batch: the filter never holds more per request, and the cache
/// refuses more (400), so one batch's work and answer stay small.
pub const MAX_BATCH_OPS: usize = 64;
/// Largest batch request body, and largest batch answer the filter reads. A full batch of
/// the longest keys is about 13 KB.
pub const MAX_BATCH_BYTES: usize = 16 * 1024;
/// Longest TTL: 30 days.
pub const MAX_TTL_MS: u64 = 30 * 24 * 3600 * 1000;

/// The three operations, in the order metric labels list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Claim,
    Commit,
    Release,
}

impl Operation {
    pub const ALL: [Operation; 3] = [Operation::Claim, Operation::Commit, Operation::Release];

    pub fn name(self) -> &'static str {
        match self {
            Operation::Claim => "claim",
            Operation::Commit => "commit",
            Operation::Release => "release",
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Operation::Claim => CLAIM_PATH,
            Operation::Commit => COMMIT_PATH,
            Operation::Release => RELEASE_PATH,
        }
    }

    pub fn from_path(path: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.path() == path)
    }
}

pub fn valid_key(k: &str) -> bool {
    (1..=128).contains(&k.len())
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_:.-".contains(&b))
}

pub fn valid_token(t: &str) -> bool {
    t.len() == 32 && t.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub fn valid_ttl_ms(ms: u64) -> bool {
    (1..=MAX_TTL_MS).contains(&ms)
}

/// A token from 16 random bytes.
pub fn token(random: [u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(32);
    for b in random {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    pub key: String,
    pub ttl_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitRequest {
    pub key: String,
    pub token: String,
    pub ttl_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    pub key: String,
    pub token: String,
    /// How long a tombstone lasts when the key is free (the claim may still be on its way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
}

impl ClaimRequest {
    pub fn valid(&self) -> bool {
        valid_key(&self.key)
            && valid_ttl_ms(self.ttl_ms)
            && self.token.as_deref().is_none_or(valid_token)
    }
}

impl CommitRequest {
    pub fn valid(&self) -> bool {
        valid_key(&self.key) && valid_token(&self.token) && valid_ttl_ms(self.ttl_ms)
    }
}

impl ReleaseRequest {
    pub fn valid(&self) -> bool {
        valid_key(&self.key) && valid_token(&self.token) && self.ttl_ms.is_none_or(valid_ttl_ms)
    }
}

/// Every `result` an operation answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Claimed,
    InFlight,
    Done,
    Abandoned,
    Committed,
    Released,
    NotOwner,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::Claimed,
        Outcome::InFlight,
        Outcome::Done,
        Outcome::Abandoned,
        Outcome::Committed,
        Outcome::Released,
        Outcome::NotOwner,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Claimed => "claimed",
            Outcome::InFlight => "in_flight",
            Outcome::Done => "done",
            Outcome::Abandoned => "abandoned",
            Outcome::Committed => "committed",
            Outcome::Released => "released",
            Outcome::NotOwner => "not_owner",
        }
    }

    /// The HTTP status it is answered with.
    pub fn status(self) -> u16 {
        match self {
            Outcome::NotOwner => 409,
            _ => 200,
        }
    }
}

/// The body of an answer to an operation: `{"result":...}`, with the owner's token for a
/// claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub result: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Every error an operation can answer with, as `{"error":CODE}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Error {
    BadRequest,
    NotFound,
    MethodNotAllowed,
    TooLarge,
    BackendUnavailable,
    Capacity,
}

impl Error {
    pub fn status(self) -> u16 {
        match self {
            Error::BadRequest => 400,
            Error::NotFound => 404,
            Error::MethodNotAllowed => 405,
            Error::TooLarge => 413,
            Error::BackendUnavailable | Error::Capacity => 503,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorAnswer {
    pub error: Error,
}

/// One operation of a batch: exactly one of `claim`, `commit`, `release`, with the body its
/// single endpoint takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchOp {
    pub id: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<ClaimRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<ReleaseRequest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    pub ops: Vec<BatchOp>,
}

/// One op's answer in a batch: a `result` (with the token for a claim) or an `error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResult {
    pub id: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Outcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Error>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAnswer {
    pub results: Vec<BatchResult>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_absent_options_are_not_written() {
        let claim = ClaimRequest {
            key: "k".into(),
            ttl_ms: 60_000,
            token: None,
        };
        assert_eq!(
            serde_json::to_string(&claim).unwrap(),
            r#"{"key":"k","ttl_ms":60000}"#
        );
        let release = ReleaseRequest {
            key: "k".into(),
            token: "ab".repeat(16),
            ttl_ms: Some(5),
        };
        let text = serde_json::to_string(&release).unwrap();
        assert_eq!(
            serde_json::from_str::<ReleaseRequest>(&text).unwrap(),
            release
        );
        assert!(serde_json::from_str::<ClaimRequest>(r#"{"key":"k","ttl_ms":1,"x":1}"#).is_err());
    }

    #[test]
    fn answers_read_as_written() {
        let a = Answer {
            result: Outcome::Claimed,
            token: Some("ab".repeat(16)),
        };
        let text = serde_json::to_string(&a).unwrap();
        assert_eq!(
            text,
            format!(r#"{{"result":"claimed","token":"{}"}}"#, "ab".repeat(16))
        );
        assert_eq!(serde_json::from_str::<Answer>(&text).unwrap(), a);
        for o in Outcome::ALL {
            let text = serde_json::to_string(&o).unwrap();
            assert_eq!(text, format!("\"{}\"", o.name()));
        }
        assert_eq!(
            serde_json::to_string(&ErrorAnswer {
                error: Error::BackendUnavailable
            })
            .unwrap(),
            r#"{"error":"backend_unavailable"}"#
        );
        assert!(serde_json::from_str::<Answer>(r#"{"result":"maybe"}"#).is_err());
    }

    #[test]
    fn rules() {
        assert!(valid_key("aZ09_:.-") && !valid_key("") && !valid_key("a b"));
        assert!(!valid_key(&"a".repeat(129)));
        assert!(valid_token(&token([0xab; 16])) && !valid_token(&"AB".repeat(16)));
        assert!(valid_ttl_ms(1) && valid_ttl_ms(MAX_TTL_MS) && !valid_ttl_ms(0));
        assert!(!valid_ttl_ms(MAX_TTL_MS + 1));
        assert_eq!(Operation::from_path("/v1/commit"), Some(Operation::Commit));
        assert_eq!(Operation::from_path("/v1/x"), None);
    }

    #[test]
    fn batches_read_as_written() {
        let text = format!(
            r#"{{"ops":[{{"id":1,"claim":{{"key":"k","ttl_ms":5,"token":"{t}"}}}},{{"id":2,"commit":{{"key":"k","token":"{t}","ttl_ms":9}}}}]}}"#,
            t = "ab".repeat(16)
        );
        let b: BatchRequest = serde_json::from_str(&text).unwrap();
        assert_eq!(b.ops.len(), 2);
        assert_eq!(serde_json::to_string(&b).unwrap(), text);
        assert!(serde_json::from_str::<BatchRequest>(r#"{"ops":[{"id":1,"x":{}}]}"#).is_err());
        let a = BatchAnswer {
            results: vec![
                BatchResult {
                    id: 2,
                    result: Some(Outcome::NotOwner),
                    token: None,
                    error: None,
                },
                BatchResult {
                    id: 1,
                    result: None,
                    token: None,
                    error: Some(Error::Capacity),
                },
            ],
        };
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"results":[{"id":2,"result":"not_owner"},{"id":1,"error":"capacity"}]}"#
        );
    }
}
