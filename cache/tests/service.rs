//! The built service against real clients: memory and a real redis-server (started here on
//! a free loopback port), keep-alive, concurrent claims, a Redis restart, a Redis started
//! after the service, and a graceful stop.
//!
//! `redis-server` must be on PATH (Debian: `apt-get install redis-server`); without it the
//! Redis tests fail, saying so.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A child process killed (and reaped) when dropped, also when a test fails.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running service, its standard error read line by line. Dropping it stops the service
/// and, unless the test already failed, checks every line it wrote: under `--log-format
/// json` (what `start_cache` starts), each is a JSON object with a timestamp, a level, a
/// known `event` and a message, and none holds a token or a secret the test named.
struct Service {
    proc: Proc,
    lines: Arc<Mutex<Vec<String>>>,
    drain: Option<std::thread::JoinHandle<()>>,
    json: bool,
    /// Strings no line may contain (tokens, passwords).
    secrets: Vec<String>,
}

impl Service {
    fn child(&mut self) -> &mut Child {
        &mut self.proc.0
    }

    /// The lines written so far, parsed (json only).
    fn events(&self) -> Vec<serde_json::Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits (10 s at most) for a line with this event, and returns it.
    fn wait_event(&self, event: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(e) = self.events().into_iter().find(|e| e["event"] == event) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no {event} line in {:?}",
                self.lines.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn never_log(&mut self, secret: &str) {
        self.secrets.push(secret.to_string());
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.proc.0.kill();
        let _ = self.proc.0.wait();
        if let Some(drain) = self.drain.take() {
            let _ = drain.join();
        }
        if std::thread::panicking() {
            return;
        }
        let lines = self.lines.lock().unwrap();
        assert!(!lines.is_empty(), "the service wrote nothing");
        for line in lines.iter() {
            for secret in &self.secrets {
                assert!(!line.contains(secret.as_str()), "{secret:?} logged: {line}");
            }
            if self.json {
                check_json_line(line);
            }
        }
    }
}

/// One line of `--log-format json`.
fn check_json_line(line: &str) {
    let v: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    let ts = v["ts"].as_str().unwrap_or_else(|| panic!("no ts: {line}"));
    // 2026-12-07T04:37:00.123Z
    let shape = ts.len() == 24
        && ts.ends_with('Z')
        && ts.char_indices().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == 'T',
            13 | 16 => c == ':',
            19 => c == '.',
            23 => c == 'Z',
            _ => c.is_ascii_digit(),
        });
    assert!(shape, "ts {ts:?}: {line}");
    let level = v["level"].as_str().unwrap_or_default();
    assert!(
        ["error", "warn", "info", "debug"].contains(&level),
        "level {level:?}: {line}"
    );
    let event = v["event"].as_str().unwrap_or_default();
    assert!(
        webhook_guard_cache::logging::EVENTS.contains(&event),
        "event {event:?} is not in EVENTS: {line}"
    );
    assert!(v["msg"].is_string(), "no msg: {line}");
}

/// Starts the service with `--log-format json` and reads the bound address from its
/// `listening` line.
fn start_cache(extra: &[&str]) -> (Service, String) {
    start_cache_as(&["--log-format", "json"], extra)
}

fn start_cache_as(format: &[&str], extra: &[&str]) -> (Service, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_webhook-guard-cache"))
        .args(["--listen", "127.0.0.1:0"])
        .args(format)
        .args(extra)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start webhook-guard-cache");
    let json = format.contains(&"json");
    let stderr = child.stderr.take().expect("stderr");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let seen = Arc::clone(&lines);
    // Keep draining, as a terminal would, and keep every line for the checks.
    let drain = std::thread::spawn(move || {
        let mut reader = BufReader::new(stderr);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            let l = line.trim_end().to_string();
            let addr = if json {
                serde_json::from_str::<serde_json::Value>(&l)
                    .ok()
                    .filter(|v| v["event"] == "listening")
                    .and_then(|v| v["addr"].as_str().map(str::to_string))
            } else {
                l.strip_prefix("listening on ").map(str::to_string)
            };
            if let Some(a) = addr {
                let _ = tx.send(a);
            }
            seen.lock().unwrap().push(l);
            line.clear();
        }
    });
    let mut service = Service {
        proc: Proc(child),
        lines,
        drain: Some(drain),
        json,
        secrets: Vec::new(),
    };
    let addr = match rx.recv_timeout(Duration::from_secs(15)) {
        Ok(a) => a,
        Err(_) => {
            let _ = service.proc.0.kill();
            panic!(
                "no `listening` line on stderr: {:?}",
                service.lines.lock().unwrap()
            );
        }
    };
    (service, addr)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether redis-server is here. Without it the Redis tests return at once, unless
