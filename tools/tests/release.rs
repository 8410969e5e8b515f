//! One version for the release: every crate, the Makefile's VERSION (the tags `make dist`
//! builds), the images and `oci://` module the manifests pull, and a CHANGELOG section.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

#[test]
fn every_crate_has_the_release_version_and_a_licence() {
    for path in [
        "Cargo.toml",
        "protocol/Cargo.toml",
        "cache/Cargo.toml",
        "tools/Cargo.toml",
        "fuzz/Cargo.toml",
        "bench/floor-filter/Cargo.toml",
        "bench/decision-wasm/Cargo.toml",
        "bench/hmac-authz/Cargo.toml",
    ] {
        let text = read(path);
        assert!(
            text.contains(&format!("\nversion = \"{VERSION}\"\n")),
            "{path} is not at {VERSION}"
        );
        assert!(text.contains("\nlicense = \"Apache-2.0\"\n"), "{path}");
    }
    assert!(read("LICENSE").contains("Apache License"));
}

#[test]
fn the_makefile_changelog_and_manifests_say_the_same_version() {
    assert!(read("Makefile").contains(&format!("\nVERSION       := {VERSION}\n")));
    assert!(read("CHANGELOG.md").contains(&format!("\n## [{VERSION}] - ")));
    for path in [
        "envoy/istio/overlays/sidecar/envoyfilter.yaml",
        "envoy/istio/overlays/gateway/envoyfilter.yaml",
    ] {
        assert!(
            read(path).contains(&format!(
                "oci://registry.example.com/webhook-guard:{VERSION}\n"
            )),
            "{path}"
        );
    }
    for path in [
        "envoy/istio/overlays/sidecar/kustomization.yaml",
        "envoy/istio/overlays/gateway/kustomization.yaml",
    ] {
        let text = read(path);
        for image in [
            "oci://registry.example.com/webhook-guard",
            "registry.example.com/webhook-guard-cache",
        ] {
            let entry = format!("- name: {image}\n  newName: {image}\n  newTag: \"{VERSION}\"\n");
            assert!(text.contains(&entry), "{path}: {image}");
        }
    }
    assert!(read("envoy/istio/base/cache.yaml").contains(&format!(
        "image: registry.example.com/webhook-guard-cache:{VERSION}\n"
    )));
    // No manifest, image build or document is left at another version of these images.
    for path in [
        "README.md",
        "docs/deploy/istio.md",
        "docs/deploy/docker-compose.md",
        "envoy/istio/Dockerfile",
        "envoy/gateway/envoyextensionpolicy.yaml",
        "envoy/istio/components/filter/images.yaml",
    ] {
        let text = read(path);
        for (i, _) in text.match_indices("webhook-guard:") {
            let tag: String = text[i + 14..]
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            assert!(
                tag.is_empty() || tag == VERSION,
                "{path}: webhook-guard:{tag}"
            );
        }
    }
}
