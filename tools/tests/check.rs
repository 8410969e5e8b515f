//! `webhook-guard check` as a user runs it: every shipped configuration passes; each kind of
//! bad input is one clear line naming the file (and the endpoint and field), exit 1, never a
//! panic, never a secret; and on broken configurations its verdict and its text are Envoy's
//! own (`envoy --mode validate` with the built filter), when Envoy and the .wasm are there.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

fn scratch(tag: &str) -> PathBuf {
    let dir = repo()
        .join("target/e2e")
        .join(format!("cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Runs `webhook-guard ARGS` in the repository root with only `env` set.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_webhook-guard"));
    cmd.current_dir(repo()).env_clear().args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run webhook-guard")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn required() -> bool {
    std::env::var("WEBHOOK_GUARD_E2E").is_ok_and(|v| v == "required")
}

fn envoy() -> Option<PathBuf> {
    let envoy = std::env::var_os("ENVOY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv/bin/envoy-bin"));
    let wasm = repo().join("target/wasm32-wasip1/release/webhook_guard.wasm");
    if envoy.exists() && wasm.exists() {
        return Some(envoy);
    }
    assert!(!required(), "no Envoy or no built filter (make test)");
    eprintln!("skipped: no Envoy or no built filter");
    None
}

fn kubectl() -> Option<PathBuf> {
    let found = std::env::var_os("KUBECTL").map(PathBuf::from).or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|d| d.join("kubectl"))
            .find(|p| p.exists())
    });
    if found.is_none() {
        assert!(!required(), "no kubectl (make kubectl)");
        eprintln!("skipped: no kubectl");
    }
    found
}

