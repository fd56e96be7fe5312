#!/usr/bin/env bash
# The simulator checked against the real runtime on this machine (issue 4):
# calibrate, simulate the calibrated machine, run the same experiment for
# real (REPEAT times per point; the median counts), and join the two.
#
#   experiments/fidelity.sh [EXPERIMENT] [REPEAT] [BUILD_DIR]
#       (defaults: experiments/real_small.json, 3, build)
#
# Writes results/<name>.sqlite (both backends), results/calibration.json
# and results/<name>-compare.png; prints the comparison.  Run it on a
# quiet machine: the real runs measure wall-clock time.
set -euo pipefail
exp=${1:-experiments/real_small.json}
repeat=${2:-3}
build=${3:-build}
name=$(sed -n 's/.*"name": *"\([^"]*\)".*/\1/p' "$exp" | head -1)
load() { cut -d' ' -f1 /proc/loadavg; }
echo "load average at the start: $(load) (on $(nproc) cores)"
awk -v l="$(load)" 'BEGIN { exit !(l > 0.5) }' &&
  echo "warning: this machine is busy; real runs will be slower than the calibration predicts" >&2
mkdir -p results
db=results/$name.sqlite
"$build/genie-real" --calibrate -o results/calibration.json "$exp"
"$build/genie-sim" -q --no-plot --platform results/calibration.json --db "$db" "$exp"
"$build/genie-real" -q --repeat "$repeat" --platform results/calibration.json --db "$db" "$exp"
"$build/genie-report" "$db" --compare --plot "results/$name-compare.png"
echo "load average at the end: $(load)"
