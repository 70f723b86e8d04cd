# tests/lib/cases.sh - the harness shared by the trainer test scripts
# (tests/train, tests/xgboost, tests/command).  Set `bin` (the orrery
# binary) and `root` (the repository), then:
#
#   . "$root/tests/lib/cases.sh"
#   case_foo() { run run wf.lua; expect_rc 0; expect_out "done"; }
#   run_cases "$@"
#
# Each case runs in a fresh temporary directory (a fresh site) in a
# subshell; a failing expectation prints the case, exit status and output.
# The script prints one line per case and "N passed, N failed".
export ORRERY_SITE=

passed=0
failed=0
out="" err="" rc=0

run() {
  "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  out=$(cat "$tmp/out")
  err=$(cat "$tmp/err")
}

fail() {
  echo "  $case: $*" >&2
  echo "  --- exit $rc; stdout:" >&2
  printf '%s\n' "$out" | sed 's/^/    /' >&2
  echo "  --- stderr:" >&2
  printf '%s\n' "$err" | tail -20 | sed 's/^/    /' >&2
  bad=1
}
expect_rc() { [ "$rc" -eq "$1" ] || fail "exit status $rc, expected $1"; }
expect_out() { grep -qF -- "$1" "$tmp/out" || fail "stdout lacks: $1"; }
expect_err() { grep -qF -- "$1" "$tmp/err" || fail "stderr lacks: $1"; }
# Count rows of a kind in the site's artifacts table.
count_kind() {
  /usr/bin/python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute("select count(*) from artifacts where kind=?", (sys.argv[2],)).fetchone()[0])' \
    "$tmp/.orrery/orrery.db" "$1"
}

# run_cases CASE...: run each case_<CASE>, report, exit non-zero on failure.
run_cases() {
  for case in "$@"; do
    tmp=$(mktemp -d)
    bad=0
    if ! declare -F "case_$case" >/dev/null; then
      echo "  $case: no such case" >>"$tmp/.log"
    fi
    (cd "$tmp" && "case_$case") 2>>"$tmp/.log"
    # the case ran in a subshell: its failures are in the log
    if grep -q "^  $case:" "$tmp/.log"; then bad=1; fi
    if [ "$bad" -eq 0 ]; then
      echo "ok   $case"
      passed=$((passed + 1))
    else
      echo "FAIL $case"
      cat "$tmp/.log" >&2
      failed=$((failed + 1))
    fi
    rm -rf "$tmp"
  done
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
