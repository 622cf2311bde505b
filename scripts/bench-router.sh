#!/usr/bin/env bash
# bench-router.sh - our router (examples/router) and BIRD 2 side by side in one run, same
# namespaces, same feeder, same table:
#
#   [feed 10.1.0.2 AS 65001] --- [rx 10.1.0.1 / 10.2.0.1 AS 64512] --- [sink 10.2.0.2 AS 65002]
#
# examples/bgp_feed replays N distinct IPv4 prefixes (default 1,000,000) over eBGP into the
# receiver (our router, then BIRD), which re-advertises them over eBGP to the sink. Measured
# for each: time from the feeder's first byte to the last prefix in the receiver's RIB (polled
# every 20 ms, a client process per poll for both: ours `routerctl --json summary` over its
# --control socket, BIRD `birdc show protocols all`), time to the last
# prefix at the sink, RSS growth per route (after receipt and after re-advertisement).
#
# Usage (as root): flock /work/heavy.lock scripts/bench-router.sh [N]
# Needs: bird2 (bird, birdc), iproute2, jq; builds the release examples unless NO_BUILD=1.
# ROUTER_BIN=PATH runs another build of our router (A/B comparisons).
# ROUTER_WRAP="perf record -g -o FILE --" runs our router under a profiler.
# SINKS=K (default 1) re-advertises to K equivalent sinks (10.2.0.2 .. 10.2.0.K+1, AS 65002 ..,
# all behind one interface of the receiver); the sink time is the last prefix at the last sink.
# SINKS=0 only receives (the table into the RIB, no neighbour to re-advertise to): the bytes per
# route of a receive-only router, as BIRD's 108 B/route in issue 9 was measured.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${1:-1000000}
SINKS=${SINKS:-1}
P=${BENCH_NS_PREFIX:-br-}
DIR=$(mktemp -d /tmp/bench-router.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    for n in rx feed sink; do ip netns del "${P}$n" 2>/dev/null; done
}
trap cleanup EXIT
if [ "${NO_BUILD:-0}" != 1 ]; then
    (cd "$ROOT" && nice -n 5 cargo build -q --release --example router --example bgp_feed --example routerctl) || exit 1
fi
ROUTER=${ROUTER_BIN:-$ROOT/target/release/examples/router}
FEED=$ROOT/target/release/examples/bgp_feed
CTL=$ROOT/target/release/examples/routerctl

for n in rx feed sink; do ip netns add "${P}$n"; ip -n "${P}$n" link set lo up; done
ip link add "${P}a0" netns "${P}rx" type veth peer name "${P}a1" netns "${P}feed"
ip link add "${P}b0" netns "${P}rx" type veth peer name "${P}b1" netns "${P}sink"
ip -n "${P}rx" addr add 10.1.0.1/24 dev "${P}a0"; ip -n "${P}rx" link set "${P}a0" up
ip -n "${P}feed" addr add 10.1.0.2/24 dev "${P}a1"; ip -n "${P}feed" link set "${P}a1" up
ip -n "${P}rx" addr add 10.2.0.1/24 dev "${P}b0"; ip -n "${P}rx" link set "${P}b0" up
ip -n "${P}sink" addr add 10.2.0.2/24 dev "${P}b1"; ip -n "${P}sink" link set "${P}b1" up
for k in $(seq 2 "$SINKS"); do ip -n "${P}sink" addr add "10.2.0.$((k + 1))/24" dev "${P}b1"; done
SINK_PEERS=(); SINK_ASES=()
if [ "$SINKS" -ge 1 ]; then SINK_PEERS=(--peer 10.2.0.2); SINK_ASES=(--peer-as 65002); fi
for k in $(seq 2 "$SINKS"); do SINK_PEERS+=(--peer "10.2.0.$((k + 1))"); SINK_ASES+=(--peer-as "$((65000 + k + 1))"); done

