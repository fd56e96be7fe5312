#!/usr/bin/env bash
# The simulator checked against the real runtime on this machine (issue 4):
# calibrate, simulate the calibrated machine, run the same experiment for
# real (REPEAT times per point; the median counts), and join the two.
#
#   experiments/fidelity.sh [EXPERIMENT] [REPEAT] [BUILD_DIR]
#       (defaults: experiments/real_small.json, 5, build)
#   LINK_MBITS=1000 experiments/fidelity.sh ...
#       the same against nodes behind a link shaped to 1000 Mbit/s
#       (experiments/netns.sh; root), instead of nodes on loopback
#
# Writes results/<name>.sqlite (both backends), results/calibration.json
# and results/<name>-compare.png; prints the comparison.  Run it on a
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
name=$(sed -n 's/.*"name": *"\([^"]*\)".*/\1/p' "$exp" | head -1)
load() { cut -d' ' -f1 /proc/loadavg; }
echo "load average at the start: $(load) (on $(nproc) cores)"
awk -v l="$(load)" 'BEGIN { exit !(l > 0.5) }' &&
  echo "warning: this machine is busy; real runs will be slower than the calibration predicts" >&2
mkdir -p results
db=results/$name.sqlite
"${rt[@]}" "$build/genie-real" --calibrate "${nodes[@]}" -o results/calibration.json "$exp"
"$build/genie-sim" -q --no-plot --platform results/calibration.json --db "$db" "$exp"
"${rt[@]}" "$build/genie-real" -q --repeat "$repeat" "${nodes[@]}" --platform results/calibration.json --db "$db" "$exp"
"$build/genie-report" "$db" --compare --plot "results/$name-compare.png"
echo "load average at the end: $(load)"
