#!/bin/sh
# tests/cli/test_config.sh - `orrery config`: exit codes, JSON output,
# secrets never printed.  Usage: test_config.sh /path/to/orrery
ORRERY=$1
. "$(dirname "$0")/../lib/checks.sh"
# check NAME WANT_STATUS CMD...: run CMD, compare the exit status.
check() {
    name=$1 want=$2
    shift 2
    "$@" >out.txt 2>err.txt
    got=$?
    if [ "$got" -eq "$want" ]; then ok "$name"; else
        bad "$name (exit $got, expected $want)"; cat err.txt; fi
}
lacks() {       # lacks NAME TEXT FILES...
    name=$1 text=$2
    shift 2
    if grep -qF -- "$text" "$@"; then bad "$name: '$text' leaked"; else
        ok "$name"; fi
}

work=$(mktemp -d "${TMPDIR:-/tmp}/orr-cli-config-XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
mkdir xdg
export XDG_CONFIG_HOME="$work/xdg" HOME="$work"
unset ORRERY_SITE ORRERY_LOG

# No file: the embedded defaults.
check defaults 0 "$ORRERY" config
contains defaults-text out.txt "embedded defaults (no site file found"
contains defaults-backend out.txt "storage.backend"
check defaults-json 0 "$ORRERY" config show --json
contains defaults-json-null out.txt '"file": null'
contains defaults-json-origin out.txt '"origin": "default"'
check path-none 1 "$ORRERY" config path

# A site file with a secret from env().
secret='Sup3r-S3cret-Value-42'
cat > orrery.site.lua <<'LUA'
storage = {
  backend = "s3",
  bucket = "models",
  access = env("ORR_CLI_SECRET"),
  secret_key = "literal-secret-in-file",
}
server = { port = 9090 }
LUA
export ORR_CLI_SECRET="$secret"
check show 0 "$ORRERY" config show
contains show-origin out.txt "orrery.site.lua:7"
contains show-mask out.txt "****"
lacks show-secret "$secret" out.txt err.txt
lacks show-literal "literal-secret-in-file" out.txt err.txt
check json 0 "$ORRERY" config --json
contains json-secret-flag out.txt '"secret": true'
contains json-port out.txt '"value": 9090'
lacks json-secret "$secret" out.txt err.txt
lacks json-literal "literal-secret-in-file" out.txt err.txt
if command -v python3 >/dev/null 2>&1; then
    if python3 -c 'import json,sys; d=json.load(open("out.txt")); \
v=d["values"]["storage"]["access"]; \
assert v["value"]=="****" and v["secret"] is True; \
assert d["values"]["server"]["port"]["origin"]=="orrery.site.lua:7"; \
assert d["file"].endswith("/orrery.site.lua")'; then ok json-parse; else
        bad json-parse; fi
fi
check path 0 "$ORRERY" config path
contains path-file out.txt "$work/orrery.site.lua"

# A secret in a runtime error message is masked too.
printf 'error("key is " .. env("ORR_CLI_SECRET"))\n' > bad-secret.lua
check error-secret 1 "$ORRERY" --site bad-secret.lua config
lacks error-secret-masked "$secret" out.txt err.txt
contains error-secret-line err.txt "bad-secret.lua:1:"

# Bad files: exit 1 with file:line.
printf 'root = "x"\nstorage = {\n  root = = 1\n}\n' > syntax.lua
check syntax 1 "$ORRERY" --site syntax.lua config show
contains syntax-line err.txt "syntax.lua:3:"
printf 'storag = {}\n' > typo.lua
check typo 1 "$ORRERY" --site typo.lua config --json
contains typo-hint err.txt "did you mean 'storage'?"
check missing 1 "$ORRERY" --site nope.lua config
ORRERY_SITE=nope.lua "$ORRERY" config >out.txt 2>err.txt
[ $? -eq 1 ] && ok env-missing || bad env-missing
contains env-missing-msg err.txt '$ORRERY_SITE'

# Bad usage: exit 2.
check usage-arg 2 "$ORRERY" config frobnicate
check usage-opt 2 "$ORRERY" config show --frob
check usage-path-json 2 "$ORRERY" config path --json
check help 0 "$ORRERY" config --help
contains help-text out.txt "Usage: orrery [--site FILE] config"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
