#!/usr/bin/env bash
# scripts/checksrc.sh [ROOT] - the mechanical house rules, checked on every
# C source and header in core/, plugins/, sdk/ and tests/ (docs: STYLE in
# docs/ARCHITECTURE.md):
#   - no sprintf, vsprintf, strcpy, strcat, strtok, atoi, atol, gets
#     (unbounded or error-blind; use snprintf, strtol, strtok_r, ...);
#   - no tab characters, no trailing whitespace;
#   - lines of at most 100 columns (80 is the aim);
#   - every header has an include guard.
# Prints each violation as file:line: rule, then "N passed, N failed"
# (files); exits 1 if any file breaks a rule.
set -u
root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$root"
passed=0 failed=0
while IFS= read -r f; do
  bad=$(awk -v f="$f" '
    /(^|[^_a-zA-Z0-9])(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|gets)[ \t]*\(/ {
      if ($0 !~ /^[ \t]*(\*|\/\/|\/\*)/) print f ":" FNR ": banned function"
    }
    /\t/ { print f ":" FNR ": tab character" }
    /[ \t]+$/ { print f ":" FNR ": trailing whitespace" }
    length($0) > 100 { print f ":" FNR ": line longer than 100 columns" }
  ' "$f")
  case $f in
    *.h) grep -q '^#ifndef [A-Z_][A-Z0-9_]*_H$' "$f" ||
           bad="$bad${bad:+$'\n'}$f:1: no include guard" ;;
  esac
  if [ -n "$bad" ]; then
    echo "$bad"
    failed=$((failed + 1))
  else
    passed=$((passed + 1))
  fi
done < <(find core plugins sdk tests -name '*.[ch]' -not -path '*/build*' | sort)
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
