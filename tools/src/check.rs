//! `webhook-guard check`: finds every webhook-guard configuration in a file (a filter
//! configuration as JSON or YAML, the Wasm filters of an Envoy bootstrap, the EnvoyFilters of
//! Istio manifests) and runs the filter's own parser, `Config::parse`, on each, so the
//! verdict and the `field: reason` text are the ones Envoy's log would show.
//!
//! No value of a secret is ever printed: the parser's errors name fields, never values, and
//! everything this module adds (YAML errors, places) is scrubbed of quoted text.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;
use webhook_guard::config::Config;
use webhook_guard::scheme::presets::preset;
use webhook_guard::sign::SigningKey;

/// Largest file read: far above any real configuration.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The type URL of Envoy's Wasm HTTP filter configuration.
const WASM_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
/// The name (or root id) the shipped configurations give the filter.
pub const FILTER_NAME: &str = "webhook_guard";

/// Where the secrets named by `env` come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// A stand-in of the right kind for every variable the VM would be given, so that a
    /// configuration is checked without its secrets (the default).
    Placeholders,
    /// This process's environment (`--env`): every variable must be set, and be a key of the
    /// kind the endpoint wants (16 bytes or more for a shared secret).
    Environment,
}

/// One webhook-guard configuration found in a file.
#[derive(Debug, Clone)]
pub struct Found {
    /// Where in the file (empty for a file that is a filter configuration itself).
    pub place: String,
    /// The configuration bytes the filter would be given.
    pub bytes: Vec<u8>,
    /// The VM's environment as the file sets it: `None` when the file does not say
    /// (a bare filter configuration); else the `host_env_keys` and the `key_values`.
    pub vm_env: Option<VmEnv>,
    /// Where the Wasm filter is inside its document, shown when the document has several.
    pub path: String,
}

#[derive(Debug, Clone, Default)]
pub struct VmEnv {
    pub host_keys: Vec<String>,
    pub values: BTreeMap<String, String>,
}

/// The outcome for one configuration.
pub struct Checked {
    pub place: String,
    pub result: Result<Config, String>,
}

/// Reads `path` (bounded) as text.
pub fn read(path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {}", io_reason(&e)))?;
    let mut text = String::new();
    let n = file
        .take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read: {}", io_reason(&e)))?;
    if n as u64 > MAX_FILE_BYTES {
        return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
    }
    Ok(text)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::InvalidData => "not UTF-8 text".into(),
        _ => {
            // The OS message, without Rust's "(os error N)" suffix.
            let text = e.to_string();
            text.split(" (os error").next().unwrap_or(&text).to_string()
        }
    }
}

/// Every webhook-guard configuration in `text`.
pub fn find(text: &str) -> Result<Vec<Found>, String> {
    // A JSON file is given to the parser byte for byte, as Envoy would give it.
    let trimmed = text.trim_start();
    let mut json_error = None;
    if trimmed.starts_with('{') {
        let parsed = serde_json::from_str::<Value>(text);
        if let Err(e) = &parsed {
            json_error = Some(format!("not valid JSON: {}", scrub_quotes(&e.to_string())));
        }
        if let Ok(root) = parsed {
            let mut found = Vec::new();
            walk(
                &root,
                "",
                Numbers::AsWritten,
                &mut String::new(),
                &mut found,
            )?;
            if found.is_empty() && !looks_like_envoy(&root) {
                found.push(Found {
                    place: String::new(),
                    bytes: text.as_bytes().to_vec(),
                    vm_env: None,
                    path: String::new(),
                });
            }
            disambiguate(&mut found);
            return if found.is_empty() {
                Err(none_found())
            } else {
                Ok(found)
            };
        }
    }
    let mut found = Vec::new();
    let mut documents = 0usize;
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        // A file that starts like JSON and is neither: the JSON error says more.
        let value = Value::deserialize(doc)
            .map_err(|e| json_error.clone().unwrap_or_else(|| yaml_error(&e)))?;
        if value.is_null() {
            continue;
        }
        documents += 1;
        let n = documents - 1;
        let doc = document_name(&value, n);
        let before = found.len();
        // Envoy reads its own YAML bootstrap; Kubernetes objects reach it through istiod.
        let numbers = match looks_like_kubernetes(&value) {
            true => Numbers::AsWritten,
            false => Numbers::EnvoyYaml,
        };
        walk(&value, &doc, numbers, &mut String::new(), &mut found)?;
        if found.len() == before && is_filter_config(&value) {
            let bytes = serde_json::to_vec(&value).map_err(|e| e.to_string())?;
            found.push(Found {
                place: document_name(&value, n),
                bytes,
                vm_env: None,
                path: String::new(),
            });
        }
    }
    if found.is_empty() {
        return Err(if documents == 0 {
            "empty: no configuration".into()
        } else {
            none_found()
        });
    }
    disambiguate(&mut found);
    // One document: no need to say which.
    if documents == 1 {
        for f in &mut found {
            if let Some(rest) = f.place.strip_prefix("document 1") {
                let rest = rest.trim_start();
                f.place = match rest.strip_prefix('(').and_then(|r| r.split_once(')')) {
                    Some((what, tail)) => format!("{what}{tail}"),
                    None => rest.trim_start_matches(": ").to_string(),
                };
            }
        }
    }
    Ok(found)
}

