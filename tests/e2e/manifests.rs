//! Every manifest under `envoy/istio/`, as `kubectl kustomize` renders each overlay (what
//! `kubectl apply -k` sends), checked offline against the schemas an API server applies to
//! it: Kubernetes 1.34's for the built-in kinds, Istio 1.28's CRDs for Istio's (vendored in
//! `tests/data/k8s-schemas/`, with their source and licence there). Unknown fields are
//! errors, as they are for `kubectl apply` (strict field validation, the default since
//! Kubernetes 1.27): a misspelt field would otherwise be dropped silently. What no schema can
//! say (CEL rules of the CRDs, what istiod makes of an EnvoyFilter patch) is checked in
//! tests/e2e/configs.rs and by `envoy --mode validate`.

use crate::common::kustomize;

use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn data(name: &str) -> String {
    std::fs::read_to_string(root().join("tests/data/k8s-schemas").join(name)).expect(name)
}

fn yaml_docs(text: &str, name: &str) -> Vec<(String, Value)> {
    let mut docs = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let v: Value = serde::Deserialize::deserialize(doc).expect("YAML");
        if !v.is_null() {
            docs.push((name.to_string(), v));
        }
    }
    docs
}

/// Every document of every overlay as rendered, with the overlay it came from, and the
/// example Secret; None when there is no kubectl to render them (and it is not required).
fn manifests() -> Option<Vec<(String, Value)>> {
    let mut docs = Vec::new();
    for overlay in kustomize::OVERLAYS {
        let text = kustomize::render_overlay(overlay)?;
        docs.extend(yaml_docs(&text, &format!("overlays/{overlay}")));
    }
    let example = "envoy/istio/secret.yaml.example";
    let text = std::fs::read_to_string(root().join(example)).expect(example);
    docs.extend(yaml_docs(&text, example));
    Some(docs)
}

/// The files under envoy/istio/ that a kustomization names (resources, components, patches,
/// configurations), and the kustomizations themselves: every YAML file there is one of
/// them, so nothing is left outside the overlays, applied by hand or drifting from them.
#[test]
fn every_manifest_file_is_in_a_kustomization() {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("envoy/istio") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("envoy/istio"), &mut files);
    let mut named = std::collections::BTreeSet::new();
    for file in files.iter().filter(|f| f.ends_with("kustomization.yaml")) {
        let k: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let dir = file.parent().unwrap();
        named.insert(file.clone());
        for key in ["resources", "components", "configurations", "patches"] {
            for entry in k[key].as_array().into_iter().flatten() {
                let rel = entry.as_str().or(entry["path"].as_str());
                if let Some(rel) = rel {
                    let path = dir.join(rel);
                    assert!(path.exists(), "{}: {rel} does not exist", file.display());
                    named.insert(path.canonicalize().unwrap());
                }
            }
        }
    }
    let named: Vec<PathBuf> = named.iter().map(|p| p.canonicalize().unwrap()).collect();
    for file in &files {
        assert!(
            named.contains(&file.canonicalize().unwrap()),
            "{} is in no kustomization",
            file.display()
        );
    }
    assert!(files.len() >= 15, "only {} files", files.len());
}

/// A CRD's structural schema made strict: an object with `properties` accepts no other
/// field unless the CRD preserves unknown fields there (as the API server prunes or, with
/// strict validation, refuses them).
fn strict(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let preserves = map.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
            if map.contains_key("properties")
                && !preserves
                && !map.contains_key("additionalProperties")
            {
                map.insert("additionalProperties".into(), json!(false));
            }
            for v in map.values_mut() {
                strict(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strict),
        _ => {}
    }
}

struct Schemas {
    /// Kubernetes kinds: kind -> schema (with the shared definitions inlined as `$defs`).
    kubernetes: Map<String, Value>,
    /// Istio kinds: (group/version, kind) -> the schema of `spec`.
    istio: Vec<(String, String, Value)>,
    /// ObjectMeta, for the metadata of custom resources.
    object_meta: Value,
}

fn schemas() -> Schemas {
    let k8s: Value = serde_json::from_str(&data("kubernetes-v1.34.json")).expect("json");
    let defs = k8s["$defs"].clone();
    let mut kubernetes = Map::new();
    for (kind, schema) in k8s["kinds"].as_object().expect("kinds") {
        let mut s = schema.clone();
        s.as_object_mut().unwrap().remove("$id");
        s["$defs"] = defs.clone();
        kubernetes.insert(kind.clone(), s);
    }
    let object_meta = json!({
        "$ref": "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "$defs": defs,
    });
    let mut istio = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(&data("istio-1.28.9-crds.yaml")) {
        let crd: Value = serde::Deserialize::deserialize(doc).expect("CRD");
        let group = crd["spec"]["group"].as_str().unwrap().to_string();
        let kind = crd["spec"]["names"]["kind"].as_str().unwrap().to_string();
        for version in crd["spec"]["versions"].as_array().unwrap() {
            let mut spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"].clone();
            strict(&mut spec);
            let api = format!("{group}/{}", version["name"].as_str().unwrap());
            istio.push((api, kind.clone(), spec));
        }
    }
    Schemas {
        kubernetes,
        istio,
        object_meta,
    }
}

