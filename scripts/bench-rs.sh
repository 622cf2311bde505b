#!/usr/bin/env bash
# bench-rs.sh - route server (RFC 7947): our router (examples/router --route-server) and BIRD 2
# (`rs client` on every protocol) side by side in one run, same namespaces, same clients:
#
#   [cl: 50 clients 10.5.0.11-60, AS 65011-65060] --- veth --- [rs 10.5.0.1, AS 64512]
#
# Each client is an `examples/bgp_feed rs` process bound to its own address: once its session
# is up it sends its own 2,000 distinct /24s (at one common start time for all clients) and
# counts the other clients' prefixes until it holds all 49 x 2,000 = 98,000 (and reports
# whether any of its own came back). Measured for each route server: time from the common
# start to the last prefix at the last client (converged), and the route server's peak RSS
# (VmHWM) and RSS when converged.
#
# Usage (as root): flock /work/heavy.lock scripts/bench-rs.sh [CLIENTS] [PREFIXES_PER_CLIENT]
# Needs: bird2 (bird, birdc), iproute2, jq; builds the release examples unless NO_BUILD=1.
# ROUTER_BIN=PATH runs another build of our router (A/B comparisons).
# ROUTER_WRAP="heaptrack -o FILE" (or perf record ... --) runs our router under a profiler;
# ONLY_OURS=1 skips BIRD (for profiling only: no comparison is printed).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
C=${1:-50}
N=${2:-2000}
P=${BENCH_NS_PREFIX:-brs-}
DIR=$(mktemp -d /tmp/bench-rs.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    # Anything left in our namespaces (e.g. the router under a ROUTER_WRAP wrapper).
    for n in rs cl; do
        for p in $(ip netns pids "${P}$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
        ip netns del "${P}$n" 2>/dev/null
    done
}
trap cleanup EXIT
if [ "$C" -gt 200 ]; then echo "at most 200 clients" >&2; exit 1; fi
if [ "${NO_BUILD:-0}" != 1 ]; then
    (cd "$ROOT" && nice -n 5 cargo build -q --release --example router --example bgp_feed) || exit 1
fi
ROUTER=${ROUTER_BIN:-$ROOT/target/release/examples/router}
FEED=$ROOT/target/release/examples/bgp_feed
EXPECT=$(( (C - 1) * N ))

for n in rs cl; do ip netns add "${P}$n"; ip -n "${P}$n" link set lo up; done
ip link add "${P}r0" netns "${P}rs" type veth peer name "${P}c0" netns "${P}cl"
ip -n "${P}rs" addr add 10.5.0.1/24 dev "${P}r0"; ip -n "${P}rs" link set "${P}r0" up
for i in $(seq 1 "$C"); do ip -n "${P}cl" addr add "10.5.0.$((10 + i))/24" dev "${P}c0"; done
ip -n "${P}cl" link set "${P}c0" up

now_ms() { date +%s%3N; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# run_one NAME: clients against the route server $RS_PID; fill R_* .
run_one() {
    local name=$1 i start_at deadline done_n cpids=()
    start_at=$(( $(now_ms) + 5000 ))
    for i in $(seq 1 "$C"); do
        local a="10.5.0.$((10 + i))"
        ip netns exec "${P}cl" "$FEED" rs --connect 10.5.0.1:179 --bind "$a" --local-as $((65010 + i)) \
            --router-id "$a" --prefixes "$N" --first $(( (i - 1) * N )) --expect "$EXPECT" \
            --start-at "$start_at" --timeout 300 >"$DIR/$name.cl.$i" 2>&1 &
        cpids+=("$!"); PIDS+=("$!")
    done
    deadline=$(( $(now_ms) + 300000 ))
    while [ "$(now_ms)" -lt "$deadline" ]; do
        done_n=$(cat "$DIR/$name".cl.* 2>/dev/null | grep -c last_unix_ms)
        [ "$done_n" -ge "$C" ] && break
        sleep 0.05
    done
    R_RSS=$(rss_kb "$RS_PID"); R_HWM=$(hwm_kb "$RS_PID")
    local all; all=$(cat "$DIR/$name".cl.* | grep last_unix_ms)
    R_DONE=$(echo "$all" | grep -c last_unix_ms)
    local first last
    first=$(echo "$all" | jq -s 'map(.start_unix_ms) | min')
    last=$(echo "$all" | jq -s 'map(.last_unix_ms) | max')
    R_LATE=$(echo "$all" | jq -s "map(select(.established_unix_ms > $start_at)) | length")
    R_OWN=$(echo "$all" | jq -s 'map(.own_returned) | add')
    if [ "$R_DONE" -gt 0 ]; then R_MS=$(( last - first )); else R_MS=-1; fi
    [ "$R_DONE" -lt "$C" ] && R_MS=-1  # not converged: no time to report
    for p in "${cpids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${cpids[@]}"; do wait "$p" 2>/dev/null; done
    echo "$name: $R_DONE/$C clients hold all $EXPECT routes of the others after ${R_MS} ms" \
        "(own routes returned: $R_OWN, sessions up after the start: $R_LATE)," \
        "peak RSS ${R_HWM} kB, RSS when converged ${R_RSS} kB" >&2
}

# Ours.
args=()
for i in $(seq 1 "$C"); do args+=(--peer "10.5.0.$((10 + i))" --peer-as $((65010 + i))); done
ip netns exec "${P}rs" ${ROUTER_WRAP:-} "$ROUTER" --local-as 64512 --router-id 10.5.0.1 --listen 0.0.0.0:179 \
    --passive --route-server --import-policy accept --export-policy accept "${args[@]}" --output none --stats >"$DIR/ours.out" 2>"$DIR/ours.err" &
RS_PID=$!; PIDS+=("$RS_PID")
# Clients start once every neighbour is registered (the first stats line), so none is refused.
for _ in $(seq 1 600); do grep -q '"type":"stats"' "$DIR/ours.out" 2>/dev/null && break; sleep 0.05; done
run_one ours
O=("$R_MS" "$R_HWM" "$R_RSS" "$R_DONE" "$R_OWN")
kill -INT "$RS_PID"; wait "$RS_PID" 2>/dev/null
[ "${ONLY_OURS:-0}" = 1 ] && exit 0

# BIRD.
{
    echo "router id 10.5.0.1;"
    echo "protocol device { }"
    echo "template bgp rsc { local 10.5.0.1 as 64512; passive on; rs client; ipv4 { import all; export all; }; }"
    for i in $(seq 1 "$C"); do
        echo "protocol bgp c$i from rsc { neighbor 10.5.0.$((10 + i)) as $((65010 + i)); }"
    done
} >"$DIR/bird.conf"
ip netns exec "${P}rs" bird -f -c "$DIR/bird.conf" -s "$DIR/bird.ctl" >"$DIR/bird.log" 2>&1 &
RS_PID=$!; PIDS+=("$RS_PID")
for _ in $(seq 1 600); do birdc -s "$DIR/bird.ctl" show status 2>/dev/null | grep -q 'Daemon is up' && break; sleep 0.05; done
run_one bird
B=("$R_MS" "$R_HWM" "$R_RSS" "$R_DONE" "$R_OWN")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
cat <<OUT
{"clients": $C, "prefixes_per_client": $N, "routes_per_client": $EXPECT,
 "ours": {"converged_ms": ${O[0]}, "peak_rss_kb": ${O[1]}, "rss_kb": ${O[2]}, "clients_complete": ${O[3]}, "own_returned": ${O[4]}},
 "bird": {"converged_ms": ${B[0]}, "peak_rss_kb": ${B[1]}, "rss_kb": ${B[2]}, "clients_complete": ${B[3]}, "own_returned": ${B[4]}},
 "ratio_ours_over_bird": {"converged": $(ratio "${O[0]}" "${B[0]}"), "peak_rss": $(ratio "${O[1]}" "${B[1]}")}}
OUT
