# scripts/services.sh - shell helpers shared by the scripts that start
# throw-away services for tests and examples (slurm.sh, prometheus.sh).
# Source it; it defines functions only.

# shellcheck source=scripts/deps.sh
. "$(dirname "${BASH_SOURCE[0]}")/deps.sh"

# Local TCP ports in use in any state (listening, connected, TIME_WAIT):
# any of them can make a bind fail.  From /proc/net/tcp*, no extra tools
# (the hex is converted by bash: Debian's default awk, mawk, has no
# strtonum).
orr_used_ports() {
  local hex
  awk 'FNR > 1 { split($2, a, ":"); print a[2] }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null |
    while read -r hex; do echo $((16#$hex)); done | sort -un
}

# A TCP port nobody uses, and none of the ports given as arguments.  It is
# drawn below the kernel's ephemeral range, so no client connection or
# `--port 0` server started meanwhile can take it before the daemon binds.
orr_free_port() {
  local used p lo=10000 hi
  hi=$(awk '{ print $1 - 1 }' /proc/sys/net/ipv4/ip_local_port_range \
       2>/dev/null || echo 32767)
  [ "$hi" -gt $((lo + 1000)) ] || hi=32767
  used=" $(orr_used_ports | tr '\n' ' ') $* "
  for _ in $(seq 200); do
    p=$((lo + RANDOM % (hi - lo)))
    case $used in *" $p "*) continue ;; esac
    echo $p
    return 0
  done
  echo "no free TCP port found" >&2
  return 1
}

# True when the PID recorded in file $1 is a live process.
orr_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
