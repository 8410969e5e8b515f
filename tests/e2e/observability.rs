//! observability/ against the real things: the alerting rules through promtool (check and
//! unit tests), then a real Prometheus scraping a real Envoy (the built filter, loaded
//! through ECDS as Istio loads it) and the real cache while deliveries flow, where every
//! dashboard expression and every series an alert reads must return series. Also: Envoy's
//! JSON application logs with the filter's refusal line, and the Istio stats-tags recipe
//! (docs/operations.md) against Envoy's /stats/prometheus.
//!
//! Needs `promtool` and `prometheus` (Debian's `prometheus` package; `make test` installs it).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// Prints past libtest's output capture (which takes `println!`), so the table shows in
/// `make test`'s output on success too.
macro_rules! show {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stderr().lock(), $($t)*);
    }};
}

const SECRET: &str = "observability-secret-0123456789";

fn config() -> String {
    format!(
        r#"{{
  "idempotency": {{ "cluster": "webhook_guard_cache", "timeout_ms": 1000,
                   "in_flight_ttl_seconds": 30, "done_ttl_seconds": 3600,
                   "on_unavailable": "reject" }},
  "endpoints": [
    {{ "name": "genesys", "path_prefix": "/webhooks/genesys", "preset": "genesys-open-messaging",
      "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ] }}
  ]
}}"#
    )
}

fn obs(path: &str) -> PathBuf {
    repo_root().join("observability").join(path)
}

/// A tool of the `prometheus` package, if installed; required under `make test`.
fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.exists())
    });
    let required = std::env::var("WEBHOOK_GUARD_E2E").is_ok_and(|v| v == "required");
    assert!(
        found.is_some() || !required,
        "{name} is required (make test installs Debian's prometheus package)"
    );
    if found.is_none() {
        eprintln!("skipped: no {name}; `make test` installs it");
    }
    found
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

#[test]
fn rules_pass_promtool_check_and_unit_tests() {
    let Some(promtool) = tool("promtool") else {
        return;
    };
    let dir = obs("prometheus");
    let out = run(Command::new(&promtool).current_dir(&dir).args([
        "check",
        "rules",
        "webhook-guard.rules.yaml",
    ]));
    show!("{out}");
    let out = run(Command::new(&promtool).current_dir(&dir).args([
        "test",
        "rules",
        "webhook-guard.rules.test.yaml",
    ]));
    show!("{out}");
    assert!(out.contains("SUCCESS"), "{out}");
    // Every alert has a unit test that sees it fire, and one that sees it quiet.
    let rules: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(dir.join("webhook-guard.rules.yaml")).unwrap(),
    )
    .unwrap();
    let tests = std::fs::read_to_string(dir.join("webhook-guard.rules.test.yaml")).unwrap();
    let tests: serde_yaml_ng::Value = serde_yaml_ng::from_str(&tests).unwrap();
    for alert in alerts(&rules).keys() {
        let cases: Vec<&serde_yaml_ng::Value> = tests["tests"]
            .as_sequence()
            .unwrap()
            .iter()
            .flat_map(|t| t["alert_rule_test"].as_sequence().into_iter().flatten())
            .filter(|c| c["alertname"].as_str() == Some(alert.as_str()))
            .collect();
        let firing = |c: &&serde_yaml_ng::Value| {
            c["exp_alerts"].as_sequence().is_some_and(|s| !s.is_empty())
        };
        assert!(cases.iter().any(firing), "{alert}: no firing test");
        assert!(
            cases.iter().any(|c| !firing(c)) || tests_have_quiet_series(&tests, alert),
            "{alert}: no test where it stays quiet"
        );
    }
}