/// A configuration built from one endpoint's JSON.
fn one_endpoint(endpoint: &str) -> String {
    format!(r#"{{"endpoints":[{endpoint}]}}"#)
}

const GITHUB: &str = r#"{"name":"gh","path_prefix":"/gh","preset":"github","secrets":[{"id":"current","value":"a-demo-secret-0123456789"}]}"#;

#[test]
fn every_shipped_envoy_config_passes() {
    let out = run(
        &[
            "check",
            "envoy/envoy.yaml",
            "envoy/envoy.docker.yaml",
            "envoy/envoy-behind-lb.yaml",
        ],
        &[],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert_eq!(
        t.lines().collect::<Vec<_>>(),
        [
            "envoy/envoy.yaml: ok (endpoints genesys, github)",
            "envoy/envoy.docker.yaml: ok (endpoints genesys, github)",
            "envoy/envoy-behind-lb.yaml: ok (endpoints genesys)",
        ]
    );
}

#[test]
fn every_rendered_istio_overlay_passes() {
    let Some(kubectl) = kubectl() else { return };
    let dir = scratch("overlays");
    for overlay in ["sidecar", "gateway", "demo"] {
        let rendered = Command::new(&kubectl)
            .arg("kustomize")
            .arg(repo().join("envoy/istio/overlays").join(overlay))
            .output()
            .expect("kubectl kustomize");
        assert!(rendered.status.success(), "{overlay}");
        let path = dir.join(format!("{overlay}.yaml"));
        std::fs::write(&path, &rendered.stdout).expect("write");
        let out = run(&["check", path.to_str().unwrap()], &[]);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(0), "{overlay}: {t}");
        assert_eq!(t.lines().count(), 1, "{t}");
        assert!(
            t.contains("(EnvoyFilter ") && t.contains("/webhook-guard): ok (endpoints genesys)"),
            "{overlay}: {t}"
        );
    }
    // The EnvoyFilter files themselves, before Kustomize, are checked too.
    let out = run(
        &[
            "check",
            "envoy/istio/overlays/sidecar/envoyfilter.yaml",
            "envoy/istio/overlays/gateway/envoyfilter.yaml",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// Each bad input: exit 1, one line, starting with the file's name and saying `expect`.
fn assert_refused(file: &Path, expect: &str) {
    let out = run(&["check", file.to_str().unwrap()], &[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{}: {t}", file.display());
    assert_eq!(t.lines().count(), 1, "{t}");
    assert!(
        t.starts_with(&file.display().to_string()),
        "names the file: {t}"
    );
    assert!(t.contains(expect), "{}: {t}", file.display());
    assert!(
        !t.contains("panicked") && !t.contains("RUST_BACKTRACE"),
        "{t}"
    );
}

#[test]
fn bad_input_is_one_clear_line_and_exit_1() {
    let dir = scratch("bad");
    let write = |name: &str, body: &str| {
        let p = dir.join(name);
        std::fs::write(&p, body).expect("write");
        p
    };
    assert_refused(&dir.join("missing.yaml"), ": cannot read: no such file");
    assert_refused(
        &write(
            "syntax.yaml",
            "endpoints:\n  - name: a\n    path_prefix: /a\n     preset: github\n",
        ),
        ": not valid YAML: mapping values are not allowed in this context at line 4 column 12",
    );
    assert_refused(
        &write("truncated.json", r#"{"endpoints": ["#),
        ": not valid JSON: EOF while parsing a list at line 1 column 15",
    );
    // A Struct configuration that is no mapping: Envoy could not make a Struct of it.
    let wasm = "static_resources:\n  listeners:\n  - filter_chains:\n    - filters:\n      - typed_config:\n          '@type': type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm\n          config:\n            name: webhook_guard\n            configuration:\n";
    assert_refused(
        &write(
            "struct-list.yaml",
            &format!("{wasm}              '@type': type.googleapis.com/google.protobuf.Struct\n              value: [1, 2]\n"),
        ),
        ": configuration: a google.protobuf.Struct's value must be a mapping",
    );
    // Another wrapper type: neither form.
    assert_refused(
        &write(
            "bytes-value.yaml",
            &format!("{wasm}              '@type': type.googleapis.com/google.protobuf.BytesValue\n              value: e30=\n"),
        ),
        ": configuration: must be a google.protobuf.Struct holding the configuration as YAML, or a google.protobuf.StringValue",
    );
    // In a Struct, a secret written as a (32-bit) number is named by its type, never shown.
    assert_refused(
        &write(
            "struct-number-secret.yaml",
            &format!("{wasm}              '@type': type.googleapis.com/google.protobuf.Struct\n              value:\n                endpoints:\n                - {{ name: gh, path_prefix: /gh, preset: github, secrets: [ {{ id: a, value: 1234567 }} ] }}\n"),
        ),
        ": endpoints[0] (gh).secrets[0].value: must be a string, not a number (not shown)",
    );
    assert_refused(
        &write(
            "no-filter.yaml",
            "static_resources:\n  listeners: []\nadmin: {}\n",
        ),
        ": no webhook-guard configuration: no Wasm filter named webhook_guard",
    );
    assert_refused(
        &write(
            "unknown-field.json",
            &one_endpoint(&GITHUB.replace(r#""preset""#, r#""colour":"red","preset""#)),
        ),
        ": endpoints[0]: unknown field `colour`, expected one of `name`",
    );
    assert_refused(
        &write(
            "short.json",
            &one_endpoint(&GITHUB.replace("a-demo-secret-0123456789", "short-s3cret")),
        ),
        ": endpoints[0] (gh).secrets[0]: the key is shorter than 16 bytes",
    );
    assert_refused(
        &write(
            "placeholder.json",
            &one_endpoint(
                &GITHUB.replace("a-demo-secret-0123456789", "replace-me-with-the-secret"),
            ),
        ),
        ": endpoints[0] (gh).secrets[0]: is a placeholder from the project's examples",
    );
    assert_refused(
        &write(
            "recursive-schema.json",
            &one_endpoint(&GITHUB.replace(r#""preset""#, r##""payload_schema":{"$ref":"#"},"preset""##)),
        ),
        ": endpoints[0] (gh).payload_schema: a $ref cycle that never moves to a child value would not end",
    );
    assert_refused(
        &write("recursive-alias.yaml", "endpoints: &a [*a]\n"),
        ": not valid YAML: recursion limit exceeded",
    );
    assert_refused(
        &write("empty.yaml", "# nothing\n"),
        ": empty: no configuration",
    );
    assert_refused(&write("binary.json", "\u{0}\u{1}"), ": not valid YAML");
    let mut not_utf8 = b"endpoints: []\n".to_vec();
    not_utf8.push(0xff);
    let p = dir.join("latin1.yaml");
    std::fs::write(&p, not_utf8).expect("write");
    assert_refused(&p, ": cannot read: not UTF-8 text");
}

#[test]
fn no_secret_is_ever_printed() {
    let dir = scratch("secrets");
    let secret = "SuperSecretValue0123456789xyz";
    let cases = [
        // A secret pasted as a key (YAML reads {value:TOKEN} as one key).
        format!("endpoints:\n- {{name: a, path_prefix: /a, preset: github, secrets: [{{id: c, value:{secret}}}]}}\n"),
        // A secret pasted into env.
        format!("endpoints:\n- {{name: a, path_prefix: /a, preset: github, secrets: [{{id: c, env: {secret}}}]}}\n"),
        // A secret of the wrong type, and an unknown top-level key that is a secret.
        format!("{{\"endpoints\":[{{\"name\":\"a\",\"path_prefix\":\"/a\",\"preset\":\"github\",\"secrets\":[{{\"id\":\"c\",\"value\":\"{secret}\"}}],\"mode\":\"{secret}\"}}]}}"),
        format!("{{\"{secret}\": 1, \"endpoints\": []}}"),
        // A duplicate key and a YAML error right after a secret.
        format!("endpoints:\n- name: a\n  secrets: [{{id: c, value: \"{secret}\"}}]\n  x: \"{secret}\n"),
        format!("{secret}: 1\n{secret}: 2\n"),
        // The secret in an Envoy key_values, too short for its endpoint.
        format!("static_resources:\n  listeners:\n  - filter_chains:\n    - filters:\n      - typed_config:\n          '@type': type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm\n          config:\n            name: webhook_guard\n            vm_config:\n              environment_variables:\n                key_values: {{K_EY: {short}}}\n            configuration:\n              '@type': type.googleapis.com/google.protobuf.StringValue\n              value: '{{\"endpoints\":[{{\"name\":\"a\",\"path_prefix\":\"/a\",\"preset\":\"github\",\"secrets\":[{{\"id\":\"c\",\"env\":\"K_EY\"}}]}}]}}'\n", short = &secret[..10]),
    ];
    for (i, body) in cases.iter().enumerate() {
        let p = dir.join(format!("case-{i}.yaml"));
        std::fs::write(&p, body).expect("write");
        for flags in [&["check"][..], &["check", "--env"]] {
            let out = run(&[flags, &[p.to_str().unwrap()]].concat(), &[]);
            let t = text(&out);
            assert!(
                !t.contains(&secret[..10]),
                "case {i} prints the secret: {t}"
            );
            if flags.len() == 2 {
                assert_eq!(out.status.code(), Some(1), "case {i}: {t}");
            }
        }
    }
    // --env: a short secret named, not shown.
    let p = dir.join("env.json");
    std::fs::write(
        &p,
        one_endpoint(r#"{"name":"gh","path_prefix":"/gh","preset":"github","secrets":[{"id":"c","env":"GH_SECRET"}]}"#),
    )
    .expect("write");
    let out = run(
        &["check", "--env", p.to_str().unwrap()],
        &[("GH_SECRET", "Sh0rtS3cret")],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("(gh).secrets[0]: the key is shorter than 16 bytes"),
        "{t}"
    );
    assert!(!t.contains("Sh0rtS3cret"), "{t}");
}

#[test]
fn env_is_checked_only_with_the_flag() {
    // Without --env a variable the VM is given stands in for a key of the right kind, even
    // where the endpoint wants a public key (discord, sendgrid) or a whsec_ secret.
    let config = "endpoints:\n- {name: d, path_prefix: /d, preset: discord, secrets: [{id: c, env: DISCORD_KEY}]}\n- {name: s, path_prefix: /s, preset: sendgrid, secrets: [{id: c, env: SENDGRID_KEY}]}\n- {name: w, path_prefix: /w, preset: standard-webhooks, secrets: [{id: c, env: SVIX_SECRET}]}\n- {name: g, path_prefix: /g, preset: github, secrets: [{id: c, env: GITHUB_SECRET}]}\n";
    let dir = scratch("env");
    let p = dir.join("kinds.yaml");
    std::fs::write(&p, config).expect("write");
    let path = p.to_str().unwrap();
    let out = run(&["check", path], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).ends_with(": ok (endpoints d, s, w, g)\n"));
    // With --env each must be set, and of its kind.
    let out = run(&["check", "--env", path], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains(
            "endpoints[0] (d).secrets[0].env: environment variable DISCORD_KEY is not set"
        ),
        "{}",
        text(&out)
    );
    let good = [
        ("DISCORD_KEY", "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
        ("SENDGRID_KEY", "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEHhhTL9R1TALzBB2cdc6zO4P/2BrHzk/ogsyxyYvFiW6kbDEcTi/0DdlqNlPm5FRF0y3+SG7O11x6kMahiIHAow=="),
        ("SVIX_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ("GITHUB_SECRET", "a-demo-secret-0123456789"),
    ];
    let out = run(&["check", "--env", path], &good);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // A shared secret where a public key is wanted: named, refused.
    let mut wrong = good;
    wrong[0].1 = "a-demo-secret-0123456789";
    let out = run(&["check", "--env", path], &wrong);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("(d).secrets[0]: the key"),
        "{}",
        text(&out)
    );
    // In an Envoy file a variable missing from host_env_keys is never in the VM, --env or
    // not: Envoy would refuse it whatever the shell holds.
    let envoy = std::fs::read_to_string(repo().join("envoy/envoy.yaml")).expect("read");
    let p = dir.join("not-passed.yaml");
    std::fs::write(&p, envoy.replace(", GITHUB_WEBHOOK_SECRET]", "]")).expect("write");
    let out = run(
        &["check", p.to_str().unwrap()],
        &[("GITHUB_WEBHOOK_SECRET", "a-demo-secret-0123456789")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("endpoints[1] (github).secrets[0].env: environment variable GITHUB_WEBHOOK_SECRET is not set in the VM"),
        "{}",
        text(&out)
    );
}

#[test]
fn check_and_envoy_agree_on_broken_configs() {
    let Some(envoy) = envoy() else { return };
    let wasm = repo().join("target/wasm32-wasip1/release/webhook_guard.wasm");
    let base = std::fs::read_to_string(repo().join("envoy/envoy.yaml"))
        .expect("read")
        .replace(
            "target/wasm32-wasip1/release/webhook_guard.wasm",
            wasm.to_str().unwrap(),
        );
    let env = [
        ("GENESYS_WEBHOOK_SECRET", "demo-genesys-secret-0123"),
        ("GITHUB_WEBHOOK_SECRET", "demo-github-secret-0123"),
    ];
    // (name, the edit to envoy.yaml, whether it is valid)
    let cases: [(&str, &str, &str, bool); 8] = [
        ("valid", "", "", true),
        (
            "unknown-field",
            "preset: github\n",
            "preset: github\n                      colour: red\n",
            false,
        ),
        ("bad-preset", "preset: github\n", "preset: gitlub\n", false),
        (
            "bad-cidr",
            "preset: github\n",
            "preset: github\n                      source_ips: [10.0.0.0/33]\n",
            false,
        ),
        ("not-in-vm", ", GITHUB_WEBHOOK_SECRET]", "]", false),
        // Unquoted digits in a Struct: Envoy makes a number of a 32-bit one (refused, not
        // shown), and a string of a longer one (a valid secret).
        (
            "number-secret",
            "{ id: current, env: GITHUB_WEBHOOK_SECRET }",
            "{ id: current, value: 1234567 }",
            false,
        ),
        (
            "digits-secret",
            "{ id: current, env: GITHUB_WEBHOOK_SECRET }",
            "{ id: current, value: 918273645501928374 }",
            true,
        ),
        ("timeout", "timeout_ms: 250", "timeout_ms: 5", false),
    ];
    let dir = scratch("agree");
    for (name, from, to, valid) in cases {
        let config = if from.is_empty() {
            base.clone()
        } else {
            assert!(base.contains(from), "{name}");
            base.replacen(from, to, 1)
        };
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, config).expect("write");
        let out = run(&["check", "--env", path.to_str().unwrap()], &env);
        let ours = text(&out);
        assert_eq!(out.status.success(), valid, "{name}: {ours}");
        let mut cmd = Command::new(&envoy);
        cmd.env_clear()
            .args(["--mode", "validate", "-c"])
            .arg(&path);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let theirs = cmd.output().expect("envoy --mode validate");
        let log = text(&theirs);
        assert_eq!(theirs.status.success(), valid, "{name}: Envoy says\n{log}");
        if !valid {
            // The same `field: reason` as the filter's log line.
            let line = ours.trim_end();
            let reason = line.split_once(": ").map(|x| x.1).unwrap_or(line);
            // The filter logs it as the `error` of its `config_rejected` event (one JSON
            // object after Envoy's `wasm log ...: ` prefix).
            let logged: Vec<String> = log
                .lines()
                .filter(|l| l.contains("config_rejected"))
                .filter_map(|l| l.find('{').map(|i| &l[i..]))
                .filter_map(|o| serde_json::from_str::<serde_json::Value>(o).ok())
                .filter_map(|v| v["error"].as_str().map(str::to_string))
                .collect();
            assert!(
                logged.iter().any(|e| e == line || e.ends_with(reason)),
                "{name}: check says {reason:?}, Envoy's log:\n{log}"
            );
        }
    }
}

#[test]
fn presets_lists_every_preset_with_what_it_checks() {
    let out = run(&["presets"], &[]);
    let t = text(&out);
    assert!(out.status.success());
    for name in webhook_guard::scheme::presets::PRESET_NAMES {
        assert!(
            t.contains(&format!("\n{name}\n")) || t.starts_with(&format!("{name}\n")),
            "{name}"
        );
    }
    assert!(t.contains(
        "stripe\n  signature       stripe-signature: t=<ts>,v1=<hex> (hmac-sha256)\n  signed content  {timestamp}.{body}\n  timestamp       signature item t= (unix), 300 s back, 60 s ahead\n  default key     /id\n  secret          a shared secret in \"value\" or \"env\"\n"
    ), "{t}");
}

#[test]
fn every_binary_has_version() {
    let out = run(&["--version"], &[]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("webhook-guard {}", env!("CARGO_PKG_VERSION"))
    );
}
