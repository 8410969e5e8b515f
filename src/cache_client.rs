//! The filter's side of the cache service protocol (see cache/src/main.rs): the requests it
//! sends and how it reads the answers. Host-free; the glue only moves these bytes.
//!
//! Claim before forwarding; commit when the receiver answered 2xx; release when it is known
//! not to have processed the delivery (see `crate::lifecycle`). The filter mints the claim's
//! token itself, so it can release a claim whose answer it never used (the call timed out,
//! the client went away): such a release ("abandon") asks the cache for a tombstone, in case
//! the claim is still on its way there.

use serde::Deserialize;

pub const CLAIM_PATH: &str = "/v1/claim";
pub const COMMIT_PATH: &str = "/v1/commit";
pub const RELEASE_PATH: &str = "/v1/release";

/// Largest cache answer read; real ones are under 100 bytes.
pub const MAX_ANSWER_BYTES: usize = 4096;

/// What a claim answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The delivery is ours to process; `token` proves it at commit or release.
    Claimed { token: String },
    /// Another attempt of the same delivery holds the claim now.
    InFlight,
    /// The delivery was processed already.
    Done,
    /// No usable answer: the cache is down, slow (Envoy answers 504), full or confused.
    Unavailable,
}

/// The claim's body; `token` is the filter's own (`new_token`).
pub fn claim_request(key: &str, token: &str, ttl_seconds: u64) -> Vec<u8> {
    format!(
        r#"{{"key":"{key}","ttl_ms":{},"token":"{token}"}}"#,
        ttl_seconds * 1000
    )
    .into_bytes()
}

/// A token from 16 random bytes: 32 lowercase hex characters, the cache's token format.
pub fn new_token(random: [u8; 16]) -> String {
    hex::encode(random)
}

#[derive(Deserialize)]
struct ClaimAnswer {
    result: String,
    token: Option<String>,
}

/// Reads a claim answer to a claim made with `ours`. `status` is the call's `:status`
/// (`None`: the call failed and Envoy gave no headers at all).
pub fn parse_claim(status: Option<&[u8]>, body: &[u8], ours: &str) -> Claim {
    if status != Some(b"200") || body.len() > MAX_ANSWER_BYTES {
        return Claim::Unavailable;
    }
    let Ok(answer) = serde_json::from_slice::<ClaimAnswer>(body) else {
        return Claim::Unavailable;
    };
    match (answer.result.as_str(), answer.token) {
        ("claimed", Some(token)) if token == ours && valid_token(&token) => {
            Claim::Claimed { token }
        }
        ("in_flight", _) => Claim::InFlight,
        ("done", _) => Claim::Done,
        _ => Claim::Unavailable,
    }
}

/// Tokens are 32 lowercase hex characters; anything else is not from our cache service
/// (and must not be echoed into a request body).
fn valid_token(t: &str) -> bool {
    t.len() == 32
        && t.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What is sent about a claim once its fate is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// The receiver answered 2xx: the delivery is done for `done_ttl_seconds`.
    Commit,
    /// The receiver did not process it: free the key so the sender's retry is processed.
    Release,
    /// The claim's answer was never used (it came too late or not at all, or the client went
    /// away first): free the key if the claim was stored, and leave a tombstone for
    /// `in_flight_ttl_seconds` in case it was not stored yet.
    Abandon,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Commit => "commit",
            Op::Release => "release",
            Op::Abandon => "abandon",
        }
    }
}

/// A commit or release waiting to be sent, carried from the request's context to the root
/// context (which outlives the stream) through a shared queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub op: Op,
    pub key: String,
    pub token: String,
    /// Sends tried so far; failed sends are retried up to MAX_ATTEMPTS.
    pub attempt: u8,
}

pub const MAX_ATTEMPTS: u8 = 3;