/// Whether a firing test of `alert` also holds series that must not fire (a second
/// instance or endpoint left out of `exp_alerts`).
fn tests_have_quiet_series(tests: &serde_yaml_ng::Value, alert: &str) -> bool {
    tests["tests"].as_sequence().unwrap().iter().any(|t| {
        let fires = t["alert_rule_test"]
            .as_sequence()
            .into_iter()
            .flatten()
            .any(|c| c["alertname"].as_str() == Some(alert));
        let series = t["input_series"].as_sequence().map_or(0, |s| s.len());
        let expected = t["alert_rule_test"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter(|c| c["alertname"].as_str() == Some(alert))
            .map(|c| c["exp_alerts"].as_sequence().map_or(0, |s| s.len()))
            .max()
            .unwrap_or(0);
        fires && series > expected
    })
}

/// The rules file's alerts: name -> expression.
fn alerts(rules: &serde_yaml_ng::Value) -> BTreeMap<String, String> {
    rule_list(rules)
        .filter_map(|r| {
            Some((
                r["alert"].as_str()?.to_string(),
                r["expr"].as_str()?.to_string(),
            ))
        })
        .collect()
}

/// The rules file's recording rules: name -> expression.
fn recordings(rules: &serde_yaml_ng::Value) -> BTreeMap<String, String> {
    rule_list(rules)
        .filter_map(|r| {
            Some((
                r["record"].as_str()?.to_string(),
                r["expr"].as_str()?.to_string(),
            ))
        })
        .collect()
}

fn rule_list(rules: &serde_yaml_ng::Value) -> impl Iterator<Item = &serde_yaml_ng::Value> {
    rules["groups"]
        .as_sequence()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_sequence().expect("rules").iter())
}

/// The instant-vector selectors of a PromQL expression (`name{matchers}`), in order: what an
/// alert that is a condition reads. Functions, keywords, label lists of `by`/`on`/...,
/// durations and numbers are skipped.
fn selectors(expr: &str) -> Vec<String> {
    const KEYWORDS: [&str; 22] = [
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "offset",
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "group",
    ];
    const LABEL_LISTS: [&str; 6] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let b = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let ident_start = |c: u8| c.is_ascii_alphabetic() || c == b'_' || c == b':';
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b':';
    while i < b.len() {
        let c = b[i];
        if c == b'[' {
            while i < b.len() && b[i] != b']' {
                i += 1;
            }
        } else if c == b'"' || c == b'\'' {
            i += 1;
            while i < b.len() && b[i] != c {
                i += 1;
            }
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
            continue;
        } else if ident_start(c) {
            let start = i;
            while i < b.len() && ident(b[i]) {
                i += 1;
            }
            let name = &expr[start..i];
            let mut j = i;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            let next = b.get(j).copied();
            if LABEL_LISTS.contains(&name) && next == Some(b'(') {
                while j < b.len() && b[j] != b')' {
                    j += 1;
                }
                i = j + 1;
                continue;
            }
            if KEYWORDS.contains(&name) || next == Some(b'(') {
                continue;
            }
            if next == Some(b'{') {
                while j < b.len() && b[j] != b'}' {
                    j += 1;
                }
                out.push(expr[start..=j.min(b.len() - 1)].to_string());
                i = j + 1;
                continue;
            }
            out.push(name.to_string());
            continue;
        }
        i += 1;
    }
    out
}

#[test]
fn selectors_of_expressions() {
    assert_eq!(
        selectors(
            "sum by (endpoint) (a:b:c{reason=\"x\"}) / ignoring (outcome) rate(m[5m]) > 0.2 and on (instance) n unless on(i) 1e3"
        ),
        ["a:b:c{reason=\"x\"}", "m", "n"]
    );
    assert_eq!(
        selectors("histogram_quantile(0.99, sum by (le) (rate(x_bucket[1m]))) / 1000"),
        ["x_bucket"]
    );
}

/// The dashboard's panel expressions, with its hidden constants (the metric names) and
/// `$__rate_interval` filled in: (panel title, expression).
fn dashboard_expressions(rate_interval: &str) -> Vec<(String, String)> {
    let d: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(obs("grafana/webhook-guard.json")).unwrap())
            .unwrap();
    let mut vars: Vec<(String, String)> = d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["type"] == "constant")
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_string(),
                v["query"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    vars.push(("__rate_interval".into(), rate_interval.into()));
    let mut out = Vec::new();
    for panel in d["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let mut expr = target["expr"].as_str().unwrap().to_string();
            for (k, v) in &vars {
                expr = expr
                    .replace(&format!("${{{k}}}"), v)
                    .replace(&format!("${k}"), v);
            }
            assert!(!expr.contains('$'), "unknown variable in {expr}");
            out.push((panel["title"].as_str().unwrap().to_string(), expr));
        }
    }
    out
}

