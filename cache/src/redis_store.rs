//! The shared backend: Redis or Redis Cluster, for several service instances (and several
//! Envoys) keeping one dedupe window.
//!
//! A key's state is `wg:<key>`: `inflight:<token>` or `done:<token>`, with a PX expiry. Its
//! tombstones are `{wg:<key>}:released:<0..3>`, each holding a token: the hash tag puts
//! them in the key's own cluster slot, so one script reads them all on a cluster too. Lua scripts (sent as EVALSHA,
//! falling back to EVAL when the server does not know them yet, e.g. after a restart) make each
//! check-and-set atomic on the server.
//!
//! Connections reconnect on their own after Redis restarts or fails over; the service starts
//! even when Redis is not reachable yet and answers 503 until it is. Every operation is
//! bounded by a timeout (`--redis-timeout-ms`, 200 ms by default): shorter than the filter's
//! call-out timeout, so the filter hears a clean 503 rather than giving up itself.

use std::sync::RwLock;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{RedisError, Script};

use crate::store::{Claim, Settled, Store, StoreError, TOMBSTONES_PER_KEY};

/// Refused when one of the key's tombstones holds the token (its claim was released before
/// it arrived); otherwise SET NX PX, and when taken, the current value tells in flight from
/// done.
const CLAIM: &str = r#"
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    return 'abandoned'
  end
end
if redis.call('SET', KEYS[1], 'inflight:' .. ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 'claimed'
end
return redis.call('GET', KEYS[1]) or 'claimed-race'
"#;

/// Done when it holds our claim, or nothing at all (our claim lapsed, nobody took it); our
/// own earlier commit (a retry after a lost answer) is already done.
const COMMIT: &str = r#"
local v = redis.call('GET', KEYS[1])
if v == 'done:' .. ARGV[1] then
  return 1
end
if v == false or v == 'inflight:' .. ARGV[1] then
  redis.call('SET', KEYS[1], 'done:' .. ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"#;

/// Only our own, still in-flight claim is deleted. With ARGV[2] (a TTL in ms) not 0, a
/// tombstone for our token is left when our claim could still land and be stored: the key
/// is free or held by another token (whose owner may release it first). It goes in our
/// token's slot, else a free one, else the one that expires first: a key keeps at most
/// four, however often a replayed delivery is abandoned.
const RELEASE: &str = r#"
local v = redis.call('GET', KEYS[1])
if v == 'inflight:' .. ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
if ARGV[2] == '0' or (v and string.sub(v, 1, 5) == 'done:') then
  return 0
end
local own, free, oldest, oldest_ttl = nil, nil, nil, nil
for i = 2, #KEYS do
  local t = redis.call('GET', KEYS[i])
  if t == ARGV[1] then
    own = KEYS[i]
    break
  end
  if t == false then
    free = free or KEYS[i]
  else
    local ttl = redis.call('PTTL', KEYS[i])
    if oldest == nil or ttl < oldest_ttl then
      oldest, oldest_ttl = KEYS[i], ttl
    end
  end
end
redis.call('SET', own or free or oldest, ARGV[1], 'PX', ARGV[2])
return 0
"#;

/// Default timeout of one Redis operation, connecting included: below the filter's default
/// call-out timeout (250 ms).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(200);

fn redis_key(key: &str) -> String {
    format!("wg:{key}")
}

/// The key's state and its tombstone slots, in one cluster slot: the hash tag is exactly the
/// state key's own name (keys hold no braces), so both hash alike.
fn keys_with_tombstones(key: &str) -> Vec<String> {
    let mut keys = vec![redis_key(key)];
    keys.extend((0..TOMBSTONES_PER_KEY).map(|i| format!("{{wg:{key}}}:released:{i}")));
    keys
}

/// A Redis Cluster connection made on first use (and again while it cannot be made), so the
/// service can start before the cluster is up. Once made, the cluster connection refreshes
/// its slot map and reconnects to nodes by itself.
struct LazyCluster {
    client: ClusterClient,
    conn: RwLock<Option<ClusterConnection>>,
    connecting: tokio::sync::Mutex<()>,
}

impl LazyCluster {
    async fn get(&self) -> Result<ClusterConnection, RedisError> {
        if let Some(c) = self.read() {
            return Ok(c);
        }
        let _one_at_a_time = self.connecting.lock().await;
        if let Some(c) = self.read() {
            return Ok(c);
        }
        let c = self.client.get_async_connection().await?;
        *self.conn.write().unwrap_or_else(|p| p.into_inner()) = Some(c.clone());
        Ok(c)
    }

    fn read(&self) -> Option<ClusterConnection> {
        self.conn.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

enum Conn {
    Single(ConnectionManager),
    Cluster(Box<LazyCluster>),
}

pub struct RedisStore {
    conn: Conn,
    timeout: Duration,
    claim: Script,
    commit: Script,
    release: Script,
}

/// Why a Redis URL is unusable, without the URL: a password can sit anywhere in it
/// (`redis://:pw@host`, `redis+unix:///s?pass=pw`, a typo such as `redis:/:pw@host`), and
/// only the error's kind is said.
fn unusable(flag: &str, e: &RedisError) -> String {
    format!(
        "{flag}: not a usable Redis URL ({:?}); the URL is not shown, as it may hold a password",
        e.kind()
    )
}

impl RedisStore {
    /// A single Redis (or a proxy in front of several). Does not connect yet.
    pub fn single(url: &str, timeout: Duration) -> Result<RedisStore, String> {
        let client = redis::Client::open(url).map_err(|e| unusable("--redis", &e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| unusable("--redis", &e))?;
        Ok(RedisStore::new(Conn::Single(conn), timeout))
    }

    /// A Redis Cluster, from one or more seed nodes. Does not connect yet.
    pub fn cluster(urls: &[String], timeout: Duration) -> Result<RedisStore, String> {
        let client = ClusterClient::builder(urls.to_vec())
            .connection_timeout(timeout)
            .response_timeout(timeout)
            .retries(2)
            .min_retry_wait(10)
            .max_retry_wait(200)
            .build()
            .map_err(|e| unusable("--redis-cluster", &e))?;
        Ok(RedisStore::new(
            Conn::Cluster(Box::new(LazyCluster {
                client,
                conn: RwLock::new(None),
                connecting: tokio::sync::Mutex::new(()),
            })),
            timeout,
        ))
    }

    fn new(conn: Conn, timeout: Duration) -> RedisStore {
        RedisStore {
            conn,
            timeout,
            claim: Script::new(CLAIM),
            commit: Script::new(COMMIT),
            release: Script::new(RELEASE),
        }
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        keys: &[String],
        args: &[&str],
    ) -> Result<T, StoreError> {
        let mut invocation = script.prepare_invoke();
        for k in keys {
            invocation.key(k);
        }
        for a in args {
            invocation.arg(*a);
        }
        let call = async {
            match &self.conn {
                Conn::Single(c) => invocation.invoke_async(&mut c.clone()).await,
                Conn::Cluster(lazy) => invocation.invoke_async(&mut lazy.get().await?).await,
            }
        };
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(StoreError::Unavailable(describe(&e))),
            Err(_) => Err(StoreError::Unavailable("timeout".into())),
        }
    }

    /// PING, with the error when it fails.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let call = async {
            let cmd = redis::cmd("PING");
            match &self.conn {
                Conn::Single(c) => cmd.query_async::<String>(&mut c.clone()).await,
                Conn::Cluster(lazy) => cmd.query_async::<String>(&mut lazy.get().await?).await,
            }
        };
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Unavailable(describe(&e))),
            Err(_) => Err(StoreError::Unavailable("timeout".into())),
        }
    }
}

