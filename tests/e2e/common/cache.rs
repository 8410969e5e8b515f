//! The cache service (the real `webhook-guard-cache` binary) and the faulty caches put in
//! its place or in front of it: silent, answering garbage, slow on claims, or changing and
//! dropping its answers.

use std::io::{BufReader, Write};
use std::net::{Shutdown, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::http::{read_body, read_head, send, try_exchange};
use super::{repo_root, scratch_dir};

/// A real `webhook-guard-cache` process (built by `cargo test --workspace` or `make test`).
pub struct Cache {
    child: Child,
    pub port: u16,
}

impl Cache {
    pub(super) fn bin_path() -> PathBuf {
        std::env::var_os("WEBHOOK_GUARD_CACHE_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("target/debug/webhook-guard-cache"))
    }

    pub fn bin() -> PathBuf {
        let path = Self::bin_path();
        assert!(
            path.exists(),
            "no cache service at {} (run `cargo build -p webhook-guard-cache` or `make test`)",
            path.display()
        );
        path
    }

    /// Starts it on `port` (0: any free one, read back from its `listening on ADDR` line)
    /// with extra arguments (`--redis URL`). Its log goes to a scratch file.
    pub fn start(port: u16, extra: &[&str]) -> Cache {
        let dir = scratch_dir("cache");
        let log_path = dir.join("cache.log");
        let log = std::fs::File::create(&log_path).expect("cache log");
        let mut child = Command::new(Self::bin())
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start webhook-guard-cache");
        let deadline = Instant::now() + Duration::from_secs(15);
        let port = loop {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            let bound = text.lines().find_map(|l| {
                l.strip_prefix("listening on ")?
                    .rsplit(':')
                    .next()?
                    .parse::<u16>()
                    .ok()
            });
            if let Some(p) = bound {
                break p;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("webhook-guard-cache exited during start ({status}):\n{text}");
            }
            assert!(
                Instant::now() < deadline,
                "webhook-guard-cache not listening:\n{text}"
            );
            thread::sleep(Duration::from_millis(20));
        };
        Cache { child, port }
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A "cache" that accepts connections and never answers: the slow-cache fault.
pub fn silent_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    port
}

/// A "cache" that answers every request 200 with a body that is not the protocol.
pub fn garbage_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            thread::spawn(move || {
                let Ok(read) = conn.try_clone() else { return };
                let mut reader = BufReader::new(read);
                let mut writer = conn;
                while let Some((_, _, headers)) = read_head(&mut reader) {
                    if read_body(&mut reader, &headers).is_none() {
                        return;
                    }
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 14\r\n\r\n{\"result\":\"?\"";
                    if writer.write_all(answer).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// An HTTP/1.1 proxy in front of the cache service that holds the first `slow_claims` claims
/// (a request that carries one, alone or in a batch) for `delay` before passing them on, even when the caller has given up by then: a slow
/// cache, whose late claims still land. Other requests pass at once, on their own
/// connections, so a release can overtake the claim it is about.
pub struct SlowCache {
    pub port: u16,
    claims_seen: Arc<AtomicUsize>,
}

impl SlowCache {
    pub fn start(backend: u16, slow_claims: usize, delay: Duration) -> SlowCache {
        let claims_seen = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&claims_seen);
        let hold = move |_: usize, path: &str, body: &[u8]| {
            // A claim alone, or the claims in a batch.
            let claims = if path == "/v1/claim" {
                1
            } else if path == "/v1/batch" {
                serde_json::from_slice::<serde_json::Value>(body)
                    .ok()
                    .and_then(|v| v["ops"].as_array().cloned())
                    .map_or(0, |ops| {
                        ops.iter().filter(|op| op.get("claim").is_some()).count()
                    })
            } else {
                0
            };
            if claims > 0 && seen.fetch_add(claims, Ordering::SeqCst) < slow_claims {
                thread::sleep(delay);
            }
        };
        // The caller may be gone (it timed out) when the answer comes: the claim has landed.
        let (port, _) = cache_proxy(backend, hold, |_, _, _| Mangle::Pass);
        SlowCache { port, claims_seen }
    }

    pub fn claims_seen(&self) -> usize {
        self.claims_seen.load(Ordering::SeqCst)
    }
}

/// An HTTP/1.1 proxy in front of the cache service on `backend`, each request passed on on
/// its own connection: `before` (given the request's number from 0, its path and body) runs
/// first, and `after` (the number, the path and the cache's answer body) may change or drop
/// the answer. Returns its port and the count of requests it saw.
fn cache_proxy(
    backend: u16,
    before: impl Fn(usize, &str, &[u8]) + Send + Sync + 'static,
    after: impl Fn(usize, &str, &[u8]) -> Mangle + Send + Sync + 'static,
) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    let hooks = Arc::new((before, after));
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let counter = Arc::clone(&counter);
            let hooks = Arc::clone(&hooks);
            thread::spawn(move || {
                let Ok(read) = conn.try_clone() else { return };
                let mut reader = BufReader::new(read);
                let mut writer = conn;
                while let Some((method, path, headers)) = read_head(&mut reader) {
                    let Some((body, _)) = read_body(&mut reader, &headers) else {
                        return;
                    };
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    (hooks.0)(n, &path, &body);
                    let mut req = format!(
                        "{method} {path} HTTP/1.1\r\nhost: cache\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    req.extend_from_slice(&body);
                    let Some(answer) = try_exchange(backend, &[&req], Duration::ZERO) else {
                        return;
                    };
                    let body = match (hooks.1)(n, &path, &answer.body) {
                        Mangle::Pass => answer.body,
                        Mangle::Body(b) => b,
                        Mangle::Reset => {
                            let _ = writer.shutdown(Shutdown::Both);
                            return;
                        }
                    };
                    let mut out = format!(
                        "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        answer.status,
                        body.len()
                    )
                    .into_bytes();
                    out.extend_from_slice(&body);
                    if writer.write_all(&out).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

/// What `FlakyCache` does to the cache's answer to one request.
pub enum Mangle {
    /// Passes it on as it is.
    Pass,
    /// Passes on this body instead (same status).
    Body(Vec<u8>),
    /// Closes the connection without answering (the cache has the request, and acted on it).
    Reset,
}

/// An HTTP/1.1 proxy in front of the cache service that passes every request on and lets
/// `mangle` (given the request's number from 0, its path and the cache's answer body)
/// change or drop the answer: a half-answered batch, a garbled entry, a reset after the
/// cache acted. Counts the requests it saw.
pub struct FlakyCache {
    pub port: u16,
    seen: Arc<AtomicUsize>,
}

impl FlakyCache {
    pub fn start(
        backend: u16,
        mangle: impl Fn(usize, &str, &[u8]) -> Mangle + Send + Sync + 'static,
    ) -> FlakyCache {
        let (port, seen) = cache_proxy(backend, |_, _, _| {}, mangle);
        FlakyCache { port, seen }
    }

    pub fn requests(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }
}

/// A sample of the cache service's own metrics (`name{labels}` as written), 0 if absent.
pub fn cache_sample(cache_port: u16, series: &str) -> u64 {
    let r = send(cache_port, "GET", "/metrics", &[], b"");
    let prefix = format!("{series} ");
    String::from_utf8_lossy(&r.body)
        .lines()
        .find_map(|l| l.strip_prefix(&prefix)?.trim().parse().ok())
        .unwrap_or(0)
}
