#!/usr/bin/env bash
# The simulator checked against the real runtime on this machine (issue 4):
# calibrate, run the experiment for real (REPEAT times per point, round-
# robin; the fastest counts) while calibrating the executor again between
# the rounds, simulate the machine that calibration measured, and join
# the two.  The calibration taken before the runs plans the real runs
# (and is printed against, as the error a calibration a minute older
# gives: this VM's speed drifts); the interleaved one is what the
# simulator predicts with, since it met the same machine as the runs.
#
#   experiments/fidelity.sh [EXPERIMENT] [REPEAT] [BUILD_DIR]
#       (defaults: experiments/real_small.json, 5, build)
#   CAL_ESTIMATOR=median ESTIMATOR=median experiments/fidelity.sh ...
#       an op's median time over the calibration's passes (default: its
#       fastest) and a point's median real run (default: its fastest)
#   LINK_MBITS=1000 experiments/fidelity.sh ...
#       the same against nodes behind a link shaped to 1000 Mbit/s
#       (experiments/netns.sh; root), instead of nodes on loopback
#
# Writes results/<name>.sqlite (both backends), results/calibration.json
# (interleaved with the runs), results/calibration-before.json and
# results/<name>-compare.png; prints the comparison.  Run it on a
# quiet machine: the real runs measure wall-clock time (as root, it runs
# under SCHED_FIFO, so other processes' CPU time does not land in the
# measurements; their use of caches and memory still does).
set -euo pipefail
exp=${1:-experiments/real_small.json}
repeat=${2:-5}
build=${3:-build}
here=$(dirname "$0")
rt=()
if [ "$(id -u)" = 0 ] && command -v chrt >/dev/null && chrt -f 10 true 2>/dev/null; then rt=(chrt -f 10); fi
nodes=()
if [ -n "${LINK_MBITS:-}" ]; then
  trap '"$here/netns.sh" down' EXIT
  for hp in $("${rt[@]}" "$here/netns.sh" up "$LINK_MBITS" 1 "$build"); do nodes+=(--node "$hp"); done
  echo "nodes behind a ${LINK_MBITS} Mbit/s link: ${nodes[*]}"
fi
name=$(sqlite3 :memory: "select json_extract(readfile('$exp'), '\$.name')")
load() { cut -d' ' -f1 /proc/loadavg; }
echo "load average at the start: $(load) (on $(nproc) cores)"
awk -v l="$(load)" 'BEGIN { exit !(l > 0.5) }' &&
  echo "warning: this machine is busy; real runs will be slower than the calibration predicts" >&2
# the machine's steadiness: the same kernel's mean time per 0.5 s window over
# its fastest (bench/bench_steady.c); the calibration keeps fastest times, a
# real run sees the mean, so these ratios bound how close any prediction can be
steady() {
  if [ -x "$build/bench_steady" ]; then
    "$build/bench_steady" 3 | awk '/^steady/ {
        printf "steadiness (%s): one kernel, mean time per 0.5 s window / its fastest: min x%s, median x%s, max x%s\n", phase, $7, $8, $9
        if ($9 > 1.25)
          printf "warning: this machine runs sustained work up to x%s slower than its fastest; real runs will differ from the prediction by about that much\n", $9 > "/dev/stderr" }' phase="$1"
  fi
}
steady "before"
mkdir -p results
db=results/$name.sqlite
cal_est=(--calibrate-estimator "${CAL_ESTIMATOR:-min}")
est=(--estimator "${ESTIMATOR:-min}")
"${rt[@]}" "$build/genie-real" --calibrate "${cal_est[@]}" "${nodes[@]}" -o results/calibration-before.json "$exp"
"$build/genie-sim" -q --no-plot --platform results/calibration-before.json --db "$db" "$exp"
before_sim=$(sqlite3 "$db" "select max(experiment_id) from runs where backend = 'sim'")
"${rt[@]}" "$build/genie-real" -q --repeat "$repeat" "${nodes[@]}" --platform results/calibration-before.json \
  --calibrate-out results/calibration.json "${cal_est[@]}" --db "$db" "$exp"
"$build/genie-sim" -q --no-plot --platform results/calibration.json --db "$db" "$exp"
echo "the simulator with the executor calibrated between the rounds of real runs (results/calibration.json):"
"$build/genie-report" "$db" --compare "${est[@]}" --plot "results/$name-compare.png"
echo
echo "the same real runs against the calibration taken before them (results/calibration-before.json):"
"$build/genie-report" "$db" --compare "${est[@]}" --sim "$before_sim" | sed -n '/^end-to-end/,/all /p'
echo
echo "drift: the local runs predicted from the calibration before the runs and from the one between them"
sqlite3 -separator ' ' "$db" "
  select printf('  %-14s %9.3f ms -> %9.3f ms  %+6.1f%%', r.workload, 1000 * m.value, 1000 * n.value,
                100 * (n.value / m.value - 1))
  from runs r join metrics m on m.run_id = r.id and m.name = 'latency'
  join runs q on q.workload = r.workload and q.strategy = r.strategy and coalesce(q.point, '') = coalesce(r.point, '')
  join metrics n on n.run_id = q.id and n.name = 'latency'
  where r.backend = 'sim' and r.strategy = 'local' and r.experiment_id = $before_sim
    and q.experiment_id = (select max(experiment_id) from runs where backend = 'sim')"
steady "after"
echo "load average at the end: $(load)"
