#!/usr/bin/env bash
# End-to-end: genie-real against genie-node processes it starts itself,
# the calibration, genie-sim on the calibrated platform, and the
# sim-vs-real report; then bad input.
# Usage: e2e_genie_real.sh GENIE_REAL GENIE_SIM GENIE_REPORT DATA_DIR
set -u
real=$1
sim=$2
report=$3
data=$4
. "$(dirname "$0")/e2e_lib.sh"

"$real" --help | grep -q "usage: genie-real" && ok || bad "--help"

# every strategy runs for real, twice, with exact parity
if "$real" -q --repeat 2 --db "$tmp/db.sqlite" "$data/real_tiny.json"; then ok; else bad "genie-real exit $?"; fi
db="$tmp/db.sqlite"
n=$(sqlite3 "$db" "select count(*) from runs where backend='real' and status='ok'")
[ "$n" = 20 ] && ok || bad "expected 20 ok real runs, got $n"
n=$(sqlite3 "$db" "select count(*) from metrics where name='parity_identical' and value=1")
[ "$n" = 20 ] && ok || bad "expected 20 runs identical to the local reference, got $n"
# events: one per task, the latency is the last event, bytes as planned
n=$(sqlite3 "$db" "select count(*) from runs r where (select count(*) from events e where e.run_id=r.id) != (select value from metrics m where m.run_id=r.id and m.name='tasks')")
[ "$n" = 0 ] && ok || bad "$n real runs whose events do not match their task count"
n=$(sqlite3 "$db" "select count(*) from events e join runs r on r.id=e.run_id where r.backend='real' and (e.end_s < e.start_s or e.start_s < 0)")
[ "$n" = 0 ] && ok || bad "$n real events end before they start"
n=$(sqlite3 "$db" "select count(*) from runs r where r.strategy != 'local' and (select value from metrics m where m.run_id=r.id and m.name='node_rss') > 0")
[ "$n" = 16 ] && ok || bad "expected node memory figures for 16 remote runs, got $n"

# calibration -> simulation of this machine -> comparison
if "$real" -q --calibrate -o "$tmp/cal.json" "$data/real_tiny.json"; then ok; else bad "calibrate exit $?"; fi
grep -q '"op_gflops"' "$tmp/cal.json" && ok || bad "calibration file has no op rates"
grep -q '"op_times"' "$tmp/cal.json" && ok || bad "calibration file has no measured op signatures"
if "$sim" -q --no-plot --platform "$tmp/cal.json" --db "$db" "$data/real_tiny.json"; then ok; else bad "sim with calibration exit $?"; fi
out=$("$report" "$db" --compare --plot "$tmp/cmp.png" 2>&1)
echo "$out" | grep -q "rankings match" && ok || bad "compare: $out"
echo "$out" | grep -q "genie-no-kv" && ok || bad "compare misses a strategy"
[ -s "$tmp/cmp.png" ] && ok || bad "no comparison plot"
echo "$out" | grep -q "repeated points: the fastest run" && ok || bad "compare: default estimator"
"$report" "$db" --compare --estimator median | grep -q "the median run" && ok || bad "--estimator median"
"$report" "$db" --compare --estimator mean >/dev/null 2>"$tmp/err"; [ $? = 2 ] && grep -q "min or median" "$tmp/err" &&
  ok || bad "--estimator mean accepted"

# the compare table says when the sim ran another plan than the real run
# (their tasks differ): none here; then one real run's plan made to differ
# (a copy of the database, a task of its real runs moved to another step)
out=$("$report" "$db" --compare 2>&1)
echo "$out" | grep -q "other plan" && bad "same plans flagged as different: $out" || ok
cp "$db" "$tmp/other.sqlite"
sqlite3 "$tmp/other.sqlite" "update events set step = step + 1 where task = 3 and run_id in
  (select id from runs where backend = 'real' and strategy = 'genie' and workload = 'tiny-dlrm')"
out=$("$report" "$tmp/other.sqlite" --compare 2>&1)
echo "$out" | grep -q "1 of 10 points ran another plan than the one simulated" && ok || bad "other plan not flagged: $out"
echo "$out" | grep "tiny-dlrm *genie " | grep -q "(other plan)" && ok || bad "the row is not marked: $out"

# calibrating alongside the real runs: one executor pass per round of
# repeats, a platform file genie-sim takes; either estimator
if "$real" -q --repeat 2 --calibrate-out "$tmp/cal2.json" --db "$tmp/db4.sqlite" "$data/real_tiny.json"; then
  ok; else bad "--calibrate-out exit $?"; fi
grep -q '"op_times"' "$tmp/cal2.json" && ok || bad "interleaved calibration has no measured op signatures"
n=$(sqlite3 "$tmp/db4.sqlite" "select count(*) from runs where backend='real' and status='ok'")
[ "$n" = 20 ] && ok || bad "expected 20 ok real runs with --calibrate-out, got $n"
if "$sim" -q --no-plot --platform "$tmp/cal2.json" --db "$tmp/db4.sqlite" "$data/real_tiny.json"; then ok
  else bad "sim with the interleaved calibration exit $?"; fi
