//! The claim / commit / release semantics that every backend keeps.
//!
//! A key is free, in flight (claimed by a token until its TTL runs out) or done (committed,
//! for its done TTL). Only the claim's owner may commit or release it; release never
//! deletes a done key; commit also succeeds when the claim expired and nobody took the key
//! since (the delivery was processed: remembering that is what prevents a second run).
//!
//! The token is chosen by the client (the filter mints it before it sends the claim), so the
//! client can release a claim whose answer it never saw: a claim that arrived after the
//! client gave up. Such a release may even arrive before its claim (two connections, no
//! order): a release that finds the key free leaves a tombstone, `released` by that token,
//! for the time the client asks, and a later claim by the same token is then refused
//! ([`Claim::Abandoned`]) instead of stored where nobody would release it. A tombstone is
//! free for every other token.
//!
//! Backends: [`crate::memory::MemoryStore`] (the default) and
//! [`crate::redis_store::RedisStore`] (Redis or Redis Cluster).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Tombstones one key keeps at most, in every backend: a replayed delivery abandoned again
/// and again (a client that hangs up while its claim is pending) must not fill the store.
/// When all are live, a new one replaces the one that expires first.
pub const TOMBSTONES_PER_KEY: usize = 4;

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key was free (or its previous claim had expired): now in flight, owned by this token.
    Claimed(String),
    /// Another attempt holds an unexpired claim.
    InFlight,
    /// This token's claim was released before it arrived (the client gave up on it): not
    /// stored.
    Abandoned,
    /// The key was committed and its done TTL has not run out.
    Done,
}

/// The answer to a commit or a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Yes,
    NotOwner,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The backend did not answer (in time); the reason is for the log line.
    Unavailable(String),
    /// The memory backend holds `--memory-max-entries` live keys.
    Capacity,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(why) => write!(f, "backend unavailable: {why}"),
            StoreError::Capacity => f.write_str("memory backend full"),
        }
    }
}

/// One operation of a batch, as the store runs it (tokens already minted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Claim {
        key: String,
        token: String,
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

/// What one op of a batch came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    Claim(Claim),
    Settled(Settled),
}

/// A backend. The HTTP layer is generic over it and never knows which one it talks to.
pub trait Store: Send + Sync + 'static {
    /// Claims `key` for `token` and `ttl` if it is free (absent, expired, or a tombstone of
    /// another token).
    fn claim(
        &self,
        key: &str,
        token: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// Marks `key` done for `ttl` if `token` holds its in-flight claim, or if the key is
    /// absent (the claim lapsed and nobody took the key since).
    fn commit(
        &self,
        key: &str,
        token: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<Settled, StoreError>> + Send;

    /// Deletes `key` if `token` holds its in-flight claim. Never deletes a done key. When
    /// the key is free and `tombstone` is given, leaves a tombstone for that long, so that
    /// `token`'s claim, should it still arrive, is refused.
    fn release(
        &self,
        key: &str,
        token: &str,
        tombstone: Option<Duration>,
    ) -> impl Future<Output = Result<Settled, StoreError>> + Send;

    /// Whether the backend answers (Redis: PING).
    fn healthy(&self) -> impl Future<Output = bool> + Send;

    /// Runs `ops` in order, one result per op; one op failing fails only its own result.
    /// The default runs them one after another (the memory backend, where each is a map
    /// lookup); Redis sends them in one round trip.
    fn batch(&self, ops: &[Op]) -> impl Future<Output = Vec<Result<Done, StoreError>>> + Send {
        async move {
            let mut out = Vec::with_capacity(ops.len());
            for op in ops {
                out.push(self.one(op).await);
            }
            out
        }
    }

    /// One op of a batch, through the single-op methods.
    fn one(&self, op: &Op) -> impl Future<Output = Result<Done, StoreError>> + Send {
        async move {
            match op {
                Op::Claim { key, token, ttl } => {
                    self.claim(key, token, *ttl).await.map(Done::Claim)
                }
                Op::Commit { key, token, ttl } => {
                    self.commit(key, token, *ttl).await.map(Done::Settled)
                }
                Op::Release {
                    key,
                    token,
                    tombstone,
                } => self
                    .release(key, token, *tombstone)
                    .await
                    .map(Done::Settled),
            }
        }
    }

    /// Live entries, for the memory backend's gauge; `None` for the others.
    fn entries(&self) -> Option<usize> {
        None
    }

    /// The most entries the backend holds (`--memory-max-entries`); `None`: no bound here.
    fn max_entries(&self) -> Option<usize> {
        None
    }
}

/// A shared store is a store (the memory backend is shared with its sweeper task).
impl<S: Store> Store for Arc<S> {
    fn claim(
        &self,
        key: &str,
        token: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send {
        (**self).claim(key, token, ttl)
    }
    fn commit(
        &self,
        key: &str,
        token: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<Settled, StoreError>> + Send {
        (**self).commit(key, token, ttl)
    }
    fn release(
        &self,
        key: &str,
        token: &str,
        tombstone: Option<Duration>,
    ) -> impl Future<Output = Result<Settled, StoreError>> + Send {
        (**self).release(key, token, tombstone)
    }
    fn healthy(&self) -> impl Future<Output = bool> + Send {
        (**self).healthy()
    }
    fn batch(&self, ops: &[Op]) -> impl Future<Output = Vec<Result<Done, StoreError>>> + Send {
        (**self).batch(ops)
    }
    fn entries(&self) -> Option<usize> {
        (**self).entries()
    }
    fn max_entries(&self) -> Option<usize> {
        (**self).max_entries()
    }
}

/// A fresh owner token: 32 lowercase hex characters (128 bits) from the OS's random source.
pub fn new_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Unavailable(format!("random source: {e}")))?;
    Ok(webhook_guard_protocol::token(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_lowercase_hex() {
        let a = new_token().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_ne!(a, new_token().unwrap());
    }
}
