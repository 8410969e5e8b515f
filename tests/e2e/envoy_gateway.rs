//! The Envoy Gateway path (docs/deploy/envoy-gateway.md), Envoy side, for real: the listener,
//! routes and clusters Envoy Gateway's translator produces for a Wasm EnvoyExtensionPolicy
//! (vendored in tests/data/envoy-gateway/, with their source), the filter's settings
//! translated from envoy/gateway/envoyextensionpolicy.yaml as the translator does, then
//! envoy/gateway/envoypatchpolicy.yaml applied as Envoy Gateway applies an EnvoyPatchPolicy,
//! and the result run in a real Envoy with the built filter, the cache service and two
//! upstreams. The point: a route the extension policy does not cover is filtered too, never
//! passed; and without the patch it is passed (the control).

use std::thread;
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::{json, Value};

const SECRET: &str = "gateway-genesys-secret-0123456789";
const HOST: &str = "hooks.example.com";
const LISTENER: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
const ROUTES: &str = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
const CLUSTER: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
/// The name Envoy Gateway gives the policy's filter: envoy.filters.http.wasm/ +
/// envoyextensionpolicy/<namespace>/<name>/wasm/<index> (internal/gatewayapi,
/// irConfigNameForWasm; internal/xds/translator/wasm.go, wasmFilterName).
const FILTER: &str = "envoy.filters.http.wasm/envoyextensionpolicy/webhooks/webhook-guard/wasm/0";
const COVERED_CLUSTER: &str = "httproute/webhooks/webhook-receiver/rule/0";
const OTHER_CLUSTER: &str = "httproute/webhooks/other-route/rule/0";

fn read_yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(repo_root().join(path)).expect(path);
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What Envoy Gateway would send this proxy: its listener, route configurations, clusters.
struct Xds {
    listeners: Vec<Value>,
    routes: Vec<Value>,
    clusters: Vec<Value>,
}

/// The translator's output for envoy/gateway/: the vendored shape, with the Wasm filter's
/// settings taken from the shipped EnvoyExtensionPolicy as wasmConfig() takes them
/// (internal/xds/translator/wasm.go): name, root_id, the config as JSON text, fail_open,
/// env.hostKeys as host_env_keys.
fn translated() -> Xds {
    let policy = read_yaml("envoy/gateway/envoyextensionpolicy.yaml");
    let wasm = &policy["spec"]["wasm"][0];
    let mut listener = read_yaml("tests/data/envoy-gateway/listener.yaml");
    let config = &mut http_filter(&mut listener, FILTER)["typed_config"]["config"];
    config["name"] = wasm["name"].clone();
    config["root_id"] = wasm["rootID"].clone();
    config["configuration"]["value"] = Value::from(wasm["config"].to_string());
    let plugin = config.as_object_mut().expect("plugin config");
    plugin.remove("fail_open");
    if wasm["failOpen"] == true {
        plugin.insert("fail_open".into(), Value::from(true));
    }
    config["vm_config"]["environment_variables"] =
        json!({ "host_env_keys": wasm["env"]["hostKeys"] });
    let clusters = read_yaml("tests/data/envoy-gateway/clusters.yaml");
    Xds {
        listeners: vec![listener],
        routes: vec![read_yaml("tests/data/envoy-gateway/routes.yaml")],
        clusters: clusters.as_array().expect("clusters").clone(),
    }
}

/// The listener's connection manager (the plain-HTTP listener's one filter chain).
fn hcm(listener: &mut Value) -> &mut Value {
    let filters = listener["default_filter_chain"]["filters"]
        .as_array_mut()
        .expect("filters");
    let hcm = filters
        .iter_mut()
        .find(|f| f["name"] == "envoy.filters.network.http_connection_manager")
        .expect("the connection manager");
    &mut hcm["typed_config"]
}

fn http_filter<'a>(listener: &'a mut Value, name: &str) -> &'a mut Value {
    hcm(listener)["http_filters"]
        .as_array_mut()
        .expect("http_filters")
        .iter_mut()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no http filter {name}"))
}

