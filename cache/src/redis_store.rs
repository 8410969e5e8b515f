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
use redis::{FromRedisValue, RedisError, RedisResult, Script, Value};

use crate::store::{Claim, Done, Op, Settled, Store, StoreError, TOMBSTONES_PER_KEY};

/// Refused when one of the key's tombstones holds the token (its claim was released before
/// it arrived); otherwise SET NX PX, and when taken, the current value tells in flight from
/// done. The same token's claim again (a client library resending after a dropped
/// connection) is that claim, not somebody else's in flight.
const CLAIM: &str = r#"
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    return 'abandoned'
  end
end
if redis.call('SET', KEYS[1], 'inflight:' .. ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 'claimed'
end
local v = redis.call('GET', KEYS[1])
if v == 'inflight:' .. ARGV[1] then
  return 'claimed'
end
return v or 'claimed-race'
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

    /// The script, keys and arguments one op runs as.
    fn invocation(&self, op: &Op) -> (&Script, Vec<String>, Vec<String>) {
        match op {
            Op::Claim { key, token, ttl } => (
                &self.claim,
                keys_with_tombstones(key),
                vec![token.clone(), ttl.as_millis().to_string()],
            ),
            Op::Commit { key, token, ttl } => (
                &self.commit,
                vec![redis_key(key)],
                vec![token.clone(), ttl.as_millis().to_string()],
            ),
            Op::Release {
                key,
                token,
                tombstone,
            } => (
                &self.release,
                keys_with_tombstones(key),
                vec![
                    token.clone(),
                    tombstone.map_or(0, |t| t.as_millis().max(1)).to_string(),
                ],
            ),
        }
    }

    /// A batch on a single Redis: every op's script as EVALSHA in one pipeline, one round
    /// trip. A server that does not know the scripts yet (a restart, a failover) answers
    /// those ops NOSCRIPT and runs nothing for them: the scripts are loaded and those ops
    /// sent again, in a second round trip.
    async fn pipelined(
        &self,
        conn: &ConnectionManager,
        ops: &[Op],
    ) -> Vec<Result<Done, StoreError>> {
        let mut results: Vec<Option<Result<Done, StoreError>>> = vec![None; ops.len()];
        let mut todo: Vec<usize> = (0..ops.len()).collect();
        for round in 0..2 {
            let mut pipe = redis::pipe();
            pipe.ignore_errors();
            if round > 0 {
                for text in [CLAIM, COMMIT, RELEASE] {
                    pipe.cmd("SCRIPT").arg("LOAD").arg(text).ignore();
                }
            }
            for &i in &todo {
                let (script, keys, args) = self.invocation(&ops[i]);
                pipe.cmd("EVALSHA")
                    .arg(script.get_hash())
                    .arg(keys.len())
                    .arg(keys)
                    .arg(args);
            }
            let mut conn = conn.clone();
            let call = pipe.query_async::<Vec<RedisResult<Value>>>(&mut conn);
            let answers = match tokio::time::timeout(self.timeout, call).await {
                Ok(Ok(a)) if a.len() == todo.len() => a,
                Ok(Ok(_)) => return fill(results, "pipeline answer of another length"),
                Ok(Err(e)) => return fill(results, &describe(&e)),
                Err(_) => return fill(results, "timeout"),
            };
            let mut again = Vec::new();
            for (&i, answer) in todo.iter().zip(answers) {
                match answer {
                    Err(e)
                        if e.kind()
                            == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
                    {
                        again.push(i)
                    }
                    Err(e) => results[i] = Some(Err(StoreError::Unavailable(describe(&e)))),
                    Ok(v) => results[i] = Some(done_from(&ops[i], v)),
                }
            }
            if again.is_empty() {
                break;
            }
            todo = again;
        }
        fill(results, "script not loaded")
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
        Ok(claim_from(&answer, token))
    }

    async fn commit(&self, key: &str, token: &str, ttl: Duration) -> Result<Settled, StoreError> {
        let ms = ttl.as_millis().to_string();
        let n: i64 = self
            .run(&self.commit, &[redis_key(key)], &[token, &ms])
            .await?;
        Ok(settled_from(n))
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
        Ok(settled_from(n))
    }

    async fn healthy(&self) -> bool {
        self.ping().await.is_ok()
    }

    /// One round trip on a single Redis (a pipeline). On a cluster the ops' keys live on
    /// different nodes: each op runs as its own script call, all of them at once.
    async fn batch(&self, ops: &[Op]) -> Vec<Result<Done, StoreError>> {
        match &self.conn {
            Conn::Single(c) => self.pipelined(c, ops).await,
            Conn::Cluster(_) => {
                futures_util::future::join_all(ops.iter().map(|op| self.one(op))).await
            }
        }
    }
}

/// An op's script answer, read as its single-op method reads it.
fn done_from(op: &Op, v: Value) -> Result<Done, StoreError> {
    let bad = |e: redis::ParsingError| StoreError::Unavailable(format!("unexpected answer: {e}"));
    match op {
        Op::Claim { token, .. } => {
            let answer = String::from_redis_value(v).map_err(bad)?;
            Ok(Done::Claim(claim_from(&answer, token)))
        }
        Op::Commit { .. } | Op::Release { .. } => {
            let n = i64::from_redis_value(v).map_err(bad)?;
            Ok(Done::Settled(settled_from(n)))
        }
    }
}

fn claim_from(answer: &str, token: &str) -> Claim {
    match answer {
        "claimed" => Claim::Claimed(token.to_string()),
        "abandoned" => Claim::Abandoned,
        v if v.starts_with("done:") => Claim::Done,
        // In flight (or a value this version does not know): answering in flight makes
        // the sender retry, the safe side.
        _ => Claim::InFlight,
    }
}

fn settled_from(n: i64) -> Settled {
    if n == 1 {
        Settled::Yes
    } else {
        Settled::NotOwner
    }
}

/// Every op still without a result fails with `why`.
fn fill(
    results: Vec<Option<Result<Done, StoreError>>>,
    why: &str,
) -> Vec<Result<Done, StoreError>> {
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(StoreError::Unavailable(why.to_string()))))
        .collect()
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
