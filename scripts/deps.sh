#!/usr/bin/env bash
# scripts/deps.sh - install the Debian packages Orrery needs, only those
# missing.  Sourced by demo.sh and test.sh; usable alone:
#   scripts/deps.sh build      # to build and run
#   scripts/deps.sh test       # to build and run the whole test suite
#   scripts/deps.sh bench      # and the peers the benchmarks compare with
set -euo pipefail

ORR_BUILD_PACKAGES=(
  build-essential cmake pkg-config
  liblua5.4-dev libsqlite3-dev libjansson-dev libcurl4-openssl-dev
  libssl-dev libcsv-dev libxgboost-dev
  libmicrohttpd-dev
)
# What the test suite uses on top: sanitizer runtimes come with gcc;
# `time` reports max RSS in benchmarks; python3 serves fixtures;
# chromium renders the monitoring report headless (tests/report).
# prometheus scrapes the monitor's /metrics (tests/prometheus, started by
# scripts/prometheus.sh; its service is never started, see below).
# python3-scipy: reference values of the drift tests (tests/drift).
ORR_TEST_PACKAGES=(python3 time python3-sklearn wrk python3-xgboost chromium
                   prometheus python3-scipy)
# The benchmarks' peers (tests/bench/): pandas.read_csv, the Python model
# servers of the serving issue, Snakemake.
ORR_BENCH_PACKAGES=(python3-pandas python3-fastapi uvicorn gunicorn
                    python3-flask snakemake)

orr_missing_packages() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$p")
  done
  printf '%s\n' "${missing[@]}"
}

orr_install_packages() {
  local missing
  mapfile -t missing < <(orr_missing_packages "$@" | sed '/^$/d')
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "orrery: missing Debian packages: ${missing[*]}" >&2
    echo "orrery: run as root, or: sudo apt-get install ${missing[*]}" >&2
    return 1
  fi
  echo "orrery: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Maintainer scripts start services on install (prometheus would listen
  # on 0.0.0.0:9090): a temporary policy-rc.d forbids that.
  local policy=/usr/sbin/policy-rc.d made=0 rc=0
  if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy && made=1
  fi
  { apt-get update -qq &&
    apt-get install -y -qq --no-install-recommends "${missing[@]}" \
      >/dev/null; } || rc=$?
  [ $made -eq 1 ] && rm -f $policy
  return $rc
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-build}" in
    build) orr_install_packages "${ORR_BUILD_PACKAGES[@]}" ;;
    test)  orr_install_packages "${ORR_BUILD_PACKAGES[@]}" "${ORR_TEST_PACKAGES[@]}" ;;
    bench) orr_install_packages "${ORR_BUILD_PACKAGES[@]}" "${ORR_TEST_PACKAGES[@]}" \
             "${ORR_BENCH_PACKAGES[@]}" ;;
    *) echo "usage: scripts/deps.sh [build|test|bench]" >&2; exit 2 ;;
  esac
fi
