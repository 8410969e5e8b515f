//! `webhook-guard schema` and schema/config.schema.json: the checked-in file is what the
//! types generate today; it accepts every shipped configuration, and refuses each broken
//! one `check` refuses that a schema can describe (an unknown field, a wrong type, a missing
//! required field, a bad name), case by case against `check`'s own verdict.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use webhook_guard_tools::check::{self, Secrets};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

const FILE: &str = "schema/config.schema.json";

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo().join(FILE)).expect(FILE);
    let schema: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    jsonschema::draft202012::new(&schema).expect("a valid draft 2020-12 schema")
}

#[test]
fn the_checked_in_schema_is_current() {
    let file = std::fs::read_to_string(repo().join(FILE)).expect(FILE);
    assert!(
        file == webhook_guard_tools::schema(),
        "{FILE} is stale: cargo run -q -p webhook-guard-tools -- schema > {FILE}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_webhook-guard"))
        .arg("schema")
        .output()
        .expect("run");
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), file);
}

/// The JSON configuration `check` found (JSON text, or a serialized Struct).
fn as_json(found: &check::Found) -> Value {
    serde_json::from_slice(&found.bytes).unwrap_or_else(|_| {
        webhook_guard::payload::protobuf::struct_to_json(&found.bytes).expect("a Struct")
    })
}

/// Every configuration in `text`: `check`'s verdict (placeholders for secrets), and the
/// schema's errors.
fn both(validator: &jsonschema::Validator, name: &str, text: &str) -> Vec<(bool, Vec<String>)> {
    let found = check::find(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    found
        .iter()
        .map(|f| {
            let ok = check::parse(f, Secrets::Placeholders).is_ok();
            let errors = validator
                .iter_errors(&as_json(f))
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            (ok, errors)
        })
        .collect()
}

fn shipped() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for name in ["envoy.yaml", "envoy.docker.yaml", "envoy-behind-lb.yaml"] {
        let path = repo().join("envoy").join(name);
        files.push((name.to_string(), std::fs::read_to_string(path).unwrap()));
    }
    for variant in ["sidecar", "gateway"] {
        let path = format!("envoy/istio/overlays/{variant}/envoyfilter.yaml");
        files.push((
            path.clone(),
            std::fs::read_to_string(repo().join(&path)).unwrap(),
        ));
    }
    // The policy's `config` is the configuration itself (Envoy Gateway passes it as JSON).
    let policy =
        std::fs::read_to_string(repo().join("envoy/gateway/envoyextensionpolicy.yaml")).unwrap();
    let policy: Value = serde_yaml_ng::from_str(&policy).unwrap();
    let config = &policy["spec"]["wasm"][0]["config"];
    assert!(config.is_object(), "the policy's config");
    files.push(("envoyextensionpolicy.yaml".into(), config.to_string()));
    let kubectl = std::env::var_os("KUBECTL").map(PathBuf::from).or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|d| d.join("kubectl"))
            .find(|p| p.exists())
    });
    match kubectl {
        Some(kubectl) => {
            for overlay in ["sidecar", "gateway", "demo"] {
                let out = Command::new(&kubectl)
                    .arg("kustomize")
                    .arg(repo().join("envoy/istio/overlays").join(overlay))
                    .output()
                    .expect("kubectl kustomize");
                assert!(out.status.success(), "{overlay}");
                files.push((
                    format!("overlay {overlay}"),
                    String::from_utf8(out.stdout).unwrap(),
                ));
            }
        }
        None => assert!(
            std::env::var("WEBHOOK_GUARD_E2E").map_or(true, |v| v != "required"),
            "no kubectl (make kubectl)"
        ),
    }
    let docs = repo().join("docs/presets");
    let mut pages: Vec<_> = std::fs::read_dir(&docs).unwrap().flatten().collect();
    pages.sort_by_key(|e| e.path());
    for page in pages {
        let text = std::fs::read_to_string(page.path()).unwrap();
        for (i, block) in text.split("```json\n").skip(1).enumerate() {
            let block = block.split("```").next().unwrap();
            let name = format!("{} block {}", page.path().display(), i + 1);
            files.push((name, block.to_string()));
        }
    }
    files
}