/// Applies an EnvoyPatchPolicy's operations as Envoy Gateway does
/// (internal/xds/translator/jsonpatch.go, internal/utils/jsonpatch/patch.go at the commit
/// tests/data/envoy-gateway names): `add` with neither path nor jsonPath adds the value as
/// a whole resource; otherwise the resource of that type and name is patched, at `path`, or
/// at `path` under each node `jsonPath` finds; `add` creates the missing objects on its way
/// (EnsurePathExistsOnAdd). A missing resource, a jsonPath that finds nothing or a failed
/// operation fails the test (Envoy Gateway reports them in the policy's status).
fn apply_patch_policy(xds: &mut Xds, policy: &Value) {
    for patch in policy["spec"]["jsonPatches"]
        .as_array()
        .expect("jsonPatches")
    {
        let (kind, name, op) = (
            patch["type"].as_str().expect("type"),
            patch["name"].as_str().expect("name"),
            &patch["operation"],
        );
        let resources = match kind {
            LISTENER => &mut xds.listeners,
            ROUTES => &mut xds.routes,
            CLUSTER => &mut xds.clusters,
            other => panic!("a patch of {other}: not a type this test knows"),
        };
        let path = op["path"].as_str().unwrap_or("");
        let json_path = op["jsonPath"].as_str();
        if op["op"] == "add" && path.is_empty() && json_path.is_none() {
            resources.push(op["value"].clone());
            continue;
        }
        let doc = resources
            .iter_mut()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} named {name}: the policy would not apply"));
        let pointers: Vec<String> = match json_path {
            Some(query) => {
                let query = serde_json_path::JsonPath::parse(query)
                    .unwrap_or_else(|e| panic!("jsonPath {query}: {e}"));
                let found = query.query_located(doc);
                let pointers: Vec<String> = found
                    .locations()
                    .map(|at| join_pointer(&at.to_json_pointer(), path))
                    .collect();
                assert!(!pointers.is_empty(), "{query} finds nothing in {name}");
                pointers
            }
            None => vec![path.to_string()],
        };
        for pointer in pointers {
            let mut operation = op.clone();
            let fields = operation.as_object_mut().expect("operation");
            fields.remove("jsonPath");
            fields.insert("path".into(), Value::from(pointer.as_str()));
            if op["op"] == "add" {
                make_parents(doc, &pointer);
            }
            let operations: json_patch::Patch =
                serde_json::from_value(json!([operation])).expect("a JSON patch operation");
            json_patch::patch(doc, &operations)
                .unwrap_or_else(|e| panic!("{kind} {name}: {operation}: {e}"));
        }
    }
}

