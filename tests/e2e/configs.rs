//! Every file users copy from envoy/ is checked here: the Envoy configurations load the real
//! filter in `envoy --mode validate`, the docker compose sibling differs from envoy.yaml only
//! in container paths and addresses, and the Istio overlays, as `kubectl kustomize` renders
//! them, have the kinds and fields the deployment relies on (their Wasm configuration also
//! goes through Envoy's validation).

use crate::common::kustomize;

use crate::common::*;
use serde_yaml_ng::Value;

const DEMO_ENV: [(&str, &str); 3] = [
    ("GENESYS_WEBHOOK_SECRET", "demo-genesys-secret-0123"),
    (
        "GENESYS_WEBHOOK_SECRET_PREVIOUS",
        "demo-genesys-previous-0123",
    ),
    ("GITHUB_WEBHOOK_SECRET", "demo-github-secret-0123"),
];

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml_docs(path: &str) -> Vec<Value> {
    let text = read(path);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{path}: {e}")))
        .collect()
}

use serde::Deserialize;

/// Validates an Envoy config with the wasm path pointed at the freshly built filter.
fn assert_valid(name: &str, text: &str) {
    let wasm = wasm_path().display().to_string();
    let text = text
        .replace("target/wasm32-wasip1/release/webhook_guard.wasm", &wasm)
        .replace("/etc/envoy/webhook_guard.wasm", &wasm);
    let path = scratch_dir("configs").join(name);
    std::fs::write(&path, text).expect("write");
    let (ok, out) = validate(&path, &DEMO_ENV);
    assert!(ok, "{name} does not validate:\n{out}");
    assert!(
        filter_events(&out)
            .iter()
            .any(|e| e["event"] == "config_loaded"),
        "{name}: filter not loaded:\n{out}"
    );
}

#[test]
fn shipped_envoy_configs_validate_with_the_real_filter() {
    if !e2e_ready() {
        return;
    }
    for name in ["envoy.yaml", "envoy-behind-lb.yaml", "envoy.docker.yaml"] {
        let text = read(&format!("envoy/{name}"));
        // What the filter's guarantees rely on from the connection manager.
        for setting in [
            "normalize_path: true",
            "merge_slashes: true",
            "path_with_escaped_slashes_action: REJECT_REQUEST",
            "headers_with_underscores_action: REJECT_REQUEST",
            "allow_on_headers_stop_iteration: true",
            "failure_policy: FAIL_CLOSED",
        ] {
            assert!(text.contains(setting), "{name} lacks {setting}");
        }
        assert_valid(name, &text);
    }
    // The previous-secret slot is optional: without its variable Envoy still loads the
    // filter, which says the slot is skipped.
    let wasm = wasm_path().display().to_string();
    let text =
        read("envoy/envoy.yaml").replace("target/wasm32-wasip1/release/webhook_guard.wasm", &wasm);
    let path = scratch_dir("configs").join("no-previous.yaml");
    std::fs::write(&path, text).expect("write");
    let env: Vec<(&str, &str)> = DEMO_ENV
        .iter()
        .copied()
        .filter(|(k, _)| *k != "GENESYS_WEBHOOK_SECRET_PREVIOUS")
        .collect();
    let (ok, out) = validate(&path, &env);
    assert!(ok, "envoy.yaml without the previous secret:\n{out}");
    assert!(
        filter_events(&out)
            .iter()
            .any(|e| e["event"] == "secret_slot_skipped"
                && e["detail"].as_str().is_some_and(|d| d.contains(
                    "optional, and GENESYS_WEBHOOK_SECRET_PREVIOUS is not set: skipped"
                ))),
        "{out}"
    );
}

#[test]
fn docker_config_is_envoy_yaml_with_container_paths_and_addresses() {
    let subs = [
        (
            "# Used by `make run` (paths are relative to the repository root). Ports:",
            "# Used by docker compose (envoy/docker-compose.yaml). Generated from envoy.yaml: edit that\n# file and apply the same container paths and addresses here. Ports:",
        ),
        ("address: 127.0.0.1, port_value: 10000", "address: 0.0.0.0, port_value: 10000"),
        (
            "filename: target/wasm32-wasip1/release/webhook_guard.wasm",
            "filename: /etc/envoy/webhook_guard.wasm",
        ),
        ("  - name: receiver\n    type: STATIC", "  - name: receiver\n    type: STRICT_DNS"),
        ("address: 127.0.0.1, port_value: 8080", "address: receiver, port_value: 8080"),
        (
            "  - name: webhook_guard_cache\n    type: STATIC",
            "  - name: webhook_guard_cache\n    type: STRICT_DNS",
        ),
        ("address: 127.0.0.1, port_value: 8081", "address: cache, port_value: 8081"),
        ("address: 127.0.0.1, port_value: 9901", "address: 0.0.0.0, port_value: 9901"),
    ];
    let mut expected = read("envoy/envoy.yaml");
    for (from, to) in subs {
        assert_eq!(
            expected.matches(from).count(),
            1,
            "envoy.yaml changed: {from:?}"
        );
        expected = expected.replace(from, to);
    }
    assert!(
        expected == read("envoy/envoy.docker.yaml"),
        "envoy/envoy.docker.yaml drifted from envoy/envoy.yaml: apply the same change to both"
    );
}