/// A process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// GET on a loopback HTTP/1.0 server (no chunking): (status, body).
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nhost: localhost\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

/// The series an instant query returns (`None`: the query failed).
fn query(port: u16, expr: &str) -> Option<Vec<serde_json::Value>> {
    let (status, body) = http_get(port, &format!("/api/v1/query?query={}", url_encode(expr)))?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    assert_eq!(status, 200, "{expr}: {body}");
    v["data"]["result"].as_array().cloned()
}

fn start_prometheus(prometheus: &Path, config: &str, dir: &Path) -> (Proc, u16) {
    let file = dir.join("prometheus.yml");
    std::fs::write(&file, config).unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = Command::new(prometheus)
        .arg(format!("--config.file={}", file.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    let mut proc = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while http_get(port, "/-/ready").map(|r| r.0) != Some(200) {
        if let Ok(Some(status)) = proc.0.try_wait() {
            panic!(
                "prometheus exited ({status}):\n{}",
                std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "prometheus not ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    (proc, port)
}

/// Istio's bootstrap `stats_config` (tools/packaging/common/envoy_bootstrap.json and the
/// agent's required inclusion prefixes), with `extraStatTags: [endpoint, reason, secret_id,
/// op, outcome]` rendered as Istio renders them.
fn istio_stats_config(config: &mut serde_yaml_ng::Value) {
    let mut tags = String::from(
        r#"[
  { tag_name: cluster_name, regex: '^cluster\.((.+?(\..+?\.svc\.cluster\.local)?)\.)' },
  { tag_name: tcp_prefix, regex: '^tcp\.((.*?)\.)\w+?$' },
  { tag_name: response_code, regex: '_rq(_(\d{3}))$' },
  { tag_name: response_code_class, regex: '_rq(_(\dxx))$' },
  { tag_name: http_conn_manager_listener_prefix, regex: '^listener(?=\.).*?\.http\.(((?:[_.[:digit:]]*|[_\[\]aAbBcCdDeEfF[:digit:]]*))\.)' },
  { tag_name: http_conn_manager_prefix, regex: '^http\.(((?:[_.[:digit:]]*|[_\[\]aAbBcCdDeEfF[:digit:]]*))\.)' },
  { tag_name: listener_address, regex: '^listener\.(((?:[_.[:digit:]]*|[_\[\]aAbBcCdDeEfF[:digit:]]*))\.)' },
  { tag_name: mongo_prefix, regex: '^mongo\.(.+?)\.(collection|cmd|cx_|op_|delays_|decoding_)(.*?)$' },
"#,
    );
    for extra in ["endpoint", "reason", "secret_id", "op", "outcome"] {
        tags.push_str(&format!(
            "  {{ tag_name: {extra}, regex: '({extra}=\\.=(.*?);\\.;)' }},\n"
        ));
    }
    tags.push_str(
        r#"  { tag_name: cache, regex: '(cache\.(.+?)\.)' },
  { tag_name: component, regex: '(component\.(.+?)\.)' },
  { tag_name: tag, regex: '(tag\.(.+?);\.)' },
  { tag_name: wasm_filter, regex: '(wasm_filter\.(.+?)\.)' },
  { tag_name: authz_enforce_result, regex: 'rbac(\.(allowed|denied))' },
  { tag_name: authz_dry_run_action, regex: '(\.istio_dry_run_(allow|deny)_)' },
  { tag_name: authz_dry_run_result, regex: '(\.shadow_(allowed|denied))' }
]"#,
    );
    let matcher = r#"{ inclusion_list: { patterns: [
  { prefix: "reporter=" }, { prefix: cluster_manager }, { prefix: listener_manager },
  { prefix: server }, { prefix: cluster.xds-grpc }, { prefix: wasm },
  { suffix: rbac.allowed }, { suffix: rbac.denied }, { suffix: shadow_allowed },
  { suffix: shadow_denied }, { suffix: downstream_cx_active },
  { safe_regex: { regex: 'vhost\..*\.route\..*' } },
  { prefix: component }, { prefix: istio } ] } }"#;
    let stats = &mut config["stats_config"];
    stats["use_all_default_tags"] = false.into();
    stats["stats_tags"] = serde_yaml_ng::from_str(&tags).expect("istio tags");
    stats["stats_matcher"] = serde_yaml_ng::from_str(matcher).expect("istio matcher");
}

/// The bootstrap override of observability/istio/stats-tags-bootstrap.yaml, as the agent
/// passes it (`--config-yaml`).
fn stats_tags_override() -> String {
    let text = std::fs::read_to_string(obs("istio/stats-tags-bootstrap.yaml")).unwrap();
    let map: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    map["data"]["custom_bootstrap.json"]
        .as_str()
        .expect("custom_bootstrap.json")
        .to_string()
}

#[test]
fn the_istio_override_is_envoy_yamls_stats_tags() {
    let shipped: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(repo_root().join("envoy/envoy.yaml")).unwrap(),
    )
    .unwrap();
    let over: serde_json::Value = serde_json::from_str(&stats_tags_override()).unwrap();
    let shipped = serde_json::to_value(&shipped["stats_config"]["stats_tags"]).unwrap();
    assert_eq!(over["stats_config"]["stats_tags"], shipped);
    assert_eq!(over.as_object().unwrap().len(), 1, "only stats_config");
}