/// A pointer to a node found by jsonPath, then `path` under it (internal/utils/jsonpatch,
/// ConvertPathToPointers's concat).
fn join_pointer(found: &str, path: &str) -> String {
    if path.is_empty() {
        return found.to_string();
    }
    format!(
        "{}/{}",
        found.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// Creates the objects missing on the way to `pointer`'s parent.
fn make_parents(doc: &mut Value, pointer: &str) {
    let tokens: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let mut at = doc;
    for token in tokens.iter().take(tokens.len().saturating_sub(1)) {
        at = match at {
            Value::Object(map) => map.entry(token.clone()).or_insert_with(|| json!({})),
            Value::Array(items) => match token.parse::<usize>().ok().and_then(|i| items.get_mut(i))
            {
                Some(item) => item,
                None => return,
            },
            _ => return,
        };
    }
}

/// The patched xDS as one static bootstrap, the way a test can run it without a control
/// plane: the listener on a free loopback port with its route configuration inline (not
/// through RDS), the Wasm code from the build (not Envoy Gateway's Wasm server), the route
/// clusters static on the test's upstreams, the cache cluster on the test's cache.
fn bootstrap(mut xds: Xds, receiver: u16, other: u16, cache: u16) -> String {
    let mut listener = xds.listeners.remove(0);
    listener["address"] = json!({ "socket_address": { "address": "127.0.0.1", "port_value": 0 } });
    let manager = hcm(&mut listener);
    let route_name = manager["rds"]["route_config_name"].clone();
    manager.as_object_mut().expect("hcm").remove("rds");
    manager["route_config"] = xds
        .routes
        .iter()
        .find(|r| r["name"] == route_name)
        .expect("the listener's route configuration")
        .clone();
    http_filter(&mut listener, FILTER)["typed_config"]["config"]["vm_config"]["code"] =
        json!({ "local": { "filename": wasm_path().display().to_string() } });
    for cluster in &mut xds.clusters {
        let port = match cluster["name"].as_str() {
            Some(COVERED_CLUSTER) => receiver,
            Some(OTHER_CLUSTER) => other,
            Some("webhook_guard_cache") => cache,
            other => panic!("unexpected cluster {other:?}"),
        };
        let name = cluster["name"].clone();
        let fields = cluster.as_object_mut().expect("cluster");
        fields.remove("eds_cluster_config");
        fields.insert("type".into(), Value::from("STATIC"));
        fields.insert(
            "load_assignment".into(),
            json!({ "cluster_name": name, "endpoints": [ { "lb_endpoints": [ { "endpoint": {
                "address": { "socket_address": { "address": "127.0.0.1", "port_value": port } } } } ] } ] }),
        );
    }
    json!({
        "admin": { "address": { "socket_address": { "address": "127.0.0.1", "port_value": 0 } } },
        "static_resources": { "listeners": [listener], "clusters": xds.clusters },
    })
    .to_string()
}

/// The filter configuration the shipped policy gives, as text (for signing).
fn filter_config() -> String {
    read_yaml("envoy/gateway/envoyextensionpolicy.yaml")["spec"]["wasm"][0]["config"].to_string()
}

/// A Genesys delivery with this id, signed with `secret`.
fn delivery(id: &str, secret: &str) -> Delivery {
    let body = genesys_body(id, now_unix());
    let env = [("GENESYS_WEBHOOK_SECRET", SECRET)];
    let headers = sign_for(
        &filter_config(),
        &env,
        "genesys",
        secret,
        body.as_bytes(),
        "",
        "",
    );
    (headers, body)
}

/// POSTs `body` to `path` on the webhook host with these headers.
fn post(port: u16, path: &str, headers: &[(String, Vec<u8>)], body: &[u8]) -> Response {
    post_to(port, HOST, path, headers, body)
}

/// POSTs `body` to `path` with this Host and these headers.
fn post_to(
    port: u16,
    host: &str,
    path: &str,
    headers: &[(String, Vec<u8>)],
    body: &[u8],
) -> Response {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    )
    .into_bytes();
    for (name, value) in headers {
        req.extend_from_slice(format!("{name}: ").as_bytes());
        req.extend_from_slice(value);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    req.extend_from_slice(body);
    exchange(port, &[&req])
}

fn deliver(port: u16, path: &str, d: &Delivery) -> Response {
    post(port, path, &d.0, d.1.as_bytes())
}

fn start(patched: bool, receiver: &Upstream, other: &Upstream, cache: &Cache) -> Envoy {
    let mut xds = translated();
    if patched {
        apply_patch_policy(&mut xds, &read_yaml("envoy/gateway/envoypatchpolicy.yaml"));
    }
    let text = bootstrap(xds, receiver.port, other.port, cache.port);
    let env = [("GENESYS_WEBHOOK_SECRET".to_string(), SECRET.to_string())];
    Envoy::start_bootstrap(&text, &env)
}

#[test]
fn with_the_patch_policy_every_route_of_the_listener_is_filtered() {
    if !e2e_ready() {
        return;
    }
    let (receiver, other) = (Upstream::start(), Upstream::start());
    let cache = Cache::start(0, &[]);
    let envoy = start(true, &receiver, &other, &cache);
    let forged = delivery("eg-forged", "not-the-secret-0123456789");

    // The route the extension policy covers: verified (so allow_on_headers_stop_iteration
    // is set: without it this would wait for the stream timeout), deduplicated through the
    // cluster the patch adds, forged deliveries refused.
    let d = delivery("eg-1", SECRET);
    let first = deliver(envoy.port, "/webhooks/genesys", &d);
    assert_eq!(first.status, 200, "{first:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let again = loop {
        let r = deliver(envoy.port, "/webhooks/genesys", &d);
        if r.status != 429 || Instant::now() > deadline {
            break r;
        }
        thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        (again.status, again.body.as_slice()),
        (200, br#"{"status":"duplicate"}"#.as_slice())
    );
    let r = deliver(envoy.port, "/webhooks/genesys", &forged);
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_signature"));

    // A route the policy does not cover: filtered all the same, never passed.
    let r = deliver(envoy.port, "/webhooks/genesys/v2", &forged);
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_signature"));
    assert_eq!(other.heads(), 0, "{:?}", other.requests());

    // A Host no virtual host serves: still filtered (the filter runs before routing).
    let r = post_to(
        envoy.port,
        "other.example.com",
        "/webhooks/genesys",
        &forged.0,
        forged.1.as_bytes(),
    );
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_signature"));

    // The connection manager settings the patch guarantees: underscore names refused
    // (Envoy Gateway's default too; the patch keeps it whatever a ClientTrafficPolicy says),
    // an escaped slash refused (Envoy Gateway's default unescapes and redirects: 307), a
    // buffer large enough that the filter, not Envoy, refuses an oversized body (Envoy
    // Gateway's 32 KiB answers a chunked one with Envoy's own text 413).
    let mut underscored = d.0.clone();
    underscored.push(("x_webhook_guard_endpoint".into(), b"genesys".to_vec()));
    assert_eq!(
        post(
            envoy.port,
            "/webhooks/genesys",
            &underscored,
            d.1.as_bytes()
        )
        .status,
        400
    );
    assert_eq!(
        deliver(envoy.port, "/webhooks%2Fgenesys", &forged).status,
        400
    );
    // Declared (content-length, refused from the headers) and chunked (counted as it comes).
    let big = vec![b' '; 600 * 1024];
    let r = post(envoy.port, "/webhooks/genesys", &forged.0, &big);
    assert_eq!((r.status, r.error().as_str()), (413, "body_too_large"));
    let pieces: Vec<&[u8]> = big.chunks(64 * 1024).collect();
    let mut writes = chunked_request("/webhooks/genesys", &as_refs(&forged.0), &pieces, &[]);
    writes[0] = String::from_utf8(writes[0].clone())
        .expect("head")
        .replacen("host: webhooks.test", &format!("host: {HOST}"), 1)
        .into_bytes();
    let r = exchange(
        envoy.port,
        &writes.iter().map(Vec::as_slice).collect::<Vec<_>>(),
    );
    assert_eq!((r.status, r.error().as_str()), (413, "body_too_large"));

    let received = receiver.requests();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(
        received[0].header("x-webhook-guard-endpoint").as_deref(),
        Some("genesys")
    );
    assert_eq!(other.heads(), 0);
    envoy.assert_no_panic();
}

#[test]
fn without_the_patch_policy_a_route_outside_the_extension_policy_passes_unverified() {
    if !e2e_ready() {
        return;
    }
    // The control: Envoy Gateway's own output, filter installed disabled and enabled on
    // the covered route only. A forged delivery on the other route reaches its upstream.
    let (receiver, other) = (Upstream::start(), Upstream::start());
    let cache = Cache::start(0, &[]);
    let envoy = start(false, &receiver, &other, &cache);
    let forged = delivery("eg-forged", "not-the-secret-0123456789");
    let r = deliver(envoy.port, "/webhooks/genesys/v2", &forged);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(other.heads(), 1);
    assert_eq!(receiver.heads(), 0);
}

#[test]
fn the_patch_paths_find_what_they_patch_in_the_translator_output() {
    // Each jsonPath of the shipped policy finds exactly one node in the vendored listener
    // (an operation that finds none is skipped by Envoy Gateway and reported in the status
    // only), and the filter it turns on is the one the extension policy installs.
    let policy = read_yaml("envoy/gateway/envoypatchpolicy.yaml");
    let xds = translated();
    for patch in policy["spec"]["jsonPatches"]
        .as_array()
        .expect("jsonPatches")
    {
        if let Some(query) = patch["operation"]["jsonPath"].as_str() {
            let query = serde_json_path::JsonPath::parse(query).expect("jsonPath");
            assert_eq!(query.query(&xds.listeners[0]).len(), 1, "{query}");
        }
    }
    let mut patched = translated();
    apply_patch_policy(&mut patched, &policy);
    let filter = http_filter(&mut patched.listeners[0], FILTER).clone();
    assert_eq!(filter["disabled"], false);
    let config = &filter["typed_config"]["config"];
    assert_eq!(config["allow_on_headers_stop_iteration"], true);
    assert_eq!(config["failure_policy"], "FAIL_CLOSED");
    assert!(config.get("fail_open").is_none(), "{config}");
    let manager = hcm(&mut patched.listeners[0]);
    assert_eq!(
        manager["common_http_protocol_options"]["headers_with_underscores_action"],
        "REJECT_REQUEST"
    );
    assert_eq!(
        manager["path_with_escaped_slashes_action"],
        "REJECT_REQUEST"
    );
    assert!(patched
        .clusters
        .iter()
        .any(|c| c["name"] == "webhook_guard_cache"));
}

fn yaml_docs(path: &str) -> Vec<Value> {
    use serde::Deserialize;
    let text = std::fs::read_to_string(repo_root().join(path)).expect(path);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{path}: {e}")))
        .collect()
}

#[test]
fn the_gateway_manifests_name_each_other() {
    // What the patch names is what the other manifests make: the listener
    // <namespace>/<gateway>/<listener>, the filter of the extension policy, the cache
    // cluster the filter configuration calls, at the cache Service's address.
    let gateway = &yaml_docs("envoy/gateway/gateway.yaml")[0];
    // One listener: the patch turns the filter on in that one. On another listener of the
    // same Gateway the extension policy would install it disabled again, route by route.
    assert_eq!(
        gateway["spec"]["listeners"].as_array().map(Vec::len),
        Some(1),
        "a listener the patch does not name"
    );
    let extension = read_yaml("envoy/gateway/envoyextensionpolicy.yaml");
    let patch = read_yaml("envoy/gateway/envoypatchpolicy.yaml");
    let listener_name = format!(
        "{}/{}/{}",
        gateway["metadata"]["namespace"]
            .as_str()
            .expect("namespace"),
        gateway["metadata"]["name"].as_str().expect("name"),
        gateway["spec"]["listeners"][0]["name"]
            .as_str()
            .expect("listener")
    );
    let filter = format!(
        "envoy.filters.http.wasm/envoyextensionpolicy/{}/{}/wasm/0",
        extension["metadata"]["namespace"]
            .as_str()
            .expect("namespace"),
        extension["metadata"]["name"].as_str().expect("name")
    );
    assert_eq!(filter, FILTER);
    for target in [
        &extension["spec"]["targetRefs"][0],
        &patch["spec"]["targetRef"],
    ] {
        assert_eq!(target["kind"], "Gateway");
        assert_eq!(target["name"], gateway["metadata"]["name"]);
    }
    let config = &extension["spec"]["wasm"][0]["config"];
    let cache_cluster = &config["idempotency"]["cluster"];
    for p in patch["spec"]["jsonPatches"]
        .as_array()
        .expect("jsonPatches")
    {
        match p["type"].as_str() {
            Some(LISTENER) => {
                assert_eq!(p["name"], listener_name.as_str());
                if let Some(query) = p["operation"]["jsonPath"].as_str() {
                    assert!(
                        query.contains(FILTER) || query.contains("http_connection_manager"),
                        "{query}"
                    );
                }
            }
            Some(CLUSTER) => {
                let cluster = &p["operation"]["value"];
                assert_eq!(&cluster["name"], cache_cluster);
                let cache = yaml_docs("envoy/istio/base/cache.yaml")
                    .into_iter()
                    .find(|d| d["kind"] == "Service")
                    .expect("the cache Service");
                let address = &cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
                    ["endpoint"]["address"]["socket_address"];
                assert_eq!(
                    address["address"],
                    format!(
                        "{}.{}.svc.cluster.local",
                        cache["metadata"]["name"].as_str().expect("name"),
                        cache["metadata"]["namespace"].as_str().expect("namespace")
                    )
                    .as_str()
                );
                assert_eq!(config["idempotency"]["authority"], address["address"]);
                assert_eq!(address["port_value"], cache["spec"]["ports"][0]["port"]);
            }
            other => panic!("a patch of {other:?}"),
        }
    }

    // Every secret the filter reads is passed into the VM (hostKeys) and set in the
    // proxy's environment from the Secret, optional exactly where the filter's is.
    let secrets: Vec<&Value> = config["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .flat_map(|e| e["secrets"].as_array().expect("secrets"))
        .collect();
    let host_keys = &extension["spec"]["wasm"][0]["env"]["hostKeys"];
    let proxy = read_yaml("envoy/gateway/envoyproxy.yaml");
    let env = proxy["spec"]["provider"]["kubernetes"]["envoyDeployment"]["container"]["env"]
        .as_array()
        .expect("env");
    let example = &yaml_docs("envoy/istio/secret.yaml.example")[0];
    assert_eq!(env.len(), secrets.len());
    for secret in secrets {
        let name = &secret["env"];
        assert!(
            host_keys.as_array().expect("hostKeys").contains(name),
            "{name}"
        );
        let var = env
            .iter()
            .find(|v| &v["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in the proxy's environment"));
        let from = &var["valueFrom"]["secretKeyRef"];
        assert_eq!(from["name"], example["metadata"]["name"]);
        let key = from["key"].as_str().expect("key");
        assert!(!example["stringData"][key].is_null(), "{key}");
        assert_eq!(
            from["optional"] == true,
            secret["optional"] == true,
            "{name}"
        );
    }
}