#[test]
fn the_schema_accepts_every_shipped_configuration() {
    let validator = validator();
    let mut count = 0;
    for (name, text) in shipped() {
        // A block that is no filter configuration (a payload, a whole bootstrap) is skipped
        // only if `check` finds none in it.
        if name.contains("block") && check::find(&text).is_err() {
            continue;
        }
        for (ok, errors) in both(&validator, &name, &text) {
            count += 1;
            assert!(ok, "{name}: check refuses it");
            assert!(errors.is_empty(), "{name}: {errors:?}");
        }
    }
    assert!(count >= 20, "only {count} configurations");
}

/// Broken configurations a schema can describe: `check` and the schema both refuse each.
#[test]
fn the_schema_refuses_what_check_refuses() {
    let validator = validator();
    let endpoint = json!({
        "name": "gh", "path_prefix": "/gh", "preset": "github",
        "secrets": [{ "id": "current", "value": "a-demo-secret-0123456789" }]
    });
    let good = json!({
        "idempotency": { "cluster": "c" },
        "endpoints": [endpoint]
    });
    let with = |path: &[&str], value: Option<Value>| {
        let mut v = good.clone();
        let (last, parents) = path.split_last().unwrap();
        let mut at = &mut v;
        for p in parents {
            at = match p.parse::<usize>() {
                Ok(i) => &mut at[i],
                Err(_) => &mut at[*p],
            };
        }
        match value {
            Some(x) => match last.parse::<usize>() {
                Ok(i) => at[i] = x,
                Err(_) => at[*last] = x,
            },
            None => {
                at.as_object_mut().unwrap().remove(*last);
            }
        }
        v
    };
    let e = ["endpoints", "0"];
    let ep = |field: &'static str| [&e[..], &[field]].concat();
    let s = ["endpoints", "0", "secrets", "0"];
    let sf = |field: &'static str| [&s[..], &[field]].concat();
    let cases: Vec<(&str, Value)> = vec![
        // Unknown fields, at every level.
        ("top-level unknown", with(&["$schema"], Some(json!("x")))),
        (
            "endpoint unknown",
            with(&ep("presets"), Some(json!("github"))),
        ),
        (
            "idempotency unknown",
            with(&["idempotency", "clusters"], Some(json!("c"))),
        ),
        ("secret unknown", with(&sf("secret"), Some(json!("x")))),
        // Wrong types.
        (
            "max_body_bytes text",
            with(&["max_body_bytes"], Some(json!("1024"))),
        ),
        ("endpoints object", with(&["endpoints"], Some(json!({})))),
        ("name number", with(&ep("name"), Some(json!(1)))),
        (
            "secrets object",
            with(&ep("secrets"), Some(json!({ "id": "a" }))),
        ),
        ("secret id number", with(&sf("id"), Some(json!(7)))),
        (
            "secret optional text",
            with(&sf("optional"), Some(json!("yes"))),
        ),
        (
            "source_ips text",
            with(&ep("source_ips"), Some(json!("10.0.0.0/8"))),
        ),
        (
            "max_age_seconds negative",
            with(&ep("max_age_seconds"), Some(json!(-1))),
        ),
        (
            "idempotency_key number",
            with(&ep("idempotency_key"), Some(json!(1))),
        ),
        ("methods text", with(&ep("methods"), Some(json!("POST")))),
        (
            "timeout_ms text",
            with(&["idempotency", "timeout_ms"], Some(json!("250"))),
        ),
        (
            "payload_schema list",
            with(&ep("payload_schema"), Some(json!([]))),
        ),
        (
            "signature_header number",
            with(&ep("signature_header"), Some(json!(1))),
        ),
        // Missing required fields.
        ("no endpoints", with(&["endpoints"], None)),
        ("empty endpoints", with(&["endpoints"], Some(json!([])))),
        ("no name", with(&ep("name"), None)),
        ("no path_prefix", with(&ep("path_prefix"), None)),
        ("no preset", with(&ep("preset"), None)),
        ("no secrets", with(&ep("secrets"), None)),
        ("no secret id", with(&sf("id"), None)),
        ("no cluster", with(&["idempotency", "cluster"], None)),
        ("no secret at all", with(&ep("secrets"), Some(json!([])))),
        // Bad names and ranges.
        ("bad preset", with(&ep("preset"), Some(json!("githb")))),
        ("bad mode", with(&ep("mode"), Some(json!("audit")))),
        (
            "bad log_level",
            with(&["log_level"], Some(json!("verbose"))),
        ),
        (
            "bad on_unavailable",
            with(&["idempotency", "on_unavailable"], Some(json!("maybe"))),
        ),
        (
            "bad algorithm",
            with(&ep("algorithm"), Some(json!("hmac-md5"))),
        ),
        ("bad encoding", with(&ep("encoding"), Some(json!("base32")))),
        (
            "bad timestamp_format",
            with(&ep("timestamp_format"), Some(json!("iso"))),
        ),
        (
            "bad secret_encoding",
            with(&ep("secret_encoding"), Some(json!("hex"))),
        ),
        ("bad method", with(&ep("methods"), Some(json!(["post"])))),
        (
            "max_body_bytes 0",
            with(&["max_body_bytes"], Some(json!(0))),
        ),
        (
            "max_body_bytes huge",
            with(&["max_body_bytes"], Some(json!(67108865))),
        ),
        (
            "timeout_ms short",
            with(&["idempotency", "timeout_ms"], Some(json!(10))),
        ),
        ("bad secret id", with(&sf("id"), Some(json!("a b")))),
    ];
    // The unchanged configuration passes both.
    assert_eq!(
        both(&validator, "good", &good.to_string()),
        [(true, Vec::new())]
    );
    for (what, config) in cases {
        let text = config.to_string();
        let verdicts = both(&validator, what, &text);
        assert_eq!(verdicts.len(), 1, "{what}");
        let (ok, errors) = &verdicts[0];
        assert!(!ok, "{what}: check accepts it");
        assert!(!errors.is_empty(), "{what}: the schema accepts it");
    }
}

