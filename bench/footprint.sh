#!/usr/bin/env bash
# Node footprint benchmark (issue 4): resident memory of genie-node beyond
# the tensors it holds, CPU time per request outside the executor (p95),
# and CPU use while idle.
#
#   bench/footprint.sh [BUILD_DIR] [EXPERIMENT]
#       (defaults: build, experiments/real_small.json)
#
# Starts one genie-node, measures it idle, runs the experiment against it
# with genie-real --node, reads the node's own figures from the results
# database (each run's RESULT frame carries VmRSS, the bytes of tensor
# data its runner holds, and the CPU time of every DATA frame it handled),
# then measures it idle again after every session has ended (RSS at once
# and 3 s later: the node gives the free memory its allocator keeps for the
# next session back after a second without sessions).
set -euo pipefail
build=${1:-build}
exp=${2:-experiments/real_small.json}
tmp=$(mktemp -d)
"$build/genie-node" --port 0 --quiet >"$tmp/out" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do grep -q listening "$tmp/out" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$tmp/out")
rss() { awk '/VmRSS/ { print $2 }' "/proc/$pid/status"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
idle() {
  local t0 t1
  t0=$(ticks); sleep 3; t1=$(ticks)
  awk -v d=$((t1 - t0)) -v hz="$hz" 'BEGIN { printf "%.2f%%", 100 * d / hz / 3 }'
}
echo "genie-node pid $pid on port $port"
echo "idle, before any session: RSS $(rss) kB, CPU $(idle) over 3 s"
"$build/genie-real" --node "127.0.0.1:$port" --db "$tmp/f.sqlite" "$exp" >"$tmp/real.out"
grep "node CPU per request" "$tmp/real.out"
sqlite3 "$tmp/f.sqlite" "select r.value - h.value from metrics r join metrics h on h.run_id = r.run_id
  and h.name = 'node_tensor_bytes' where r.name = 'node_rss'" | sort -g |
  awk '{ v[NR] = $1 } END { printf "per run (remote strategies): RSS beyond the tensors held: median %.1f MB, max %.1f MB (%d runs)\n", v[int((NR + 1) / 2)] / 1e6, v[NR] / 1e6, NR }'
sqlite3 "$tmp/f.sqlite" "select value from metrics where name = 'node_request_cpu_p95'" | sort -g |
  awk '{ v[NR] = $1 } END { printf "CPU per request outside the executor, p95 of each run: median %.3f ms, max %.3f ms\n", v[int((NR + 1) / 2)] * 1e3, v[NR] * 1e3 }'
echo "requests handled: $(sqlite3 "$tmp/f.sqlite" "select cast(sum(value) as int) from metrics where name = 'node_requests'")"
r0=$(rss)
c=$(idle)
echo "idle, after every session ended: RSS $r0 kB at once, $(rss) kB 3 s later (the allocator's kept memory"
echo "  goes back after a second without sessions), CPU $c over those 3 s"