/// `WEBHOOK_GUARD_E2E=required` (`make test` sets it), where its absence fails them.
fn redis_ready() -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join("redis-server").exists()));
    let required = std::env::var("WEBHOOK_GUARD_E2E").is_ok_and(|v| v == "required");
    assert!(
        found || !required,
        "redis-server is required (make test installs it)"
    );
    if !found {
        eprintln!("skipped: no redis-server; `make test` installs it");
    }
    found
}

fn start_redis(port: u16, dir: &Path) -> Proc {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--appendonly", "yes", "--save", ""])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("these tests need `redis-server` on PATH (apt-get install redis-server): {e}")
        });
    let proc = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    proc
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("wg-cache-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One HTTP/1.1 exchange on a kept-alive connection: (status, content-type, body).
fn exchange(
    reader: &mut BufReader<TcpStream>,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String, String) {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: cache\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    reader.get_mut().write_all(request.as_bytes()).unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("status line {line:?}"))
        .parse()
        .unwrap();
    let (mut length, mut content_type) = (0usize, String::new());
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap(),
                "content-type" => content_type = value.trim().to_string(),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (status, content_type, String::from_utf8(body).unwrap())
}

fn connect(addr: &str) -> BufReader<TcpStream> {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    BufReader::new(s)
}

/// One request on a fresh connection: (status, body).
fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let (status, _, body) = exchange(&mut connect(addr), method, path, body);
    (status, body)
}

