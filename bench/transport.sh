#!/usr/bin/env bash
# Transport benchmark (issue 4): 1 GB from genie-real to genie-node over
# loopback TCP — four 256 MB tensors, each the input of one step of a
# trace, moved by the genie plan's batched request (framing, CRC32C,
# copies out of and into the runners included) — against a bare TCP
# socket pair in the same run (bench_tcp: plain send/recv, nothing else).
#
#   bench/transport.sh [BUILD_DIR]        (default: build)
#
# Runs both ROUNDS times (default 5), interleaved, and prints each run and
# the ratio of the medians.  The Genie figure is the network transfers'
# bytes over their summed durations (from the first byte the client sends
# to the last one the node has written into its runner), read back from
# the results database.
set -euo pipefail
build=${1:-build}
tmp=$(mktemp -d)
trap "rm -rf $tmp" EXIT; [ -n "${KEEP:-}" ] && trap - EXIT && echo "kept $tmp"
rows=256 cols=262144 # 64 Mi floats = 256 MiB per step
{
  printf '{"schema":"genie.srg","version":"1.0","name":"transport","steps":['
  for s in 0 1 2 3; do
    [ $s -gt 0 ] && printf ','
    printf '{"phase":"forward","tensors":['
    printf '{"id":0,"dtype":"f32","shape":[%d,%d],"bytes":%d,"kind":"input"},' $rows $cols $((rows * cols * 4))
    printf '{"id":1,"dtype":"f32","shape":[%d],"bytes":%d,"kind":"output"}],' $rows $((rows * 4))
    printf '"nodes":[{"id":0,"op":"reduction","inputs":[0],"outputs":[1],"attrs":{"fn":"sum","dim":-1},'
    printf '"flops":%d,"bytes":%d}]}' $((rows * cols)) $((rows * cols * 4 + rows * 4))
  done
  printf ']}\n'
} >"$tmp/trace.json"
cat >"$tmp/exp.json" <<EOT
{"name": "transport", "workloads": [{"family": "trace", "path": "$tmp/trace.json", "name": "4x256MB"}],
 "weights": "resident", "strategies": ["genie"], "seed": 1}
EOT
rounds=${ROUNDS:-5}
: >"$tmp/genie"
: >"$tmp/bare"
for r in $(seq "$rounds"); do # interleaved, so a busy moment hits both
  rm -f "$tmp/t.sqlite"
  "$build/genie-real" -q --db "$tmp/t.sqlite" "$tmp/exp.json"
  sqlite3 -separator ' ' "$tmp/t.sqlite" \
    "select printf('%.3f', sum(bytes) / sum(end_s - start_s) / 1e9) from events where network = 1 and bytes > 1e6" >>"$tmp/genie"
  "$build/bench_tcp" 1024 256 | awk '{ print $2 }' >>"$tmp/bare"
done
med() { sort -g "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
genie=$(med "$tmp/genie")
bare=$(med "$tmp/bare")
echo "genie-real -> genie-node, 1 GiB: $(sort -g "$tmp/genie" | tr '\n' ' ')GB/s; median $genie"
echo "bare TCP socket pair, 1 GiB:     $(sort -g "$tmp/bare" | tr '\n' ' ')GB/s; median $bare"
awk -v g="$genie" -v b="$bare" -v n="$rounds" 'BEGIN { printf "ratio of medians over %d interleaved rounds: %.1f%% of bare TCP (target >= 90%%)\n", n, 100 * g / b }'