#[test]
fn docker_compose_runs_the_same_setup() {
    let docs = yaml_docs("envoy/docker-compose.yaml");
    let services = &docs[0]["services"];
    for name in ["envoy", "cache", "redis", "receiver"] {
        assert!(services[name].is_mapping(), "service {name} missing");
    }
    let envoy = &services["envoy"];
    assert!(envoy["image"]
        .as_str()
        .unwrap()
        .starts_with("envoyproxy/envoy:v1.40"));
    let volumes: Vec<&str> = envoy["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(volumes.contains(&"./envoy.docker.yaml:/etc/envoy/envoy.yaml:ro"));
    assert!(volumes.contains(
        &"../target/wasm32-wasip1/release/webhook_guard.wasm:/etc/envoy/webhook_guard.wasm:ro"
    ));
    for (key, _) in DEMO_ENV {
        assert!(
            envoy["environment"][key].is_string(),
            "{key} not passed to envoy"
        );
    }
    for name in ["cache", "receiver"] {
        let build = &services[name]["build"];
        assert_eq!(build["dockerfile"].as_str(), Some("cache/Dockerfile"));
        let target = build["target"].as_str().unwrap();
        let stage = format!(
            " AS {}",
            if name == "cache" {
                "cache"
            } else {
                "demo-receiver"
            }
        );
        assert_eq!(target, stage.trim_start_matches(" AS "));
        assert!(
            read("cache/Dockerfile").contains(&stage),
            "no stage {stage}"
        );
    }
    let cache_cmd = services["cache"]["command"].as_sequence().unwrap();
    assert!(cache_cmd
        .iter()
        .any(|a| a.as_str() == Some("redis://redis:6379/")));
}

fn parse(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).expect("YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

/// An overlay of envoy/istio/overlays/ as `kubectl kustomize` renders it (what `kubectl
/// apply -k` sends); None when there is no kubectl (the test then skips, unless required).
fn overlay(name: &str) -> Option<Vec<Value>> {
    kustomize::render_overlay(name).map(|text| parse(&text))
}

/// The object of this kind and name (in whatever namespace: names are unique per kind in
/// every overlay but for the EnvoyFilter, which `filters` finds).
fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    let mut found = docs.iter().filter(|d| {
        d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name)
    });
    let one = found.next().unwrap_or_else(|| panic!("no {kind} {name}"));
    assert!(found.next().is_none(), "two {kind} {name}");
    one
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter()
        .filter(|d| d["kind"].as_str() == Some(kind))
        .collect()
}

