#!/usr/bin/env bash
# scripts/prometheus.sh - a throw-away Prometheus (Debian's package) as a
# plain background process on loopback, for tests and examples.
#
#   scripts/prometheus.sh start TARGET [DIR]  install if missing (root),
#                                   write a scrape config for TARGET
#                                   (HOST:PORT, or http://HOST:PORT/PATH),
#                                   start, wait until ready, print the URL
#   scripts/prometheus.sh stop [DIR]          stop it by its recorded PID
#   scripts/prometheus.sh url [DIR]           print http://127.0.0.1:PORT
#   scripts/prometheus.sh install             only install the package
#
# DIR (default $ORRERY_PROMETHEUS_DIR, else /tmp/orrery-prometheus-$UID)
# holds the generated config, the TSDB, the log, the port and the PID
# file; one instance per DIR, several side by side on free ports.
#
# Facts this relies on: Debian's prometheus defaults to its packaged
# config (/etc/prometheus), data directory (/var/lib/prometheus) and
# 0.0.0.0:9090, so all three are always given; the package's maintainer
# scripts start the service, which a temporary policy-rc.d forbids; the
# first scrape lands about 5 s after start whatever the interval, so
# callers poll /api/v1/query for the series they expect (this script
# only waits for /-/ready).  Nothing is registered with systemd; nothing
# outside DIR is written (apart from the package install).
set -euo pipefail

# shellcheck source=scripts/services.sh
. "$(dirname "${BASH_SOURCE[0]}")/services.sh"

PROM_PACKAGES=(prometheus)
INTERVAL=${ORRERY_PROMETHEUS_INTERVAL:-1s}

die() { echo "prometheus.sh: $*" >&2; exit 1; }

state_dir() {
  local d=${1:-${ORRERY_PROMETHEUS_DIR:-/tmp/orrery-prometheus-$(id -u)}}
  mkdir -p "$d"
  (cd "$d" && pwd)
}

prom_bin() {
  command -v prometheus 2>/dev/null ||
    { [ -x /usr/bin/prometheus ] && echo /usr/bin/prometheus; } || true
}

install_packages() {
  [ -n "$(prom_bin)" ] && return 0
  # deps.sh installs with --no-install-recommends under a temporary
  # policy-rc.d: Debian's maintainer scripts would start the service.
  orr_install_packages "${PROM_PACKAGES[@]}" ||
    die "cannot install ${PROM_PACKAGES[*]} (see above)"
  [ -n "$(prom_bin)" ] ||
    die "installed ${PROM_PACKAGES[*]} but there is still no prometheus binary"
}


# HOST:PORT[/PATH] or http://HOST:PORT[/PATH] -> "HOST:PORT PATH".
parse_target() {
  local t=${1#http://} hp path
  hp=${t%%/*}
  path=/metrics
  [ "$hp" != "$t" ] && path=/${t#*/}
  case $hp in
    *:[0-9]*) ;;
    *) die "target '$1' is not HOST:PORT or http://HOST:PORT/PATH" ;;
  esac
  case $hp$path in
    *[!A-Za-z0-9.:/_\[\]-]*) die "target '$1' has unexpected characters" ;;
  esac
  echo "$hp $path"
}

write_config() {
  local d=$1 hp=$2 path=$3
  cat >"$d/prometheus.yml" <<EOF
# Written by scripts/prometheus.sh: scrape one Orrery /metrics endpoint.
global:
  scrape_interval: $INTERVAL
  scrape_timeout: $INTERVAL
  evaluation_interval: $INTERVAL
scrape_configs:
  - job_name: orrery
    metrics_path: '$path'
    static_configs:
      - targets: ['$hp']
EOF
}

http_get() {
  # python3 is a test dependency already; curl may be absent.
  /usr/bin/python3 - "$1" <<'EOF'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
EOF
}

start() {
  [ $# -ge 1 ] || die "usage: prometheus.sh start TARGET [DIR]"
  local target hp path d bin port
  target=$(parse_target "$1")
  hp=${target% *}
  path=${target#* }
  install_packages
  bin=$(prom_bin)
  d=$(state_dir "${2:-}")
  if orr_alive "$d/prometheus.pid"; then
    die "already running in $d (pid $(cat "$d/prometheus.pid")); stop it first"
  fi
  write_config "$d" "$hp" "$path"
  rm -rf "$d/data"
  mkdir -p "$d/data"
  local attempt
  for attempt in 1 2 3; do
    port=$(orr_free_port)
    setsid "$bin" --config.file="$d/prometheus.yml" \
      --storage.tsdb.path="$d/data" \
      --storage.tsdb.retention.time=1d \
      --web.listen-address="127.0.0.1:$port" \
      --web.console.templates="$d/none" --web.console.libraries="$d/none" \
      </dev/null >>"$d/prometheus.log" 2>&1 &
    echo $! >"$d/prometheus.pid"
    echo "$port" >"$d/port"
    for _ in $(seq 600); do
      orr_alive "$d/prometheus.pid" || break
      if http_get "http://127.0.0.1:$port/-/ready"; then
        echo "http://127.0.0.1:$port"
        return 0
      fi
      sleep 0.1
    done
    if orr_alive "$d/prometheus.pid"; then
      stop "$d"
      die "not ready after 60 s: $(tail -5 "$d/prometheus.log")"
    fi
    # Exited: most likely the port was taken meanwhile; try another.
    rm -f "$d/prometheus.pid"
  done
  die "prometheus exited at start: $(tail -5 "$d/prometheus.log")"
}

stop() {
  local d pid
  d=$(state_dir "${1:-}")
  [ -f "$d/prometheus.pid" ] || return 0
  pid=$(cat "$d/prometheus.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$d/prometheus.pid"
}

url() {
  local d
  d=$(state_dir "${1:-}")
  orr_alive "$d/prometheus.pid" || die "not running in $d"
  echo "http://127.0.0.1:$(cat "$d/port")"
}

case ${1:-} in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  url) shift; url "$@" ;;
  install) install_packages ;;
  *) echo "usage: scripts/prometheus.sh start TARGET [DIR] | stop [DIR]" \
          "| url [DIR] | install" >&2
     exit 2 ;;
esac
