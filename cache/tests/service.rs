//! The built service against real clients: memory and a real redis-server (started here on
//! a free loopback port), concurrent claims, and a Redis restart.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the service and reads the bound address from its first line on stderr.
fn start_cache(extra: &[&str]) -> (Proc, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_webhook-guard-cache"))
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start webhook-guard-cache");
    let stderr = child.stderr.take().expect("stderr");
    let mut reader = BufReader::new(stderr);
    let mut line = String::new();
    reader.read_line(&mut line).expect("read stderr");
    // Keep draining, as a terminal would.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let addr = line
        .strip_prefix("listening on ")
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    (Proc(child), addr)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_redis(port: u16, dir: &std::path::Path) -> Proc {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--appendonly",
            "yes",
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("redis-server is required for these tests (apt-get install redis-server): {e}")
        });
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Proc(child)
}

fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: cache\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = raw.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
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

/// The full life of two keys: claim, duplicate, commit, done; claim, release, claim again.
fn full_cycle(addr: &str) {
    let (s, v) = claim(addr, "k1");
    assert_eq!((s, v["result"].as_str()), (200, Some("claimed")));
    let token = v["token"].as_str().unwrap().to_string();
    assert_eq!(claim(addr, "k1").1["result"], "in_flight");
    let other = "0".repeat(32);
    let commit = |t: &str| {
        request(
            addr,
            "POST",
            "/v1/commit",
            &format!(r#"{{"key":"k1","token":"{t}","ttl_ms":60000}}"#),
        )
    };
    assert_eq!(commit(&other).0, 409);
    assert_eq!(
        commit(&token),
        (200, r#"{"result":"committed"}"#.to_string())
    );
    assert_eq!(claim(addr, "k1").1["result"], "done");
    let release = |k: &str, t: &str| {
        request(
            addr,
            "POST",
            "/v1/release",
            &format!(r#"{{"key":"{k}","token":"{t}"}}"#),
        )
    };
    assert_eq!(release("k1", &token).0, 409, "a done key is never released");

    let t2 = claim(addr, "k2").1["token"].as_str().unwrap().to_string();
    assert_eq!(
        release("k2", &t2),
        (200, r#"{"result":"released"}"#.to_string())
    );
    assert_eq!(claim(addr, "k2").1["result"], "claimed");

    assert_eq!(request(addr, "POST", "/v1/claim", "{}").0, 400);
    assert_eq!(request(addr, "GET", "/healthz", "").0, 200);
    let (_, metrics) = request(addr, "GET", "/metrics", "");
    assert!(
        metrics.contains(r#"webhook_guard_cache_requests_total{op="claim",result="done"} 1"#),
        "{metrics}"
    );
}

/// Many threads claim one key at once: exactly one wins.
fn one_winner(addr: &str) {
    let threads: Vec<_> = (0..32)
        .map(|_| {
            let addr = addr.to_string();
            std::thread::spawn(move || {
                claim(&addr, "contested").1["result"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
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

#[test]
fn memory_backend() {
    let (_cache, addr) = start_cache(&[]);
    full_cycle(&addr);
    one_winner(&addr);
}

#[test]
fn memory_backend_full_fails_closed() {
    let (_cache, addr) = start_cache(&["--memory-max-entries", "2"]);
    assert_eq!(claim(&addr, "a").0, 200);
    assert_eq!(claim(&addr, "b").0, 200);
    let (s, _) = claim(&addr, "c");
    assert_eq!(s, 503);
}

fn scratch(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wg-cache-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn redis_backend() {
    let port = free_port();
    let dir = scratch("redis");
    let _redis = start_redis(port, &dir);
    let (_cache, addr) = start_cache(&["--redis", &format!("redis://127.0.0.1:{port}/")]);
    full_cycle(&addr);
    one_winner(&addr);
}

#[test]
fn redis_restart_keeps_claims_and_the_service_recovers() {
    let port = free_port();
    let dir = scratch("restart");
    let redis = start_redis(port, &dir);
    let (_cache, addr) = start_cache(&["--redis", &format!("redis://127.0.0.1:{port}/")]);
    assert_eq!(claim(&addr, "before").1["result"], "claimed");

    drop(redis);
    assert_eq!(request(&addr, "GET", "/healthz", "").0, 503);
    let (s, b) = request(
        &addr,
        "POST",
        "/v1/claim",
        r#"{"key":"during","ttl_ms":60000}"#,
    );
    assert_eq!((s, b.as_str()), (503, r#"{"error":"backend_unavailable"}"#));

    let _redis = start_redis(port, &dir);
    let deadline = Instant::now() + Duration::from_secs(15);
    while request(&addr, "GET", "/healthz", "").0 != 200 {
        assert!(
            Instant::now() < deadline,
            "the service did not reconnect to Redis"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The claim made before the restart survived it (appendonly) and still blocks.
    assert_eq!(claim(&addr, "before").1["result"], "in_flight");
    assert_eq!(claim(&addr, "after").1["result"], "claimed");
}
