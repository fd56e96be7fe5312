#!/usr/bin/env bash
# End-to-end: the real genie-sim on a tiny experiment, then on every kind
# of bad input.  Usage: e2e_genie_sim.sh GENIE_SIM DATA_DIR
set -u
sim=$1
data=$2
. "$(dirname "$0")/e2e_lib.sh"

# --help answers and exits 0
"$sim" --help | grep -q "usage: genie-sim" && ok || bad "--help"

# a tiny experiment runs, stores every task and draws a plot
if "$sim" -q -o "$tmp/out" "$data/tiny_experiment.json"; then ok; else bad "tiny experiment exit $?"; fi
db="$tmp/out/tiny.sqlite"
runs=$(sqlite3 "$db" "select count(*) from runs where status='ok'")
[ "$runs" = 20 ] && ok || bad "expected 20 ok runs, got $runs"
# one event per task, and the metrics agree with the events
n=$(sqlite3 "$db" "select count(*) from runs r where (select count(*) from events e where e.run_id=r.id) != (select value from metrics m where m.run_id=r.id and m.name='tasks')")
[ "$n" = 0 ] && ok || bad "$n runs whose events do not match their task count"
n=$(sqlite3 "$db" "select count(*) from runs r where abs((select max(end_s) from events e where e.run_id=r.id) - (select value from metrics m where m.run_id=r.id and m.name='latency')) > 1e-12")
[ "$n" = 0 ] && ok || bad "latency metric differs from the last event"
n=$(sqlite3 "$db" "select count(*) from runs r where abs((select coalesce(sum(bytes),0) from events e where e.run_id=r.id and network=1) - (select value from metrics m where m.run_id=r.id and m.name='net_bytes')) > 0.5")
[ "$n" = 0 ] && ok || bad "net_bytes metric differs from the network events"
# the experiment row keeps the file's text and a revision
sqlite3 "$db" "select config from experiments" | grep -q '"tiny-gpt2"' && ok || bad "config not stored"
[ -s "$tmp/out/tiny.png" ] && ok || bad "no plot"
# genie without KV co-location ships the cache: more bytes than genie
more=$(sqlite3 "$db" "select (select value from metrics m join runs r on r.id=m.run_id where r.strategy='genie-no-kv' and r.workload='tiny-gpt2' and r.x=25 and m.name='net_bytes') > (select value from metrics m join runs r on r.id=m.run_id where r.strategy='genie' and r.workload='tiny-gpt2' and r.x=25 and m.name='net_bytes')")
[ "$more" = 1 ] && ok || bad "disabling kv_colocation did not add bytes"

# genie-report rebuilds the same table from the database alone
report="$(dirname "$sim")/genie-report"
"$report" "$db" --plot "$tmp/again.png" > "$tmp/report.txt" && ok || bad "genie-report failed"
grep -q "genie-no-kv" "$tmp/report.txt" && [ -s "$tmp/again.png" ] && ok || bad "genie-report table or plot missing"
"$report" "$tmp/nope.sqlite" 2> /dev/null; [ $? = 1 ] && ok || bad "genie-report on a missing file"

# the simulation is deterministic: latencies match the reviewed golden file
# (tests/data/golden_tiny_latency.txt; regenerate it only for an intended
# change of the cost model or strategies, and say so in the commit)
sqlite3 "$db" "select r.workload, r.strategy, r.x, printf('%.9e', m.value) from runs r join metrics m on m.run_id=r.id where m.name = 'latency' order by r.workload, r.strategy, r.x" > "$tmp/latency.txt"
diff -u "$data/golden_tiny_latency.txt" "$tmp/latency.txt" > "$tmp/golden.diff" && ok || { bad "latencies differ from the golden file"; cat "$tmp/golden.diff"; }

# bad input: exit 2, one line naming file and field, no crash
check_bad() { # file expected-substring
  local exp="$tmp/exp_$(basename "$1")"
  printf '{"name":"b","workloads":[{"family":"trace","path":"%s"}]}' "$1" > "$exp"
  "$sim" -q --no-plot -o "$tmp/bad" "$exp" 2> "$tmp/err"
  local rc=$?
  [ $rc = 2 ] || { bad "$1: exit $rc, expected 2"; return; }
  [ "$(wc -l < "$tmp/err")" = 1 ] || { bad "$1: error is not one line: $(cat "$tmp/err")"; return; }
  grep -qF -- "$2" "$tmp/err" && ok || bad "$1: '$(cat "$tmp/err")' lacks '$2'"
}
check_bad "$data/bad/missing_field.json" 'missing_field.json: $.steps[0].tensors[1].dtype: missing required field'
check_bad "$data/bad/wrong_type.json" 'wrong_type.json: $.steps[0].nodes[0].flops: expected a number'
check_bad "$data/bad/unknown_op.json" 'unknown_op.json: $.steps[0].nodes[0].op: unknown op "matmull"'
check_bad "$data/bad/cycle.json" 'cycle.json: $.steps[0].nodes: the graph has a cycle'
check_bad "$data/bad/negative_size.json" 'negative_size.json: $.steps[0].tensors[0].shape[1]: expected an integer >= 0, got -4'
check_bad "$data/bad/truncated.json" 'truncated.json: line 1 column'

# bad experiment files
check_exp() { # json expected-substring
  printf '%s' "$1" > "$tmp/e.json"
  "$sim" -q --no-plot -o "$tmp/bad" "$tmp/e.json" 2> "$tmp/err"
  local rc=$?
  [ $rc = 2 ] && grep -qF -- "$2" "$tmp/err" && [ "$(wc -l < "$tmp/err")" = 1 ] && ok ||
    bad "experiment $1: exit $rc, '$(cat "$tmp/err")' lacks '$2'"
}
check_exp '{"workloads":[]}' 'e.json: $.name: missing required field'
check_exp '{"name":"x","workloads":[{"model":"gpt9"}]}' 'e.json: $.workloads[0].model: unknown model'
check_exp '{"name":"x","workloads":[{"model":"tiny-gpt2","prompt":-3}]}' 'e.json: $.workloads[0].prompt: expected an integer'
check_exp '{"name":"x","workloads":[{"model":"tiny-gpt2"}],"strategies":["fast"]}' 'e.json: $.strategies[0]'
check_exp '{"name":"x","workloads":[{"model":"tiny-gpt2"}],"strategies":[{"strategy":"genie","options":{"disable":["magic"]}}]}' 'e.json: $.strategies[0].options.disable[0]: unknown optimisation'
check_exp '{"name":"x","workloads":[{"model":"tiny-gpt2"}],"platform":{"network":{"bandwidth_gbps":"fast"}}}' 'e.json: $.platform.network.bandwidth_gbps: expected a number'
check_exp '{"name":"x","workloads":[{"model":"tiny-gpt2"}' 'e.json: line 1 column'
"$sim" -q "$tmp/does-not-exist.json" 2> "$tmp/err"; [ $? = 2 ] && grep -q "cannot read" "$tmp/err" && ok || bad "missing file"

finish
