#!/usr/bin/env bash
# End-to-end: a genie-node behind a link shaped to 100 Mbit/s in a
# network namespace (experiments/netns.sh): the calibration measures the
# shaped link through the node, not loopback; a real run through it keeps
# exact parity; the simulator on that calibration puts the weight upload
# at the link's rate.  Skipped (77) without root or network namespaces.
# Usage: e2e_netns.sh BUILD_DIR SOURCE_DIR
set -u
build=$1
src=$2
[ "$(id -u)" = 0 ] || { echo "e2e_netns: not root: skipped"; exit 77; }
command -v tc >/dev/null && command -v ip >/dev/null || { echo "e2e_netns: no ip/tc: skipped"; exit 77; }
if ! ip netns add genie-probe 2>/dev/null; then echo "e2e_netns: no network namespaces here: skipped"; exit 77; fi
ip netns del genie-probe
. "$(dirname "$0")/e2e_lib.sh"
export GENIE_NETNS_STATE=$tmp/state
trap '"$src/experiments/netns.sh" down; rm -rf "$tmp"' EXIT

node=$("$src/experiments/netns.sh" up 100 1 "$build") && [ "$node" = "10.201.1.2:7070" ] && ok || bad "netns.sh up: '$node'"
# nothing listens on the link's address outside the namespace but the node
cat >"$tmp/exp.json" <<EOT
{"name": "shaped", "workloads": [{"family": "llm", "model": "tiny-gpt2", "prompt": 8, "decode": 2}],
 "weights": "upload", "strategies": ["genie", "blind"], "real": {"nodes": ["$node"]}}
EOT
if "$build/genie-real" -q --calibrate -o "$tmp/cal.json" "$tmp/exp.json"; then ok; else bad "calibrate exit $?"; fi
gbps=$(sqlite3 :memory: "select json_extract(readfile('$tmp/cal.json'), '\$.network.bandwidth_gbps')")
awk -v g="$gbps" 'BEGIN { exit !(g > 0.05 && g < 0.11) }' && ok || bad "shaped link measured at $gbps Gb/s, not ~0.1"
db=$tmp/db.sqlite
if "$build/genie-real" -q --db "$db" "$tmp/exp.json"; then ok; else bad "genie-real through the link exit $?"; fi
n=$(sqlite3 "$db" "select count(*) from metrics where name='parity_identical' and value=1")
[ "$n" = 2 ] && ok || bad "expected 2 runs identical to the local reference, got $n"
if "$build/genie-sim" -q --no-plot --platform "$tmp/cal.json" --db "$db" "$tmp/exp.json"; then ok; else bad "sim exit $?"; fi
# the weights cross the link in the first step: real and simulated time
# of that upload both follow the 100 Mbit/s rate (sim and real within
# 25 %)
q="select max(e.end_s - e.start_s), max(e.bytes) from events e join runs r on r.id = e.run_id
   where r.backend = '%s' and r.strategy = 'genie' and e.network = 1 and e.step = 0"
read -r treal breal < <(sqlite3 -separator ' ' "$db" "$(printf "$q" real)")
read -r tsim bsim < <(sqlite3 -separator ' ' "$db" "$(printf "$q" sim)")
awk -v t="$treal" -v b="$breal" 'BEGIN { r = b * 8 / t / 1e6; exit !(r > 60 && r < 120) }' && ok ||
  bad "the real upload of $breal bytes took $treal s: not ~100 Mbit/s"
awk -v a="$tsim" -v b="$treal" 'BEGIN { exit !(a / b > 0.75 && a / b < 1.33) }' && ok ||
  bad "simulated upload $tsim s against real $treal s"
"$src/experiments/netns.sh" down
ip netns list | grep -q genie-n && bad "namespaces left after down" || ok

finish e2e_netns