/// "Kind namespace/name" of every object, sorted.
fn ids(docs: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = docs
        .iter()
        .map(|d| {
            format!(
                "{} {}/{}",
                d["kind"].as_str().unwrap(),
                d["metadata"]["namespace"].as_str().unwrap_or("-"),
                d["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    ids.sort();
    ids
}

/// The Wasm filter's configuration (`config` of the EXTENSION_CONFIG patch).
fn wasm_of(filter: &Value) -> &Value {
    &filter["spec"]["configPatches"][0]["patch"]["value"]["typed_config"]["config"]
}

/// The filter's own configuration: written as YAML, a `google.protobuf.Struct` (which Envoy
/// hands to the filter serialized).
fn plugin_of(filter: &Value) -> serde_json::Value {
    let configuration = &wasm_of(filter)["configuration"];
    assert_eq!(
        configuration["@type"].as_str(),
        Some("type.googleapis.com/google.protobuf.Struct")
    );
    assert!(
        configuration["value"].is_mapping(),
        "a Struct's value: a mapping"
    );
    serde_json::to_value(&configuration["value"]).expect("JSON")
}

/// The cluster Istio makes in every proxy for this Service's first port, and its authority.
fn istio_cluster(service: &Value) -> (String, String) {
    let host = format!(
        "{}.{}.svc.cluster.local",
        service["metadata"]["name"].as_str().unwrap(),
        service["metadata"]["namespace"].as_str().unwrap()
    );
    let port = service["spec"]["ports"][0]["port"].as_u64().unwrap();
    (format!("outbound|{port}||{host}"), host)
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_sequence()
        .unwrap_or_else(|| panic!("not a list: {v:?}"))
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

/// What each overlay applies, and nothing else: the base (the cache on Redis, its mesh rules
/// and disruption budgets) under the variant's own objects; the demo without Redis.
#[test]
fn istio_overlays_apply_these_objects() {
    let base = [
        "AuthorizationPolicy webhooks/webhook-guard-cache",
        "AuthorizationPolicy webhooks/webhook-guard-redis",
        "Deployment webhooks/webhook-guard-cache",
        "PeerAuthentication webhooks/webhook-guard-cache",
        "PeerAuthentication webhooks/webhook-guard-redis",
        "PodDisruptionBudget webhooks/webhook-guard-cache",
        "PodDisruptionBudget webhooks/webhook-guard-redis",
        "Service webhooks/webhook-guard-cache",
        "Service webhooks/webhook-guard-redis",
        "ServiceAccount webhooks/webhook-guard-cache",
        "StatefulSet webhooks/webhook-guard-redis",
    ];
    let sidecar = [
        "Deployment webhooks/webhook-receiver",
        "EnvoyFilter webhooks/webhook-guard",
        "Service webhooks/webhook-receiver",
        "ServiceAccount webhooks/webhook-receiver",
    ];
    let gateway = [
        "AuthorizationPolicy webhooks/webhook-receiver-from-gateway",
        "Deployment istio-ingress/webhook-gateway",
        "Deployment webhooks/webhook-receiver",
        "EnvoyFilter istio-ingress/webhook-guard",
        "Gateway istio-ingress/webhooks",
        "PeerAuthentication webhooks/webhook-receiver",
        "Role istio-ingress/webhook-gateway-sds",
        "RoleBinding istio-ingress/webhook-gateway-sds",
        "Service istio-ingress/webhook-gateway",
        "Service webhooks/webhook-receiver",
        "ServiceAccount istio-ingress/webhook-gateway",
        "ServiceAccount webhooks/webhook-receiver",
        "VirtualService istio-ingress/webhooks",
    ];
    let redis_only = [
        "AuthorizationPolicy webhooks/webhook-guard-redis",
        "PeerAuthentication webhooks/webhook-guard-redis",
        "PodDisruptionBudget webhooks/webhook-guard-cache",
        "PodDisruptionBudget webhooks/webhook-guard-redis",
        "Service webhooks/webhook-guard-redis",
        "StatefulSet webhooks/webhook-guard-redis",
    ];
    let sorted = |v: Vec<&str>| {
        let mut v: Vec<String> = v.into_iter().map(String::from).collect();
        v.sort();
        v
    };
    let expected = [
        (
            "sidecar",
            sorted(base.iter().chain(&sidecar).copied().collect()),
        ),
        (
            "gateway",
            sorted(base.iter().chain(&gateway).copied().collect()),
        ),
        (
            "demo",
            sorted(
                base.iter()
                    .chain(&sidecar)
                    .filter(|id| !redis_only.contains(id))
                    .copied()
                    .collect(),
            ),
        ),
    ];
    for (name, want) in expected {
        let Some(docs) = overlay(name) else { return };
        assert_eq!(ids(&docs), want, "overlay {name}");
    }
    assert_eq!(kinds("envoy/istio/secret.yaml.example"), ["Secret"]);
}

fn kinds(path: &str) -> Vec<String> {
    yaml_docs(path)
        .iter()
        .map(|d| {
            d["kind"]
                .as_str()
                .unwrap_or_else(|| panic!("{path}: a document without kind"))
                .to_string()
        })
        .collect()
}

#[test]
fn istio_manifests_have_what_the_deployment_relies_on() {
    if !e2e_ready() {
        return;
    }
    let Some(docs) = overlay("sidecar") else {
        return;
    };
    assert!(read("envoy/istio/Dockerfile")
        .contains("COPY target/wasm32-wasip1/release/webhook_guard.wasm ./plugin.wasm"));

    let filter = find(&docs, "EnvoyFilter", "webhook-guard");
    assert_eq!(
        filter["apiVersion"].as_str(),
        Some("networking.istio.io/v1alpha3")
    );
    let patches = filter["spec"]["configPatches"].as_sequence().unwrap();
    assert_eq!(patches[0]["applyTo"].as_str(), Some("EXTENSION_CONFIG"));
    assert_eq!(patches[1]["applyTo"].as_str(), Some("HTTP_FILTER"));
    assert_eq!(
        patches[1]["patch"]["operation"].as_str(),
        Some("INSERT_BEFORE")
    );
    // The filter sits on the receiver's webhook port only, not on every inbound port.
    let deployment = find(&docs, "Deployment", "webhook-receiver");
    let receiver_port = deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]
        ["containerPort"]
        .as_u64();
    for patch in &patches[1..] {
        assert_eq!(
            patch["match"]["listener"]["portNumber"].as_u64(),
            receiver_port,
            "{patch:?}"
        );
    }
    // Below the sidecar's default 1 MiB connection buffer, so the filter, not Envoy, answers
    // a body near the limit.
    let plugin = plugin_of(filter);
    assert!(plugin["max_body_bytes"].as_u64().unwrap() < 1024 * 1024);
    // Header names with underscores are refused in the sidecar too.
    assert_eq!(patches[2]["applyTo"].as_str(), Some("NETWORK_FILTER"));
    assert_eq!(
        patches[2]["patch"]["value"]["typed_config"]["common_http_protocol_options"]
            ["headers_with_underscores_action"]
            .as_str(),
        Some("REJECT_REQUEST")
    );
    let ext = &patches[0]["patch"]["value"];
    assert_eq!(patches[1]["patch"]["value"]["name"], ext["name"]);
    let wasm = wasm_of(filter);
    assert_eq!(
        wasm["allow_on_headers_stop_iteration"].as_bool(),
        Some(true)
    );
    assert_eq!(wasm["failure_policy"].as_str(), Some("FAIL_CLOSED"));
    assert!(wasm["vm_config"]["code"]["remote"]["http_uri"]["uri"]
        .as_str()
        .unwrap()
        .starts_with("oci://"));

    // The secrets the filter reads reach the sidecar from the Secret.
    assert_secrets_wired(wasm, deployment);
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["labels"]["app"],
        filter["spec"]["workloadSelector"]["labels"]["app"]
    );

    // The Wasm configuration itself goes through Envoy, with the filter loaded from disk and
    // the cache declared under the name Istio gives the cache's Service.
    let (cluster, _) = istio_cluster(find(&docs, "Service", "webhook-guard-cache"));
    assert_valid(
        "istio-envoyfilter.yaml",
        &istio_as_envoy(
            wasm,
            "{ name: webhook-guard }",
            &patches[2]["patch"]["value"]["typed_config"],
            &cluster,
        ),
    );
}

/// Every variable the filter reads (`host_env_keys`) is set on the deployment's istio-proxy
/// container from a key of the Secret (as secret.yaml.example has it).
fn assert_secrets_wired(wasm: &Value, deployment: &Value) {
    let keys = strings(&wasm["vm_config"]["environment_variables"]["host_env_keys"]);
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .unwrap();
    let proxy = containers
        .iter()
        .find(|c| c["name"].as_str() == Some("istio-proxy"))
        .expect("an istio-proxy container");
    let secret = &yaml_docs("envoy/istio/secret.yaml.example")[0];
    for key in &keys {
        let env = proxy["env"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|e| e["name"].as_str() == Some(key));
        let env = env.unwrap_or_else(|| panic!("{key} not set on istio-proxy"));
        let secret_ref = &env["valueFrom"]["secretKeyRef"];
        assert_eq!(secret_ref["name"], secret["metadata"]["name"]);
        let secret_key = secret_ref["key"].as_str().unwrap();
        assert!(
            secret["stringData"][secret_key].is_string(),
            "{secret_key} not in the Secret"
        );
    }
}

#[test]
fn istio_gateway_variant_guards_the_webhook_host() {
    if !e2e_ready() {
        return;
    }
    let (Some(docs), Some(sidecar_docs)) = (overlay("gateway"), overlay("sidecar")) else {
        return;
    };
    let service = find(&docs, "Service", "webhook-gateway");
    let deployment = find(&docs, "Deployment", "webhook-gateway");
    let gateway = find(&docs, "Gateway", "webhooks");
    let routes = find(&docs, "VirtualService", "webhooks");
    let filter = find(&docs, "EnvoyFilter", "webhook-guard");
    let sidecar = find(&sidecar_docs, "EnvoyFilter", "webhook-guard");

    // One pod label ties the Service, the Deployment, the Gateway and the EnvoyFilter.
    let label = &deployment["spec"]["template"]["metadata"]["labels"]["istio"];
    assert!(label.is_string());
    assert_eq!(&service["spec"]["selector"]["istio"], label);
    assert_eq!(&gateway["spec"]["selector"]["istio"], label);
    assert_eq!(
        &filter["spec"]["workloadSelector"]["labels"]["istio"],
        label
    );
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["annotations"]["inject.istio.io/templates"]
            .as_str(),
        Some("gateway")
    );
    // The client's address survives the way in (source_ips).
    assert_eq!(
        service["spec"]["externalTrafficPolicy"].as_str(),
        Some("Local")
    );

    let patches = filter["spec"]["configPatches"].as_sequence().unwrap();
    let applies: Vec<&str> = patches
        .iter()
        .map(|p| p["applyTo"].as_str().unwrap())
        .collect();
    assert_eq!(
        applies,
        ["EXTENSION_CONFIG", "HTTP_FILTER", "NETWORK_FILTER"]
    );
    for p in patches {
        assert_eq!(p["match"]["context"].as_str(), Some("GATEWAY"), "{p:?}");
    }
    // The same filter as in the sidecar: nothing to keep in step by hand.
    assert_eq!(
        patches[0]["patch"]["value"],
        sidecar["spec"]["configPatches"][0]["patch"]["value"]
    );
    let ext = &patches[0]["patch"]["value"];
    let entry = &patches[1]["patch"]["value"];
    assert_eq!(entry["name"], ext["name"]);
    // On for every host and port of the gateway: a host added later is filtered, not passed.
    assert!(entry["disabled"].is_null(), "{entry:?}");
    assert!(patches[1]["match"]["listener"]["portNumber"].is_null());
    assert_eq!(
        patches[1]["patch"]["operation"].as_str(),
        Some("INSERT_BEFORE")
    );
    let server = &gateway["spec"]["servers"][0];
    let hcm_patch = &patches[2]["patch"]["value"]["typed_config"];
    assert_eq!(
        hcm_patch["common_http_protocol_options"]["headers_with_underscores_action"].as_str(),
        Some("REJECT_REQUEST")
    );
    // The VirtualService serves that host through that Gateway, to the receiver's Service.
    assert_eq!(routes["spec"]["hosts"], server["hosts"]);
    assert_eq!(routes["spec"]["gateways"][0], gateway["metadata"]["name"]);
    let receiver = find(&docs, "Service", "webhook-receiver");
    let dest = &routes["spec"]["http"][0]["route"][0]["destination"];
    assert_eq!(
        dest["host"].as_str().unwrap(),
        format!(
            "{}.{}.svc.cluster.local",
            receiver["metadata"]["name"].as_str().unwrap(),
            receiver["metadata"]["namespace"].as_str().unwrap()
        )
    );
    assert_eq!(dest["port"]["number"], receiver["spec"]["ports"][0]["port"]);
    assert_eq!(routes["spec"]["http"][0]["timeout"].as_str(), Some("8s"));
    // Only the gateway may call the receiver: anything else would bypass the filter.
    let authz = find(
        &docs,
        "AuthorizationPolicy",
        "webhook-receiver-from-gateway",
    );
    assert_eq!(
        authz["spec"]["rules"][0]["from"][0]["source"]["principals"][0].as_str(),
        Some(
            format!(
                "cluster.local/ns/{}/sa/{}",
                deployment["metadata"]["namespace"].as_str().unwrap(),
                deployment["spec"]["template"]["spec"]["serviceAccountName"]
                    .as_str()
                    .unwrap()
            )
            .as_str()
        )
    );

    let wasm = wasm_of(filter);
    assert_secrets_wired(wasm, deployment);
    // The gateway variant's receiver has no secret to be given (its sidecar runs no filter).
    let gateway_receiver = find(&docs, "Deployment", "webhook-receiver");
    assert!(!serde_yaml_ng::to_string(gateway_receiver)
        .unwrap()
        .contains("secretKeyRef"));
    assert_eq!(
        gateway_receiver["metadata"],
        find(&sidecar_docs, "Deployment", "webhook-receiver")["metadata"]
    );
    // Envoy takes the pieces as istiod assembles them.
    let (cluster, _) = istio_cluster(find(&docs, "Service", "webhook-guard-cache"));
    assert_valid(
        "istio-gateway-envoyfilter.yaml",
        &istio_as_envoy(
            wasm,
            &serde_json::to_string(entry).unwrap(),
            hcm_patch,
            &cluster,
        ),
    );
}

/// The service account principal a workload runs as.
fn principal(workload: &Value) -> String {
    format!(
        "cluster.local/ns/{}/sa/{}",
        workload["metadata"]["namespace"].as_str().unwrap(),
        workload["spec"]["template"]["spec"]["serviceAccountName"]
            .as_str()
            .unwrap_or_else(|| panic!("no serviceAccountName: {workload:?}"))
    )
}

/// Only the filter's proxies may claim, commit or release (POST /v1/*), and only the cache
/// may call Redis, each named by the service account its workload runs as. Prometheus may
/// GET /metrics, where the cache's scrape annotations point, and nothing else.
#[test]
fn istio_cache_is_for_the_filter_only() {
    let (Some(sidecar), Some(gateway)) = (overlay("sidecar"), overlay("gateway")) else {
        return;
    };
    let filter_proxies = [
        principal(find(&sidecar, "Deployment", "webhook-receiver")),
        principal(find(&gateway, "Deployment", "webhook-gateway")),
    ];
    for docs in [&sidecar, &gateway] {
        for app in ["webhook-guard-cache", "webhook-guard-redis"] {
            let mtls = find(docs, "PeerAuthentication", app);
            assert_eq!(
                mtls["spec"]["selector"]["matchLabels"]["app"].as_str(),
                Some(app)
            );
            assert_eq!(mtls["spec"]["mtls"]["mode"].as_str(), Some("STRICT"));
        }
        let cache = find(docs, "Deployment", "webhook-guard-cache");
        let service = find(docs, "Service", "webhook-guard-cache");
        let port = service["spec"]["ports"][0]["targetPort"].as_u64().unwrap();
        let pod = &cache["spec"]["template"];
        assert_eq!(
            pod["spec"]["containers"][0]["ports"][0]["containerPort"].as_u64(),
            Some(port)
        );

        let policy = find(docs, "AuthorizationPolicy", "webhook-guard-cache");
        assert_eq!(policy["spec"]["action"].as_str(), Some("ALLOW"));
        assert_eq!(
            policy["spec"]["selector"]["matchLabels"],
            pod["metadata"]["labels"]
        );
        let rules = policy["spec"]["rules"].as_sequence().unwrap();
        assert_eq!(rules.len(), 2, "{rules:?}");
        for rule in rules {
            // A rule without `to` or with an empty operation would allow every path.
            assert_eq!(rule["to"].as_sequence().map(Vec::len), Some(1), "{rule:?}");
            assert_eq!(
                rule["from"].as_sequence().map(Vec::len),
                Some(1),
                "{rule:?}"
            );
            let op = &rule["to"][0]["operation"];
            assert_eq!(strings(&op["ports"]), [port.to_string()]);
            assert!(op["notPaths"].is_null() && op["notMethods"].is_null());
        }
        // Rule 1: the filter's proxies, the claim API only (the filter posts /v1/batch,
        // /v1/commit and /v1/release).
        assert_eq!(
            strings(&rules[0]["from"][0]["source"]["principals"]),
            filter_proxies
        );
        assert_eq!(
            strings(&rules[0]["to"][0]["operation"]["methods"]),
            ["POST"]
        );
        assert_eq!(strings(&rules[0]["to"][0]["operation"]["paths"]), ["/v1/*"]);
        // Rule 2: Prometheus, GET on the path the scrape annotations name.
        let prometheus = strings(&rules[1]["from"][0]["source"]["principals"]);
        assert_eq!(prometheus.len(), 1);
        assert!(prometheus[0].ends_with("/sa/prometheus"), "{prometheus:?}");
        assert!(!filter_proxies.iter().any(|p| p == prometheus[0]));
        assert_eq!(strings(&rules[1]["to"][0]["operation"]["methods"]), ["GET"]);
        let annotations = &pod["metadata"]["annotations"];
        assert_eq!(annotations["prometheus.io/scrape"].as_str(), Some("true"));
        assert_eq!(
            annotations["prometheus.io/port"].as_str(),
            Some(port.to_string().as_str())
        );
        assert_eq!(annotations["prometheus.io/path"].as_str(), Some("/metrics"));
        assert_eq!(
            strings(&rules[1]["to"][0]["operation"]["paths"]),
            ["/metrics"]
        );

        // Redis: the cache only, on Redis' port.
        let redis_policy = find(docs, "AuthorizationPolicy", "webhook-guard-redis");
        assert_eq!(
            strings(&redis_policy["spec"]["rules"][0]["from"][0]["source"]["principals"]),
            [principal(cache)]
        );
        assert_eq!(
            redis_policy["spec"]["rules"].as_sequence().unwrap().len(),
            1
        );
        let redis_port = find(docs, "Service", "webhook-guard-redis")["spec"]["ports"][0]["port"]
            .as_u64()
            .unwrap();
        assert_eq!(
            strings(&redis_policy["spec"]["rules"][0]["to"][0]["operation"]["ports"]),
            [redis_port.to_string()]
        );
    }
    // Both variants' receivers run as the one identity the cache policy names.
    assert_eq!(
        principal(find(&sidecar, "Deployment", "webhook-receiver")),
        principal(find(&gateway, "Deployment", "webhook-receiver"))
    );
}

/// Claims survive what a cluster does to pods: the cache replicas share Redis (a rollout
/// or a lost cache pod loses nothing, and two pods never split the claims), Redis keeps its
/// append-only file on a persistent volume at /data, and disruption budgets keep node
/// drains from taking the cache's last pod or Redis unannounced.
#[test]
fn istio_claims_survive_rollouts_and_restarts() {
    for name in ["sidecar", "gateway"] {
        let Some(docs) = overlay(name) else { return };
        let cache = find(&docs, "Deployment", "webhook-guard-cache");
        let args = strings(&cache["spec"]["template"]["spec"]["containers"][0]["args"]);
        let redis_url = args[args.iter().position(|a| *a == "--redis").expect("--redis") + 1];
        assert!(!args.contains(&"--memory-max-entries"), "{args:?}");
        let replicas = cache["spec"]["replicas"].as_u64().unwrap();
        assert!(replicas >= 2, "{name}: {replicas} cache replicas");
        assert_eq!(
            cache["spec"]["strategy"]["type"].as_str(),
            Some("RollingUpdate")
        );
        assert_eq!(
            cache["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"].as_u64(),
            Some(0)
        );

        // Redis: a StatefulSet whose claim template is mounted at /data, where the
        // append-only file is written; the cache reaches it through its Service.
        assert!(of_kind(&docs, "Deployment")
            .iter()
            .all(|d| d["metadata"]["name"].as_str() != Some("webhook-guard-redis")));
        let redis = find(&docs, "StatefulSet", "webhook-guard-redis");
        let service = find(&docs, "Service", "webhook-guard-redis");
        assert_eq!(redis["spec"]["serviceName"], service["metadata"]["name"]);
        assert_eq!(service["spec"]["clusterIP"].as_str(), Some("None"));
        assert_eq!(
            redis_url,
            format!(
                "redis://{}:{}/",
                service["metadata"]["name"].as_str().unwrap(),
                service["spec"]["ports"][0]["port"].as_u64().unwrap()
            )
        );
        assert_eq!(redis["spec"]["replicas"].as_u64(), Some(1));
        let container = &redis["spec"]["template"]["spec"]["containers"][0];
        let redis_args = strings(&container["args"]);
        let flag = |f: &str| {
            redis_args[redis_args
                .iter()
                .position(|a| *a == f)
                .unwrap_or_else(|| panic!("{f}"))
                + 1]
        };
        assert_eq!(flag("--appendonly"), "yes");
        assert_eq!(flag("--dir"), "/data");
        let mount = container["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|m| m["mountPath"].as_str() == Some("/data"))
            .expect("a volume at /data");
        let templates = redis["spec"]["volumeClaimTemplates"].as_sequence().unwrap();
        assert_eq!(templates.len(), 1);
        assert_eq!(templates[0]["metadata"]["name"], mount["name"]);
        assert!(templates[0]["spec"]["resources"]["requests"]["storage"].is_string());
        // No pod volume shadows the claim template (an emptyDir would not survive the pod).
        assert!(redis["spec"]["template"]["spec"]["volumes"].is_null());

        // A budget for each, selecting its pods; the cache's lets a drain take one pod at
        // a time (minAvailable below its replicas).
        for (app, workload) in [
            ("webhook-guard-cache", cache),
            ("webhook-guard-redis", redis),
        ] {
            let budget = find(&docs, "PodDisruptionBudget", app);
            assert_eq!(
                budget["spec"]["selector"]["matchLabels"],
                workload["spec"]["template"]["metadata"]["labels"]
            );
            assert_eq!(budget["spec"]["minAvailable"].as_u64(), Some(1));
        }
        assert!(1 < replicas);
    }
}

/// The demo overlay runs the memory backend in one pod, replaced rather than rolled (two
/// pods would serve one Service with two stores), without Redis, and says it is for trying
/// only.
#[test]
fn istio_demo_overlay_is_one_memory_pod_recreated() {
    let Some(docs) = overlay("demo") else { return };
    let cache = find(&docs, "Deployment", "webhook-guard-cache");
    assert_eq!(cache["spec"]["replicas"].as_u64(), Some(1));
    assert_eq!(cache["spec"]["strategy"]["type"].as_str(), Some("Recreate"));
    assert!(cache["spec"]["strategy"]["rollingUpdate"].is_null());
    let args = strings(&cache["spec"]["template"]["spec"]["containers"][0]["args"]);
    assert!(args.contains(&"--memory-max-entries"), "{args:?}");
    assert!(!args.iter().any(|a| a.contains("redis")), "{args:?}");
    assert!(of_kind(&docs, "StatefulSet").is_empty());
    assert!(!serde_yaml_ng::to_string(&docs)
        .unwrap()
        .contains("webhook-guard-redis"));
    let kustomization = read("envoy/istio/overlays/demo/kustomization.yaml");
    assert!(
        kustomization.starts_with("# FOR TRYING ONLY"),
        "{kustomization}"
    );
}

/// Every EnvoyFilter's cache cluster and authority are what Istio names the cache's Service
/// (outbound|PORT||NAME.NAMESPACE.svc.cluster.local), and they come from the one parameter
/// file: changed there, they change in every variant's filter. The overlay's `images:` sets
/// the cache's image and the Wasm module's oci:// URL alike.
#[test]
fn istio_cache_cluster_and_images_are_set_in_one_place() {
    for name in kustomize::OVERLAYS {
        let Some(docs) = overlay(name) else { return };
        let (cluster, authority) = istio_cluster(find(&docs, "Service", "webhook-guard-cache"));
        let filters = of_kind(&docs, "EnvoyFilter");
        assert_eq!(filters.len(), 1, "{name}");
        let plugin = plugin_of(filters[0]);
        let idempotency = &plugin["idempotency"];
        assert_eq!(
            idempotency["cluster"].as_str(),
            Some(cluster.as_str()),
            "{name}"
        );
        assert_eq!(
            idempotency["authority"].as_str(),
            Some(authority.as_str()),
            "{name}"
        );
    }

    // Kustomize writes the parameters at their paths in the configuration (a Struct): each
    // replacement names the field, and the overlays hold a placeholder there.
    let component = &yaml_docs("envoy/istio/components/filter/kustomization.yaml")[0];
    let paths: Vec<&str> = component["replacements"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(
                r["targets"][0]["options"].is_null(),
                "a replacement by position in the text: {r:?}"
            );
            r["targets"][0]["fieldPaths"][0].as_str().unwrap()
        })
        .collect();
    let at = "spec.configPatches.0.patch.value.typed_config.config.configuration.value.idempotency";
    assert_eq!(paths, [format!("{at}.cluster"), format!("{at}.authority")]);
    for variant in ["sidecar", "gateway"] {
        let path = format!("envoy/istio/overlays/{variant}/envoyfilter.yaml");
        let plugin = plugin_of(&yaml_docs(&path)[0]);
        for key in ["cluster", "authority"] {
            assert_eq!(
                plugin["idempotency"][key], "from components/filter/params.yaml",
                "{path}"
            );
        }
    }

    // A user's edit: another cluster name, another registry and version.
    let dir = kustomize::copy_of_istio("params");
    let edit = |path: &str, from: &str, to: &str| {
        let path = dir.join(path);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{}: no {from}", path.display());
        std::fs::write(&path, text.replace(from, to)).unwrap();
    };
    edit(
        "components/filter/params.yaml",
        "\"outbound|8081||webhook-guard-cache.webhooks.svc.cluster.local\"",
        "\"outbound|9091||guard-cache.hooks.svc.cluster.local\"",
    );
    edit(
        "components/filter/params.yaml",
        "cache-authority: webhook-guard-cache.webhooks.svc.cluster.local",
        "cache-authority: guard-cache.hooks.svc.cluster.local",
    );
    for variant in ["sidecar", "gateway"] {
        let k = format!("overlays/{variant}/kustomization.yaml");
        edit(
            &k,
            "newName: oci://registry.example.com/",
            "newName: oci://reg.test/team/",
        );
        edit(
            &k,
            "newName: registry.example.com/",
            "newName: reg.test/team/",
        );
        edit(&k, "newTag: \"0.2.0\"", "newTag: \"9.9.9\"");
    }
    for name in kustomize::OVERLAYS {
        let Some(text) = kustomize::render(&dir.join("overlays").join(name)) else {
            return;
        };
        assert!(!text.contains("registry.example.com"), "{name}");
        assert!(!text.contains("0.2.0"), "{name}");
        let docs = parse(&text);
        let filter = of_kind(&docs, "EnvoyFilter")[0];
        let plugin = plugin_of(filter);
        let idempotency = &plugin["idempotency"];
        assert_eq!(
            idempotency["cluster"].as_str(),
            Some("outbound|9091||guard-cache.hooks.svc.cluster.local")
        );
        assert_eq!(
            idempotency["authority"].as_str(),
            Some("guard-cache.hooks.svc.cluster.local")
        );
        assert_eq!(
            wasm_of(filter)["vm_config"]["code"]["remote"]["http_uri"]["uri"].as_str(),
            Some("oci://reg.test/team/webhook-guard:9.9.9")
        );
        let cache = find(&docs, "Deployment", "webhook-guard-cache");
        assert_eq!(
            cache["spec"]["template"]["spec"]["containers"][0]["image"].as_str(),
            Some("reg.test/team/webhook-guard-cache:9.9.9")
        );
        let receiver = find(&docs, "Deployment", "webhook-receiver");
        assert_eq!(
            receiver["spec"]["template"]["spec"]["containers"][0]["image"].as_str(),
            Some("reg.test/team/your-webhook-receiver:latest")
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The Istio install (docs/deploy/istio.md): one overlay per code block, each after creating the Secret in the
/// namespace where that overlay's filter proxy reads it (the gateway's pod would otherwise
/// never start: its secretKeyRef names a Secret that is not there).
#[test]
fn readme_installs_each_overlay_with_its_secret_where_it_is_read() {
    let readme = read("docs/deploy/istio.md");
    let blocks: Vec<&str> = readme.split("```").skip(1).step_by(2).collect();
    let mut installed = Vec::new();
    for block in &blocks {
        let applies: Vec<&str> = block
            .lines()
            .filter_map(|l| {
                l.trim()
                    .strip_prefix("kubectl apply -k envoy/istio/overlays/")
            })
            .map(|rest| rest.split_whitespace().next().unwrap())
            .collect();
        if applies.is_empty() {
            continue;
        }
        assert_eq!(applies.len(), 1, "one variant per block:\n{block}");
        let name = applies[0];
        let Some(docs) = overlay(name) else { return };
        let namespaces: Vec<&str> = block
            .lines()
            .filter(|l| l.contains("create secret generic webhook-guard-secrets"))
            .map(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                words[words.iter().position(|w| *w == "-n").expect("-n") + 1]
            })
            .collect();
        // Where the overlay's pods read the Secret.
        let readers: Vec<&str> = docs
            .iter()
            .filter(|d| {
                serde_yaml_ng::to_string(d)
                    .unwrap()
                    .contains("name: webhook-guard-secrets")
            })
            .map(|d| d["metadata"]["namespace"].as_str().unwrap())
            .collect();
        assert!(!readers.is_empty(), "{name}: nothing reads the Secret");
        assert_eq!(
            namespaces.len(),
            1,
            "{name}: one Secret per block:\n{block}"
        );
        assert!(
            readers.iter().all(|ns| *ns == namespaces[0]),
            "{name}: {readers:?}"
        );
        installed.push(name);
    }
    installed.sort();
    let mut all = kustomize::OVERLAYS.to_vec();
    all.sort();
    assert_eq!(installed, all, "an install block per overlay");
    assert!(!readme.contains("sed \"s#registry.example.com"));
}

/// An Envoy configuration with the EnvoyFilter's pieces where istiod puts them: the Wasm
/// filter `wasm` (loaded from disk instead of the OCI image) merged into the HTTP filter entry
/// `entry`, before the router, and the connection manager patch `hcm_patch` merged into the
/// connection manager; the cache declared as `cache_cluster` (the name Istio gives its Service).
fn istio_as_envoy(wasm: &Value, entry: &str, hcm_patch: &Value, cache_cluster: &str) -> String {
    let mut config = wasm.clone();
    config["vm_config"]["code"] = serde_yaml_ng::from_str(
        "{ local: { filename: target/wasm32-wasip1/release/webhook_guard.wasm } }",
    )
    .unwrap();
    let mut filter: Value = serde_yaml_ng::from_str(entry).unwrap();
    let filter = filter.as_mapping_mut().unwrap();
    filter.remove("config_discovery");
    filter.insert(
        "typed_config".into(),
        serde_yaml_ng::from_str(
            r#"{ "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm }"#,
        )
        .unwrap(),
    );
    filter["typed_config"]["config"] = config;
    let filter = serde_json::to_string(&filter).unwrap();

    let text = format!(
        r#"static_resources:
  listeners:
  - name: inbound
    address: {{ socket_address: {{ address: 127.0.0.1, port_value: 0 }} }}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: inbound
          route_config: {{ virtual_hosts: [{{ name: all, domains: ["*"], routes: [{{ match: {{ prefix: "/" }}, route: {{ cluster: receiver }} }}] }}] }}
          http_filters:
          - {filter}
          - name: envoy.filters.http.router
            typed_config: {{ "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }}
  clusters:
  - name: receiver
    load_assignment: {{ cluster_name: receiver, endpoints: [{{ lb_endpoints: [{{ endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: 8080 }} }} }} }}] }}] }}
  - name: "{cache_cluster}"
    load_assignment: {{ cluster_name: cache, endpoints: [{{ lb_endpoints: [{{ endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: 8081 }} }} }} }}] }}] }}