impl Outcome {
    pub fn path(&self) -> &'static str {
        match self.op {
            Op::Commit => COMMIT_PATH,
            Op::Release | Op::Abandon => RELEASE_PATH,
        }
    }

    pub fn request(&self, done_ttl_seconds: u64, in_flight_ttl_seconds: u64) -> Vec<u8> {
        let (key, token) = (&self.key, &self.token);
        match self.op {
            Op::Commit => format!(
                r#"{{"key":"{key}","token":"{token}","ttl_ms":{}}}"#,
                done_ttl_seconds * 1000
            ),
            Op::Release => format!(r#"{{"key":"{key}","token":"{token}"}}"#),
            Op::Abandon => format!(
                r#"{{"key":"{key}","token":"{token}","ttl_ms":{}}}"#,
                in_flight_ttl_seconds * 1000
            ),
        }
        .into_bytes()
    }

    /// The queue message: `op key token attempt`, space-separated (keys and tokens are hex).
    pub fn encode(&self) -> Vec<u8> {
        format!(
            "{} {} {} {}",
            self.op.name(),
            self.key,
            self.token,
            self.attempt
        )
        .into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Option<Outcome> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut parts = text.split(' ');
        let op = match parts.next()? {
            "commit" => Op::Commit,
            "release" => Op::Release,
            "abandon" => Op::Abandon,
            _ => return None,
        };
        let key = parts.next()?.to_string();
        let token = parts.next()?.to_string();
        let attempt = parts.next()?.parse().ok()?;
        let hex =
            |s: &str| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_hexdigit());
        (parts.next().is_none() && hex(&key) && valid_token(&token)).then_some(Outcome {
            op,
            key,
            token,
            attempt,
        })
    }

    /// Whether the cache recorded it: 200, or 409 (not the owner any more: the claim expired
    /// and was taken again, so there is nothing of ours left to commit or release).
    pub fn settled(status: Option<&[u8]>) -> bool {
        matches!(status, Some(b"200") | Some(b"409"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn claim_answers() {
        let ok = format!(r#"{{"result":"claimed","token":"{TOKEN}"}}"#);
        let parse_claim = |status, body| super::parse_claim(status, body, TOKEN);
        assert_eq!(
            parse_claim(Some(b"200"), ok.as_bytes()),
            Claim::Claimed {
                token: TOKEN.into()
            }
        );
        assert_eq!(
            parse_claim(Some(b"200"), br#"{"result":"in_flight"}"#),
            Claim::InFlight
        );
        assert_eq!(
            parse_claim(Some(b"200"), br#"{"result":"done"}"#),
            Claim::Done
        );
        for (status, body) in [
            (None, &b""[..]),
            (Some(&b"504"[..]), &b"upstream request timeout"[..]),
            (Some(b"503"), br#"{"error":"capacity"}"#),
            (Some(b"200"), b"garbage"),
            (Some(b"200"), br#"{"result":"claimed"}"#),
            (
                Some(b"200"),
                br#"{"result":"claimed","token":"\" injected"}"#,
            ),
            (Some(b"200"), br#"{"result":"maybe"}"#),
            (Some(b"200"), br#"{"result":"abandoned"}"#),
            // Claimed, but not with our token: not ours to forward under.
            (
                Some(b"200"),
                br#"{"result":"claimed","token":"ffffffffffffffffffffffffffffffff"}"#,
            ),
        ] {
            assert_eq!(parse_claim(status, body), Claim::Unavailable, "{body:?}");
        }
    }

    #[test]
    fn outcomes_round_trip_through_the_queue() {
        let o = Outcome {
            op: Op::Release,
            key: "ab".repeat(32),
            token: TOKEN.into(),
            attempt: 2,
        };
        assert_eq!(Outcome::decode(&o.encode()), Some(o.clone()));
        for bad in [
            &b""[..],
            b"commit",
            b"drop ab 0123 1",
            b"commit zz 0123456789abcdef0123456789abcdef 0",
            b"\xff",
        ] {
            assert_eq!(Outcome::decode(bad), None);
        }
        let body: serde_json::Value = serde_json::from_slice(&o.request(86400, 60)).unwrap();
        assert_eq!(body["token"], TOKEN);
        assert!(
            body.get("ttl_ms").is_none(),
            "a plain release leaves no tombstone"
        );
        let abandon = Outcome {
            op: Op::Abandon,
            ..o.clone()
        };
        assert_eq!(Outcome::decode(&abandon.encode()), Some(abandon.clone()));
        assert_eq!(abandon.path(), "/v1/release");
        let body: serde_json::Value = serde_json::from_slice(&abandon.request(86400, 60)).unwrap();
        assert_eq!(body["ttl_ms"], 60_000);
        let commit = Outcome {
            op: Op::Commit,
            ..o
        };
        let body: serde_json::Value = serde_json::from_slice(&commit.request(86400, 60)).unwrap();
        assert_eq!(body["ttl_ms"], 86_400_000);
        assert_eq!(commit.path(), "/v1/commit");
    }

    #[test]
    fn claim_request_is_json() {
        let token = new_token([0xab; 16]);
        assert_eq!(token, "ab".repeat(16));
        let v: serde_json::Value =
            serde_json::from_slice(&claim_request("abc", &token, 60)).unwrap();
        assert_eq!(v["key"], "abc");
        assert_eq!(v["ttl_ms"], 60_000);
        assert_eq!(v["token"], token.as_str());
    }
}
