//! The layering rules of the map in `lib.rs`, checked on the sources: every `crate::` path
//! a module names (outside comments and tests) is in its own layer or one below, and the
//! modules of the map import each other in no circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The map's rows: (layer, modules), read from the table in `lib.rs`'s doc.
fn map() -> Vec<(usize, Vec<String>)> {
    let lib = include_str!("lib.rs");
    let rows: Vec<Vec<String>> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//! | "))
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(|l| {
            let modules = l.split(" | ").nth(1).unwrap_or_default();
            modules
                .split(", ")
                .map(|m| m.trim_matches('`').to_string())
                .collect()
        })
        .collect();
    rows.into_iter().enumerate().collect()
}

/// The module a source file is (`src/scheme/template.rs` is `scheme::template`).
fn module_of(file: &Path, src: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src/");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// The map's module that `path` (a module path, or an item under one) belongs to: the
/// longest entry it starts with.
fn unit<'a>(path: &str, units: &'a [String]) -> Option<&'a String> {
    units
        .iter()
        .filter(|u| path == u.as_str() || path.starts_with(&format!("{u}::")))
        .max_by_key(|u| u.len())
}

/// Every `crate::a::b` path in `text` outside comments, as `a::b` (items included: `unit`
/// finds their module).
fn crate_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let path: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(path.trim_end_matches(':').to_string());
            rest = after;
        }
    }
    out
}

/// A folder's `mod.rs` that only names its modules (`request`, `payload`, `dedupe`): not a
/// module of the map itself.
fn only_declares(text: &str) -> bool {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .all(|l| l.starts_with("pub mod ") || l.starts_with("mod "))
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if path.is_dir() {
            if name != "tests" {
                sources(&path, out);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" && name != "fake.rs" {
            out.push(path);
        }
    }
}

#[test]
fn imports_point_down_the_layers_and_never_in_a_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let map = map();
    assert_eq!(map.len(), 6, "six layers in lib.rs's map");
    let layer: BTreeMap<String, usize> = map
        .iter()
        .flat_map(|(l, ms)| ms.iter().map(move |m| (m.clone(), *l)))
        .collect();
    let units: Vec<String> = layer.keys().cloned().collect();
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut up = Vec::new();
    let mut edges: BTreeSet<(String, String)> = BTreeSet::new();
    for file in &files {
        let module = module_of(file, &src);
        let text = std::fs::read_to_string(file).expect("read");
        if module == "lib" || module == "tests" || only_declares(&text) {
            continue;
        }
        let from = unit(&module, &units)
            .unwrap_or_else(|| panic!("{module} ({}) is in no layer of the map", file.display()));
        for path in crate_paths(&text) {
            let Some(to) = unit(&path, &units) else {
                panic!(
                    "{}: crate::{path} is in no layer of the map",
                    file.display()
                );
            };
            if layer[to] > layer[from] {
                up.push(format!(
                    "{} ({from}, layer {}) imports crate::{path} (layer {})",
                    file.display(),
                    layer[from],
                    layer[to]
                ));
            }
            if to != from {
                edges.insert((from.clone(), to.clone()));
            }
        }
    }
    assert!(
        up.is_empty(),
        "imports running up a layer:\n{}",
        up.join("\n")
    );
    // A circle: some module reaches itself through the edges.
    for start in &units {
        let mut seen = BTreeSet::new();
        let mut todo = vec![start.clone()];
        while let Some(m) = todo.pop() {
            for (a, b) in edges.iter().filter(|(a, _)| *a == m) {
                assert!(b != start, "an import circle through {start} and {a}");
                if seen.insert(b.clone()) {
                    todo.push(b.clone());
                }
            }
        }
    }
    // Every module the map names exists (a module on no row fails above, when read).
    for (l, modules) in &map {
        for m in modules {
            let file = src.join(m.replace("::", "/"));
            assert!(
                file.with_extension("rs").exists() || file.join("mod.rs").exists(),
                "layer {l} names {m}, which is no module"
            );
        }
    }
}

#[test]
fn the_checker_sees_an_import_that_runs_up() {
    let units: Vec<String> = ["request", "config", "scheme", "scheme::signature"]
        .map(String::from)
        .to_vec();
    let paths = crate_paths("use crate::config::Endpoint; // crate::filter in a comment\nlet x = crate::scheme::signature::Algorithm::HmacSha256;");
    assert_eq!(
        paths,
        [
            "config::Endpoint",
            "scheme::signature::Algorithm::HmacSha256"
        ]
    );
    assert_eq!(unit(&paths[0], &units).map(String::as_str), Some("config"));
    assert_eq!(
        unit(&paths[1], &units).map(String::as_str),
        Some("scheme::signature")
    );
    assert_eq!(
        unit("scheme::Scheme", &units).map(String::as_str),
        Some("scheme")
    );
    assert_eq!(unit("schemes", &units), None);
}