/// The error's kind and message (Redis errors carry no key or value content).
fn describe(e: &RedisError) -> String {
    format!("{:?}: {e}", e.kind())
}

impl Store for RedisStore {
    async fn claim(&self, key: &str, token: &str, ttl: Duration) -> Result<Claim, StoreError> {
        let ms = ttl.as_millis().to_string();
        let keys = keys_with_tombstones(key);
        let answer: String = self.run(&self.claim, &keys, &[token, &ms]).await?;
        Ok(match answer.as_str() {
            "claimed" => Claim::Claimed(token.to_string()),
            "abandoned" => Claim::Abandoned,
            v if v.starts_with("done:") => Claim::Done,
            // In flight (or a value this version does not know): answering in flight makes
            // the sender retry, the safe side.
            _ => Claim::InFlight,
        })
    }

    async fn commit(&self, key: &str, token: &str, ttl: Duration) -> Result<Settled, StoreError> {
        let ms = ttl.as_millis().to_string();
        let n: i64 = self
            .run(&self.commit, &[redis_key(key)], &[token, &ms])
            .await?;
        Ok(if n == 1 {
            Settled::Yes
        } else {
            Settled::NotOwner
        })
    }

    async fn release(
        &self,
        key: &str,
        token: &str,
        tombstone: Option<Duration>,
    ) -> Result<Settled, StoreError> {
        let ms = tombstone.map_or(0, |t| t.as_millis().max(1)).to_string();
        let keys = keys_with_tombstones(key);
        let n: i64 = self.run(&self.release, &keys, &[token, &ms]).await?;
        Ok(if n == 1 {
            Settled::Yes
        } else {
            Settled::NotOwner
        })
    }

    async fn healthy(&self) -> bool {
        self.ping().await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::RedisStore;

    #[test]
    fn an_unusable_url_is_never_echoed() {
        for url in [
            "redis+unix:///s?db=x&pass=S3CRET",
            "redis:/:S3CRET@host:1",
            "redis://:S3CRET@host:1/notanumber",
            "S3CRET",
        ] {
            if let Err(e) = RedisStore::single(url, Duration::from_millis(10)) {
                assert!(!e.contains("S3CRET"), "{e}");
            }
            if let Err(e) = RedisStore::cluster(&[url.to_string()], Duration::from_millis(10)) {
                assert!(!e.contains("S3CRET"), "{e}");
            }
        }
    }
}