"#
    );
    let mut config: Value = serde_yaml_ng::from_str(&text).unwrap();
    let hcm = &mut config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
        ["typed_config"];
    for (k, v) in hcm_patch.as_mapping().unwrap() {
        if k.as_str() != Some("@type") {
            hcm[k.as_str().unwrap()] = v.clone();
        }
    }
    serde_yaml_ng::to_string(&config).unwrap()
}

/// The configuration written as YAML (a `google.protobuf.Struct`, as shipped) and as JSON
/// text (a `google.protobuf.StringValue`) load in a real Envoy and behave the same: a signed
/// delivery is forwarded, a forged one answered 401. Envoy hands the filter a Struct as the
/// serialized message, not JSON: before the filter read that, the Struct form failed to load.
#[test]
fn both_configuration_forms_behave_the_same_in_envoy() {
    if !e2e_ready() {
        return;
    }
    const SECRET: &str = "config-forms-secret-0123456789";
    let config = format!(
        r#"{{ "max_body_bytes": 65536, "log_level": "info",
             "endpoints": [ {{ "name": "genesys", "path_prefix": "/webhooks/genesys",
                              "preset": "genesys-open-messaging", "max_age_seconds": 300,
                              "secrets": [ {{ "id": "current", "value": "{SECRET}" }} ] }} ] }}"#
    );
    for (form, kind) in [
        (ConfigForm::Struct, "google.protobuf.Struct"),
        (ConfigForm::Text, "google.protobuf.StringValue"),
    ] {
        let upstream = Upstream::start();
        let mut o = EnvoyOptions::new(&config, upstream.port);
        o.config_form = form;
        assert!(envoy_yaml(&o).contains(kind), "{form:?}");
        let envoy = Envoy::start(&o);
        let signed = genesys_delivery(&config, SECRET, &format!("forms-{form:?}"));
        let r = deliver(envoy.port, &signed);
        assert_eq!(r.status, 200, "{form:?}: {}", envoy.log());
        let forged = genesys_delivery(&config, "not-the-secret-0123456789abc", "forms-forged");
        let r = deliver(envoy.port, &forged);
        assert_eq!(r.status, 401, "{form:?}");
        assert_eq!(upstream.requests().len(), 1, "{form:?}");
        assert!(
            envoy.events().iter().any(|e| e["event"] == "config_loaded"),
            "{form:?}"
        );
        envoy.assert_no_panic();
    }
}

