//! Every `webhook-guard send` command of a code block in docs/ (and the README's) runs
//! against a real Envoy with the built filter and the cache: one Envoy serving the endpoint
//! of each page that has a command (the page's own ```json configuration, as written but for its `source_ips`,
//! since the test sends from 127.0.0.1), each secret a stand-in of the kind the preset wants
//! (a private key for the commands of the public-key presets, its public key for the
//! filter). Each command, run as written but for the port of `--url`, must be answered 200
//! and reach the receiver as that page's endpoint.
//!
//! The configuration blocks themselves are checked by tools/tests/docs.rs, the links by
//! `make test-docs`. Run alone: `cargo test --test e2e -- docs::`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use crate::common::*;
use serde_json::Value;
use webhook_guard::scheme::presets::preset;
use webhook_guard::sign::SigningKey;

/// A shared secret that is valid text and valid base64 (31 bytes) alike.
const SHARED: &str = "d2ViaG9vay1ndWFyZCBkb2NzIHBsYWNlaG9sZGVyISE=";
/// Private keys for the public-key presets (an Ed25519 seed, a P-256 scalar; hex).
const ED25519_PRIVATE: &str = "0101010101010101010101010101010101010101010101010101010101010101";
const P256_PRIVATE: &str = "0505050505050505050505050505050505050505050505050505050505050505";

fn docs_pages() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![repo_root().join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("docs") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The fenced blocks of a page, as (info string, text).
fn fenced(page: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = page.lines();
    while let Some(line) = lines.next() {
        if let Some(info) = line.trim_start().strip_prefix("```") {
            let body: Vec<&str> = lines
                .by_ref()
                .take_while(|l| !l.trim_start().starts_with("```"))
                .collect();
            out.push((info.trim().to_string(), body.join("\n")));
        }
    }
    out
}

/// The fenced blocks of a page with the given info string, as text.
fn blocks(page: &str, info: &str) -> Vec<String> {
    fenced(page)
        .into_iter()
        .filter(|(i, _)| i == info)
        .map(|(_, text)| text)
        .collect()
}

/// The `webhook-guard send` commands of a shell block (also spelt with the binary's path,
/// `target/release/webhook-guard send`, as the README does), continuation lines joined.
fn send_commands(sh: &str) -> Vec<String> {
    let joined = sh.replace("\\\n", " ");
    joined
        .lines()
        .map(str::trim)
        .map(|l| l.strip_prefix("target/release/").unwrap_or(l))
        .filter(|l| l.starts_with("webhook-guard send "))
        .map(str::to_string)
        .collect()
}

/// Splits a command line as a POSIX shell would for the plain words these commands use:
/// whitespace, single and double quotes. Anything a shell would expand makes it `None`.
fn words(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '$' | '`' | '|' | ';' | '&' | '<' | '>' | '(' | ')' | '*' | '\\') => {
                return None
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return None;
    }
    if in_word {
        out.push(word);
    }
    Some(out)
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn bin() -> PathBuf {
    std::env::var_os("WEBHOOK_GUARD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/debug/webhook-guard"))
}

struct Example {
    page: String,
    endpoint: String,
    args: Vec<String>,
}

/// The key text for `var`, and (public-key presets) the private key its commands sign with.
fn key_for(preset_name: &str) -> (String, Option<&'static str>) {
    let private = match preset_name {
        "discord" => ED25519_PRIVATE,
        "sendgrid" => P256_PRIVATE,
        "standard-webhooks" => return (format!("whsec_{SHARED}"), None),
        _ => return (SHARED.to_string(), None),
    };
    let scheme = preset(preset_name).expect("preset");
    let public = SigningKey::from_text(&scheme, private, true)
        .expect("private key")
        .public_key_text(&scheme)
        .expect("public key");
    (public, Some(private))
}