if "$real" -q --calibrate --calibrate-estimator median -o "$tmp/cal3.json" "$data/real_tiny.json"; then ok
  else bad "--calibrate-estimator median exit $?"; fi
grep -q '"op_times"' "$tmp/cal3.json" && ok || bad "median calibration has no measured op signatures"
"$real" -q --calibrate --calibrate-out "$tmp/x.json" "$data/real_tiny.json" 2>"$tmp/err"
[ $? = 2 ] && grep -q "give one of them" "$tmp/err" && ok || bad "--calibrate with --calibrate-out accepted"
"$real" -q --calibrate --calibrate-estimator mean "$data/real_tiny.json" 2>"$tmp/err"
[ $? = 2 ] && grep -q "min or median" "$tmp/err" && ok || bad "--calibrate-estimator mean accepted"

# a real run's timeline as a Chrome trace: one complete event per task
run=$(sqlite3 "$db" "select min(id) from runs where backend='real' and strategy='genie'")
if "$report" "$db" --timeline "$run" -o "$tmp/tl.json" >/dev/null; then ok; else bad "timeline exit $?"; fi
n=$(grep -o '"ph":"X"' "$tmp/tl.json" | wc -l)
want=$(sqlite3 "$db" "select count(*) from events where run_id=$run")
[ "$n" = "$want" ] && ok || bad "timeline has $n events, the run $want"
grep -q '"cat":"transfer"' "$tmp/tl.json" && ok || bad "timeline without transfers"

# bad input: exit 2 with a message; an unreachable node: exit 1, named
"$real" -q "$tmp/missing.json" 2>"$tmp/err"; [ $? = 2 ] && grep -q "missing.json" "$tmp/err" && ok || bad "missing file"
"$real" -q --spawn 99 "$data/real_tiny.json" 2>"$tmp/err"; [ $? = 2 ] && ok || bad "--spawn 99 accepted"
"$real" -q --node 127.0.0.1:1 --db "$tmp/db2.sqlite" "$data/real_tiny.json" 2>"$tmp/err"
[ $? = 1 ] && grep -q "cannot connect" "$tmp/err" && ok || bad "unreachable node: $(head -2 "$tmp/err")"
n=$(sqlite3 "$tmp/db2.sqlite" "select count(*) from runs where status='failed'")
[ "$n" = 8 ] && ok || bad "expected the 8 remote runs stored as failed, got $n"

# nodes named in the experiment file
cat >"$tmp/named.json" <<EOT
{"name": "named", "workloads": [{"family": "llm", "model": "tiny-gpt2", "prompt": 4, "decode": 1}],
 "strategies": ["genie"], "real": {"nodes": ["127.0.0.1:1"]}}
EOT
"$real" -q --db "$tmp/db3.sqlite" "$tmp/named.json" 2>"$tmp/err"
[ $? = 1 ] && grep -q "127.0.0.1:1" "$tmp/err" && ok || bad "nodes from the file: $(head -2 "$tmp/err")"
sed -i 's/"127.0.0.1:1"/"nowhere"/' "$tmp/named.json"
"$real" -q --db "$tmp/db3.sqlite" "$tmp/named.json" 2>"$tmp/err"
[ $? = 2 ] && grep -q 'real.nodes\[0\]' "$tmp/err" && ok || bad "bad node in the file: $(head -2 "$tmp/err")"

# f16 group_norm, an embedding_bag with offsets and per-sample weights and
# bf16 masked causal GQA attention (tests/data/real_features_trace.json):
# every strategy, twice, exact parity
if "$real" -q --repeat 2 --db "$tmp/feat.sqlite" "$data/real_features.json"; then ok; else bad "real_features exit $?"; fi
n=$(sqlite3 "$tmp/feat.sqlite" "select count(*) from metrics where name='parity_identical' and value=1")
[ "$n" = 8 ] && ok || bad "expected 8 real_features runs identical to the local reference, got $n"

# a trace captured by the PyTorch front end (tests/data/capture_features.py)
if "$real" -q --repeat 2 --db "$tmp/cap.sqlite" "$data/real_captured.json"; then ok; else bad "real_captured exit $?"; fi
n=$(sqlite3 "$tmp/cap.sqlite" "select count(*) from metrics where name='parity_identical' and value=1")
[ "$n" = 8 ] && ok || bad "expected 8 real_captured runs identical to the local reference, got $n"

# every family generated in f16 / bf16: local and genie, twice, exact parity
if "$real" -q --repeat 2 --db "$tmp/half.sqlite" "$data/real_half.json"; then ok; else bad "real_half exit $?"; fi
n=$(sqlite3 "$tmp/half.sqlite" "select count(*) from metrics where name='parity_identical' and value=1")
[ "$n" = 20 ] && ok || bad "expected 20 real_half runs identical to the local reference, got $n"

finish e2e_genie_real
