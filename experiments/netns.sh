#!/usr/bin/env bash
# genie-node processes behind a shaped link, on this one machine: each
# node in a network namespace of its own, joined to this one by a veth
# pair whose two ends a token bucket (tc tbf) holds to RATE, so that
# transfers cost what they would on a slower network than loopback
# (issue 4: the simulator checked against a real link it cannot
# predict by construction).  Needs root (ip netns, tc).
#
#   experiments/netns.sh up MBITS [N] [BUILD_DIR]   start N nodes (default 1);
#                                                   prints their HOST:PORT
#   experiments/netns.sh down                       stop them, remove it all
#
# Node i listens on 10.201.i.2:7070; this side of its link is 10.201.i.1.
# Namespaces are named genie-n<i>, links gnv<i> (here) and gnp<i> (there).
set -euo pipefail
cmd=${1:-}
state=${GENIE_NETNS_STATE:-/tmp/genie-netns}

down() {
  if [ -d "$state" ]; then
    for f in "$state"/*.pid; do
      [ -e "$f" ] || continue
      kill "$(cat "$f")" 2>/dev/null || true
    done
    sleep 0.2
  fi
  for ns in $(ip netns list 2>/dev/null | awk '/^genie-n[0-9]+/ {print $1}'); do
    ip netns del "$ns"
  done
  rm -rf "$state"
}

case "$cmd" in
up)
  mbits=${2:?usage: netns.sh up MBITS [N] [BUILD_DIR]}
  n=${3:-1}
  build=${4:-build}
  case "$mbits" in '' | *[!0-9]*) echo "netns.sh: MBITS: expected a whole number of Mbit/s, got \"$mbits\"" >&2; exit 2 ;; esac
  case "$n" in '' | *[!0-9]* | 0) echo "netns.sh: N: expected 1 or more nodes, got \"$n\"" >&2; exit 2 ;; esac
  [ "$(id -u)" = 0 ] || { echo "netns.sh: needs root (ip netns, tc)" >&2; exit 1; }
  [ -x "$build/genie-node" ] || { echo "netns.sh: $build/genie-node: not built" >&2; exit 1; }
  down
  mkdir -p "$state"
  # the bucket holds 1 ms at the rate (at least 16 KiB): a wire does not
  # let a burst through faster than its rate, so neither should the
  # shaper; GSO segments are capped to fit it (a 64 KiB segment would
  # need a 64 KiB bucket: 5 ms of a 100 Mbit/s link at once)
  burst=$((mbits * 1000 / 8))
  [ "$burst" -ge 16384 ] || burst=16384
  for i in $(seq 1 "$n"); do
    ns=genie-n$i
    ip netns add "$ns"
    ip link add "gnv$i" type veth peer name "gnp$i"
    ip link set dev "gnv$i" gso_max_size 16384
    ip link set dev "gnp$i" gso_max_size 16384
    ip link set "gnp$i" netns "$ns"
    ip addr add "10.201.$i.1/24" dev "gnv$i"
    ip link set "gnv$i" up
    ip netns exec "$ns" ip addr add "10.201.$i.2/24" dev "gnp$i"
    ip netns exec "$ns" ip link set "gnp$i" up
    ip netns exec "$ns" ip link set lo up
    tc qdisc add dev "gnv$i" root tbf rate "${mbits}mbit" burst "$burst" latency 100ms
    ip netns exec "$ns" tc qdisc add dev "gnp$i" root tbf rate "${mbits}mbit" burst "$burst" latency 100ms
    ip netns exec "$ns" "$build/genie-node" --bind "10.201.$i.2" --port 7070 --quiet >"$state/n$i.out" 2>&1 &
    echo $! >"$state/n$i.pid"
  done
  for i in $(seq 1 "$n"); do
    for _ in $(seq 1 50); do
      grep -q "listening" "$state/n$i.out" 2>/dev/null && break
      sleep 0.1
    done
    grep -q "listening" "$state/n$i.out" || { echo "netns.sh: node $i did not start: $(cat "$state/n$i.out")" >&2; down; exit 1; }
    echo "10.201.$i.2:7070"
  done
  ;;
down) down ;;
*)
  echo "usage: experiments/netns.sh up MBITS [N] [BUILD_DIR] | down" >&2
  exit 2
  ;;
esac
