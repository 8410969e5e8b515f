//! The end-to-end suite, one test binary: each module is one concern (what used to be one
//! `tests/*.rs` file, and its own binary linking the crate, tokio, h2 and p256 again), and
//! `common` is the harness, split by what it starts (Envoy, the upstream, the cache service
//! and its fakes, Redis). Every port is chosen at run time, so the tests of all modules run
//! side by side in this one process.
//!
//! Run a part by module: `cargo test --test e2e -- answers:: claims::`. Without Envoy, the
//! built `.wasm`, the cache service or redis-server, each test returns at once unless
//! `WEBHOOK_GUARD_E2E=required` (`common::e2e_ready`).
//!
//! The tests that start nothing (fuzz_regressions, json_schema_suite) stay binaries of their
//! own: native replays of stored inputs, runnable with only Rust.

mod common;

mod answers;
mod attacks;
mod body_limits;
mod claims;
mod configs;
mod deliveries;
mod docs;
mod envoy_gateway;
mod families;
mod faults;
mod gateway;
mod hostile;
mod hosts;
mod http2;
mod idempotency;
mod manifests;
mod observability;
mod sdks;
mod signatures;
mod trailers;

/// `make test-hosts` runs modules of this binary by name filter (HOST_TESTS in the Makefile).
/// A filter that names no module matches no test and passes silently on every Envoy, where
/// `--test NAME` used to fail: so each name must be a module declared here.
#[test]
fn make_test_hosts_names_modules_of_this_binary() {
    let makefile = std::fs::read_to_string(common::repo_root().join("Makefile")).expect("Makefile");
    let names: Vec<&str> = makefile
        .lines()
        .find_map(|l| {
            l.strip_prefix("HOST_TESTS")?
                .trim_start()
                .strip_prefix(":=")
        })
        .expect("HOST_TESTS in the Makefile")
        .split_whitespace()
        .collect();
    assert!(!names.is_empty(), "HOST_TESTS names no module");
    let declared = include_str!("main.rs");
    for name in names {
        assert!(
            declared.lines().any(|l| l == format!("mod {name};")),
            "HOST_TESTS names {name:?}, which is no module of tests/e2e/main.rs"
        );
    }
    assert!(
        makefile.contains("--test e2e -- $(foreach t,$(HOST_TESTS),$(t)::)"),
        "make test-hosts filters the e2e binary by module"
    );
}
