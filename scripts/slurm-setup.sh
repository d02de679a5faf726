#!/usr/bin/env bash
# A single-node Slurm cluster on this machine for the Slurm launcher's tests: installs Debian's
# slurm-wlm and munge, writes a minimal slurm.conf for this host (its name, CPUs and memory as
# `slurmd -C` reads them; one partition `debug`; cons_tres/CR_Core so 1-CPU jobs share the node;
# no cgroup plugins, so it works inside a container without systemd), creates the munge key and
# starts munged, slurmctld and slurmd directly (no systemd as PID 1), then waits for the node.
# Idempotent: with the same config and the daemons up, a rerun only checks them (about a second).
#
#   scripts/slurm-setup.sh          install, configure, start; wait until `sinfo` shows the node
#   scripts/slurm-setup.sh install  install the packages only, start nothing (`make test`: the tests that need
#                                   Slurm start the daemons themselves and stop them afterwards)
#   scripts/slurm-setup.sh stop     stop slurmd, slurmctld and munged (config and state are kept)
#   scripts/slurm-setup.sh status   exit 0 when the node answers, 1 otherwise
set -euo pipefail

CONF=/etc/slurm/slurm.conf
STATE=/var/spool/slurmctld
SPOOL=/var/spool/slurmd
LOGDIR=/var/log/slurm
MARK="# written by mlperfctl scripts/slurm-setup.sh"

log() { printf '[slurm-setup] %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  log "must run as root (it installs packages and starts the Slurm daemons)"; exit 1
fi

# a pid file may vanish between looking and reading (munged removes its own on exit): that is "not alive"
pid_alive() { local pid; pid=$(cat "$1" 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

stop_daemons() {
  local f
  for f in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
    if pid_alive "$f"; then
      kill "$(cat "$f")"
      for _ in $(seq 1 50); do pid_alive "$f" || break; sleep 0.1; done
      log "stopped $(basename "$f" .pid)"
    fi
  done
}

node_ready() {
  # idle, mixed or allocated: the node answers and takes jobs
  [ -n "$(sinfo --noheader --partition debug --states idle,mixed,allocated --format %N 2>/dev/null)" ]
}

case "${1:-}" in
  stop) stop_daemons; exit 0 ;;
  status) command -v sinfo >/dev/null && node_ready && exit 0; exit 1 ;;
  install|"") ;;
  *) log "usage: $0 [install|stop|status]"; exit 2 ;;
esac

need=()
for pkg in slurmctld slurmd slurm-client munge; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq
  NEEDRESTART_SUSPEND=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# this script runs the daemons itself, when asked: where systemd runs, the packages' own units must not
if [ ${#need[@]} -gt 0 ] && [ -d /run/systemd/system ]; then
  systemctl disable --now munge slurmctld slurmd >/dev/null 2>&1 || true
fi
if [ "${1:-}" = install ]; then
  log "installed; nothing started (start the daemons with: $0)"; exit 0
fi

# munge: the key (the package usually makes one), its run dir, the daemon as the munge user.
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key
  log "created /etc/munge/munge.key"
fi
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
if ! pid_alive /run/munge/munged.pid; then
  runuser -u munge -- /usr/sbin/munged
  log "started munged"
fi
for _ in $(seq 1 50); do munge -n </dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
munge -n </dev/null | unmunge >/dev/null || { log "munge does not answer; see /var/log/munge/munged.log"; exit 1; }

# slurm.conf from what slurmd finds on this machine (CPUs, sockets, cores, threads, memory).
host=$(hostname -s)
hw=$(slurmd -C | head -1 | sed -E 's/^NodeName=[^ ]+ //; s/ UpTime=.*//')
install -d -m 0755 "$STATE" "$SPOOL" "$LOGDIR" /etc/slurm
want="$MARK
ClusterName=mlperfctl
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE
SlurmdSpoolDir=$SPOOL
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
# no cgroup plugins: processes tracked through /proc, tasks not confined
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
# one core per 1-CPU job, so jobs run side by side; memory not a consumable
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
# finished jobs stay visible to \`scontrol show job\` for 30 minutes
MinJobAge=1800
SlurmdTimeout=60
NodeName=$host NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
"
changed=0
if [ "$(cat "$CONF" 2>/dev/null)" != "$(printf '%s' "$want")" ]; then
  printf '%s' "$want" >"$CONF"
  log "wrote $CONF ($hw)"
  changed=1
fi

if [ "$changed" = 1 ] && { pid_alive /run/slurmctld.pid || pid_alive /run/slurmd.pid; }; then
  log "config changed: restarting the Slurm daemons"
  for f in /run/slurmd.pid /run/slurmctld.pid; do
    if pid_alive "$f"; then
      kill "$(cat "$f")"; for _ in $(seq 1 50); do pid_alive "$f" || break; sleep 0.1; done
    fi
  done
fi
if ! pid_alive /run/slurmctld.pid; then
  slurmctld || { log "slurmctld did not start; see $LOGDIR/slurmctld.log"; exit 1; }
  log "started slurmctld"
fi
if ! pid_alive /run/slurmd.pid; then
  slurmd || { log "slurmd did not start; see $LOGDIR/slurmd.log"; exit 1; }
  log "started slurmd"
fi

for _ in $(seq 1 120); do node_ready && break; sleep 0.5; done
if ! node_ready; then
  # a node left down/drained by an earlier run: give it back
  scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1 || true
  for _ in $(seq 1 20); do node_ready && break; sleep 0.5; done
fi
node_ready || { sinfo >&2 || true; log "node $host is not idle; see $LOGDIR/slurmd.log and slurmctld.log"; exit 1; }
log "node $host up: $(sinfo --noheader --format '%P %a %D %T %c CPUs')"
