//! The filter's side of the cache protocol (the `webhook-guard-protocol` crate: paths,
//! bodies, rules): the requests it sends and how it reads the answers. Host-free; the glue
//! only moves these bytes.
//!
//! Claim before forwarding; commit when the receiver answered 2xx; release when it is known
//! not to have processed the delivery (see `crate::dedupe::fate`). The filter mints the claim's
//! token itself, so it can release a claim whose answer it never used (the call timed out,
//! the client went away): such a release ("abandon") asks the cache for a tombstone, in case
//! the claim is still on its way there.

use webhook_guard_protocol::{
    valid_token, Answer, BatchAnswer, BatchResult, ClaimRequest, CommitRequest, Error, Operation,
    Outcome, ReleaseRequest,
};
pub use webhook_guard_protocol::{
    BATCH_PATH, CLAIM_PATH, MAX_BATCH_BYTES, MAX_BATCH_OPS, MAX_BODY_BYTES as MAX_ANSWER_BYTES,
};

/// What a claim's answer means for the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimVerdict {
    /// The delivery is ours to process; `token` proves it at commit or release.
    Claimed { token: String },
    /// Another attempt of the same delivery holds the claim now.
    InFlight,
    /// The delivery was processed already.
    Done,
    /// No usable answer: the cache is down, slow (Envoy answers 504), full or confused.
    Unavailable,
}

/// The claim's body, with the filter's own token.
pub(crate) fn claim_request(key: &str, token: &str, ttl_seconds: u64) -> Vec<u8> {
    to_json(&ClaimRequest {
        key: key.to_string(),
        ttl_ms: ttl_seconds * 1000,
        token: Some(token.to_string()),
    })
}

/// A token from 16 random bytes: 32 lowercase hex characters.
pub fn new_token(random: [u8; 16]) -> String {
    webhook_guard_protocol::token(random)
}

/// Claim tokens for one VM: a random 128-bit start, then one more for each claim. A token
/// only has to tell this claim apart from every other one (the cache matches commits and
/// releases to claims by it); nobody who can reach the cache needs to guess one. One
/// `random_get` per VM instead of one per delivery.
#[derive(Debug, Default)]
pub struct Tokens {
    next: std::cell::Cell<Option<u128>>,
}

impl Tokens {
    /// The next token; `random` is asked only for the first (`None`: no random source).
    pub fn next(&self, random: impl FnOnce() -> Option<[u8; 16]>) -> Option<String> {
        let n = match self.next.get() {
            Some(n) => n,
            None => u128::from_be_bytes(random()?),
        };
        self.next.set(Some(n.wrapping_add(1)));
        Some(new_token(n.to_be_bytes()))
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain structs cannot fail; an empty body would be refused (400).
    serde_json::to_vec(value).unwrap_or_default()
}

/// Reads the answer to a claim made with `ours`. `status` is the call's `:status` (`None`:
/// the call failed and Envoy gave no headers at all).
pub fn parse_claim(status: Option<&[u8]>, body: &[u8], ours: &str) -> ClaimVerdict {
    if status != Some(b"200") || body.len() > MAX_ANSWER_BYTES {
        return ClaimVerdict::Unavailable;
    }
    let Ok(answer) = serde_json::from_slice::<Answer>(body) else {
        return ClaimVerdict::Unavailable;
    };
    match (answer.result, answer.token) {
        (Outcome::Claimed, Some(token)) if token == ours && valid_token(&token) => {
            ClaimVerdict::Claimed { token }
        }
        (Outcome::InFlight, _) => ClaimVerdict::InFlight,
        (Outcome::Done, _) => ClaimVerdict::Done,
        _ => ClaimVerdict::Unavailable,
    }
}

/// The claim verdict a batch entry gives (`None`: the answer had no usable entry for it).
pub(crate) fn claim_verdict(entry: Option<&BatchResult>, ours: &str) -> ClaimVerdict {
    let Some(entry) = entry.filter(|e| e.error.is_none()) else {
        return ClaimVerdict::Unavailable;
    };
    match (entry.result, &entry.token) {
        (Some(Outcome::Claimed), Some(token)) if token == ours && valid_token(token) => {
            ClaimVerdict::Claimed {
                token: token.clone(),
            }
        }
        (Some(Outcome::InFlight), _) => ClaimVerdict::InFlight,
        (Some(Outcome::Done), _) => ClaimVerdict::Done,
        _ => ClaimVerdict::Unavailable,
    }
}

/// What became of a commit, release or abandon sent in a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettleResult {
    /// The cache recorded it, or it is no longer ours (`not_owner`): nothing left to do.
    Settled,
    /// No usable answer (none, a 5xx or 429, an error entry, a missing or garbled entry):
    /// sending it again may help, and is harmless (commit and release are idempotent for
    /// their token).
    Retry,
    /// The cache refused it as malformed: the same bytes would be refused again.
    Refused,
}

