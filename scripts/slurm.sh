#!/usr/bin/env bash
# scripts/slurm.sh - a single-node Slurm (Debian's slurm-wlm + munge) as
# plain background daemons, for tests and examples.
#
#   scripts/slurm.sh start  [DIR]   install if missing (root), configure,
#                                   start munged, slurmctld, slurmd
#   scripts/slurm.sh stop   [DIR]   stop them by the PIDs recorded at start
#   scripts/slurm.sh status [DIR]   exit 0 when all three run and the
#                                   controller answers
#   scripts/slurm.sh env    [DIR]   print `export SLURM_CONF=...` lines
#   scripts/slurm.sh install        only install the packages
#
# DIR (default $ORRERY_SLURM_DIR, else /tmp/orrery-slurm-$UID) holds the
# configuration, the munge key, state, spool, logs and PID files; several
# instances (one per DIR) can run side by side on free loopback ports.
# Nothing is registered with systemd; nothing outside DIR is written
# (apart from the package install).
#
# Facts this relies on (see docs/slurm.md): SlurmctldHost must equal
# `hostname -s`; without cgroups, proctrack/linuxproc + task/none;
# CR_Core (with *_Memory a job without --mem takes the whole node); node
# topology from `slurmd -C` with RealMemory below the real memory;
# ReturnToService=2; jobcomp/filetxt because there is no slurmdbd;
# batch_sched_delay=0 and more job slots than cores (config_overrides) so
# many trivial jobs run at once.  slurmctld and slurmd listen on all
# interfaces: a real site firewalls their ports.
set -euo pipefail

# shellcheck source=scripts/services.sh
. "$(dirname "${BASH_SOURCE[0]}")/services.sh"

SLURM_PACKAGES=(slurmctld slurmd slurm-client munge)
SLOTS=${ORRERY_SLURM_SLOTS:-32}

die() { echo "slurm.sh: $*" >&2; exit 1; }

state_dir() {
  local d=${1:-${ORRERY_SLURM_DIR:-/tmp/orrery-slurm-$(id -u)}}
  mkdir -p "$d"
  (cd "$d" && pwd)
}

have_slurm() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
    command -v sbatch >/dev/null && command -v munged >/dev/null
}

install_packages() {
  have_slurm && return 0
  # deps.sh installs with --no-install-recommends under a temporary
  # policy-rc.d: Debian's maintainer scripts would start the service.
  orr_install_packages "${SLURM_PACKAGES[@]}" ||
    die "cannot install ${SLURM_PACKAGES[*]} (see above)"
  have_slurm || die "installed ${SLURM_PACKAGES[*]} but slurmctld/slurmd/sbatch/munged are still missing"
}


write_config() {
  local d=$1 host mem real cport dport topo
  host=$(hostname -s)
  cport=$(orr_free_port)
  dport=$(orr_free_port "$cport")
  # Real memory minus a margin, or the node drains ("Low RealMemory").
  real=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
  mem=$((real * 3 / 4))
  [ $mem -gt 0 ] || mem=1
  # The declared topology: SLOTS single-thread cores (config_overrides
  # lets it exceed the hardware, so trivial jobs run side by side).
  topo="CPUs=$SLOTS Boards=1 SocketsPerBoard=1 CoresPerSocket=$SLOTS ThreadsPerCore=1"
  mkdir -p "$d/state" "$d/spool" "$d/log" "$d/munge"
  chmod 700 "$d/munge"
  cat >"$d/slurm.conf" <<EOF
# Written by scripts/slurm.sh: single-node Slurm for Orrery's tests.
ClusterName=orrery
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$cport
SlurmdPort=$dport
SlurmUser=$(id -un)
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$d/munge/munge.socket.2
CredType=cred/munge
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool/slurmd-%n
SlurmctldPidFile=$d/slurmctld.daemon.pid
SlurmdPidFile=$d/slurmd.daemon.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$d/log/jobcomp.log
MailProg=/bin/true
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=2
InactiveLimit=0
MinJobAge=300
NodeName=$host NodeAddr=127.0.0.1 $topo RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
  local d=$1
  orr_alive "$d/munged.pid" && return 0
  if [ ! -s "$d/munge/munge.key" ]; then
    # munged refuses a key readable by others and group/other-writable
    # directories on the way to it.
    (umask 077 && head -c 1024 /dev/urandom >"$d/munge/munge.key")
    chmod 400 "$d/munge/munge.key"
  fi
  munged --foreground --force --key-file="$d/munge/munge.key" \
    --socket="$d/munge/munge.socket.2" --pid-file="$d/munge/munged.pid" \
    --log-file="$d/log/munged.log" --seed-file="$d/munge/munged.seed" \
    </dev/null >>"$d/log/munged.out" 2>&1 &
  echo $! >"$d/munged.pid"
  for _ in $(seq 100); do
    [ -S "$d/munge/munge.socket.2" ] && return 0
    orr_alive "$d/munged.pid" || break
    sleep 0.05
  done
  die "munged did not start: $(tail -5 "$d/log/munged.log" "$d/log/munged.out" 2>/dev/null)"
}

