# scripts/services.sh - shell helpers shared by the scripts that start
# throw-away services for tests and examples (slurm.sh, prometheus.sh).
# Source it; it defines functions only.

# shellcheck source=scripts/deps.sh
. "$(dirname "${BASH_SOURCE[0]}")/deps.sh"

# Listening TCP ports (from /proc/net/tcp*, no extra tools).
orr_listening_ports() {
  awk 'NR > 1 && $4 == "0A" { split($2, a, ":"); print strtonum("0x" a[2]) }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -un
}

# A TCP port nobody listens on, and none of the ports given as arguments.
orr_free_port() {
  local used p
  used=" $(orr_listening_ports | tr '\n' ' ') $* "
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 30000))
    case $used in *" $p "*) continue ;; esac
    echo $p
    return 0
  done
  echo "no free TCP port found" >&2
  return 1
}

# True when the PID recorded in file $1 is a live process.
orr_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