/// The schema errors of one manifest document; an unknown kind is an error too (vendor its
/// schema with extract.py).
fn errors(s: &Schemas, doc: &Value) -> Vec<String> {
    let check = |schema: &Value, instance: &Value, at: &str| -> Vec<String> {
        let validator = jsonschema::validator_for(schema).expect("schema compiles");
        validator
            .iter_errors(instance)
            .map(|e| format!("{at}{}: {e}", e.instance_path()))
            .collect()
    };
    let kind = doc["kind"].as_str().unwrap_or("");
    let api = doc["apiVersion"].as_str().unwrap_or("");
    if let Some(schema) = s.kubernetes.get(kind) {
        return check(schema, doc, "");
    }
    let Some((_, _, spec)) = s.istio.iter().find(|(a, k, _)| a == api && k == kind) else {
        return vec![format!("no schema for {api} {kind}")];
    };
    let mut out = Vec::new();
    for key in doc.as_object().into_iter().flat_map(|m| m.keys()) {
        if !["apiVersion", "kind", "metadata", "spec"].contains(&key.as_str()) {
            out.push(format!("unknown top-level field {key}"));
        }
    }
    out.extend(check(&s.object_meta, &doc["metadata"], "/metadata"));
    out.extend(check(spec, &doc["spec"], "/spec"));
    out
}

#[test]
fn every_manifest_is_valid_for_kubernetes_and_istio() {
    let s = schemas();
    let Some(docs) = manifests() else { return };
    assert!(docs.len() >= 8, "only {} manifests found", docs.len());
    let mut failures = Vec::new();
    for (file, doc) in &docs {
        for e in errors(&s, doc) {
            failures.push(format!("{file} ({}): {e}", doc["kind"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The check refuses what the API server refuses: a misspelt field, a wrong type, an
/// unknown kind, in a built-in kind and in an Istio one.
#[test]
fn the_schema_check_refuses_what_kubectl_would() {
    let s = schemas();
    let Some(docs) = manifests() else { return };
    let find = |kind: &str| {
        docs.iter()
            .find(|(_, d)| d["kind"] == kind)
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| panic!("no {kind} manifest"))
    };
    let mut filter = find("EnvoyFilter");
    filter["spec"]["workloadSelecter"] = filter["spec"]["workloadSelector"].take();
    assert!(
        !errors(&s, &filter).is_empty(),
        "misspelt EnvoyFilter field"
    );
    let mut filter = find("EnvoyFilter");
    filter["spec"]["configPatches"][0]["applyTo"] = json!("EXTENSION_CONFIGS");
    assert!(!errors(&s, &filter).is_empty(), "unknown applyTo");
    let mut deployment = find("Deployment");
    deployment["spec"]["replicas"] = json!("two");
    assert!(!errors(&s, &deployment).is_empty(), "replicas as a string");
    let mut deployment = find("Deployment");
    deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"] = json!({});
    assert!(!errors(&s, &deployment).is_empty(), "envFrom as an object");
    let mut deployment = find("Deployment");
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = json!("Always");
    assert!(
        !errors(&s, &deployment).is_empty(),
        "misspelt container field"
    );
    let mut redis = find("StatefulSet");
    redis["spec"]["volumeClaimTemplate"] = redis["spec"]["volumeClaimTemplates"].take();
    assert!(!errors(&s, &redis).is_empty(), "misspelt StatefulSet field");
    let mut budget = find("PodDisruptionBudget");
    budget["spec"]["minAvailabel"] = json!(1);
    assert!(!errors(&s, &budget).is_empty(), "misspelt budget field");
    let unknown = json!({"apiVersion": "networking.istio.io/v1", "kind": "EnvoyFilterX"});
    assert!(!errors(&s, &unknown).is_empty(), "unknown kind");
}

/// Every overlay's cache logs JSON (one object per line with its `event`), what a log
/// pipeline in a cluster reads.
#[test]
fn every_cache_logs_json() {
    let Some(docs) = manifests() else { return };
    let caches: Vec<&(String, Value)> = docs
        .iter()
        .filter(|(_, d)| {
            d["kind"] == "Deployment" && d["metadata"]["name"] == "webhook-guard-cache"
        })
        .collect();
    assert_eq!(
        caches.len(),
        kustomize::OVERLAYS.len(),
        "one cache per overlay"
    );
    for (file, d) in caches {
        let env = &d["spec"]["template"]["spec"]["containers"][0]["env"];
        let format = env
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["name"] == "WEBHOOK_GUARD_CACHE_LOG_FORMAT");
        assert_eq!(
            format.map(|e| &e["value"]),
            Some(&Value::from("json")),
            "{file}: the cache's log format"
        );
    }
}
