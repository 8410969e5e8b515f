#!/usr/bin/env python3
"""Rebuilds the vendored schemas in this folder (see README.md here).

usage: extract.py KUBERNETES_VALIDATE_WHEEL ISTIO_API_CRDS_YAML
  KUBERNETES_VALIDATE_WHEEL  kubernetes_validate-1.37.0-py3-none-any.whl (PyPI)
  ISTIO_API_CRDS_YAML        kubernetes/customresourcedefinitions.gen.yaml of istio/api 1.28.9
Keeps only what the manifests in envoy/istio/ use: the Kubernetes kinds below with the
definitions they reach, and the Istio CRDs below.
"""
import json
import re
import sys
import zipfile

import yaml  # PyYAML

K8S = "v1.34.0"
KINDS = {"Deployment": "deployment-apps-v1", "Service": "service-v1", "Secret": "secret-v1",
         "ServiceAccount": "serviceaccount-v1", "Role": "role-rbac-v1",
         "RoleBinding": "rolebinding-rbac-v1", "StatefulSet": "statefulset-apps-v1",
         "PodDisruptionBudget": "poddisruptionbudget-policy-v1"}
CRDS = ["envoyfilters.networking.istio.io", "gateways.networking.istio.io",
        "virtualservices.networking.istio.io", "authorizationpolicies.security.istio.io",
        "peerauthentications.security.istio.io"]

wheel, crds_yaml = sys.argv[1], sys.argv[2]
base = f"kubernetes_validate/kubernetes-json-schema/{K8S}-local-strict/"
with zipfile.ZipFile(wheel) as z:
    defs = json.loads(z.read(base + "_definitions.json"))["$defs"]
    kinds = {k: json.loads(z.read(base + f + ".json")) for k, f in KINDS.items()}

REF = re.compile(r'"(?:/api/_definitions\.json)?#/\$defs/([^"]+)"')
keep, todo = set(), []
def refs(node):
    return REF.findall(json.dumps(node))
for schema in kinds.values():
    todo += refs(schema)
while todo:
    name = todo.pop()
    if name not in keep:
        keep.add(name)
        todo += refs(defs[name])

def local(node):
    return json.loads(REF.sub(lambda m: f'"#/$defs/{m.group(1)}"', json.dumps(node)))
out = {"source": f"PyPI kubernetes-validate 1.37.0, {base}", "licence": "Apache-2.0",
       "$defs": local({n: defs[n] for n in sorted(keep)}), "kinds": local(kinds)}
with open("kubernetes-v1.34.json", "w") as f:
    json.dump(out, f, indent=None, separators=(",", ":"), sort_keys=True)

docs = [d for d in yaml.safe_load_all(open(crds_yaml)) if d and d["metadata"]["name"] in CRDS]
with open("istio-1.28.9-crds.yaml", "w") as f:
    f.write("# From istio/api 1.28.9, kubernetes/customresourcedefinitions.gen.yaml (Apache-2.0):\n")
    f.write("# only the CRDs that envoy/istio/ uses. Rebuilt by extract.py.\n")
    yaml.safe_dump_all(docs, f, sort_keys=False)