#[test]
fn the_docs_send_examples_are_answered_200_by_the_endpoints_they_document() {
    // Gathered before the prerequisites are looked at: the extraction itself is checked on
    // any machine.
    let mut endpoints: Vec<Value> = Vec::new();
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    let mut examples = Vec::new();
    let mut skipped = Vec::new();
    for path in docs_pages() {
        let page = std::fs::read_to_string(&path).expect("page");
        let name = path
            .strip_prefix(repo_root())
            .unwrap_or(&path)
            .display()
            .to_string();
        // Every code block but the configurations: a command in a ```bash or ```console
        // block is run as well as one in ```sh.
        let commands: Vec<String> = fenced(&page)
            .iter()
            .filter(|(info, _)| info != "json")
            .flat_map(|(_, b)| send_commands(b))
            .collect();
        if commands.is_empty() {
            continue;
        }
        let configs = blocks(&page, "json");
        assert_eq!(
            configs.len(),
            1,
            "{name}: a page with send commands shows the one configuration they are sent to"
        );
        let config: Value = serde_json::from_str(&configs[0]).expect("json");
        let page_endpoints = config["endpoints"].as_array().expect("endpoints").clone();
        for command in commands {
            let Some(args) = words(&command) else {
                skipped.push(format!("{name}: {command} (shell expansion)"));
                continue;
            };
            let url = flag(&args, "--url").expect("--url");
            let path = url
                .strip_prefix("http://127.0.0.1:10000")
                .unwrap_or_else(|| panic!("{name}: {url}: the demo listener"));
            let endpoint = page_endpoints
                .iter()
                .filter(|e| path.starts_with(e["path_prefix"].as_str().unwrap_or("\0")))
                .max_by_key(|e| e["path_prefix"].as_str().map_or(0, str::len))
                .unwrap_or_else(|| panic!("{name}: no endpoint of the page serves {path}"));
            examples.push(Example {
                page: name.clone(),
                endpoint: endpoint["name"].as_str().expect("name").to_string(),
                args: args[1..].to_vec(),
            });
        }
        for mut endpoint in page_endpoints {
            let preset_name = endpoint["preset"].as_str().expect("preset").to_string();
            let (key, private) = key_for(&preset_name);
            for secret in endpoint["secrets"].as_array().expect("secrets") {
                if let Some(var) = secret["env"].as_str() {
                    env.insert(var.to_string(), key.clone());
                }
            }
            // The commands' private key variables.
            if let Some(private) = private {
                for example in examples.iter().filter(|e| e.page == name) {
                    if let Some(var) = flag(&example.args, "--private-key-env") {
                        env.insert(var.to_string(), private.to_string());
                    }
                }
            }
            if let Some(obj) = endpoint.as_object_mut() {
                obj.remove("source_ips");
            }
            endpoints.push(endpoint);
        }
    }
    // The README's command signs a file of the reader's (`--body my-message.json`): sent to
    // the endpoint a docs page configures for its path, with a Genesys message written there.
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README");
    for command in fenced(&readme)
        .iter()
        .filter(|(info, _)| info != "json")
        .flat_map(|(_, b)| send_commands(b))
    {
        let args = words(&command).unwrap_or_else(|| panic!("README: {command}"));
        let url = flag(&args, "--url").expect("--url");
        let path = url
            .strip_prefix("http://127.0.0.1:10000")
            .expect("README: --url");
        let endpoint = endpoints
            .iter()
            .filter(|e| path.starts_with(e["path_prefix"].as_str().unwrap_or("\0")))
            .max_by_key(|e| e["path_prefix"].as_str().map_or(0, str::len))
            .unwrap_or_else(|| panic!("README: no docs page configures {path}"));
        examples.push(Example {
            page: "README.md".into(),
            endpoint: endpoint["name"].as_str().expect("name").to_string(),
            args: args[1..].to_vec(),
        });
    }
    assert!(
        examples.len() >= 28,
        "only {} send examples found",
        examples.len()
    );
    if !e2e_ready() {
        return;
    }
    assert!(
        bin().exists(),
        "no webhook-guard at {} (cargo build -p webhook-guard-tools)",
        bin().display()
    );
    let cache = Cache::start(0, &[]);
    let upstream = Upstream::start();
    let config = serde_json::json!({
        "idempotency": { "cluster": "webhook_guard_cache", "authority": "webhook-guard-cache" },
        "endpoints": endpoints,
    })
    .to_string();
    let mut opts = EnvoyOptions::new(&config, upstream.port);
    opts.cache_port = Some(cache.port);
    opts.host_env = env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let envoy = Envoy::start(&opts);
    // The commands run here, where the files their `--body` names are written.
    let cwd = scratch_dir("docs-send");
    for example in &examples {
        if let Some(file) = flag(&example.args, "--body") {
            assert_eq!(
                flag(&example.args, "--preset"),
                Some("genesys-open-messaging"),
                "{}: a --body example needs a sample written here",
                example.page
            );
            let message = format!(
                r#"{{"id":"docs-{}","channel":{{"time":"{}"}},"type":"Text","text":"Hi"}}"#,
                std::process::id(),
                rfc3339(now_unix())
            );
            std::fs::write(cwd.join(file), message).expect("write the body");
        }
    }
    let mut failures = Vec::new();
    for example in &examples {
        let before = upstream.requests().len();
        let args: Vec<String> = example
            .args
            .iter()
            .map(|a| a.replace("127.0.0.1:10000", &format!("127.0.0.1:{}", envoy.port)))
            .collect();
        let out = Command::new(bin())
            .current_dir(&cwd)
            .args(&args)
            .env_clear()
            .envs(&env)
            .output()
            .expect("run webhook-guard");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let requests = upstream.requests();
        let reached = (requests.len() == before + 1)
            .then(|| {
                requests
                    .last()
                    .and_then(|r| r.header("x-webhook-guard-endpoint"))
            })
            .flatten();
        if !out.status.success()
            || !stdout.contains("answer: 200 ")
            || reached.as_deref() != Some(example.endpoint.as_str())
        {
            failures.push(format!(
                "{}: webhook-guard {}\n{stdout}{}\nreached the receiver as {reached:?}",
                example.page,
                example.args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    eprintln!(
        "docs: {} send examples run, {} skipped: {skipped:?}",
        examples.len(),
        skipped.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(skipped.is_empty(), "{skipped:?}");
    drop(envoy);
}

#[test]
fn the_command_reader_takes_words_and_refuses_expansions() {
    let page = "a\n```json\n{}\n```\n  ```console\n  webhook-guard send --url u\n  ```\n";
    let found: Vec<(String, String)> = fenced(page);
    assert_eq!(found.len(), 2);
    assert_eq!(found[1].0, "console");
    assert_eq!(send_commands(&found[1].1).len(), 1);
    assert_eq!(blocks(page, "json"), ["{}"]);
    let sh = "set -a; . .run/demo.env; set +a\nwebhook-guard send --url http://x/a --preset github \\\n  --secret-env GITHUB_WEBHOOK_SECRET\n";
    let commands = send_commands(sh);
    assert_eq!(commands.len(), 1);
    assert_eq!(
        words(&commands[0]).unwrap(),
        [
            "webhook-guard",
            "send",
            "--url",
            "http://x/a",
            "--preset",
            "github",
            "--secret-env",
            "GITHUB_WEBHOOK_SECRET"
        ]
    );
    assert_eq!(words("a 'b c' \"d\"").unwrap(), ["a", "b c", "d"]);
    assert!(words("webhook-guard send --id $(date)").is_none());
    assert!(words("a 'b").is_none());
}
