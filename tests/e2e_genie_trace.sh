#!/usr/bin/env bash
# End-to-end: genie-trace writes a trace that it and genie-sim read back.
# Usage: e2e_genie_trace.sh GENIE_TRACE GENIE_SIM DATA_DIR
set -u
tr=$1 sim=$2 data=$3
. "$(dirname "$0")/e2e_lib.sh"

"$tr" gen tiny-llama --prompt 6 --decode 3 -o "$tmp/t.json" > "$tmp/out" && ok || bad "gen failed"
grep -q '4 steps' "$tmp/out" && ok || bad "gen summary: $(cat "$tmp/out")"
"$tr" check "$tmp/t.json" | grep -q '"tiny-llama b1 p6 d3 f32", 4 steps' && ok || bad "check of a generated trace"
printf '{"name":"rt","workloads":[{"family":"trace","path":"%s"}],"strategies":["genie"]}' "$tmp/t.json" > "$tmp/e.json"
"$sim" -q --no-plot -o "$tmp/r" "$tmp/e.json" && ok || bad "genie-sim on a written trace"
printf '{"name":"rt","workloads":[{"family":"trace","path":"%s","requests":3}],"strategies":["genie"]}' "$tmp/t.json" > "$tmp/e2.json"
"$sim" -q --no-plot -o "$tmp/r" "$tmp/e2.json" 2>"$tmp/err"; [ $? = 2 ] && grep -q 'workloads\[0\].requests: not a field of a trace workload' "$tmp/err" && ok ||
  bad "a trace workload's unknown key accepted: $(cat "$tmp/err")"
"$tr" check "$data/bad/unknown_op.json" 2> "$tmp/err"; [ $? = 2 ] && grep -q 'nodes\[0\].op' "$tmp/err" && ok || bad "bad trace not refused"
"$tr" gen gpt5 -o "$tmp/x.json" 2> /dev/null; [ $? = 2 ] && ok || bad "unknown model not refused"
"$tr" gen tiny-gpt2 --prompt -1 -o "$tmp/x.json" 2> /dev/null; [ $? = 2 ] && ok || bad "bad --prompt not refused"
"$tr" --help | grep -q usage && ok || bad "--help"
# an unknown architecture (opaque selective scans) plans and simulates under every strategy
printf '{"name":"unknown","workloads":[{"family":"trace","path":"%s"}]}' "$data/mamba_tiny.json" > "$tmp/m.json"
"$sim" -q --no-plot -o "$tmp/m" "$tmp/m.json" && ok || bad "unknown architecture did not simulate"
[ "$(sqlite3 "$tmp/m/unknown.sqlite" "select count(*) from runs where status='ok'")" = 4 ] && ok || bad "unknown architecture: not 4 ok runs"

# exec: which nodes the CPU executor would refuse, by reason
"$tr" exec "$data/real_features_trace.json" | grep -q ': 0 of 8 nodes' && ok || bad "exec of a runnable trace"
"$tr" exec "$tmp/t.json" > /dev/null && ok || bad "exec: the generated tiny-llama does not run"
out=$("$tr" exec "$data/mamba_tiny.json"); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q '4 of 9 nodes' && echo "$out" | grep -q 'opaque: not run by the CPU executor: selective_scan' \
  && ok || bad "exec of mamba_tiny: rc $rc: $out"
"$tr" exec "$data/bad/unknown_op.json" 2>/dev/null; [ $? = 2 ] && ok || bad "exec of a bad trace not refused"

finish
