//! The documentation's configuration examples, checked as `webhook-guard check -` checks a
//! file: every ```json block of README.md and docs/ is a filter configuration that the
//! filter's own parser accepts, with a stand-in of the right kind for each secret (no
//! `--env`). A block that is deliberately not a whole configuration says so in an HTML
//! comment on the line(s) just above its fence:
//!
//! - `<!-- endpoint-entry: WHY -->`: one entry of `endpoints[]`, checked inside a
//!   configuration that holds only it;
//! - `<!-- fragment: WHY -->`: not a configuration at all (log lines), not checked.
//!
//! The send examples are run by tests/e2e/docs.rs at the workspace root, the links by
//! `make test-docs`.

use std::path::{Path, PathBuf};

use webhook_guard_tools::check::{check_text, Secrets};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// README.md and every Markdown file under docs/, sorted.
fn pages() -> Vec<PathBuf> {
    let mut out = vec![root().join("README.md")];
    let mut dirs = vec![root().join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
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

#[derive(Debug, PartialEq)]
enum Kind {
    Configuration,
    EndpointEntry,
    Fragment,
}

#[derive(Debug)]
struct Block {
    line: usize,
    kind: Kind,
    text: String,
}

/// The ```json blocks of a page (fences may be indented, as inside a list item), each with
/// the kind its marker comment gives it.
fn json_blocks(page: &str) -> Vec<Block> {
    let lines: Vec<&str> = page.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let fence = lines[i].trim_start();
        if !fence.starts_with("```") {
            i += 1;
            continue;
        }
        let info = fence.trim_start_matches('`').trim();
        let start = i;
        i += 1;
        let mut body = Vec::new();
        while i < lines.len() && !lines[i].trim_start().starts_with("```") {
            body.push(lines[i]);
            i += 1;
        }
        i += 1;
        // `json5`, `jsonc`, `JSON`: a configuration under another name would escape the
        // check; it is `json` (checked, or marked) or it is not JSON.
        assert!(
            info == "json" || !info.to_ascii_lowercase().starts_with("json"),
            "line {}: a ```{info} block: write ```json",
            start + 1
        );
        if info != "json" {
            continue;
        }
        let markers: Vec<&str> = lines[..start]
            .iter()
            .rev()
            .map(|l| l.trim())
            .take_while(|l| l.starts_with("<!--"))
            .collect();
        let marked = |name: &str| {
            markers.iter().any(|m| {
                m.strip_prefix("<!--")
                    .map(str::trim_start)
                    .and_then(|m| m.strip_prefix(name))
                    .and_then(|rest| rest.strip_prefix(':'))
                    // The reason must be given, not just the marker.
                    .is_some_and(|why| why.trim_end_matches("-->").trim().len() >= 8)
            })
        };
        let kind = if marked("fragment") {
            Kind::Fragment
        } else if marked("endpoint-entry") {
            Kind::EndpointEntry
        } else {
            Kind::Configuration
        };
        out.push(Block {
            line: start + 1,
            kind,
            text: body.join("\n"),
        });
    }
    out
}

#[test]
fn every_json_block_in_the_docs_is_a_configuration_the_filter_accepts() {
    let mut checked = 0;
    let mut fragments = 0;
    let mut failures = Vec::new();
    for path in pages() {
        let page = std::fs::read_to_string(&path).expect("page");
        let name = path
            .strip_prefix(root())
            .unwrap_or(&path)
            .display()
            .to_string();
        for block in json_blocks(&page) {
            let text = match block.kind {
                Kind::Fragment => {
                    fragments += 1;
                    continue;
                }
                Kind::EndpointEntry => format!(
                    r#"{{"idempotency":{{"cluster":"webhook_guard_cache"}},"endpoints":[{}]}}"#,
                    block.text
                ),
                Kind::Configuration => block.text.clone(),
            };
            let at = format!("{name}:{}", block.line);
            let (lines, ok) = check_text(&at, &text, Secrets::Placeholders);
            checked += 1;
            if !ok {
                failures.push(lines.join("\n"));
            }
        }
    }
    eprintln!("docs: {checked} configuration blocks checked, {fragments} fragments marked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // README's example, configuration.md's, the custom example and one per preset page.
    assert!(checked >= 31, "only {checked} blocks found");
}

#[test]
fn the_block_reader_sees_markers_and_indented_fences() {
    let page = "x\n\n<!-- fragment: log lines, not a configuration -->\n```json\n{}\n```\n\
                <!-- endpoint-entry: one entry of endpoints[] -->\n```json\n{\"a\":1}\n```\n\
                - item\n\n  ```json\n  {\"b\":2}\n  ```\n<!-- fragment: -->\n```json\n[]\n```\n\
                ```sh\necho\n```\n";
    let blocks = json_blocks(page);
    let kinds: Vec<&Kind> = blocks.iter().map(|b| &b.kind).collect();
    assert_eq!(
        kinds,
        [
            &Kind::Fragment,
            &Kind::EndpointEntry,
            &Kind::Configuration,
            // A marker without its reason marks nothing.
            &Kind::Configuration
        ]
    );
    assert_eq!(blocks[1].text, "{\"a\":1}");
    assert_eq!(blocks[2].text.trim(), "{\"b\":2}");
}

/// A broken block is caught: the check is not vacuous.
#[test]
#[should_panic(expected = "write ```json")]
fn a_json_block_under_another_info_string_is_refused() {
    json_blocks("```jsonc\n{}\n```\n");
}

#[test]
fn a_configuration_the_parser_refuses_fails_the_check() {
    let bad = r#"{"endpoints":[{"name":"x","path_prefix":"/x","preset":"github","secrets":[{"id":"a","env":"A"}],"max_age_seconds":5}]}"#;
    let (_, ok) = check_text("bad", bad, Secrets::Placeholders);
    assert!(!ok);
    let good = r#"{"endpoints":[{"name":"x","path_prefix":"/x","preset":"github","secrets":[{"id":"a","env":"A"}]}]}"#;
    assert!(check_text("good", good, Secrets::Placeholders).1);
    // JSON that is no configuration at all (log lines left unmarked) fails too.
    let log = r#"{"ts":"2026-12-07T04:41:18.901Z","level":"info","event":"listening"}"#;
    assert!(!check_text("log", log, Secrets::Placeholders).1);
}