/// What Envoy (1.40) does with unquoted YAML numbers in a Struct configuration, which the
/// README tells operators: a 32-bit whole number arrives as a number, any other number
/// (larger, or with a fraction) as a string of its digits. So a secret must be quoted; an
/// unquoted one is refused as a number (never shown) or read as the text it was written as.
#[test]
fn envoy_reads_unquoted_yaml_numbers_into_a_struct_as_small_integers_or_strings() {
    if !e2e_ready() {
        return;
    }
    let config = r#"{"endpoints":[{"name":"gh","path_prefix":"/gh","preset":"github",
        "secrets":[{"id":"a","value":"stand-in-secret-0123456789"}]}]}"#;
    let o = EnvoyOptions::new(config, 9);
    let text = envoy_yaml(&o);
    assert!(text.contains("google.protobuf.Struct"));
    let dir = scratch_dir("yaml-numbers");
    let cases: [(&str, Option<&str>); 4] = [
        (
            "1234",
            Some("secrets[0].value: must be a string, not a number (not shown)"),
        ),
        (
            "2147483647",
            Some("secrets[0].value: must be a string, not a number (not shown)"),
        ),
        // 10 digits as text: a key, too short.
        (
            "2147483648",
            Some("secrets[0]: the key is shorter than 16 bytes"),
        ),
        // The digits, as text: a valid key.
        ("918273645501928374", None),
    ];
    for (i, (number, expected)) in cases.iter().enumerate() {
        let edited = text.replacen("stand-in-secret-0123456789", number, 1);
        assert_ne!(edited, text);
        let path = dir.join(format!("n{i}.yaml"));
        std::fs::write(&path, edited).expect("write");
        let (ok, out) = validate(&path, &[]);
        let events = filter_events(&out);
        match expected {
            None => {
                assert!(ok, "{number}:\n{out}");
                assert!(events.iter().any(|e| e["event"] == "config_loaded"));
            }
            Some(reason) => {
                assert!(!ok, "{number}: Envoy loaded it");
                let error = events
                    .iter()
                    .find(|e| e["event"] == "config_rejected")
                    .and_then(|e| e["error"].as_str())
                    .unwrap_or_else(|| panic!("{number}: no refusal in\n{out}"))
                    .to_string();
                assert!(
                    error.starts_with(&format!("endpoints[0] (gh).{reason}")),
                    "{number}: {error}"
                );
                assert!(!error.contains(number), "{number}: {error}");
            }
        }
    }
}
