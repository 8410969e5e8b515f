#!/usr/bin/env python3
"""Interleaved A/B of two builds of the filter: bare, verify and dedupe-memory at 1 KB.

  python3 bench/ab.py BEFORE.wasm AFTER.wasm [ROUNDS]

AB_KINDS (comma-separated, default verify,dedupe-memory) and AB_SIZE (bytes, default 1024)
pick other variants of bench.py, e.g. AB_KINDS=verify-stream AB_SIZE=1048576.

This VM's speed drifts by tens of percent within minutes, so two separate `make bench` runs
cannot be compared: this alternates the builds round by round, each against a bare Envoy run
next to it, and prints the median ratio and added Envoy CPU per request with their ranges.
Needs what `make bench` builds (the cache, wrk, Envoy in .venv). With AB_BEFORE_OLD=1, the
BEFORE build (one older than the allow_unsigned_idempotency_key field) gets the bench's
configuration without it.
"""
import json
import os
import signal
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as b  # noqa: E402


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    builds = [("before", sys.argv[1]), ("after", sys.argv[2])]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    base_config = b.filter_config

    def config_for(label):
        def config(kind, max_body):
            cfg = json.loads(base_config(kind, max_body))
            if label == "before" and os.environ.get("AB_BEFORE_OLD") == "1":
                for ep in cfg["endpoints"]:
                    ep.pop("allow_unsigned_idempotency_key", None)
            return json.dumps(cfg)
        return config

    workdir = tempfile.mkdtemp(prefix="webhook-guard-ab-")
    env = dict(os.environ, GENESYS_WEBHOOK_SECRET=b.SECRET)
    procs = b.Procs()
    results = {}
    try:
        max_body = 2 * 1024 * 1024
        up_port, up_admin = b.free_port(), b.free_port()
        up = b.start_envoy(procs, b.upstream_yaml(up_port, up_admin, max_body), workdir, "upstream", env)
        b.wait_port(up_port, up, "upstream envoy")
        cache_port = b.free_port()
        cache = procs.start([b.CACHE, "--listen", f"127.0.0.1:{cache_port}"])
        b.wait_port(cache_port, cache, "webhook-guard-cache")
        size = int(os.environ.get("AB_SIZE", "1024"))
        kinds = os.environ.get("AB_KINDS", "verify,dedupe-memory").split(",")
        body = b.genesys_body(size)
        for rnd in range(rounds):
            for label, wasm in builds:
                b.WASM = wasm
                b.filter_config = config_for(label)
                for kind in ["bare"] + kinds:
                    port, admin = b.free_port(), b.free_port()
                    cport = cache_port if kind.startswith("dedupe") else None
                    p = b.start_envoy(procs, b.proxy_yaml(kind, port, admin, up_port, cport, max_body),
                                      workdir, f"{label}-{kind}-{rnd}", env)
                    b.wait_port(port, p, kind)
                    script = b.wrk_script(workdir, body, kind.startswith("dedupe"), b.is_github(kind))
                    b.run_wrk(port, script, 2, 16)
                    r = b.run_wrk(port, script, 6, 16, p.pid)
                    if r["non2xx"]:
                        sys.exit(f"{label} {kind}: {r['non2xx']} non-2xx answers; see {workdir}")
                    results.setdefault((label, kind), []).append(r)
                    print(f"{rnd} {label:6} {kind:14} {r['rps']:8.0f} req/s  "
                          f"cpu {r['cpu_us']:6.1f} us/req  p99 {r['p99']:.3f} ms", flush=True)
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(timeout=10)
    finally:
        procs.stop()
    print()
    for label, _ in builds:
        base = results[(label, "bare")]
        for kind in kinds:
            runs = results[(label, kind)]
            ratios = [r["rps"] / bb["rps"] for r, bb in zip(runs, base)]
            added = [r["cpu_us"] - bb["cpu_us"] for r, bb in zip(runs, base)]
            print(f"{label:6} {kind:14} ratio {statistics.median(ratios):.2f} "
                  f"({min(ratios):.2f}-{max(ratios):.2f})  added CPU {statistics.median(added):.1f} us/req "
                  f"({min(added):.1f}-{max(added):.1f})  per KB {statistics.median(added) / (size / 1024):.3f} us")


if __name__ == "__main__":
    main()