now_ms() { date +%s%3N; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# run_one NAME: start the receiver ($RX_PID), the sink and the feeder; fill the result vars.
run_one() {
    local name=$1 deadline sink=""
    if [ "$SINKS" -ge 1 ]; then
        ip netns exec "${P}sink" "$FEED" sink --connect 10.2.0.1:179 --local-as 65002 \
            --router-id 10.2.0.2 --prefixes "$N" --timeout 300 >"$DIR/$name.sink" 2>&1 &
        sink=$!; PIDS+=("$sink")
    fi
    local more=() k
    for k in $(seq 2 "$SINKS"); do
        ip netns exec "${P}sink" "$FEED" sink --connect 10.2.0.1:179 --local-as "$((65000 + k + 1))" \
            --router-id "10.2.0.$((k + 1))" --bind "10.2.0.$((k + 1))" --prefixes "$N" --timeout 300 \
            >"$DIR/$name.sink$k" 2>&1 &
        more+=($!); PIDS+=($!)
    done
    sleep 2
    local rss0; rss0=$(rss_kb "$RX_PID")
    ip netns exec "${P}feed" "$FEED" feed --connect 10.1.0.1:179 --local-as 65001 \
        --router-id 10.1.0.2 --prefixes "$N" --timeout 300 >"$DIR/$name.feed" 2>&1 &
    local feed=$!; PIDS+=("$feed")
    deadline=$(( $(now_ms) + 300000 ))
    RECV_MS=""
    local c
    while [ "$(now_ms)" -lt "$deadline" ]; do
        if [ "$name" = ours ]; then
            # Asked over the control socket every 20 ms, a process per question, as birdc is
            # for BIRD (grep, not jq: a jq start per poll took 15 % of a core beside the router).
            c=$(ip netns exec "${P}rx" "$CTL" --control "$DIR/ours.sock" --json summary 2>/dev/null | grep -o '"rib_paths": *[0-9]*' | grep -o '[0-9]*$')
        else
            c=$(birdc -s "$DIR/bird.ctl" show protocols all feeder 2>/dev/null | awk '/Routes:/ {print $2; exit}')
        fi
        [ "${c:-0}" -ge "$N" ] && RECV_MS=$(now_ms)
        [ -n "$RECV_MS" ] && break
        sleep 0.02
    done
    local rss1; rss1=$(rss_kb "$RX_PID")
    [ -n "$sink" ] && wait "$sink"
    for k in "${more[@]}"; do wait "$k"; done
    local rss2; rss2=$(rss_kb "$RX_PID")
    local start; start=$(jq -r .start_unix_ms "$DIR/$name.feed")
    local last=0
    [ -n "$sink" ] && last=$(jq -r .last_unix_ms "$DIR/$name.sink")
    for k in $(seq 2 "$SINKS"); do
        local l; l=$(jq -r .last_unix_ms "$DIR/$name.sink$k")
        [ "${l:-0}" -gt "${last:-0}" ] && last=$l
    done
    R_RECV=$(( ${RECV_MS:-0} - start )); R_SINK=$(( ${last:-0} - start ))
    [ -z "$sink" ] && R_SINK=-1
    R_BPR=$(( (rss1 - rss0) * 1024 / N )); R_BPR2=$(( (rss2 - rss0) * 1024 / N ))
    R_HWM=$(hwm_kb "$RX_PID")
    kill "$feed" 2>/dev/null
    echo "$name: received in ${R_RECV} ms, at the sink in ${R_SINK} ms, ${R_BPR} B/route after receipt, ${R_BPR2} B/route after re-advertisement, peak RSS ${R_HWM} kB" >&2
}

# Ours.
ip netns exec "${P}rx" ${ROUTER_WRAP:-} "$ROUTER" --local-as 64512 --router-id 10.0.0.1 --listen 0.0.0.0:179 \
    --passive --peer 10.1.0.2 "${SINK_PEERS[@]}" --peer-as 65001 "${SINK_ASES[@]}" \
    --import-policy accept --export-policy accept --output none --control "$DIR/ours.sock" >"$DIR/ours.out" 2>"$DIR/ours.err" &
RX_PID=$!; PIDS+=("$RX_PID")
run_one ours
O=("$R_RECV" "$R_SINK" "$R_BPR" "$R_BPR2" "$R_HWM")
kill "$RX_PID"; wait "$RX_PID" 2>/dev/null

# BIRD.
cat >"$DIR/bird.conf" <<CONF
router id 10.0.0.1;
protocol device { }
protocol bgp feeder {
  local 10.1.0.1 as 64512; neighbor 10.1.0.2 as 65001; passive on;
  ipv4 { import all; export none; };
}
CONF
[ "$SINKS" -ge 1 ] && cat >>"$DIR/bird.conf" <<CONF
protocol bgp sink {
  local 10.2.0.1 as 64512; neighbor 10.2.0.2 as 65002; passive on;
  ipv4 { import none; export all; };
}
CONF
for k in $(seq 2 "$SINKS"); do
    cat >>"$DIR/bird.conf" <<CONF
protocol bgp sink$k {
  local 10.2.0.1 as 64512; neighbor 10.2.0.$((k + 1)) as $((65000 + k + 1)); passive on;
  ipv4 { import none; export all; };
}
CONF
done
ip netns exec "${P}rx" bird -f -c "$DIR/bird.conf" -s "$DIR/bird.ctl" >"$DIR/bird.log" 2>&1 &
RX_PID=$!; PIDS+=("$RX_PID")
sleep 1
run_one bird
B=("$R_RECV" "$R_SINK" "$R_BPR" "$R_BPR2" "$R_HWM")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "null" }'; }
cat <<OUT
{"prefixes": $N, "sinks": $SINKS,
 "ours": {"received_ms": ${O[0]}, "sink_ms": ${O[1]}, "bytes_per_route": ${O[2]}, "bytes_per_route_after_export": ${O[3]}, "peak_rss_kb": ${O[4]}},
 "bird": {"received_ms": ${B[0]}, "sink_ms": ${B[1]}, "bytes_per_route": ${B[2]}, "bytes_per_route_after_export": ${B[3]}, "peak_rss_kb": ${B[4]}},
 "ratio_ours_over_bird": {"received": $(ratio "${O[0]}" "${B[0]}"), "sink": $(ratio "${O[1]}" "${B[1]}"), "bytes_per_route": $(ratio "${O[2]}" "${B[2]}")}}
OUT