/// Several filters in one document: says where each is.
fn disambiguate(found: &mut [Found]) {
    let places: Vec<String> = found.iter().map(|f| f.place.clone()).collect();
    for f in found.iter_mut() {
        if places.iter().filter(|p| **p == f.place).count() > 1 {
            f.place = if f.place.is_empty() {
                f.path.clone()
            } else {
                format!("{}: {}", f.place, f.path)
            };
        }
    }
}

fn none_found() -> String {
    format!("no webhook-guard configuration: no Wasm filter named {FILTER_NAME} (an Envoy bootstrap, an Istio EnvoyFilter) and no filter configuration (a JSON or YAML object with \"endpoints\")")
}

/// A YAML error's message and place, without any text it quotes from the file.
fn yaml_error(e: &serde_yaml_ng::Error) -> String {
    let text = scrub_quotes(&e.to_string());
    format!("not valid YAML: {text}")
}

/// Drops every quoted stretch (`"..."`, `'...'`, `` `...` ``) of a message: a library's
/// error may quote the file, and the file holds secrets.
pub fn scrub_quotes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '"' || c == '`' || (c == '\'' && !out.ends_with(|p: char| p.is_alphanumeric())) {
            out.push_str("(not shown)");
            let mut escaped = false;
            for d in chars.by_ref() {
                if escaped {
                    escaped = false;
                } else if d == '\\' {
                    escaped = true;
                } else if d == c {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// `document 2 (EnvoyFilter webhooks/webhook-guard)`, or `document 2`.
fn document_name(doc: &Value, n: usize) -> String {
    let kind = doc.get("kind").and_then(Value::as_str).filter(|k| shown(k));
    let meta = doc.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .filter(|k| shown(k));
    let ns = meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
        .filter(|k| shown(k));
    match (kind, name) {
        (Some(k), Some(name)) => match ns {
            Some(ns) => format!("document {} ({k} {ns}/{name})", n + 1),
            None => format!("document {} ({k} {name})", n + 1),
        },
        _ => format!("document {}", n + 1),
    }
}

/// Whether a key or a name may be shown in a place: a resource or field name, not a token.
fn shown(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./@|:".contains(&b))
}

fn looks_like_envoy(v: &Value) -> bool {
    [
        "static_resources",
        "dynamic_resources",
        "admin",
        "apiVersion",
        "kind",
    ]
    .iter()
    .any(|k| v.get(k).is_some())
}

/// A filter configuration: an object with the top-level `endpoints` (or, not an Envoy or
/// Kubernetes document, any of the filter's top-level fields).
fn is_filter_config(v: &Value) -> bool {
    let Value::Object(map) = v else { return false };
    map.contains_key("endpoints")
        || (!looks_like_envoy(v)
            && ["idempotency", "max_body_bytes", "log_level"]
                .iter()
                .any(|k| map.contains_key(*k)))
}

/// Finds every Wasm filter configuration named webhook_guard under `v`; `path` is where `v`
/// is (`static_resources.listeners[0]...`), `doc` the document's name.
fn walk(
    v: &Value,
    doc: &str,
    numbers: Numbers,
    path: &mut String,
    found: &mut Vec<Found>,
) -> Result<(), String> {
    match v {
        Value::Object(map) => {
            if map.get("@type").and_then(Value::as_str) == Some(WASM_TYPE) {
                if let Some(config) = map.get("config") {
                    if is_ours(config) {
                        let mut f = extract(config, doc, numbers)?;
                        f.path = path.clone();
                        found.push(f);
                        return Ok(());
                    }
                }
            }
            for (k, child) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(if shown(k) { k } else { "(key)" });
                walk(child, doc, numbers, path, found)?;
                path.truncate(len);
            }
        }
        Value::Array(list) => {
            for (i, child) in list.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(child, doc, numbers, path, found)?;
                path.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

/// How the file's numbers reach a Struct configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Numbers {
    /// As written (JSON, and Kubernetes objects, which istiod converts as JSON).
    AsWritten,
    /// As Envoy (1.40) reads its own YAML into a Struct: a number only for a 32-bit whole
    /// number, the text of any other (`1.5`, `918273645501928374`): so an unquoted
    /// all-digit secret is accepted or refused here as Envoy would (tests/check.rs).
    EnvoyYaml,
}

fn envoy_yaml_numbers(v: &mut Value) {
    match v {
        Value::Number(n) if n.as_i64().and_then(|i| i32::try_from(i).ok()).is_none() => {
            *v = Value::String(n.to_string());
        }
        Value::Array(list) => list.iter_mut().for_each(envoy_yaml_numbers),
        Value::Object(map) => map.values_mut().for_each(envoy_yaml_numbers),
        _ => {}
    }
}

fn looks_like_kubernetes(v: &Value) -> bool {
    v.get("apiVersion").is_some() && v.get("kind").is_some()
}

fn is_ours(config: &Value) -> bool {
    ["name", "root_id"]
        .iter()
        .any(|k| config.get(k).and_then(Value::as_str) == Some(FILTER_NAME))
}

/// The configuration bytes and the VM environment of one Wasm filter's `config`.
fn extract(config: &Value, place: &str, numbers: Numbers) -> Result<Found, String> {
    let place = place.to_string();
    let bytes = match config.get("configuration") {
        None => Vec::new(),
        Some(any) => {
            let kind = any.get("@type").and_then(Value::as_str).unwrap_or("");
            match (kind, any.get("value")) {
                ("type.googleapis.com/google.protobuf.StringValue", Some(Value::String(s))) => {
                    s.as_bytes().to_vec()
                }
                ("type.googleapis.com/google.protobuf.StringValue", None) => Vec::new(),
                // Envoy hands a Struct to the plugin as the serialized message (numbers as
                // doubles), not as JSON: given here the same way.
                ("type.googleapis.com/google.protobuf.Struct", Some(Value::Object(map))) => {
                    let mut map = map.clone();
                    if numbers == Numbers::EnvoyYaml {
                        map.values_mut().for_each(envoy_yaml_numbers);
                    }
                    webhook_guard::payload::protobuf::json_to_struct(&map)
                }
                ("type.googleapis.com/google.protobuf.Struct", None) => Vec::new(),
                ("type.googleapis.com/google.protobuf.Struct", Some(_)) => {
                    return Err(format!(
                        "{place}: configuration: a google.protobuf.Struct's value must be a mapping (the configuration written as YAML)"
                    ))
                }
                _ => {
                    return Err(format!(
                        "{place}: configuration: must be a google.protobuf.Struct holding the configuration as YAML, or a google.protobuf.StringValue holding it as JSON text"
                    ))
                }
            }
        }
    };
    let env = config
        .get("vm_config")
        .and_then(|vm| vm.get("environment_variables"));
    let mut vm_env = VmEnv::default();
    if let Some(env) = env {
        if let Some(Value::Array(keys)) = env.get("host_env_keys") {
            vm_env.host_keys = keys
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
        }
        if let Some(Value::Object(values)) = env.get("key_values") {
            for (k, v) in values {
                if let Some(v) = v.as_str() {
                    vm_env.values.insert(k.clone(), v.to_string());
                }
            }
        }
    }
    Ok(Found {
        place,
        bytes,
        vm_env: Some(vm_env),
        path: String::new(),
    })
}

/// Marks a variable the VM would be given, to be replaced by a stand-in.
const PLACEHOLDER: &str = "\0stand-in";

/// Stand-ins for a secret, one per kind of key an endpoint may want: a text that is also
/// base64 of 31 bytes (shared secrets, UTF-8 or base64), a Standard Webhooks `whsec_`, an
/// Ed25519 and a P-256 public key. None is a real secret, and none is printed.
pub fn placeholders() -> Vec<String> {
    const TEXT: &str = "d2ViaG9vay1ndWFyZCBjaGVjayBwbGFjZWhvbGRlcg==";
    let mut list = vec![TEXT.to_string(), format!("whsec_{TEXT}")];
    for (name, private) in [("discord", "01".repeat(32)), ("sendgrid", "05".repeat(32))] {
        let public = preset(name).and_then(|scheme| {
            SigningKey::from_text(&scheme, &private, true)
                .ok()
                .and_then(|k| k.public_key_text(&scheme))
        });
        if let Some(p) = public {
            list.push(p);
        }
    }
    list
}

/// Parses one configuration as the filter would, with the VM environment `found` describes
/// (or, for a bare configuration, any variable), its secrets from `secrets`.
pub fn parse(found: &Found, secrets: Secrets) -> Result<Config, String> {
    let lookup = |var: &str| -> Option<String> {
        let in_vm = match &found.vm_env {
            None => true,
            Some(vm) => {
                if let Some(v) = vm.values.get(var) {
                    return Some(v.clone());
                }
                vm.host_keys.iter().any(|k| k == var)
            }
        };
        match (in_vm, secrets) {
            (false, _) => None,
            (true, Secrets::Environment) => std::env::var(var).ok(),
            (true, Secrets::Placeholders) => Some(PLACEHOLDER.to_string()),
        }
    };
    if secrets == Secrets::Environment {
        return Config::parse(&found.bytes, &|v| lookup(v)).map_err(|e| e.to_string());
    }
    // Placeholders: each variable starts with the first kind of stand-in; when the parser
    // says the key is not of the kind the endpoint wants, that variable moves to the next.
    let stand_ins = placeholders();
    let slots = env_slots(&found.bytes);
    let mut choice: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..=(slots.len() * stand_ins.len()) {
        let result = Config::parse(&found.bytes, &|var| {
            lookup(var).map(|set| {
                if set == PLACEHOLDER {
                    stand_ins[choice.get(var).copied().unwrap_or(0)].clone()
                } else {
                    set
                }
            })
        });
        let e = match result {
            Ok(config) => return Ok(config),
            Err(e) => e,
        };
        let retry = slots
            .iter()
            .filter(|_| e.reason.starts_with("the key "))
            .find(|(field, _)| e.field == *field || e.field.starts_with(&format!("{field} ")))
            .filter(|(_, var)| {
                !found
                    .vm_env
                    .as_ref()
                    .is_some_and(|vm| vm.values.contains_key(var))
            })
            .map(|(_, var)| var.clone());
        match retry {
            Some(var) if choice.get(&var).copied().unwrap_or(0) + 1 < stand_ins.len() => {
                *choice.entry(var).or_insert(0) += 1;
            }
            _ => return Err(e.to_string()),
        }
    }
    Err("configuration: too many secret kinds to try".into())
}

/// `(endpoints[i] (name).secrets[j], VAR)` for every secret read from `env`.
fn env_slots(bytes: &[u8]) -> Vec<(String, String)> {
    let Ok(root) = serde_json::from_slice::<Value>(bytes) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let Some(Value::Array(endpoints)) = root.get("endpoints") else {
        return out;
    };
    for (i, ep) in endpoints.iter().enumerate() {
        let name = ep.get("name").and_then(Value::as_str).unwrap_or("");
        let Some(Value::Array(secrets)) = ep.get("secrets") else {
            continue;
        };
        for (j, s) in secrets.iter().enumerate() {
            if let Some(var) = s.get("env").and_then(Value::as_str) {
                out.push((
                    format!("endpoints[{i}] ({name}).secrets[{j}]"),
                    var.to_string(),
                ));
            }
        }
    }
    out
}

/// Every configuration in the file at `path`, checked: the lines to print, and whether all
/// were valid.
pub fn check_file(path: &Path, secrets: Secrets) -> (Vec<String>, bool) {
    let name = path.display().to_string();
    match read(path) {
        Ok(text) => check_text(&name, &text, secrets),
        Err(e) => (vec![format!("{name}: {e}")], false),
    }
}

/// [`check_file`] of a text already read, shown as `name`.
pub fn check_text(name: &str, text: &str, secrets: Secrets) -> (Vec<String>, bool) {
    let name = name.to_string();
    let found = match find(text) {
        Ok(f) => f,
        Err(e) => return (vec![format!("{name}: {e}")], false),
    };
    let mut lines = Vec::new();
    let mut ok = true;
    for f in &found {
        let at = if f.place.is_empty() {
            name.clone()
        } else {
            format!("{name}: {}", f.place)
        };
        match parse(f, secrets) {
            Ok(config) => {
                let names: Vec<&str> = config.endpoints.iter().map(|e| e.name.as_str()).collect();
                lines.push(format!("{at}: ok (endpoints {})", names.join(", ")));
            }
            Err(e) => {
                ok = false;
                lines.push(format!("{at}: {e}"));
            }
        }
    }
    (lines, ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_scrubbed() {
        assert_eq!(
            scrub_quotes(r#"duplicate entry with key "s3cr\"et" at line 2"#),
            "duplicate entry with key (not shown) at line 2"
        );
        assert_eq!(scrub_quotes("it's 'x' here"), "it's (not shown) here");
    }

    #[test]
    fn every_placeholder_kind_is_made() {
        assert_eq!(placeholders().len(), 4);
    }
}
