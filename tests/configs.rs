//! Every file users copy from envoy/ is checked here: the Envoy configurations load the real
//! filter in `envoy --mode validate`, the docker compose sibling differs from envoy.yaml only
//! in container paths and addresses, and the Istio manifests have the kinds and fields the
//! deployment relies on (their Wasm configuration also goes through Envoy's validation).

mod common;

use common::*;
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
        out.contains("webhook-guard: configured endpoints"),
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
        out.contains("optional, and GENESYS_WEBHOOK_SECRET_PREVIOUS is not set: skipped"),
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

/// The first document of this kind in the file.
fn doc(path: &str, kind: &str) -> Value {
    yaml_docs(path)
        .into_iter()
        .find(|d| d["kind"].as_str() == Some(kind))
        .unwrap_or_else(|| panic!("{path}: no {kind}"))
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
    assert_eq!(kinds("envoy/istio/secret.yaml.example"), ["Secret"]);
    assert_eq!(kinds("envoy/istio/envoyfilter.yaml"), ["EnvoyFilter"]);
    assert_eq!(
        kinds("envoy/istio/receiver-deployment.yaml"),
        ["ServiceAccount", "Deployment", "Service"]
    );
    assert_eq!(
        kinds("envoy/istio/cache.yaml"),
        ["ServiceAccount", "Deployment", "Service"]
    );
    assert_eq!(
        kinds("envoy/istio/cache-redis.yaml"),
        [
            "ServiceAccount",
            "Deployment",
            "Service",
            "Deployment",
            "Service"
        ]
    );
    assert!(read("envoy/istio/Dockerfile")
        .contains("COPY target/wasm32-wasip1/release/webhook_guard.wasm ./plugin.wasm"));

    let filter = &yaml_docs("envoy/istio/envoyfilter.yaml")[0];
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
    let receiver_port = doc("envoy/istio/receiver-deployment.yaml", "Deployment")["spec"]
        ["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
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
    let plugin: serde_json::Value = serde_json::from_str(
        patches[0]["patch"]["value"]["typed_config"]["config"]["configuration"]["value"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
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
    let wasm = &ext["typed_config"]["config"];
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
    let deployment = &doc("envoy/istio/receiver-deployment.yaml", "Deployment");
    assert_secrets_wired(wasm, deployment);
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["labels"]["app"],
        filter["spec"]["workloadSelector"]["labels"]["app"]
    );

    // The Wasm configuration itself goes through Envoy, with the filter loaded from disk and
    // the Istio cluster name of the cache declared.
    assert_valid(
        "istio-envoyfilter.yaml",
        &istio_as_envoy(
            wasm,
            "{ name: webhook-guard }",
            &patches[2]["patch"]["value"]["typed_config"],
        ),
    );
}

/// Every variable the filter reads (`host_env_keys`) is set on the deployment's istio-proxy
/// container from a key of the Secret (as secret.yaml.example has it).
fn assert_secrets_wired(wasm: &Value, deployment: &Value) {
    let keys: Vec<&str> = wasm["vm_config"]["environment_variables"]["host_env_keys"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
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
    let dir = "envoy/istio/gateway";
    assert_eq!(
        kinds(&format!("{dir}/ingress-gateway.yaml")),
        [
            "ServiceAccount",
            "Service",
            "Deployment",
            "Role",
            "RoleBinding"
        ]
    );
    assert_eq!(
        kinds(&format!("{dir}/gateway.yaml")),
        ["Gateway", "VirtualService"]
    );
    assert_eq!(kinds(&format!("{dir}/envoyfilter.yaml")), ["EnvoyFilter"]);
    let gw_docs = yaml_docs(&format!("{dir}/ingress-gateway.yaml"));
    let (service, deployment) = (&gw_docs[1], &gw_docs[2]);
    let gateway = &yaml_docs(&format!("{dir}/gateway.yaml"))[0];
    let routes = &yaml_docs(&format!("{dir}/gateway.yaml"))[1];
    let filter = &yaml_docs(&format!("{dir}/envoyfilter.yaml"))[0];
    let sidecar = &yaml_docs("envoy/istio/envoyfilter.yaml")[0];

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
    let receiver = &doc("envoy/istio/receiver-deployment.yaml", "Service");
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
    let authz = &yaml_docs(&format!("{dir}/receiver-authz.yaml"))[1];
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

    let wasm = &ext["typed_config"]["config"];
    assert_secrets_wired(wasm, deployment);
    // The gateway variant's receiver has no secret to be given (its sidecar runs no filter).
    let receiver_docs = read(&format!("{dir}/receiver.yaml"));
    assert!(!receiver_docs.contains("secretKeyRef"));
    assert_eq!(
        doc(&format!("{dir}/receiver.yaml"), "Deployment")["metadata"],
        doc("envoy/istio/receiver-deployment.yaml", "Deployment")["metadata"]
    );
    // Envoy takes the pieces as istiod assembles them.
    assert_valid(
        "istio-gateway-envoyfilter.yaml",
        &istio_as_envoy(wasm, &serde_json::to_string(entry).unwrap(), hcm_patch),
    );
}

/// Only the filter's proxies may call the cache, and only the cache may call Redis, each
/// named by the service account its Deployment runs as.
#[test]
fn istio_cache_is_for_the_filter_only() {
    let sa = |path: &str| {
        let d = doc(path, "Deployment");
        format!(
            "cluster.local/ns/{}/sa/{}",
            d["metadata"]["namespace"].as_str().unwrap(),
            d["spec"]["template"]["spec"]["serviceAccountName"]
                .as_str()
                .unwrap_or_else(|| panic!("{path}: no serviceAccountName"))
        )
    };
    let docs = yaml_docs("envoy/istio/cache-authz.yaml");
    let policy = |app: &str| -> Vec<String> {
        let d = docs
            .iter()
            .find(|d| {
                d["kind"].as_str() == Some("AuthorizationPolicy")
                    && d["spec"]["selector"]["matchLabels"]["app"].as_str() == Some(app)
            })
            .unwrap_or_else(|| panic!("no AuthorizationPolicy for {app}"));
        assert_eq!(d["spec"]["action"].as_str(), Some("ALLOW"));
        d["spec"]["rules"][0]["from"][0]["source"]["principals"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect()
    };
    for app in ["webhook-guard-cache", "webhook-guard-redis"] {
        assert!(
            docs.iter()
                .any(|d| d["kind"].as_str() == Some("PeerAuthentication")
                    && d["spec"]["selector"]["matchLabels"]["app"].as_str() == Some(app)
                    && d["spec"]["mtls"]["mode"].as_str() == Some("STRICT")),
            "no STRICT mTLS for {app}"
        );
    }
    assert_eq!(
        policy("webhook-guard-cache"),
        [
            sa("envoy/istio/receiver-deployment.yaml"),
            sa("envoy/istio/gateway/ingress-gateway.yaml")
        ]
    );
    assert_eq!(
        sa("envoy/istio/receiver-deployment.yaml"),
        sa("envoy/istio/gateway/receiver.yaml")
    );
    assert_eq!(
        sa("envoy/istio/cache.yaml"),
        sa("envoy/istio/cache-redis.yaml")
    );
    assert_eq!(
        policy("webhook-guard-redis"),
        [sa("envoy/istio/cache-redis.yaml")]
    );
}

/// An Envoy configuration with the EnvoyFilter's pieces where istiod puts them: the Wasm
/// filter `wasm` (loaded from disk instead of the OCI image) merged into the HTTP filter entry
/// `entry`, before the router, and the connection manager patch `hcm_patch` merged into the
/// connection manager; the cache declared under its Istio cluster name.
fn istio_as_envoy(wasm: &Value, entry: &str, hcm_patch: &Value) -> String {
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
  - name: "outbound|8081||webhook-guard-cache.webhooks.svc.cluster.local"
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
