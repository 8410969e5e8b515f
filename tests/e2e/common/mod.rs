//! The end-to-end harness, by what it starts: a real Envoy loading the built `.wasm`
//! (envoy.rs), the receiver it forwards to (upstream.rs), the cache service and faulty caches
//! (cache.rs), redis-server (redis.rs), `kubectl kustomize` (kustomize.rs); the raw HTTP/1.1
//! client and framing they share (http.rs) and signed deliveries (signing.rs). Every port is
//! chosen at run time (port 0), so tests run side by side.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

mod cache;
mod envoy;
mod http;
pub mod kustomize;
mod redis;
mod signing;
mod upstream;

pub use cache::*;
pub use envoy::*;
pub use http::*;
pub use redis::*;
pub use signing::*;
pub use upstream::*;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh scratch directory under target/e2e.
pub fn scratch_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let dir = repo_root()
        .join("target/e2e")
        .join(format!("{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Whether the end-to-end prerequisites are here: Envoy, the built `.wasm`, the cache
/// service and redis-server. Without them a test returns at once (so that `cargo test` on a
/// machine with only Rust passes the native tests), unless `WEBHOOK_GUARD_E2E=required`
/// (`make test` and CI set it), where a missing one fails the test.
pub fn e2e_ready() -> bool {
    let envoy = std::env::var_os("ENVOY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/envoy-bin"));
    let wasm = std::env::var_os("WEBHOOK_GUARD_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/wasm32-wasip1/release/webhook_guard.wasm"));
    let redis = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join("redis-server").exists()));
    let missing: Vec<&str> = [
        (!envoy.exists()).then_some("Envoy (make envoy)"),
        (!wasm.exists()).then_some("the filter (make wasm)"),
        (!Cache::bin_path().exists())
            .then_some("webhook-guard-cache (cargo build -p webhook-guard-cache)"),
        (!redis).then_some("redis-server"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if missing.is_empty() {
        return true;
    }
    let required = std::env::var("WEBHOOK_GUARD_E2E").is_ok_and(|v| v == "required");
    assert!(
        !required,
        "end-to-end prerequisites missing: {}",
        missing.join(", ")
    );
    eprintln!(
        "skipped: end-to-end prerequisites missing ({}); `make test` installs them",
        missing.join(", ")
    );
    false
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn wait_listening(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited during start ({status})");
        }
        assert!(Instant::now() < deadline, "{what} not listening on {port}");
        thread::sleep(Duration::from_millis(20));
    }
}