/// The result a batch entry gives a settlement sent as `op`.
pub(crate) fn settle_result(op: Operation, entry: Option<&BatchResult>) -> SettleResult {
    let Some(entry) = entry else {
        return SettleResult::Retry;
    };
    match (entry.error, entry.result, op) {
        (Some(Error::BadRequest), _, _) => SettleResult::Refused,
        (Some(_), _, _) => SettleResult::Retry,
        (None, Some(Outcome::NotOwner), _)
        | (None, Some(Outcome::Committed), Operation::Commit)
        | (None, Some(Outcome::Released), Operation::Release) => SettleResult::Settled,
        // An answer of another operation's kind, or none: the cache is confused.
        _ => SettleResult::Retry,
    }
}

/// A whole batch's answer, read against the `ops` entries it carried (ids `0..ops`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchReply {
    /// No entry can be trusted: no answer, an error status, or a body that is not the
    /// protocol. `retryable` as for a single request (`Queued::retryable`); a 200 with
    /// garbage is retryable.
    Failed { retryable: bool },
    /// One slot per op, by id: `None` where the entry is missing, garbled or duplicated.
    Entries(Vec<Option<BatchResult>>),
}

/// Reads a batch's answer. Never trusts an entry it cannot pin to exactly one op: an entry
/// that is not the protocol, an id out of range, and both entries of a duplicated id are
/// dropped, and their ops get `None` (a claim: unavailable; a settlement: retried).
pub fn read_batch_answer(status: Option<&[u8]>, body: &[u8], ops: usize) -> BatchReply {
    if status != Some(b"200") {
        // Whatever the whole batch got (a 404 from an older cache during a rolling upgrade,
        // a 403 from a proxy, a 400 for one bad entry), it is not an answer about each
        // settlement in it: they are sent again, in other batches, up to their attempts.
        return BatchReply::Failed { retryable: true };
    }
    /// An entry that is not a `BatchResult` (an unknown result, a mistyped id) is kept
    /// apart from the others rather than failing the whole answer.
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Lenient {
        Entry(BatchResult),
        Other(serde::de::IgnoredAny),
    }
    #[derive(serde::Deserialize)]
    struct Results {
        results: Vec<Lenient>,
    }
    if body.len() > MAX_BATCH_BYTES {
        return BatchReply::Failed { retryable: true };
    }
    // The cache's own answers parse as they are; the lenient reading (which buffers each
    // entry to try it twice) only runs for one that does not.
    let entries: Vec<BatchResult> = match serde_json::from_slice::<BatchAnswer>(body) {
        Ok(answer) => answer.results,
        Err(_) => match serde_json::from_slice::<Results>(body) {
            Ok(parsed) => parsed
                .results
                .into_iter()
                .filter_map(|e| match e {
                    Lenient::Entry(entry) => Some(entry),
                    Lenient::Other(_) => None,
                })
                .collect(),
            Err(_) => return BatchReply::Failed { retryable: true },
        },
    };
    let mut slots: Vec<Option<BatchResult>> = vec![None; ops];
    let mut seen = vec![false; ops];
    let mut duplicated = vec![false; ops];
    for entry in entries {
        let Some(i) = usize::try_from(entry.id).ok().filter(|i| *i < ops) else {
            continue;
        };
        if seen[i] {
            duplicated[i] = true;
        }
        seen[i] = true;
        slots[i] = Some(entry);
    }
    for (slot, dup) in slots.iter_mut().zip(duplicated) {
        if dup {
            *slot = None;
        }
    }
    BatchReply::Entries(slots)
}

/// What is sent about a claim once its fate is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// The receiver answered 2xx: the delivery is done for `done_ttl_seconds`.
    Commit,
    /// The receiver did not process it: free the key so the sender's retry is processed.
    Release,
    /// The claim's answer was never used (it came too late or not at all, or the client went
    /// away first): free the key if the claim was stored, and leave a tombstone for
    /// `in_flight_ttl_seconds` in case it was not stored yet.
    Abandon,
}

