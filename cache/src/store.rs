//! The claim / commit / release semantics, and the two backends that keep them.
//!
//! A key is free, in flight (claimed by a token until its TTL runs out) or done (committed,
//! for its done TTL). Only the claim's owner may commit or release it; release never
//! deletes a done key; commit also succeeds when the claim expired and nobody took the key
//! since (the delivery was processed: remembering that is what prevents a second run).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;
use redis::Script;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    Claimed(String),
    InFlight,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Yes,
    NotOwner,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError {
    /// Redis did not answer (in time).
    Unavailable,
    /// The memory backend holds `--memory-max-entries` live keys.
    Capacity,
}

/// A fresh owner token: 32 lowercase hex characters from the OS's random source.
pub fn new_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| StoreError::Unavailable)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

pub enum Store {
    Memory(MemoryStore),
    Redis(RedisStore),
}

impl Store {
    pub async fn claim(&self, key: &str, ttl: Duration) -> Result<Claim, StoreError> {
        match self {
            Store::Memory(m) => m.claim(key, ttl, Instant::now()),
            Store::Redis(r) => r.claim(key, ttl).await,
        }
    }

    pub async fn commit(
        &self,
        key: &str,
        token: &str,
        ttl: Duration,
    ) -> Result<Settled, StoreError> {
        match self {
            Store::Memory(m) => Ok(m.commit(key, token, ttl, Instant::now())),
            Store::Redis(r) => r.commit(key, token, ttl).await,
        }
    }

    pub async fn release(&self, key: &str, token: &str) -> Result<Settled, StoreError> {
        match self {
            Store::Memory(m) => Ok(m.release(key, token, Instant::now())),
            Store::Redis(r) => r.release(key, token).await,
        }
    }

    pub async fn healthy(&self) -> bool {
        match self {
            Store::Memory(_) => true,
            Store::Redis(r) => r.ping().await,
        }
    }