/// docs/configuration-reference.md: every field of the configuration, generated from the
/// checked-in schema (which the types generate: `the_checked_in_schema_is_current`), so the
/// reference cannot drift from the code. `UPDATE_DOCS=1` rewrites it.
#[test]
fn the_configuration_reference_is_generated_from_the_schema() {
    const DOC: &str = "docs/configuration-reference.md";
    let text = std::fs::read_to_string(repo().join(FILE)).expect(FILE);
    let schema: Value = serde_json::from_str(&text).expect("JSON");
    let generated = reference(&schema);
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(repo().join(DOC), &generated).expect("write the reference");
    }
    let file = std::fs::read_to_string(repo().join(DOC)).unwrap_or_default();
    assert!(
        file == generated,
        "{DOC} is stale: UPDATE_DOCS=1 cargo test -p webhook-guard-tools --test schema reference"
    );
}

/// The schema's object at `v`, following one `$ref` and the `anyOf [X, null]` that optional
/// fields have.
fn resolve<'a>(schema: &'a Value, v: &'a Value) -> &'a Value {
    if let Some(r) = v["$ref"].as_str() {
        let name = r.trim_start_matches("#/$defs/");
        return &schema["$defs"][name];
    }
    if let Some(any) = v["anyOf"].as_array() {
        if let Some(first) = any.iter().find(|a| a["type"] != "null") {
            return resolve(schema, first);
        }
    }
    v
}

