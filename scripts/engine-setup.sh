#!/usr/bin/env bash
# Make a container engine ready on a fresh Debian machine, as CI and `make setup` need it:
# install Debian's docker.io (and debootstrap, docker-registry), start dockerd if none answers, and create the
# local base image (a debootstrapped bookworm rootfs, `docker import`ed) because no registry
# can be reached from here. Idempotent: each step is skipped when already done.
set -euo pipefail

BASE_IMAGE="${MLPERFCTL_LOCAL_BASE:-mlperfctl/debian:bookworm}"
SUITE="${MLPERFCTL_BASE_SUITE:-bookworm}"
MIRROR="${MLPERFCTL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

log() { printf '[engine-setup] %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  log "must run as root (it installs packages and starts dockerd)"; exit 1
fi

need=()
[ -x /usr/sbin/dockerd ] || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
# a registry on 127.0.0.1 for the push/pull tests (started and stopped by the test itself)
command -v docker-registry >/dev/null || need+=(docker-registry)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# the package's own service is not wanted: the tests run their own registry on a free port
if command -v systemctl >/dev/null && systemctl is-enabled -q docker-registry 2>/dev/null; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi

# Debian's own 20.10 client talks BuildKit to this engine; a newer client on PATH may lack buildx.
DOCKER=/usr/bin/docker
if ! "$DOCKER" info >/dev/null 2>&1; then
  log "starting dockerd"
  nohup /usr/sbin/dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do "$DOCKER" info >/dev/null 2>&1 && break; sleep 1; done
  "$DOCKER" info >/dev/null 2>&1 || { log "dockerd did not start; see /var/log/dockerd.log"; exit 1; }
fi
log "engine: $("$DOCKER" version --format '{{.Server.Version}}')"

if "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  log "base image $BASE_IMAGE present"
  exit 0
fi

log "debootstrapping $SUITE into a rootfs for $BASE_IMAGE (a few minutes)"
root=$(mktemp -d /var/tmp/mlperfctl-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >/var/log/mlperfctl-debootstrap.log 2>&1 \
  || { log "debootstrap failed; see /var/log/mlperfctl-debootstrap.log"; exit 1; }
# Slim it like the registry's -slim images: no apt lists or caches, no docs.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* \
       "$root"/usr/share/man/* "$root"/var/log/*.log
tar --numeric-owner --sort=name --mtime='@0' -C "$root" -c . \
  | "$DOCKER" import \
      --change 'CMD ["/bin/bash"]' \
      --change 'ENV LANG=C.UTF-8' \
      - "$BASE_IMAGE" >/dev/null
log "created $BASE_IMAGE"