    /// Live entries, for the memory backend's gauge.
    pub fn entries(&self) -> Option<usize> {
        match self {
            Store::Memory(m) => Some(m.len()),
            Store::Redis(_) => None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Memory

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    InFlight,
    Done,
}

struct Entry {
    state: State,
    token: String,
    expires: Instant,
}

const SHARDS: usize = 64;

/// The embedded backend: 64 mutex-guarded shards, lazy expiry on access plus a sweeper
/// (`sweep`, run every second by main). Bounded by `max_entries` live keys: when full (after
/// dropping expired entries), a claim fails with `Capacity`, which the service answers 503 and
/// the filter turns into a 503 to the sender, who retries later. Failing closed loses nothing
/// and processes nothing twice; evicting a live claim could do either.
pub struct MemoryStore {
    shards: Vec<Mutex<HashMap<String, Entry>>>,
    len: AtomicUsize,
    max_entries: usize,
}

impl MemoryStore {
    pub fn new(max_entries: usize) -> MemoryStore {
        MemoryStore {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            len: AtomicUsize::new(0),
            max_entries,
        }
    }

    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    fn shard(&self, key: &str) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // FNV-1a: keys are already hashes, any spread will do.
        let h = key.bytes().fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
        });
        let shard = &self.shards[(h % SHARDS as u64) as usize];
        // A poisoned shard only means another thread panicked mid-update of plain data.
        shard.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn claim(&self, key: &str, ttl: Duration, now: Instant) -> Result<Claim, StoreError> {
        let mut shard = self.shard(key);
        if let Some(e) = shard.get(key) {
            if e.expires > now {
                return Ok(match e.state {
                    State::InFlight => Claim::InFlight,
                    State::Done => Claim::Done,
                });
            }
            shard.remove(key);
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
        if self.len() >= self.max_entries {
            drop(shard);
            self.sweep(now, usize::MAX);
            if self.len() >= self.max_entries {
                return Err(StoreError::Capacity);
            }
            shard = self.shard(key);
        }
        let token = new_token()?;
        shard.insert(
            key.to_string(),
            Entry {
                state: State::InFlight,
                token: token.clone(),
                expires: now + ttl,
            },
        );
        self.len.fetch_add(1, Ordering::Relaxed);
        Ok(Claim::Claimed(token))
    }

    pub fn commit(&self, key: &str, token: &str, ttl: Duration, now: Instant) -> Settled {
        let mut shard = self.shard(key);
        let live = shard
            .get(key)
            .filter(|e| e.expires > now)
            .map(|e| (e.state, e.token == token));
        match live {
            Some((State::InFlight, true)) => {
                if let Some(e) = shard.get_mut(key) {
                    e.state = State::Done;
                    e.expires = now + ttl;
                }
                Settled::Yes
            }
            Some(_) => Settled::NotOwner,
            None => {
                // Absent or expired: the claim lapsed and nobody took the key since.
                let done = Entry {
                    state: State::Done,
                    token: token.to_string(),
                    expires: now + ttl,
                };
                if shard.insert(key.to_string(), done).is_none() {
                    self.len.fetch_add(1, Ordering::Relaxed);
                }
                Settled::Yes
            }
        }
    }

    pub fn release(&self, key: &str, token: &str, now: Instant) -> Settled {
        let mut shard = self.shard(key);
        match shard.get(key) {
            Some(e) if e.expires > now && e.state == State::InFlight && e.token == token => {
                shard.remove(key);
                self.len.fetch_sub(1, Ordering::Relaxed);
                Settled::Yes
            }
            _ => Settled::NotOwner,
        }
    }

    /// Drops expired entries, visiting at most `budget` entries per shard.
    pub fn sweep(&self, now: Instant, budget: usize) {
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            let expired: Vec<String> = shard
                .iter()
                .take(budget)
                .filter(|(_, e)| e.expires <= now)
                .map(|(k, _)| k.clone())
                .collect();
            for k in expired {
                shard.remove(&k);
                self.len.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Redis

/// Redis or Redis Cluster. Every operation touches one key (`wg:<key>`), so it works on a
/// cluster unchanged. The scripts make each check-and-set atomic on the server.
pub struct RedisStore {
    conn: RedisConn,
    timeout: Duration,
    claim: Script,
    commit: Script,
    release: Script,
}

#[derive(Clone)]
pub enum RedisConn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// SET NX PX; when taken, the current value tells in flight from done.
const CLAIM: &str = r#"
if redis.call('SET', KEYS[1], 'inflight:' .. ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 'claimed'
end
return redis.call('GET', KEYS[1]) or 'claimed-race'
"#;

/// Done when it holds our claim, or nothing at all (our claim lapsed, nobody took it).
const COMMIT: &str = r#"
local v = redis.call('GET', KEYS[1])
if v == false or v == 'inflight:' .. ARGV[1] then
  redis.call('SET', KEYS[1], 'done:' .. ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"#;

/// Only our own, still in-flight claim is deleted.
const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == 'inflight:' .. ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

fn redis_key(key: &str) -> String {
    format!("wg:{key}")
}

impl RedisStore {
    pub async fn connect_single(url: &str) -> Result<RedisStore, String> {
        let client = redis::Client::open(url).map_err(|e| format!("--redis {url}: {e}"))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| format!("--redis {url}: {e}"))?;
        Ok(RedisStore::new(RedisConn::Single(conn)))
    }

    pub async fn connect_cluster(urls: &[String]) -> Result<RedisStore, String> {
        let client = redis::cluster::ClusterClient::builder(urls.to_vec())
            .connection_timeout(Duration::from_secs(1))
            .response_timeout(Duration::from_secs(1))
            .build()
            .map_err(|e| format!("--redis-cluster: {e}"))?;
        let conn = client
            .get_async_connection()
            .await
            .map_err(|e| format!("--redis-cluster: {e}"))?;
        Ok(RedisStore::new(RedisConn::Cluster(conn)))
    }

    fn new(conn: RedisConn) -> RedisStore {
        RedisStore {
            conn,
            timeout: Duration::from_secs(1),
            claim: Script::new(CLAIM),
            commit: Script::new(COMMIT),
            release: Script::new(RELEASE),
        }
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        key: &str,
        args: &[&str],
    ) -> Result<T, StoreError> {
        let mut invocation = script.key(redis_key(key));
        for a in args {
            invocation.arg(*a);
        }
        let call = async {
            match self.conn.clone() {
                RedisConn::Single(mut c) => invocation.invoke_async(&mut c).await,
                RedisConn::Cluster(mut c) => invocation.invoke_async(&mut c).await,
            }
        };
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            _ => Err(StoreError::Unavailable),
        }
    }

    pub async fn claim(&self, key: &str, ttl: Duration) -> Result<Claim, StoreError> {
        let token = new_token()?;
        let ms = ttl.as_millis().to_string();
        let answer: String = self.run(&self.claim, key, &[&token, &ms]).await?;
        Ok(match answer.as_str() {
            "claimed" => Claim::Claimed(token),
            v if v.starts_with("done:") => Claim::Done,
            // In flight, or the key expired between SET and GET: retrying is the safe answer.
            _ => Claim::InFlight,
        })
    }

    pub async fn commit(
        &self,
        key: &str,
        token: &str,
        ttl: Duration,
    ) -> Result<Settled, StoreError> {
        let ms = ttl.as_millis().to_string();
        let n: i64 = self.run(&self.commit, key, &[token, &ms]).await?;
        Ok(if n == 1 {
            Settled::Yes
        } else {
            Settled::NotOwner
        })
    }

    pub async fn release(&self, key: &str, token: &str) -> Result<Settled, StoreError> {
        let n: i64 = self.run(&self.release, key, &[token]).await?;
        Ok(if n == 1 {
            Settled::Yes
        } else {
            Settled::NotOwner
        })
    }

    pub async fn ping(&self) -> bool {
        let call = async {
            let cmd = redis::cmd("PING");
            match self.conn.clone() {
                RedisConn::Single(mut c) => cmd.query_async::<String>(&mut c).await,
                RedisConn::Cluster(mut c) => cmd.query_async::<String>(&mut c).await,
            }
        };
        matches!(tokio::time::timeout(self.timeout, call).await, Ok(Ok(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn claimed(c: Result<Claim, StoreError>) -> String {
        match c {
            Ok(Claim::Claimed(t)) => t,
            other => panic!("expected a claim, got {other:?}"),
        }
    }

    #[test]
    fn claim_commit_then_done() {
        let m = MemoryStore::new(10);
        let t0 = Instant::now();
        let token = claimed(m.claim("k", 60 * S, t0));
        assert_eq!(token.len(), 32);
        assert_eq!(m.claim("k", 60 * S, t0), Ok(Claim::InFlight));
        assert_eq!(
            m.commit("k", "someone-else", 600 * S, t0),
            Settled::NotOwner
        );
        assert_eq!(m.commit("k", &token, 600 * S, t0), Settled::Yes);
        assert_eq!(m.claim("k", 60 * S, t0 + 100 * S), Ok(Claim::Done));
        assert_eq!(
            m.release("k", &token, t0),
            Settled::NotOwner,
            "release never undoes done"
        );
        // After the done TTL the key is free again.
        claimed(m.claim("k", 60 * S, t0 + 601 * S));
    }

    #[test]
    fn release_frees_the_key_for_a_retry() {
        let m = MemoryStore::new(10);
        let t0 = Instant::now();
        let first = claimed(m.claim("k", 60 * S, t0));
        assert_eq!(m.release("k", "not-mine", t0), Settled::NotOwner);
        assert_eq!(m.release("k", &first, t0), Settled::Yes);
        assert_eq!(m.len(), 0);
        let second = claimed(m.claim("k", 60 * S, t0));
        assert_ne!(first, second);
        assert_eq!(
            m.release("k", &first, t0),
            Settled::NotOwner,
            "old token is stale"
        );
    }

    #[test]
    fn expired_claims_are_free_and_late_commits_still_count() {
        let m = MemoryStore::new(10);
        let t0 = Instant::now();
        let first = claimed(m.claim("k", 60 * S, t0));
        // The claim lapsed; nobody took the key: the late commit still marks it done.
        assert_eq!(m.commit("k", &first, 600 * S, t0 + 61 * S), Settled::Yes);
        assert_eq!(m.claim("k", 60 * S, t0 + 62 * S), Ok(Claim::Done));
        // A lapsed claim taken by another attempt: the late commit is not the owner's.
        let a = claimed(m.claim("j", 60 * S, t0));
        let b = claimed(m.claim("j", 60 * S, t0 + 61 * S));
        assert_eq!(m.commit("j", &a, 600 * S, t0 + 62 * S), Settled::NotOwner);
        assert_eq!(m.commit("j", &b, 600 * S, t0 + 62 * S), Settled::Yes);
        assert_eq!(m.commit("absent", &a, 600 * S, t0), Settled::Yes);
    }

    #[test]
    fn full_store_fails_closed_until_entries_expire() {
        let m = MemoryStore::new(2);
        let t0 = Instant::now();
        claimed(m.claim("a", 10 * S, t0));
        claimed(m.claim("b", 60 * S, t0));
        assert_eq!(m.claim("c", 60 * S, t0), Err(StoreError::Capacity));
        // Once "a" expires, the claim sweeps it and succeeds.
        claimed(m.claim("c", 60 * S, t0 + 11 * S));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn sweep_drops_only_expired_entries() {
        let m = MemoryStore::new(100);
        let t0 = Instant::now();
        for i in 0..50 {
            claimed(m.claim(&format!("short{i}"), S, t0));
            claimed(m.claim(&format!("long{i}"), 60 * S, t0));
        }
        m.sweep(t0 + 2 * S, usize::MAX);
        assert_eq!(m.len(), 50);
    }

    #[test]
    fn tokens_are_random_hex() {
        let a = new_token().unwrap();
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_ne!(a, new_token().unwrap());
    }
}
