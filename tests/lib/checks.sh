# tests/lib/checks.sh - the check functions of the POSIX-sh CLI tests.
# Source it; it sets passed=0 failed=0 and defines ok, bad, check,
# contains, lacks and count_is (a script may redefine one).  Each check
# prints "ok   NAME" or "FAIL NAME" with what was there instead; the
# script ends by printing "$passed passed, $failed failed".
passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "ok   $1"; }
bad()  { failed=$((failed + 1)); echo "FAIL $1"; }
check() {
    name=$1 want=$2
    shift 2
    "$@" >out.txt 2>err.txt
    got=$?
    if [ "$got" -eq "$want" ]; then ok "$name"; else
        bad "$name (exit $got, expected $want)"; cat out.txt err.txt; fi
}
contains() {    # contains NAME FILE TEXT
    if grep -qF -- "$3" "$2"; then ok "$1"; else
        bad "$1: '$3' not in $2"; cat "$2"; fi
}
lacks() {       # lacks NAME FILE TEXT
    if grep -qF -- "$3" "$2"; then bad "$1: '$3' in $2"; cat "$2"; else
        ok "$1"; fi
}
count_is() {    # count_is NAME FILE TEXT N
    n=$(grep -cF -- "$3" "$2")
    if [ "$n" -eq "$4" ]; then ok "$1"; else
        bad "$1: '$3' $n times in $2, expected $4"; cat "$2"; fi
}

