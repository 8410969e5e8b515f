//! The official JSON-Schema-Test-Suite (draft 2020-12) against `src/schema.rs`: every test
//! group whose schema compiles must give the suite's verdict for each of its instances. A
//! group that uses a keyword or `$ref` form outside the supported subset is a compile error
//! here (strict on purpose), and is skipped and counted. Native, no Envoy.

use std::path::PathBuf;

use serde_json::Value;
use webhook_guard::payload::schema::Schema;

/// Cases where the subset knowingly differs from the suite, with why.
const KNOWN: &[(&str, &str, &str)] = &[];

#[test]
fn the_supported_keywords_give_the_suites_verdicts() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/json-schema-test-suite/draft2020-12");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the vendored suite")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let (mut groups_run, mut groups_skipped, mut cases) = (0, 0, 0);
    let mut failures = Vec::new();
    for file in &files {
        let name = file
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(file).expect("read");
        let groups: Vec<Value> = serde_json::from_str(&text).expect("suite JSON");
        for group in groups {
            let description = group["description"].as_str().unwrap_or("").to_string();
            let schema = match Schema::compile(&group["schema"]) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("skipped {name}: {description}: {e}");
                    groups_skipped += 1;
                    continue;
                }
            };
            groups_run += 1;
            for test in group["tests"].as_array().into_iter().flatten() {
                cases += 1;
                let expected = test["valid"].as_bool().expect("valid");
                let got = schema.validate(&test["data"]).is_ok();
                let case = test["description"].as_str().unwrap_or("");
                let known = KNOWN
                    .iter()
                    .any(|(f, g, c)| *f == name && *g == description && *c == case);
                if got != expected && !known {
                    failures.push(format!(
                        "{name}: {description}: {case}: expected {expected}"
                    ));
                }
            }
        }
    }
    eprintln!("suite: {groups_run} groups run ({cases} cases), {groups_skipped} skipped");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The subset covers most of these files: a run that skipped everything proved nothing.
    assert!(groups_run >= 130, "only {groups_run} groups ran");
}