impl Settlement {
    pub fn name(self) -> &'static str {
        match self {
            Settlement::Commit => "commit",
            Settlement::Release => "release",
            Settlement::Abandon => "abandon",
        }
    }

    /// The protocol operation it is sent as: an abandon is a release with a tombstone.
    pub fn operation(self) -> Operation {
        match self {
            Settlement::Commit => Operation::Commit,
            Settlement::Release | Settlement::Abandon => Operation::Release,
        }
    }

    /// The request body, built once: the root context sends these bytes as they are.
    pub fn request(
        self,
        key: &str,
        token: &str,
        done_ttl_seconds: u64,
        in_flight_ttl_seconds: u64,
    ) -> Vec<u8> {
        let (key, token) = (key.to_string(), token.to_string());
        match self {
            Settlement::Commit => to_json(&CommitRequest {
                key,
                token,
                ttl_ms: done_ttl_seconds * 1000,
            }),
            Settlement::Release => to_json(&ReleaseRequest {
                key,
                token,
                ttl_ms: None,
            }),
            Settlement::Abandon => to_json(&ReleaseRequest {
                key,
                token,
                ttl_ms: Some(in_flight_ttl_seconds * 1000),
            }),
        }
    }
}

/// A commit, release or abandon waiting to be sent, carried from the request's context to
/// the root context (which outlives the stream) through a shared queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub settlement: Settlement,
    /// The request body (`Settlement::request`).
    pub body: Vec<u8>,
    /// Sends tried so far; failed sends are retried up to MAX_ATTEMPTS.
    pub attempt: u8,
}

/// Sends of one commit, release or abandon before the claim is left to its in-flight TTL.
pub(crate) const MAX_ATTEMPTS: u8 = 5;

/// How long to wait before send `attempt + 1` after send `attempt` failed: 250 ms, doubling
/// (250 ms, 0.5 s, 1 s, 2 s: about 4 s in all, enough for a cache restart or a Redis
/// failover, where sends back to back would all fail within milliseconds).
pub(crate) fn retry_delay_ms(attempt: u8) -> u64 {
    250u64 << attempt.saturating_sub(1).min(6)
}

impl Queued {
    pub fn path(&self) -> &'static str {
        self.settlement.operation().path()
    }

    /// The queue message: `settlement attempt body`.
    pub fn encode(&self) -> Vec<u8> {
        let mut m = format!("{} {} ", self.settlement.name(), self.attempt).into_bytes();
        m.extend_from_slice(&self.body);
        m
    }

    /// Reads a queue message back; `None` for anything this filter did not write. The body
    /// is not parsed again (that costs 9 KB of Wasm): only this VM's request contexts write
    /// to the queue, and the cache checks every request it gets (400 otherwise).
    pub fn decode(bytes: &[u8]) -> Option<Queued> {
        let mut parts = bytes.splitn(3, |&b| b == b' ');
        let settlement = match parts.next()? {
            b"commit" => Settlement::Commit,
            b"release" => Settlement::Release,
            b"abandon" => Settlement::Abandon,
            _ => return None,
        };
        let attempt: u8 = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
        let body = parts.next()?;
        if body.len() > MAX_ANSWER_BYTES {
            return None;
        }
        // The body goes into a batch as it is (`batch_entry`): it must be the request its
        // operation takes, or one bad message would make the whole batch a 400, and every
        // commit in it wait for its retries.
        let valid = match settlement {
            Settlement::Commit => serde_json::from_slice::<CommitRequest>(body).is_ok(),
            Settlement::Release | Settlement::Abandon => {
                serde_json::from_slice::<ReleaseRequest>(body).is_ok()
            }
        };
        valid.then(|| Queued {
            settlement,
            body: body.to_vec(),
            attempt,
        })
    }

    /// This settlement as a batch entry with id `id`: its body under its operation's name.
    pub(crate) fn batch_entry(&self, id: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"id\":");
        out.extend_from_slice(id.to_string().as_bytes());
        out.extend_from_slice(b",\"");
        out.extend_from_slice(self.settlement.operation().name().as_bytes());
        out.extend_from_slice(b"\":");
        out.extend_from_slice(&self.body);
        out.push(b'}');
    }

    /// Whether the cache recorded it: 200, or 409 (not the owner any more: the claim expired
    /// and was taken again, so there is nothing of ours left to commit or release).
    pub fn settled(status: Option<&[u8]>) -> bool {
        matches!(status, Some(b"200") | Some(b"409"))
    }

    #[cfg(test)]
    /// Whether sending it again may help: no answer, a 5xx, or 429. Any other answer (400:
    /// the cache refused the request) would be the same next time.
    pub(crate) fn retryable(status: Option<&[u8]>) -> bool {
        match status {
            None => true,
            Some(s) => s.first() == Some(&b'5') || s == b"429",
        }
    }
}

#[cfg(test)]
mod tests;
