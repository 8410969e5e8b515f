//! The Istio manifests as `kubectl kustomize` renders each overlay of envoy/istio/overlays/
//! (offline: no cluster). Used by tests/e2e/manifests.rs (schemas) and tests/e2e/configs.rs (what the
//! deployment relies on). `make kubectl` provides a kubectl with Kustomize v5; KUBECTL names
//! it, else `kubectl` on PATH. Without one the tests that render skip, unless
//! WEBHOOK_GUARD_E2E=required (as `make test` sets).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::repo_root;

/// Every overlay a user applies with `kubectl apply -k`.
pub const OVERLAYS: [&str; 3] = ["sidecar", "gateway", "demo"];

fn kubectl() -> Option<PathBuf> {
    if let Some(k) = std::env::var_os("KUBECTL") {
        return Some(PathBuf::from(k));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("kubectl"))
        .find(|p| p.exists())
}

/// `kubectl kustomize DIR`'s output, or None (skip) when there is no kubectl and the
/// end-to-end prerequisites are not required. A kustomization that does not render fails.
pub fn render(dir: &Path) -> Option<String> {
    let Some(kubectl) = kubectl() else {
        let required = std::env::var("WEBHOOK_GUARD_E2E").is_ok_and(|v| v == "required");
        assert!(!required, "no kubectl (make kubectl)");
        eprintln!(
            "skipped: no kubectl to render {} (make kubectl)",
            dir.display()
        );
        return None;
    };
    let out = Command::new(&kubectl)
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", kubectl.display()));
    assert!(
        out.status.success(),
        "kubectl kustomize {} failed (Kustomize v5 needed: make kubectl):\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    // Kustomize prints deprecation warnings on stderr: the overlays use none.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("Warning"), "{}: {stderr}", dir.display());
    Some(String::from_utf8(out.stdout).expect("UTF-8"))
}

/// One overlay of envoy/istio/overlays/, rendered.
pub fn render_overlay(name: &str) -> Option<String> {
    render(&repo_root().join("envoy/istio/overlays").join(name))
}

/// A copy of envoy/istio/ in a fresh scratch directory, to render after editing it as a user
/// would.
pub fn copy_of_istio(tag: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("webhook-guard-istio-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read_dir") {
            let path = entry.expect("entry").path();
            let target = to.join(path.file_name().unwrap());
            if path.is_dir() {
                copy(&path, &target);
            } else {
                std::fs::copy(&path, &target).expect("copy");
            }
        }
    }
    copy(&repo_root().join("envoy/istio"), &dir);
    dir
}
