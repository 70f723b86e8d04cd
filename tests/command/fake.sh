#!/usr/bin/env bash
# A fake training program for tests/command: behaves per MODE ($1).
# The good path writes a fixed linear model of the input "a" (y = a > 2).
set -u
mode=$1
model() {
  cat > "$ORRERY_OUT/model.json" <<'JSON'
{"format": "orrery-linear", "version": 1, "task": "binary", "target": "y",
 "inputs": [{"name": "a", "mean": 2.5, "scale": 1.0}], "outputs": ["1"],
 "coef": [[4.0]], "intercept": [0.0]}
JSON
  echo "{\"flavor\": \"${1:-linear}\", \"task\": \"binary\"}" > "$ORRERY_OUT/orrery-model.json"
}
case $mode in
  ok)
    # the protocol's inputs
    [ -r "$ORRERY_TRAIN" ] && head -1 "$ORRERY_TRAIN" | grep -qx 'a,b,y' || { echo "bad train csv" >&2; exit 9; }
    grep -q '"C": 0.5' "$ORRERY_PARAMS" || { echo "no C in params" >&2; exit 9; }
    grep -q '"fake.sh"' "$ORRERY_PARAMS" && { echo "unexpected" >&2; exit 9; }
    [ "$ORRERY_TARGET" = y ] && [ "$ORRERY_SEED" = 4 ] || { echo "env" >&2; exit 9; }
    # NA stays an empty field
    sed -n 3p "$ORRERY_TRAIN" | grep -qx '2,,0' || { echo "missing value" >&2; sed -n 3p "$ORRERY_TRAIN" >&2; exit 9; }
    for i in 0 1 2; do
      echo "{\"key\": \"loss\", \"value\": 0.$((9 - i)), \"step\": $i}" >&"$ORRERY_METRICS_FD"
    done
    echo "stdout goes to the step log"
    echo "fake: training done" >&2
    model ;;
  crash) echo "about to crash" >&2; kill -SEGV $$ ;;
  fail) echo "fake: cannot converge on this data" >&2; exit 3 ;;
  garbage)
    echo '{"key": "loss", "value": 0.5, "step": 0}' >&"$ORRERY_METRICS_FD"
    echo 'loss=0.4' >&"$ORRERY_METRICS_FD"
    echo '{"key": "loss", "value": "high"}' >&"$ORRERY_METRICS_FD"
    model ;;
  flavor) model nosuch ;;
  badflavor) model "../x" ;;
  nomanifest) model; rm "$ORRERY_OUT/orrery-model.json" ;;
  subdir) model; mkdir "$ORRERY_OUT/sub" ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