fn claim(addr: &str, key: &str) -> (u16, serde_json::Value) {
    let (s, b) = request(
        addr,
        "POST",
        "/v1/claim",
        &format!(r#"{{"key":"{key}","ttl_ms":60000}}"#),
    );
    (
        s,
        serde_json::from_str(&b).unwrap_or(serde_json::Value::Null),
    )
}

fn result(addr: &str, key: &str) -> String {
    claim(addr, key).1["result"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn commit(addr: &str, key: &str, token: &str) -> (u16, String) {
    request(
        addr,
        "POST",
        "/v1/commit",
        &format!(r#"{{"key":"{key}","token":"{token}","ttl_ms":60000}}"#),
    )
}

fn release(addr: &str, key: &str, token: &str) -> (u16, String) {
    request(
        addr,
        "POST",
        "/v1/release",
        &format!(r#"{{"key":"{key}","token":"{token}"}}"#),
    )
}

/// A claim made with the client's own token, released before it arrived: the release leaves
/// a tombstone, the late claim is refused (also after other tokens claimed and released the
/// key), another token's claim is not.
fn tombstones(addr: &str) {
    let late = "0123456789abcdef0123456789abcdef";
    let other = "fedcba9876543210fedcba9876543210";
    let tombstone = format!(r#"{{"key":"t1","token":"{late}","ttl_ms":60000}}"#);
    let (s, b) = request(addr, "POST", "/v1/release", &tombstone);
    assert_eq!((s, b.as_str()), (409, r#"{"result":"not_owner"}"#));
    let claim_with = |token: &str| {
        request(
            addr,
            "POST",
            "/v1/claim",
            &format!(r#"{{"key":"t1","ttl_ms":60000,"token":"{token}"}}"#),
        )
    };
    assert_eq!(
        claim_with(late),
        (200, r#"{"result":"abandoned"}"#.to_string())
    );
    let (s, b) = claim_with(other);
    assert_eq!(
        (s, b),
        (200, format!(r#"{{"result":"claimed","token":"{other}"}}"#))
    );
    // The tombstone outlives the other token's claim and release.
    assert_eq!(
        claim_with(late),
        (200, r#"{"result":"abandoned"}"#.to_string())
    );
    assert_eq!(release(addr, "t1", other).0, 200);
    assert_eq!(
        claim_with(late),
        (200, r#"{"result":"abandoned"}"#.to_string())
    );
    let (s, _) = claim_with(other);
    assert_eq!(s, 200);
    assert_eq!(commit(addr, "t1", other).0, 200);
    // A release with a tombstone TTL of a claim that was stored frees it.
    let (_, v) = claim(addr, "t2");
    let token = v["token"].as_str().unwrap().to_string();
    let (s, _) = request(
        addr,
        "POST",
        "/v1/release",
        &format!(r#"{{"key":"t2","token":"{token}","ttl_ms":60000}}"#),
    );
    assert_eq!(s, 200);
    assert_eq!(result(addr, "t2"), "claimed");
    let (_, metrics) = request(addr, "GET", "/metrics", "");
    assert!(
        metrics.contains(r#"webhook_guard_cache_requests_total{op="claim",result="abandoned"} 3"#),
        "{metrics}"
    );
    // A key abandoned over and over (a replayed delivery whose client hangs up each time)
    // keeps a few tombstones, the newest among them, not one per abandon.
    let tokens: Vec<String> = (0..10).map(|i| format!("{i:032x}")).collect();
    for t in &tokens {
        let body = format!(r#"{{"key":"t3","token":"{t}","ttl_ms":60000}}"#);
        assert_eq!(request(addr, "POST", "/v1/release", &body).0, 409);
    }
    let refused = |t: &str| {
        let body = format!(r#"{{"key":"t3","ttl_ms":60000,"token":"{t}"}}"#);
        request(addr, "POST", "/v1/claim", &body).1 == r#"{"result":"abandoned"}"#
    };
    assert!(refused(&tokens[9]), "the newest tombstone is kept");
    let kept = tokens.iter().filter(|t| refused(t)).count();
    assert!((1..=4).contains(&kept), "{kept} tombstones");
}

/// The full life of keys: claim, duplicate, commit, done; claim, release, claim again;
/// not_owner everywhere it is due; a late commit of an absent key; all on one connection
/// too (keep-alive).
fn full_cycle(addr: &str) {
    let (s, v) = claim(addr, "k1");
    assert_eq!((s, v["result"].as_str()), (200, Some("claimed")));
    let token = v["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 32);
    assert!(token
        .bytes()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    assert_eq!(result(addr, "k1"), "in_flight");
    let other = "0".repeat(32);
    assert_eq!(
        commit(addr, "k1", &other),
        (409, r#"{"result":"not_owner"}"#.to_string())
    );
    assert_eq!(release(addr, "k1", &other).0, 409);
    assert_eq!(
        commit(addr, "k1", &token),
        (200, r#"{"result":"committed"}"#.to_string())
    );
    assert_eq!(result(addr, "k1"), "done");
    assert_eq!(
        release(addr, "k1", &token).0,
        409,
        "a done key is never released"
    );
    assert_eq!(
        commit(addr, "k1", &other).0,
        409,
        "a done key is its committer's"
    );
    assert_eq!(
        commit(addr, "k1", &token),
        (200, r#"{"result":"committed"}"#.to_string()),
        "the same commit again (a retry after a lost answer) is still committed"
    );
    assert_eq!(result(addr, "k1"), "done");

    let t2 = claim(addr, "k2").1["token"].as_str().unwrap().to_string();
    assert_eq!(
        release(addr, "k2", &t2),
        (200, r#"{"result":"released"}"#.to_string())
    );
    assert_eq!(release(addr, "k2", &t2).0, 409, "released twice");
    let t3 = claim(addr, "k2").1["token"].as_str().unwrap().to_string();
    assert_ne!(t2, t3);
    assert_eq!(commit(addr, "k2", &t2).0, 409, "a stale token");

    // The claim lapsed (or the cache forgot it) and nobody took the key: commit records it.
    assert_eq!(commit(addr, "never-claimed", &other).0, 200);
    assert_eq!(result(addr, "never-claimed"), "done");

    // Keep-alive: several exchanges on one connection.
    let mut conn = connect(addr);
    let (s, ct, b) = exchange(
        &mut conn,
        "POST",
        "/v1/claim",
        r#"{"key":"ka","ttl_ms":60000}"#,
    );
    assert_eq!((s, ct.as_str()), (200, "application/json"), "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    let token = v["token"].as_str().unwrap();
    let body = format!(r#"{{"key":"ka","token":"{token}","ttl_ms":60000}}"#);
    assert_eq!(exchange(&mut conn, "POST", "/v1/commit", &body).0, 200);
    let (_, _, b) = exchange(
        &mut conn,
        "POST",
        "/v1/claim",
        r#"{"key":"ka","ttl_ms":60000}"#,
    );
    assert_eq!(b, r#"{"result":"done"}"#);
    let (s, _, b) = exchange(&mut conn, "POST", "/v1/claim", "{}");
    assert_eq!((s, b.as_str()), (400, r#"{"error":"bad_request"}"#));
    let (s, ct, b) = exchange(&mut conn, "GET", "/healthz", "");
    assert_eq!(
        (s, ct.as_str(), b.as_str()),
        (200, "application/json", r#"{"status":"ok"}"#)
    );
    let (s, ct, metrics) = exchange(&mut conn, "GET", "/metrics", "");
    assert_eq!((s, ct.as_str()), (200, "text/plain; version=0.0.4"));
    for line in [
        r#"webhook_guard_cache_requests_total{op="claim",result="done"} 4"#,
        r#"webhook_guard_cache_requests_total{op="commit",result="not_owner"} 3"#,
        r#"webhook_guard_cache_requests_total{op="release",result="released"} 1"#,
        "webhook_guard_cache_backend_errors_total 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
    }
    assert!(metrics.contains("webhook_guard_cache_backend_seconds_bucket{le=\"+Inf\"}"));

    // Errors over the wire.
    let (s, b) = request(addr, "GET", "/nope", "");
    assert_eq!((s, b.as_str()), (404, r#"{"error":"not_found"}"#));
    let (s, b) = request(addr, "GET", "/v1/claim", "");
    assert_eq!((s, b.as_str()), (405, r#"{"error":"method_not_allowed"}"#));
    let big = format!(r#"{{"key":"k","ttl_ms":1,"pad":"{}"}}"#, "x".repeat(5000));
    let (s, b) = request(addr, "POST", "/v1/claim", &big);
    assert_eq!((s, b.as_str()), (413, r#"{"error":"too_large"}"#));
    let (s, b) = request(addr, "POST", "/v1/claim", r#"{"key":"a b","ttl_ms":1}"#);
    assert_eq!((s, b.as_str()), (400, r#"{"error":"bad_request"}"#));
}

/// Many threads claim one key at once: exactly one wins.
fn one_winner(addr: &str, key: &str) {
    let threads: Vec<_> = (0..32)
        .map(|_| {
            let (addr, key) = (addr.to_string(), key.to_string());
            std::thread::spawn(move || result(&addr, &key))
        })
        .collect();
    let results: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|r| *r == "claimed").count(),
        1,
        "{results:?}"
    );
    assert_eq!(results.iter().filter(|r| *r == "in_flight").count(), 31);
}

/// Claims with short TTLs lapse: the key is free again.
fn expiry(addr: &str) {
    let body = r#"{"key":"short","ttl_ms":100}"#;
    assert!(request(addr, "POST", "/v1/claim", body)
        .1
        .contains(r#""claimed""#));
    assert!(request(addr, "POST", "/v1/claim", body)
        .1
        .contains("in_flight"));
    std::thread::sleep(Duration::from_millis(250));
    assert!(request(addr, "POST", "/v1/claim", body)
        .1
        .contains(r#""claimed""#));
}

/// A batch runs its ops in order, answers each by id, and fails only its bad entries; a
/// batch that breaks the protocol as a whole is a 400 (or 413).
/// A claim sent again by its owner (a client library resending after a dropped connection:
/// redis-rs does on Redis Cluster) is that claim, not somebody else's in flight.
fn a_resent_claim_is_its_own(addr: &str) {
    let t = "e".repeat(32);
    let body = format!(r#"{{"key":"resent","ttl_ms":60000,"token":"{t}"}}"#);
    let mine = format!(r#"{{"result":"claimed","token":"{t}"}}"#);
    assert_eq!(
        request(addr, "POST", "/v1/claim", &body),
        (200, mine.clone())
    );
    assert_eq!(request(addr, "POST", "/v1/claim", &body), (200, mine));
    let other = format!(
        r#"{{"key":"resent","ttl_ms":60000,"token":"{}"}}"#,
        "f".repeat(32)
    );
    assert_eq!(
        request(addr, "POST", "/v1/claim", &other),
        (200, r#"{"result":"in_flight"}"#.to_string())
    );
}

fn batches(addr: &str) {
    let (a, b, c) = ("a".repeat(32), "b".repeat(32), "c".repeat(32));
    let body = format!(
        r#"{{"ops":[
          {{"id":10,"claim":{{"key":"batch-1","ttl_ms":60000,"token":"{a}"}}}},
          {{"id":11,"claim":{{"key":"batch-2","ttl_ms":60000,"token":"{b}"}}}},
          {{"id":12,"commit":{{"key":"batch-1","token":"{a}","ttl_ms":60000}}}},
          {{"id":13,"release":{{"key":"batch-3","token":"{c}","ttl_ms":60000}}}},
          {{"id":14,"claim":{{"key":"batch-3","ttl_ms":60000,"token":"{c}"}}}},
          {{"id":15,"claim":{{"key":"a b","ttl_ms":60000}}}},
          {{"id":16,"claim":{{"key":"batch-4","ttl_ms":60000}},"release":{{"key":"batch-4","token":"{c}"}}}},
          {{"id":17,"release":{{"key":"batch-2","token":"{a}"}}}}
        ]}}"#
    );
    let (status, answer) = request(addr, "POST", "/v1/batch", &body);
    assert_eq!(status, 200, "{answer}");
    let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let by_id = |id: u64| {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no result for {id}: {answer}"))
    };
    assert_eq!(by_id(10)["result"], "claimed");
    assert_eq!(by_id(10)["token"], a.as_str());
    assert_eq!(by_id(11)["token"], b.as_str());
    assert_eq!(by_id(12)["result"], "committed");
    assert_eq!(by_id(13)["result"], "not_owner");
    assert_eq!(by_id(14)["result"], "abandoned");
    assert_eq!(by_id(15)["error"], "bad_request");
    assert_eq!(by_id(16)["error"], "bad_request");
    assert_eq!(by_id(17)["result"], "not_owner");
    assert_eq!(v["results"].as_array().unwrap().len(), 8);
    assert_eq!(result(addr, "batch-1"), "done");
    assert_eq!(result(addr, "batch-2"), "in_flight");
    let one = r#"{"id":1,"claim":{"key":"batch-5","ttl_ms":1000}}"#;
    for (bad, expected) in [
        (format!(r#"{{"ops":[{one},{one}]}}"#), 400),
        (r#"{"ops":[]}"#.to_string(), 400),
        (format!(r#"{{"ops":[{one}],"x":1}}"#), 400),
        (
            r#"{"ops":[{"id":1,"claim":{"key":"k","ttl_ms":1,"x":1}}]}"#.to_string(),
            400,
        ),
        (r#"{"ops":[{"id":-1}]}"#.to_string(), 400),
        ("not json".to_string(), 400),
        (
            format!(
                r#"{{"ops":[{}]}}"#,
                (0..65)
                    .map(|i| format!(r#"{{"id":{i},"claim":{{"key":"k{i}","ttl_ms":1000}}}}"#))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            400,
        ),
        (" ".repeat(16 * 1024 + 1), 413),
    ] {
        let (status, _) = request(addr, "POST", "/v1/batch", &bad);
        assert_eq!(status, expected, "{}", &bad[..bad.len().min(80)]);
    }
    assert_eq!(
        result(addr, "batch-5"),
        "claimed",
        "no op of a refused batch ran"
    );
    let (_, metrics) = request(addr, "GET", "/metrics", "");
    assert!(
        metrics.contains("webhook_guard_cache_batch_ops_count 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"webhook_guard_cache_batch_ops_bucket{le="8"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("webhook_guard_cache_batch_bad_entries_total 2\n"));
}

#[test]
fn memory_backend() {
    let (_cache, addr) = start_cache(&[]);
    full_cycle(&addr);
    tombstones(&addr);
    one_winner(&addr, "contested");
    expiry(&addr);
    batches(&addr);
    a_resent_claim_is_its_own(&addr);
    let (_, metrics) = request(&addr, "GET", "/metrics", "");
    assert!(
        metrics.contains("webhook_guard_cache_memory_entries "),
        "{metrics}"
    );
}

#[test]
fn memory_backend_full_fails_closed() {
    let (_cache, addr) = start_cache(&["--memory-max-entries", "2"]);
    assert_eq!(claim(&addr, "a").0, 200);
    assert_eq!(claim(&addr, "b").0, 200);
    let (s, b) = request(&addr, "POST", "/v1/claim", r#"{"key":"c","ttl_ms":1000}"#);
    assert_eq!((s, b.as_str()), (503, r#"{"error":"capacity"}"#));
    // Known keys still answer.
    assert_eq!(result(&addr, "a"), "in_flight");
}

#[test]
fn redis_backend() {
    if !redis_ready() {
        return;
    }
    let port = free_port();
    let dir = Scratch::new("redis");
    let _redis = start_redis(port, &dir.0);
    let (_cache, addr) = start_cache(&["--redis", &format!("redis://127.0.0.1:{port}/")]);
    full_cycle(&addr);
    tombstones(&addr);
    one_winner(&addr, "contested");
    expiry(&addr);
    batches(&addr);
    a_resent_claim_is_its_own(&addr);
    // Scripts flushed (a restart, a failover) between batches: the same.
    let flushed = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "SCRIPT", "FLUSH"])
        .output()
        .expect("redis-cli");
    assert!(flushed.status.success());
    let t = "d".repeat(32);
    let (status, answer) = request(
        &addr,
        "POST",
        "/v1/batch",
        &format!(
            r#"{{"ops":[{{"id":0,"claim":{{"key":"flushed","ttl_ms":60000,"token":"{t}"}}}},{{"id":1,"commit":{{"key":"flushed","token":"{t}","ttl_ms":60000}}}}]}}"#
        ),
    );
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        format!(
            r#"{{"results":[{{"id":0,"result":"claimed","token":"{t}"}},{{"id":1,"result":"committed"}}]}}"#
        )
    );
    // The keys and values as documented.
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "GET", "wg:k1"])
        .output()
        .expect("redis-cli");
    let value = String::from_utf8_lossy(&out.stdout);
    assert!(value.starts_with("done:"), "{value}");
}

#[test]
fn redis_restart_keeps_claims_and_the_service_recovers() {
    if !redis_ready() {
        return;
    }
    let port = free_port();
    let dir = Scratch::new("restart");
    let redis = start_redis(port, &dir.0);
    let (_cache, addr) = start_cache(&["--redis", &format!("redis://127.0.0.1:{port}/")]);
    assert_eq!(result(&addr, "before"), "claimed");

    drop(redis);
    assert_eq!(
        request(&addr, "GET", "/healthz", ""),
        (503, r#"{"status":"unavailable"}"#.to_string())
    );
    let (s, b) = request(
        &addr,
        "POST",
        "/v1/claim",
        r#"{"key":"during","ttl_ms":60000}"#,
    );
    assert_eq!((s, b.as_str()), (503, r#"{"error":"backend_unavailable"}"#));
    let (_, metrics) = request(&addr, "GET", "/metrics", "");
    assert!(
        metrics.contains(r#"webhook_guard_cache_requests_total{op="claim",result="error"} 1"#),
        "{metrics}"
    );
    assert!(!metrics.contains("webhook_guard_cache_backend_errors_total 0"));

    let _redis = start_redis(port, &dir.0);
    let deadline = Instant::now() + Duration::from_secs(15);
    while request(&addr, "GET", "/healthz", "").0 != 200 {
        assert!(
            Instant::now() < deadline,
            "the service did not reconnect to Redis"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The claim made before the restart survived it (appendonly) and still blocks.
    assert_eq!(result(&addr, "before"), "in_flight");
    assert_eq!(result(&addr, "after"), "claimed");
}

#[test]
fn redis_may_come_up_after_the_service() {
    if !redis_ready() {
        return;
    }
    let port = free_port();
    let dir = Scratch::new("late");
    let (_cache, addr) = start_cache(&["--redis", &format!("redis://127.0.0.1:{port}/")]);
    assert_eq!(request(&addr, "GET", "/healthz", "").0, 503);
    assert_eq!(claim(&addr, "k").0, 503);
    let _redis = start_redis(port, &dir.0);
    let deadline = Instant::now() + Duration::from_secs(15);
    while request(&addr, "GET", "/healthz", "").0 != 200 {
        assert!(Instant::now() < deadline, "the service never reached Redis");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(result(&addr, "k"), "claimed");
}

#[test]
fn sigterm_stops_it_cleanly() {
    let (mut cache, addr) = start_cache(&[]);
    // An idle keep-alive connection must not hold the stop up.
    let mut idle = connect(&addr);
    assert_eq!(exchange(&mut idle, "GET", "/healthz", "").0, 200);
    let status = Command::new("kill")
        .args(["-TERM", &cache.child().id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = cache.child().try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "still running 5 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(TcpStream::connect(&addr).is_err(), "still listening");
    cache.wait_event("shutting_down");
    assert_eq!(cache.wait_event("stopped")["level"], "info");
}

#[test]
fn help_and_bad_arguments() {
    let bin = env!("CARGO_BIN_EXE_webhook-guard-cache");
    let out = Command::new(bin).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen",
        "--redis",
        "--redis-cluster",
        "--redis-timeout-ms",
        "--memory-max-entries",
        "--log-level",
        "WEBHOOK_GUARD_CACHE_REDIS",
    ] {
        assert!(text.contains(flag), "{flag} not in --help");
    }
    let out = Command::new(bin)
        .args(["--listen", "127.0.0.1:0", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // The Redis URL from the environment (a Kubernetes Secret), never echoed.
    let out = Command::new(bin)
        .env("WEBHOOK_GUARD_CACHE_REDIS", "redis://:s3cret@127.0.0.1:1/")
        .args(["--listen", "127.0.0.1:0", "--redis-cluster", "redis://x:1"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "--redis from env conflicts with --redis-cluster"
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("s3cret"));
}

/// A port `p` such that `p` and its cluster bus port `p + 10000` are both free.
fn free_cluster_port() -> u16 {
    let seed = u64::from(std::process::id()) * 7919
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as u64);
    for i in 0..2000u64 {
        let p = 20000 + ((seed + i * 37) % 20000) as u16;
        let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(p) && free(p + 10000) {
            return p;
        }
    }
    panic!("no free port pair for a cluster node");
}

#[test]
fn redis_cluster_backend() {
    if !redis_ready() {
        return;
    }
    let dir = Scratch::new("cluster");
    let mut ports: Vec<u16> = Vec::new();
    while ports.len() < 3 {
        let p = free_cluster_port();
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    let _nodes: Vec<Proc> = ports
        .iter()
        .map(|p| {
            let child = Command::new("redis-server")
                .args(["--port", &p.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes", "--save", "", "--appendonly", "no"])
                .args(["--cluster-config-file", &format!("nodes-{p}.conf")])
                .arg("--dir")
                .arg(&dir.0)
                .stdout(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("this test needs `redis-server` on PATH (apt-get install redis-server): {e}")
                });
            Proc(child)
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    for p in &ports {
        while TcpStream::connect(("127.0.0.1", *p)).is_err() {
            assert!(Instant::now() < deadline, "a cluster node did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let out = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&nodes)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .expect("redis-cli --cluster create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    for p in &ports {
        loop {
            let info = Command::new("redis-cli")
                .args(["-p", &p.to_string(), "cluster", "info"])
                .output()
                .expect("redis-cli");
            if String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok") {
                break;
            }
            assert!(Instant::now() < deadline, "the cluster did not converge");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let seeds = format!("redis://{},redis://{}", nodes[0], nodes[1]);
    let (_cache, addr) = start_cache(&["--redis-cluster", &seeds]);
    full_cycle(&addr);
    tombstones(&addr);
    one_winner(&addr, "contested");
    // Keys spread over the nodes: every node holds some (12 keys, 3 nodes).
    for k in 0..12 {
        assert_eq!(result(&addr, &format!("spread{k}")), "claimed");
    }
    let holding = ports
        .iter()
        .filter(|p| {
            let out = Command::new("redis-cli")
                .args(["-p", &p.to_string(), "--scan", "--pattern", "wg:*"])
                .output()
                .expect("redis-cli");
            !out.stdout.is_empty()
        })
        .count();
    assert!(holding >= 2, "keys on {holding} node(s) only");
}

#[test]
fn json_logs_name_every_line_and_hold_no_secret() {
    let (mut cache, addr) = start_cache(&["--log-level", "debug"]);
    // The tokens tombstones() sends: debug lines carry keys, never tokens.
    cache.never_log("0123456789abcdef0123456789abcdef");
    cache.never_log("fedcba9876543210fedcba9876543210");
    full_cycle(&addr);
    tombstones(&addr);
    batches(&addr);
    let (_, v) = claim(&addr, "logged");
    let token = v["token"].as_str().unwrap().to_string();
    cache.never_log(&token);
    assert_eq!(commit(&addr, "logged", &token).0, 200);
    let ready = cache.wait_event("backend_ready");
    assert_eq!(
        (ready["backend"].as_str(), ready["max_entries"].as_u64()),
        (Some("memory"), Some(1_000_000))
    );
    let listening = cache.wait_event("listening");
    assert_eq!(listening["addr"], addr.as_str());
    let committed = cache
        .events()
        .into_iter()
        .find(|e| e["event"] == "operation" && e["key"] == "logged" && e["op"] == "commit")
        .expect("a debug line for the commit");
    assert_eq!(
        (committed["level"].as_str(), committed["result"].as_str()),
        (Some("debug"), Some("committed"))
    );
}

#[test]
fn json_logs_never_show_the_redis_password() {
    // No Redis on this port: the start line and each operation say the backend failed.
    let url = format!("redis://:pw-s3cret-9@127.0.0.1:{}/", free_port());
    let (mut cache, addr) = start_cache(&["--redis", &url, "--redis-timeout-ms", "50"]);
    cache.never_log("pw-s3cret-9");
    let unreachable = cache.wait_event("backend_unreachable");
    assert_eq!(unreachable["level"], "warn");
    assert_eq!(unreachable["backend"], "redis");
    assert_eq!(claim(&addr, "k").0, 503);
    let failed = cache.wait_event("backend_error");
    assert_eq!(
        (failed["level"].as_str(), failed["op"].as_str()),
        (Some("error"), Some("claim"))
    );
    assert!(failed["error"].is_string(), "{failed}");
}

#[test]
fn text_is_the_default_log_format() {
    let (cache, addr) = start_cache_as(&[], &["--memory-max-entries", "1"]);
    assert_eq!(claim(&addr, "a").0, 200);
    assert_eq!(claim(&addr, "b").0, 503);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines = cache.lines.lock().unwrap().clone();
        if lines
            .iter()
            .any(|l| l.starts_with("webhook-guard-cache warn: claim refused"))
        {
            assert!(
                lines.iter().any(|l| l == &format!("listening on {addr}")),
                "{lines:?}"
            );
            assert!(
                lines
                    .iter()
                    .any(|l| l == "webhook-guard-cache info: backend: memory, at most 1 entries"),
                "{lines:?}"
            );
            assert!(
                lines
                    .iter()
                    .all(|l| serde_json::from_str::<serde_json::Value>(l).is_err()),
                "{lines:?}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no capacity line: {lines:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One metric family of an exposition: its `# TYPE`, whether it has a `# HELP`, its samples.
#[derive(Default, Debug)]
struct Family {
    kind: String,
    help: bool,
    samples: Vec<String>,
}

/// The exposition's families by name; a sample line with no `# TYPE` before it fails.
fn families(text: &str) -> std::collections::BTreeMap<String, Family> {
    let mut out: std::collections::BTreeMap<String, Family> = Default::default();
    let mut current = String::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("#"), Some("HELP"), Some(name)) => {
                out.entry(name.to_string()).or_default().help = true;
            }
            (Some("#"), Some("TYPE"), Some(name)) => {
                current = name.to_string();
                out.entry(name.to_string()).or_default().kind =
                    words.next().unwrap_or_default().to_string();
            }
            (Some(sample), Some(_), None) => {
                let name = sample.split('{').next().unwrap();
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .filter(|base| *base == current)
                    .unwrap_or(name);
                assert_eq!(family, current, "sample without its # TYPE: {line}");
                out.get_mut(family).unwrap().samples.push(line.to_string());
            }
            _ => panic!("unexpected line: {line:?}"),
        }
    }
    out
}

#[test]
fn metrics_follow_prometheus_conventions() {
    let (_cache, addr) = start_cache(&["--memory-max-entries", "50"]);
    full_cycle(&addr);
    batches(&addr);
    let (status, metrics) = request(&addr, "GET", "/metrics", "");
    assert_eq!(status, 200);
    let families = families(&metrics);
    for (name, family) in &families {
        assert!(name.starts_with("webhook_guard_cache_"), "{name}");
        assert!(family.help, "{name} has no # HELP");
        assert!(!family.samples.is_empty(), "{name} has no sample");
        match family.kind.as_str() {
            "counter" => assert!(name.ends_with("_total"), "counter {name}"),
            "gauge" => assert!(!name.ends_with("_total"), "gauge {name}"),
            "histogram" => {
                for part in ["_bucket{", "_sum ", "_count "] {
                    assert!(
                        family
                            .samples
                            .iter()
                            .any(|s| s.starts_with(&format!("{name}{part}"))),
                        "{name} has no {part}"
                    );
                }
                assert!(
                    family.samples.iter().any(|s| s.contains(r#"le="+Inf""#)),
                    "{name}"
                );
            }
            other => panic!("{name}: type {other:?}"),
        }
    }
    let kinds: Vec<(&str, &str)> = families
        .iter()
        .map(|(n, f)| (n.as_str(), f.kind.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("webhook_guard_cache_backend_errors_total", "counter"),
            ("webhook_guard_cache_backend_seconds", "histogram"),
            ("webhook_guard_cache_batch_bad_entries_total", "counter"),
            ("webhook_guard_cache_batch_ops", "histogram"),
            ("webhook_guard_cache_build_info", "gauge"),
            ("webhook_guard_cache_memory_entries", "gauge"),
            ("webhook_guard_cache_memory_max_entries", "gauge"),
            ("webhook_guard_cache_requests_total", "counter"),
        ]
    );
    let version = env!("CARGO_PKG_VERSION");
    assert!(metrics.contains(&format!(
        "webhook_guard_cache_build_info{{version=\"{version}\"}} 1\n"
    )));
    assert!(
        metrics.contains("webhook_guard_cache_memory_max_entries 50\n"),
        "{metrics}"
    );
    // Prometheus's own linter.
    let required = std::env::var("WEBHOOK_GUARD_E2E").is_ok_and(|v| v == "required");
    let promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut promtool = match promtool {
        Ok(p) => p,
        Err(e) => {
            assert!(
                !required,
                "promtool is required (make test installs it): {e}"
            );
            eprintln!("skipped promtool: {e}");
            return;
        }
    };
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}\n{metrics}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A Redis that wants a password: neither a wrong one nor the right one reaches a log line,
/// whatever Redis answers (WRONGPASS, NOAUTH) and in either format.
#[test]
fn redis_passwords_never_reach_the_logs() {
    if !redis_ready() {
        return;
    }
    let port = free_port();
    let dir = Scratch::new("auth");
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--requirepass", "right-pass-1"])
        .arg("--dir")
        .arg(&dir.0)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server");
    let _redis = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    for format in [&["--log-format", "json"][..], &["--log-format", "text"]] {
        let wrong = format!("redis://:wrong-pass-2@127.0.0.1:{port}/");
        let (mut cache, addr) =
            start_cache_as(format, &["--redis", &wrong, "--log-level", "debug"]);
        cache.never_log("wrong-pass-2");
        cache.never_log("right-pass-1");
        assert_eq!(claim(&addr, "k").0, 503);
        drop(cache);
        let right = format!("redis://:right-pass-1@127.0.0.1:{port}/");
        let (mut cache, addr) =
            start_cache_as(format, &["--redis", &right, "--log-level", "debug"]);
        cache.never_log("right-pass-1");
        assert_eq!(result(&addr, &format!("k-{}", format[1])), "claimed");
    }
}

/// A start that fails still writes JSON lines under `--log-format json` (and never the URL).
#[test]
fn start_failures_are_json_lines() {
    let bin = env!("CARGO_BIN_EXE_webhook-guard-cache");
    for (args, code) in [
        (&["--listen", "127.0.0.1:0", "--redis-cluster", ","][..], 2),
        (&["--listen", "256.0.0.1:1"], 1),
        (
            &[
                "--listen",
                "127.0.0.1:0",
                "--redis",
                "redis:/:S3CRET-7@host:1",
            ],
            1,
        ),
    ] {
        let out = Command::new(bin)
            .args(["--log-format", "json"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("S3CRET-7"), "{stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert!(!lines.is_empty(), "{args:?}: nothing on stderr");
        for line in &lines {
            check_json_line(line);
        }
        let last: serde_json::Value = serde_json::from_str(lines[lines.len() - 1]).unwrap();
        assert_eq!(
            (last["event"].as_str(), last["level"].as_str()),
            (Some("start_failed"), Some("error")),
            "{stderr}"
        );
    }
}