fn prometheus_text(envoy: &Envoy) -> String {
    let r = envoy.admin("/stats/prometheus").expect("admin");
    String::from_utf8_lossy(&r.body).into_owned()
}

/// Istio's stats configuration: the filter's series are served (the agent's required `wasm`
/// inclusion prefix matches `wasmcustom.`), with their labels inside the names, whatever
/// `extraStatTags` lists; with the bootstrap override, they come back as labels.
#[test]
fn istio_stats_tags_recipe() {
    if !e2e_ready() {
        return;
    }
    let receiver = Upstream::start();
    let mut opts = EnvoyOptions::new(&config(), receiver.port);
    opts.bootstrap_patch = Some(istio_stats_config);
    let istio = Envoy::start(&opts);
    let unsigned = send(istio.port, "POST", "/webhooks/genesys", &[], b"{}");
    assert_eq!(unsigned.status, 401);
    let text = prometheus_text(&istio);
    assert!(
        text.lines().any(|l| l
            == "webhook_guard_filter_rejected_total_endpoint_genesys_reason_missing_signature{} 1"),
        "labels in the name:\n{}",
        text.lines()
            .filter(|l| l.contains("webhook_guard"))
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        !text.contains("webhook_guard_filter_rejected_total{"),
        "no tag applied"
    );
    assert!(text.contains("webhook_guard_filter_claims_total_outcome_kept{} 0"));
    assert!(
        text.contains("webhook_guard_filter_accepted_total_endpoint_genesys_secret_id_current{} 0")
    );
    let version = env!("CARGO_PKG_VERSION").replace('.', "_");
    assert!(text.contains(&format!(
        "webhook_guard_filter_build_info_version_{version}{{}} 1"
    )));

    opts.extra_args = vec!["--config-yaml".into(), stats_tags_override()];
    let fixed = Envoy::start(&opts);
    let unsigned = send(fixed.port, "POST", "/webhooks/genesys", &[], b"{}");
    assert_eq!(unsigned.status, 401);
    let text = prometheus_text(&fixed);
    for line in [
        r#"webhook_guard_filter_rejected_total{endpoint="genesys",reason="missing_signature"} 1"#.to_string(),
        r#"webhook_guard_filter_accepted_total{endpoint="genesys",secret_id="current"} 0"#.into(),
        r#"webhook_guard_filter_claims_total{outcome="kept"} 0"#.into(),
        r#"webhook_guard_filter_cache_errors_total{op="commit"} 0"#.into(),
        r#"webhook_guard_filter_duplicates_total{endpoint="genesys"} 0"#.into(),
        r#"webhook_guard_filter_settlements_given_up_total{reason="retries_exhausted",op="commit"} 0"#.into(),
        format!(r#"webhook_guard_filter_build_info{{version="{}"}} 1"#, env!("CARGO_PKG_VERSION")),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line} missing:\n{}",
            text.lines()
                .filter(|l| l.contains("webhook_guard"))
                .take(20)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    assert!(!text.contains("webhook_guard_filter_rejected_total_endpoint_"));
}

/// Envoy's `application_log_config.json_format`: every line Envoy writes once the bootstrap
/// is loaded is a JSON object; the filter's refusal arrives as a string (`%j`), after
/// Envoy's `wasm log <plugin> <root_id> <vm_id>: ` prefix, never merged as an object, and
/// `%*` (tags) is empty for it.
#[test]
fn envoy_json_application_logs() {
    if !e2e_ready() {
        return;
    }
    fn json_logs(config: &mut serde_yaml_ng::Value) {
        config["application_log_config"] = serde_yaml_ng::from_str(
            r#"{ log_format: { json_format: { ts: "%Y-%m-%dT%T.%eZ", level: "%l", component: "%n", message: "%j", tags: "%*" } } }"#,
        )
        .unwrap();
    }
    let receiver = Upstream::start();
    let mut opts = EnvoyOptions::new(&config(), receiver.port);
    opts.bootstrap_patch = Some(json_logs);
    let envoy = Envoy::start(&opts);
    let r = send(envoy.port, "POST", "/webhooks/genesys", &[], b"{}");
    assert_eq!(r.status, 401);
    let deadline = Instant::now() + Duration::from_secs(10);
    let refusal = loop {
        let log = envoy.log();
        let lines: Vec<&str> = log.lines().collect();
        // Before the bootstrap is read, Envoy logs in its default text format.
        let first_json = lines
            .iter()
            .position(|l| l.starts_with('{'))
            .expect("a JSON line");
        for l in &lines[..first_json] {
            assert!(
                l.starts_with('[') && l.contains("][info][main]"),
                "early line {l:?}"
            );
        }
        let mut found = None;
        for l in &lines[first_json..] {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            for k in ["ts", "level", "component", "message", "tags"] {
                assert!(v[k].is_string(), "{k} in {l}");
            }
            let message = v["message"].as_str().unwrap();
            // Every line of the filter's carries one JSON object with its event.
            if let Some(rest) = message.strip_prefix("wasm log ") {
                let object = rest.split_once(": ").map_or("", |(_, o)| o);
                let inner: serde_json::Value = serde_json::from_str(object)
                    .unwrap_or_else(|e| panic!("a filter message that is not JSON ({e}): {l}"));
                assert!(inner["event"].is_string(), "{l}");
            }
            if v["component"] == "wasm" && message.contains("webhook_rejected") {
                found = Some((v.clone(), message.to_string()));
            }
        }
        if let Some(f) = found {
            break f;
        }
        assert!(Instant::now() < deadline, "no refusal line:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let (line, message) = refusal;
    show!("Envoy's JSON line for a refusal:\n{line}");
    assert_eq!(line["level"], "info");
    assert_eq!(line["tags"], "", "no tags extracted from a wasm message");
    let (prefix, object) = message.split_once(": {").expect("prefix: {object}");
    assert_eq!(prefix, "wasm log webhook_guard webhook_guard webhook_guard");
    let inner: serde_json::Value =
        serde_json::from_str(&format!("{{{object}")).expect("the filter's object");
    assert_eq!(inner["event"], "webhook_rejected");
    assert_eq!(inner["reason"], "missing_signature");
    assert_eq!(inner["status"], 401);
}

#[test]
fn prometheus_sees_every_dashboard_and_alert_series() {
    if !e2e_ready() {
        return;
    }
    let (Some(prometheus), Some(_)) = (tool("prometheus"), tool("promtool")) else {
        return;
    };
    let receiver = Upstream::start();
    let other = Upstream::start();
    let cache = Cache::start(0, &[]);
    let mut opts = EnvoyOptions::new(&config(), receiver.port);
    opts.cache_port = Some(cache.port);
    // ECDS, as Istio delivers the filter: its extension-config stats exist.
    opts.gateway_other_host = Some(("app.example.com".into(), other.port));
    let envoy = Envoy::start(&opts);
    // An Istio-configured proxy (labels inside the names), read through the relabel recipe.
    let mut istio_opts = EnvoyOptions::new(&config(), receiver.port);
    istio_opts.cache_port = Some(cache.port);
    istio_opts.bootstrap_patch = Some(istio_stats_config);
    let istio = Envoy::start(&istio_opts);

    let relabel = std::fs::read_to_string(obs("prometheus/istio-relabel.yaml")).unwrap();
    let relabel: serde_yaml_ng::Value = serde_yaml_ng::from_str(&relabel).unwrap();
    let relabel = serde_json::to_string(&relabel).unwrap();
    let prom_config = format!(
        r#"global: {{ scrape_interval: 1s, evaluation_interval: 1s }}
rule_files: ["{rules}"]
scrape_configs:
- job_name: envoy
  metrics_path: /stats/prometheus
  static_configs: [{{ targets: ["127.0.0.1:{envoy}"] }}]
- job_name: istio-envoy
  metrics_path: /stats/prometheus
  static_configs: [{{ targets: ["127.0.0.1:{istio}"] }}]
  metric_relabel_configs: {relabel}
- job_name: webhook-guard-cache
  static_configs: [{{ targets: ["127.0.0.1:{cache}"] }}]
"#,
        rules = obs("prometheus/webhook-guard.rules.yaml").display(),
        envoy = envoy.admin_port,
        istio = istio.admin_port,
        cache = cache.port,
    );
    let dir = scratch_dir("prometheus");
    let (_prometheus, port) = start_prometheus(&prometheus, &prom_config, &dir);

    // Every target scraped before the first delivery, so rates see every increment.
    let deadline = Instant::now() + Duration::from_secs(30);
    while query(port, "up == 1").map_or(0, |r| r.len()) < 3 {
        assert!(
            Instant::now() < deadline,
            "targets not up: {:?}",
            query(port, "up")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Deliveries: accepted (claimed, committed), duplicates, refused; on both proxies.
    for n in 0..6 {
        for e in [&envoy, &istio] {
            let d = genesys_delivery(&config(), SECRET, &format!("obs-{}-{n}", e.port));
            assert_eq!(deliver(e.port, &d).status, 200);
            assert_eq!(deliver(e.port, &d).status, 200, "duplicate");
            let forged = genesys_delivery(&config(), "not-the-secret-0123456789", "forged");
            assert_eq!(deliver(e.port, &forged).status, 401);
        }
        std::thread::sleep(Duration::from_millis(400));
    }

    let rules: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(obs("prometheus/webhook-guard.rules.yaml")).unwrap(),
    )
    .unwrap();
    // (what, expression): every one must return series.
    let mut checks: Vec<(String, String)> = Vec::new();
    for (name, expr) in recordings(&rules) {
        checks.push((format!("record {name}"), expr.clone()));
    }
    for (name, expr) in alerts(&rules) {
        let mut seen = Vec::new();
        for s in selectors(&expr) {
            if !seen.contains(&s) {
                seen.push(s.clone());
                checks.push((format!("alert {name}"), s));
            }
        }
    }
    for (title, expr) in dashboard_expressions("1m") {
        checks.push((format!("panel {title}"), expr));
    }
    // The relabelled Istio series.
    checks.push((
        "istio relabel".into(),
        r#"webhook_guard_filter_rejected_total{job="istio-envoy",endpoint="genesys",reason="invalid_signature"} >= 1"#.into(),
    ));
    checks.push((
        "istio relabel".into(),
        r#"webhook_guard_filter_accepted_total{job="istio-envoy",endpoint="genesys",secret_id="current"} >= 1"#
            .into(),
    ));
    checks.push((
        "istio relabel".into(),
        r#"webhook_guard_filter_settlements_given_up_total{job="istio-envoy",op="commit",reason="queue_full"}"#
            .into(),
    ));
    checks.push((
        "istio relabel".into(),
        r#"webhook_guard_filter_build_info{job="istio-envoy",version!=""} == 1"#.into(),
    ));

    let deadline = Instant::now() + Duration::from_secs(60);
    let counts = loop {
        let counts: Vec<usize> = checks
            .iter()
            .map(|(_, e)| query(port, e).map_or(0, |r| r.len()))
            .collect();
        if counts.iter().all(|c| *c > 0) || Instant::now() > deadline {
            break counts;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    show!("{:>6}  {:<52} expression", "series", "source");
    for ((what, expr), n) in checks.iter().zip(&counts) {
        show!(
            "{n:>6}  {what:<52} {}",
            expr.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }
    // And the alerts' own expressions: quiet on this healthy setup.
    show!("alert conditions now (series that would fire after their `for:`):");
    for (name, expr) in alerts(&rules) {
        let r = query(port, &expr).unwrap_or_default();
        let values: Vec<String> = r
            .iter()
            .map(|s| format!("{}={}", s["metric"], s["value"][1]))
            .collect();
        show!("{:>6}  {name} {}", r.len(), values.join(" "));
    }
    let empty: Vec<&(String, String)> = checks
        .iter()
        .zip(&counts)
        .filter(|(_, n)| **n == 0)
        .map(|(c, _)| c)
        .collect();
    assert!(empty.is_empty(), "no series for: {empty:#?}");
    // Nothing relabelled was left with the labels in its name.
    let left = query(
        port,
        r#"{job="istio-envoy",__name__=~"webhook_guard_.*_(endpoint|op|outcome|version)_.*"}"#,
    )
    .unwrap();
    assert!(left.is_empty(), "{left:?}");
    envoy.assert_no_panic();
}

/// What "filter not configured" looks like in Envoy's stats, where the filter comes through
/// ECDS (Istio): a refused configuration counts in
/// `envoy_extension_config_discovery_http_filter_webhook_guard_config_fail`, the filter's own
/// series are absent (it defines them when configured), and Envoy answers 500 without
/// calling the receiver. The alerts WebhookGuardFilterConfigRejected and
/// WebhookGuardFilterNotLoaded read exactly these.
#[test]
fn a_refused_filter_configuration_shows_in_envoy_stats() {
    if !e2e_ready() {
        return;
    }
    let receiver = Upstream::start();
    let other = Upstream::start();
    // An endpoint without its path_prefix: the filter refuses the configuration.
    let mut opts = EnvoyOptions::new(
        r#"{ "endpoints": [ { "name": "genesys" } ] }"#,
        receiver.port,
    );
    opts.gateway_other_host = Some(("app.example.com".into(), other.port));
    let envoy = Envoy::start(&opts);
    let r = send(envoy.port, "POST", "/webhooks/genesys", &[], b"{}");
    assert_eq!(r.status, 500);
    assert!(receiver.requests().is_empty());
    let text = prometheus_text(&envoy);
    let prefix = "envoy_extension_config_discovery_http_filter_webhook_guard_";
    for line in [
        format!("{prefix}config_fail{{}} 1"),
        format!("{prefix}update_rejected{{}} 1"),
        format!("{prefix}update_success{{}} 0"),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line} missing:\n{}",
            text.lines()
                .filter(|l| l.contains("webhook_guard"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    assert!(
        !text.lines().any(|l| l.starts_with("webhook_guard_")),
        "the filter's series exist without a configuration"
    );
    let refused = envoy.events();
    let refused = refused
        .iter()
        .find(|e| e["event"] == "config_rejected")
        .expect("a config_rejected line");
    assert!(
        refused["error"].as_str().unwrap().contains("path_prefix"),
        "{refused}"
    );
}

/// Through LDS, a listener update whose filter configuration is refused is rejected as a
/// whole: `envoy_listener_manager_lds_update_rejected` counts it and the previous listener,
/// filter included, keeps serving.
#[test]
fn a_refused_listener_update_keeps_the_previous_filter() {
    if !e2e_ready() {
        return;
    }
    let receiver = Upstream::start();
    let mut opts = EnvoyOptions::new(&config(), receiver.port);
    opts.lds_drain_seconds = Some(1);
    let envoy = Envoy::start(&opts);
    let bad = EnvoyOptions {
        filter_config: r#"{ "endpoints": [ { "name": "genesys" } ] }"#.into(),
        ..EnvoyOptions::new(&config(), receiver.port)
    };
    envoy.reload(&bad);
    let deadline = Instant::now() + Duration::from_secs(20);
    while envoy.metric("envoy_listener_manager_lds_update_rejected{}") < 1 {
        assert!(
            Instant::now() < deadline,
            "the update was not rejected:\n{}",
            envoy.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let r = send(envoy.port, "POST", "/webhooks/genesys", &[], b"{}");
    assert_eq!(r.status, 401, "the previous filter still verifies");
    assert_eq!(
        envoy.metric(
            r#"webhook_guard_filter_rejected_total{endpoint="genesys",reason="missing_signature"}"#
        ),
        1
    );
}