/// A field's type as a reader wants it: `string`, `integer`, `list of string`, `"a" or "b"`.
fn type_of(schema: &Value, v: &Value) -> String {
    if let Some(values) = v["enum"].as_array() {
        let named: Vec<String> = values
            .iter()
            .filter(|x| !x.is_null())
            .map(|x| format!("`{x}`"))
            .collect();
        return named.join(", ");
    }
    let r = resolve(schema, v);
    if !std::ptr::eq(r, v) {
        if r["type"] == "object" {
            return "object".into();
        }
        if let Some(any) = r["anyOf"].as_array().or(r["oneOf"].as_array()) {
            let kinds: Vec<String> = any.iter().map(|a| type_of(schema, a)).collect();
            return kinds.join(" or ");
        }
        return type_of(schema, r);
    }
    let kinds: Vec<String> = match &v["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .map(str::to_string)
            .collect(),
        _ => {
            if let Some(any) = v["anyOf"].as_array().or(v["oneOf"].as_array()) {
                let kinds: Vec<String> = any
                    .iter()
                    .filter(|a| a["type"] != "null")
                    .map(|a| type_of(schema, a))
                    .collect();
                return kinds.join(" or ");
            }
            vec!["any".into()]
        }
    };
    kinds
        .into_iter()
        .map(|k| {
            if k == "array" {
                format!("list of {}", type_of(schema, &v["items"]))
            } else {
                k
            }
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// What the schema bounds: range, length, pattern, items.
fn constraints(v: &Value) -> String {
    let mut out = Vec::new();
    for (key, what) in [
        ("minimum", "at least"),
        ("maximum", "at most"),
        ("minItems", "at least"),
        ("maxItems", "at most"),
        ("minLength", "at least"),
        ("maxLength", "at most"),
    ] {
        if let Some(n) = v[key].as_u64() {
            let unit = if key.ends_with("Items") {
                " items"
            } else if key.ends_with("Length") {
                " characters"
            } else {
                ""
            };
            out.push(format!("{what} {n}{unit}"));
        }
    }
    if let Some(p) = v["pattern"].as_str() {
        out.push(format!("`{p}`"));
    }
    out.join(", ")
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn table(schema: &Value, object: &Value) -> String {
    let mut out = String::from(
        "| field | type | default | bounds | required | what it is |\n|---|---|---|---|---|---|\n",
    );
    let required: Vec<&str> = object["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(props) = object["properties"].as_object() {
        for (name, v) in props {
            let default = match &v["default"] {
                Value::Null => String::new(),
                d => format!("`{d}`"),
            };
            let described = v["description"]
                .as_str()
                .or(resolve(schema, v)["description"].as_str())
                .unwrap_or_default();
            out.push_str(&format!(
                "| `{name}` | {} | {} | {} | {} | {} |\n",
                cell(&type_of(schema, v)),
                cell(&default),
                cell(&constraints(v)),
                if required.contains(&name.as_str()) {
                    "yes"
                } else {
                    ""
                },
                cell(described)
            ));
        }
    }
    out
}

fn reference(schema: &Value) -> String {
    let mut out = String::from(
        "# Configuration reference\n\n\
         <!-- Generated from schema/config.schema.json by tools/tests/schema.rs: do not edit. -->\n\n\
         Every field of the filter's configuration, generated from its JSON Schema\n\
         ([`schema/config.schema.json`](../schema/config.schema.json), which `webhook-guard schema`\n\
         prints and the configuration's Rust types generate), so it always says what the code\n\
         reads. What each field means in practice, with examples: [configuration.md](configuration.md).\n\
         The filter checks more than a schema can say (exactly one of `env`, `value`,\n\
         `public_key`; templates; CIDRs; path rules): `webhook-guard check` runs the filter's own\n\
         parser.\n\n## Top level\n\n",
    );
    out.push_str(&table(schema, schema));
    let idem = resolve(schema, &schema["properties"]["idempotency"]);
    out.push_str("\n## `idempotency`\n\n");
    out.push_str(&table(schema, idem));
    let endpoint = resolve(schema, &schema["properties"]["endpoints"]["items"]);
    out.push_str("\n## `endpoints[]`\n\n");
    out.push_str(&table(schema, endpoint));
    let secret = resolve(schema, &endpoint["properties"]["secrets"]["items"]);
    out.push_str("\n## `endpoints[].secrets[]`\n\n");
    out.push_str(&table(schema, secret));
    out
}