start() {
  install_packages
  local d
  d=$(state_dir "${1:-}")
  chmod 755 "$d"
  if orr_alive "$d/slurmctld.pid" && orr_alive "$d/slurmd.pid" && orr_alive "$d/munged.pid"; then
    echo "slurm.sh: already running in $d" >&2
    return 0
  fi
  stop_daemons "$d" quiet
  [ -f "$d/slurm.conf" ] || write_config "$d"
  start_munge "$d"
  export SLURM_CONF=$d/slurm.conf
  # -D: stay in the foreground of our own background job, so the PID we
  # record is the daemon's; -i ignores stale state from an earlier start.
  setsid slurmctld -D -i -f "$d/slurm.conf" </dev/null \
    >>"$d/log/slurmctld.out" 2>&1 &
  echo $! >"$d/slurmctld.pid"
  setsid slurmd -D -f "$d/slurm.conf" </dev/null >>"$d/log/slurmd.out" 2>&1 &
  echo $! >"$d/slurmd.pid"
  # Ready when the node accepts jobs (idle), not merely when the
  # controller answers.
  local st=""
  for _ in $(seq 300); do
    orr_alive "$d/slurmctld.pid" || die "slurmctld exited: $(tail -5 "$d/log/slurmctld.log" "$d/log/slurmctld.out" 2>/dev/null)"
    orr_alive "$d/slurmd.pid" || die "slurmd exited: $(tail -5 "$d/log/slurmd.log" "$d/log/slurmd.out" 2>/dev/null)"
    st=$(sinfo -h -o %t 2>/dev/null | head -1 || true)
    case $st in idle*|mix*|alloc*) echo "slurm.sh: running in $d (node $st)" >&2; return 0 ;; esac
    sleep 0.1
  done
  die "the node did not become idle in 30 s (state '$st'): $(tail -5 "$d/log/slurmctld.log" 2>/dev/null)"
}

# Stop the daemons whose PIDs we recorded (never by name).
stop_daemons() {
  local d=$1 quiet=${2:-} f pid
  for f in slurmd slurmctld munged; do
    [ -f "$d/$f.pid" ] || continue
    pid=$(cat "$d/$f.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
      done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
      [ -n "$quiet" ] || echo "slurm.sh: stopped $f ($pid)" >&2
    fi
    rm -f "$d/$f.pid"
  done
}

stop() {
  local d
  d=$(state_dir "${1:-}")
  stop_daemons "$d"
}

status() {
  local d rc=0 f
  d=$(state_dir "${1:-}")
  for f in munged slurmctld slurmd; do
    if orr_alive "$d/$f.pid"; then
      echo "$f: running ($(cat "$d/$f.pid"))"
    else
      echo "$f: not running"
      rc=1
    fi
  done
  if [ $rc -eq 0 ]; then
    SLURM_CONF=$d/slurm.conf scontrol ping || rc=1
  fi
  return $rc
}

env_lines() {
  local d
  d=$(state_dir "${1:-}")
  echo "export SLURM_CONF=$d/slurm.conf"
  echo "export ORRERY_SLURM_DIR=$d"
  echo "export ORRERY_SLURM_JOBCOMP=$d/log/jobcomp.log"
}

case ${1:-} in
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  status) status "${2:-}" ;;
  env) env_lines "${2:-}" ;;
  install) install_packages ;;
  *) echo "usage: $0 start|stop|status|env [DIR] | install" >&2; exit 2 ;;
esac
