#!/usr/bin/env bash
# Make podman (Debian 12's 4.3) ready next to docker on a fresh Debian machine, as CI and the
# podman engine tests need it: install podman and what it needs inside a container (crun, the
# CNI plugins, uidmap and slirp4netns for rootless), configure it for a host without systemd as
# PID 1 (cgroupfs cgroup manager, file events logger, native overlay storage), and copy the local
# base image from docker into podman's storage under the same name (no registry here).
# Idempotent: each step is skipped when already done; a rerun takes about a second.
#
#   scripts/podman-setup.sh            install, configure, copy the base image
#   scripts/podman-setup.sh rootless   also make the unprivileged user $MLPERFCTL_ROOTLESS_USER
#                                      (default mlperfctl) with subordinate ids for rootless podman
set -euo pipefail

BASE_IMAGE="${MLPERFCTL_LOCAL_BASE:-mlperfctl/debian:bookworm}"
ROOTLESS_USER="${MLPERFCTL_ROOTLESS_USER:-mlperfctl}"
CONF_D=/etc/containers/containers.conf.d
MARK="# written by mlperfctl scripts/podman-setup.sh"

log() { printf '[podman-setup] %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  log "must run as root (it installs packages and writes /etc/containers)"; exit 1
fi

need=()
for pkg in podman runc containernetworking-plugins uidmap slirp4netns fuse-overlayfs catatonit; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq
  NEEDRESTART_SUSPEND=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# No systemd as PID 1 and no D-Bus: cgroups through cgroupfs, events to a file. runc, not crun:
# crun 1.8 refuses this host's hybrid cgroup v1+v2 layout ("cgroups in hybrid mode not supported").
# Without CAP_SYS_RESOURCE (a container host) podman's default rlimits (nofile and nproc 1048576)
# cannot be set ("setrlimit RLIMIT_NOFILE: Operation not permitted"): default to the host's hard
# limits instead; podman caps nproc at kernel.pid_max.
nofile=$(ulimit -Hn); nproc=$(ulimit -Hu); pid_max=$(cat /proc/sys/kernel/pid_max)
[ "$nofile" = unlimited ] && nofile=1048576
{ [ "$nproc" = unlimited ] || [ "$nproc" -gt "$pid_max" ]; } && nproc=$pid_max
mkdir -p "$CONF_D"
conf="$CONF_D/50-mlperfctl.conf"
want="$MARK
[containers]
default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]
log_driver = \"k8s-file\"
[engine]
cgroup_manager = \"cgroupfs\"
events_logger = \"file\"
runtime = \"runc\"
"
if [ "$(cat "$conf" 2>/dev/null)" != "$(printf '%s' "$want")" ]; then
  printf '%s' "$want" >"$conf"
  log "wrote $conf"
fi
# Rootful storage on the kernel's own overlay (docker's overlay2 works here, so does podman's).
storage=/etc/containers/storage.conf
if [ ! -f "$storage" ]; then
  cat >"$storage" <<EOF
$MARK
[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
EOF
  log "wrote $storage"
fi

if ! out=$(podman info --format '{{.Host.CgroupManager}} {{.Store.GraphDriverName}} {{.Host.OCIRuntime.Name}}' 2>&1); then
  log "podman info failed: $out"; exit 1
fi
log "podman $(podman version --format '{{.Client.Version}}'): $out"

# The base image: docker has it (scripts/engine-setup.sh made it); podman gets the same bytes, so the
# image ID (the config digest) is the same in both engines, and a rebuilt docker base is copied again.
# copy_base WHO RUN: RUN is a command prefix that runs podman for WHO.
copy_base() {
  local who=$1 run=$2 did pid
  did=$(docker image inspect --format '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || true)
  pid=$($run "podman image inspect --format '{{.Id}}' $BASE_IMAGE" 2>/dev/null || true)
  if [ -z "$did" ]; then
    [ -n "$pid" ] && { log "base image $BASE_IMAGE present in $who (docker has none)"; return; }
    log "$BASE_IMAGE is missing in docker: run scripts/engine-setup.sh first"; exit 1
  fi
  if [ "sha256:$pid" = "$did" ]; then
    log "base image $BASE_IMAGE present in $who"; return
  fi
  log "copying $BASE_IMAGE from docker into $who"
  docker save "$BASE_IMAGE" | $run "podman load -q" >/dev/null
  pid=$($run "podman image inspect --format '{{.Id}}' $BASE_IMAGE" 2>/dev/null || true)
  [ "sha256:$pid" = "$did" ] || { log "$who: podman load did not give $BASE_IMAGE docker's ID $did"; exit 1; }
}
as_root() { bash -c "$1"; }
copy_base podman as_root

if [ "${1:-}" = rootless ]; then
  if ! id -u "$ROOTLESS_USER" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/bash "$ROOTLESS_USER"
    log "created user $ROOTLESS_USER"
  fi
  # Debian's useradd already allots subordinate ids (login.defs SUB_UID_*); add them if not.
  for f in /etc/subuid /etc/subgid; do
    touch "$f"
    grep -q "^$ROOTLESS_USER:" "$f" || { echo "$ROOTLESS_USER:200000:65536" >>"$f"; log "added $ROOTLESS_USER to $f"; }
  done
  # slirp4netns (rootless networking) opens /dev/net/tun as the user: this host ships it 0600,
  # a stock Debian host 0666 ("open(/dev/net/tun): Permission denied" otherwise).
  if [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
    chmod 0666 /dev/net/tun
    log "made /dev/net/tun 0666 for slirp4netns"
  fi
  as_user() { su - "$ROOTLESS_USER" -c "$1" 2> >(grep -v 'is not a shared mount' >&2); }
  copy_base "$ROOTLESS_USER's podman" as_user
fi
