#!/usr/bin/env bash
# End-to-end: the committed captures of real models (traces/captured/,
# PyTorch front end) run for real. genie-trace exec finds no node the CPU
# executor would refuse in ResNet-50, DLRM, GPT-2 and LLaMA (generate()),
# and genie-real runs all four under every strategy, twice, bit-identical
# to its local reference.
# Usage: e2e_captured_real.sh GENIE_REAL GENIE_TRACE SOURCE_DIR
set -u
real=$1
trace=$2
src=$3
. "$(dirname "$0")/e2e_lib.sh"

for m in resnet50 dlrm gpt2 llama; do
    out=$("$trace" exec "$src/traces/captured/$m.json" 2>&1)
    case "$out" in
    *": 0 of "*) ok ;;
    *) bad "$m: genie-trace exec: $out" ;;
    esac
done

if "$real" -q --repeat 2 --db "$tmp/db.sqlite" "$src/tests/data/real_captured_models.json"; then ok; else
    bad "genie-real exit $?"; fi
n=$(sqlite3 "$tmp/db.sqlite" "select count(*) from metrics where name='parity_identical' and value=1")
[ "$n" = 32 ] && ok || bad "expected 32 runs (4 captures x 4 strategies x 2) identical to the local reference, got $n"
n=$(sqlite3 "$tmp/db.sqlite" "select count(*) from runs r join metrics m on m.run_id = r.id
                              where m.name = 'parity_checked' and m.value = 1")
[ "$n" = 32 ] && ok || bad "expected 32 parity-checked runs, got $n"

finish e2e_captured_real
