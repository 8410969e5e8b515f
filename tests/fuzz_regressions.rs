//! Replays every saved fuzz input (fuzz/regressions: inputs that once crashed or broke a
//! property; fuzz/seeds: the starting corpus) through the same checks the fuzz targets run,
//! on stable Rust, in `make test`. `make fuzz` runs the targets themselves (nightly).

#[path = "../fuzz/src/checks.rs"]
mod checks;

use std::path::Path;

/// What every fuzz target checks: any bytes in, no panic out.
type Check = fn(&[u8]);

fn replay(dir: &str, target: &str, check: Check) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut n = 0;
    for entry in entries.flatten() {
        let data = std::fs::read(entry.path()).expect("read input");
        check(&data);
        n += 1;
    }
    n
}

#[test]
fn saved_fuzz_inputs_still_pass() {
    let targets: [(&str, Check); 8] = [
        ("config", checks::config),
        ("signature_headers", checks::signature_headers),
        ("timestamps", checks::timestamps),
        ("cidr", checks::cidr),
        ("json_schema", checks::json_schema),
        ("verify", checks::verify),
        ("cache_requests", checks::cache_requests),
        ("public_keys", checks::public_keys),
    ];
    let mut total = 0;
    for (target, check) in targets {
        let seeds = replay("fuzz/seeds", target, check);
        assert!(seeds > 0, "no seeds for fuzz target {target}");
        total += seeds + replay("fuzz/regressions", target, check);
    }
    assert!(total >= 8);
}
