#!/usr/bin/env bash
# seed-lab.sh - reproduce the kube-bgp reference scenario on one machine with network namespaces.
#
#   client 192.168.10.100 --- 192.168.10.1 [router: FRR, AS 64512] 192.168.1.1 --- LAN (bridge)
#        LAN: k8s-master1 192.168.1.10, k8s-worker1..5 192.168.1.21-25, each announcing
#        172.16.10.0/32 over iBGP and serving HTTP on 172.16.10.0:80 (the address is on its lo).
#
# The router installs one route with six equal-cost next hops; the client curls the service;
# then failover is measured: SIGTERM one speaker, kill -9 another, freeze (SIGSTOP) a third.
#
# Usage (as root):
#   scripts/seed-lab.sh [--speaker announce|gobgp|frr[,...]] [--compare] [--keep] [--config]
#                       [--hold-time N] [--no-build] [--announce-bin PATH] [--bfd]
#   scripts/seed-lab.sh --down        # tear down a lab left up with --keep
#
#   --speaker M    node speaker: announce (default: this project's examples/announce), gobgp,
#                  frr, or a comma-separated list run one after the other
#   --compare      same as --speaker announce,gobgp,frr and print a comparison table
#   --keep         leave the (last) lab up, speakers restarted, and print how to explore it
#   --config       announce reads a TOML file instead of --prefix: pool 172.16.10.0/24, service
#                  `web` gets its lowest free address (172.16.10.0) and is gated by an HTTP
#                  health check of the node's server; adds a step that stops one HTTP server
#   --hold-time N  hold time the node speakers offer (default 9; the router uses timers 3 9)
#   --no-build     do not run cargo build; use target/release/examples/announce as it is
#   --announce-bin PATH   use this announce binary (implies --no-build)
#   --bfd          BFD (RFC 5880) on every session, profile 100 ms x 3: FRR's bfdd on the router
#                  with `neighbor X bfd profile lab`; announce --bfd; an FRR node speaker runs
#                  zebra + bfdd + bgpd (GoBGP has no BFD: --compare runs announce,frr). Adds a
#                  link failure step (the node's veth down on the node side); a frozen FRR
#                  speaker is its three daemons frozen together
#
# Exits non-zero, naming the failed step, when any check fails. Always tears down what it
# started (processes by PID, then the kb-* namespaces it created) unless --keep.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Namespace name prefix (default kb-): another prefix lets a second lab (e.g. a test) run
# beside one left up with --keep. Keep it <= 8 characters (names are <= 15).
NSP=${KB_LAB_PREFIX:-kb-}
[ "${#NSP}" -le 8 ] || { echo "KB_LAB_PREFIX too long (max 8)" >&2; exit 2; }
if [ "$NSP" = kb- ]; then LABDIR=${KB_LABDIR:-/tmp/kube-bgp-lab}; else LABDIR=${KB_LABDIR:-/tmp/kube-bgp-lab-$NSP}; fi
RESULTS=${LABDIR}.results
ASN=64512
PREFIX=172.16.10.0/32
SVC_IP=172.16.10.0
ROUTER_IP=192.168.1.1
ROUTER_NS=${NSP}router
SW_NS=${NSP}sw
CLIENT_NS=${NSP}client
NODE_NS=("${NSP}master1" "${NSP}worker1" "${NSP}worker2" "${NSP}worker3" "${NSP}worker4" "${NSP}worker5")
NODE_NAME=(k8s-master1 k8s-worker1 k8s-worker2 k8s-worker3 k8s-worker4 k8s-worker5)
NODE_IP=(192.168.1.10 192.168.1.21 192.168.1.22 192.168.1.23 192.168.1.24 192.168.1.25)
ALL_NS=("$ROUTER_NS" "$SW_NS" "$CLIENT_NS" "${NODE_NS[@]}")
HOLD=9
SPEAKERS=announce
KEEP=0
BUILD=1
ANNOUNCE_BIN=""
COMPARE=0
CONFIG_MODE=0
BFD=0
# BFD profile of every session (ms, ms, multiplier).
BFD_RX=100
BFD_TX=100
BFD_MULT=3
BFD_ARGS=()
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

usage() { sed -n '2,33p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

DOWN=0
while [ $# -gt 0 ]; do
  case "$1" in
    --speaker) SPEAKERS=${2:?--speaker needs a value}; shift 2 ;;
    --speaker=*) SPEAKERS=${1#*=}; shift ;;
    --compare) COMPARE=1; SPEAKERS=announce,gobgp,frr; shift ;;
    --keep) KEEP=1; shift ;;
    --config) CONFIG_MODE=1; shift ;;
    --down) DOWN=1; shift ;;
    --hold-time) HOLD=${2:?--hold-time needs a value}; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --announce-bin) ANNOUNCE_BIN=${2:?}; BUILD=0; shift 2 ;;
    --bfd) BFD=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
done
if [ "$BFD" = 1 ] && [[ ",$SPEAKERS," == *,gobgp,* ]]; then
  echo "seed-lab: --bfd: GoBGP has no BFD, leaving it out" >&2
  SPEAKERS=$(tr ',' '\n' <<<"$SPEAKERS" | grep -vx gobgp | paste -sd,)
fi
IFS=, read -r -a MODES <<<"$SPEAKERS"
[ "$BFD" = 1 ] && BFD_ARGS=(--bfd="min-rx-ms=$BFD_RX,min-tx-ms=$BFD_TX,multiplier=$BFD_MULT")
for m in "${MODES[@]}"; do
  case "$m" in announce|gobgp|frr) ;; *) echo "unknown speaker '$m' (announce|gobgp|frr)" >&2; exit 2 ;; esac
done
[ "${#MODES[@]}" -gt 1 ] && COMPARE=1

if [ "$(id -u)" != 0 ]; then
  echo "seed-lab: must run as root (network namespaces, FRR)" >&2
  exit 1
fi

# ---------------------------------------------------------------------------------------------
# helpers

START_MS=$(date +%s%3N)
STEP="init"
now_ms() { date +%s%3N; }
log() { printf '[%6.1fs] %s\n' "$(( $(now_ms) - START_MS ))e-3" "$*"; }
step() { STEP=$1; echo; echo "=== $1"; }
fail() { echo "FAILED at step '$STEP': $*" >&2; exit 1; }

# A process is alive when /proc/PID exists and it is not a zombie.
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# spawn NS NAME LOG CMD... : start CMD in NS in the background, record its PID in $LABDIR/pids.
spawn() {
  local ns=$1 name=$2 logf=$3; shift 3
  ip netns exec "$ns" "$@" >"$logf" 2>&1 </dev/null &
  LAST_PID=$!
  disown "$LAST_PID" 2>/dev/null || true
  echo "$LAST_PID $name" >>"$LABDIR/pids"
}

# stop_pid PID [GRACE_S]: SIGTERM, wait, SIGKILL.
stop_pid() {
  local pid=$1 grace=${2:-3} i
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < grace * 20; i++)); do alive "$pid" || return 0; sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null
  for ((i = 0; i < 40; i++)); do alive "$pid" || return 0; sleep 0.05; done
}

# True when PID runs inside one of this lab's namespaces.
ours() {
  local ns
  ns=$(ip netns identify "$1" 2>/dev/null) || return 1
  for n in "${ALL_NS[@]}"; do [ "$ns" = "$n" ] && return 0; done
  return 1
}

teardown() {
  if [ -f "$LABDIR/pids" ]; then
    # Newest first; signal everyone, then reap.
    # Only PIDs that still live in one of our namespaces (guards against PID reuse when
    # --down runs long after --keep).
    local pids="" p
    for p in $(tac "$LABDIR/pids" | awk '{print $1}'); do
      ours "$p" && pids="$pids $p"
    done
    for p in $pids; do alive "$p" && kill -TERM "$p" 2>/dev/null; done
    for p in $pids; do stop_pid "$p" 3; done
  fi
  for ns in "${ALL_NS[@]}"; do
    if [ -e "/run/netns/$ns" ]; then
      # Anything still inside a namespace we created was started by this lab: stop it by PID.
      for p in $(ip netns pids "$ns" 2>/dev/null); do stop_pid "$p" 2; done
      ip netns del "$ns" 2>/dev/null
    fi
  done
  for ns in "${ALL_NS[@]}"; do rm -rf "/var/run/frr/$ns"; done
  rm -rf "$LABDIR"
}

if [ "$DOWN" = 1 ]; then
  teardown
  echo "seed-lab: torn down ($(ip netns list | grep -c "^$NSP" || true) $NSP* namespaces left)"
  exit 0
fi

CREATED=0
on_exit() {
  local rc=$?
  if [ "$CREATED" = 1 ]; then
    if [ "$KEEP" = 1 ] && [ "$rc" = 0 ]; then
      :
    else
      [ "$rc" != 0 ] && [ -d "$LABDIR" ] && dump_logs
      teardown
    fi
  fi
  [ "$rc" = 0 ] || rm -f "$RESULTS"-*.env "$RESULTS"-*.pids
  if [ "$rc" = 0 ]; then echo "LAB PASSED"; else echo "LAB FAILED (step: $STEP)"; fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

dump_logs() {
  echo "--- last log lines (for diagnosis) ---" >&2
  for f in "$LABDIR"/*/*.log; do
    [ -s "$f" ] || continue
    echo "--- $f" >&2
    tail -n 8 "$f" >&2
  done
}

vt() { vtysh -N "$ROUTER_NS" --config_dir "$LABDIR/router" "$@"; }

# Number of next hops of the kernel route for $PREFIX in the router (0 when absent).
nh_count() {
  ip -n "$ROUTER_NS" -j -4 route show "$PREFIX" 2>/dev/null |
    jq '[.[] | if .nexthops then (.nexthops | length) elif .gateway then 1 else 0 end] | add // 0'
}
# True when $1 is one of the next hops of the kernel route.
nh_has() { ip -n "$ROUTER_NS" -4 route show "$PREFIX" 2>/dev/null | grep -qw "via $1"; }

# wait_for TIMEOUT_S CMD... : poll CMD (no sleep, ms resolution) until it succeeds; echo the
# elapsed ms since $T0 (set by the caller); return 1 on timeout.
wait_for() {
  local deadline=$(( $(now_ms) + $1 * 1000 )); shift
  while :; do
    if "$@"; then echo $(( $(now_ms) - T0 )); return 0; fi
    [ "$(now_ms)" -ge "$deadline" ] && return 1
  done
}
nh_is() { [ "$(nh_count)" = "$1" ]; }
nh_gone() { ! nh_has "$1"; }
route_gone() { nh_is 0; }

# ---------------------------------------------------------------------------------------------
# prerequisites

install_prereqs() {
  local need=()
  [ -x /usr/lib/frr/bgpd ] && [ -x /usr/lib/frr/zebra ] && command -v vtysh >/dev/null || need+=(frr)
  command -v jq >/dev/null || need+=(jq)
  command -v curl >/dev/null || need+=(curl)
  command -v ip >/dev/null || need+=(iproute2)
  command -v "$PY" >/dev/null || need+=(python3)
  for m in "${MODES[@]}"; do
    [ "$m" = gobgp ] && { command -v gobgpd >/dev/null && command -v gobgp >/dev/null || need+=(gobgpd); }
  done
  if [ ${#need[@]} -gt 0 ]; then
    log "installing: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null ||
      fail "apt-get install ${need[*]}"
  fi
  id frr >/dev/null 2>&1 || fail "user frr missing (FRR package broken?)"
}

build_announce() {
  if [ -n "$ANNOUNCE_BIN" ]; then
    [ -x "$ANNOUNCE_BIN" ] || fail "--announce-bin $ANNOUNCE_BIN is not executable"
    return
  fi
  ANNOUNCE_BIN="$ROOT/target/release/examples/announce"
  if [ "$BUILD" = 1 ]; then
    # sudo often drops ~/.cargo/bin from PATH.
    command -v cargo >/dev/null || PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin:/root/.cargo/bin"
    command -v cargo >/dev/null || fail "cargo not found (needed to build examples/announce)"
    log "cargo build --release --example announce"
    (cd "$ROOT" && cargo build --release --example announce) >"$LABDIR/build.log" 2>&1 ||
      { tail -n 30 "$LABDIR/build.log" >&2; fail "cargo build --release --example announce"; }
  fi
  [ -x "$ANNOUNCE_BIN" ] || fail "$ANNOUNCE_BIN missing (build it or pass --announce-bin)"
}

# ---------------------------------------------------------------------------------------------
# topology

setup_topology() {
  step "topology: namespaces, bridge, addresses"
  for ns in "${ALL_NS[@]}"; do
    ip netns add "$ns" || fail "ip netns add $ns"
    ip -n "$ns" link set lo up
  done
  ip -n "$SW_NS" link add br0 type bridge forward_delay 0 stp_state 0 || fail "bridge"
  ip -n "$SW_NS" link set br0 up
  attach() { # NS PORT CIDR
    ip -n "$SW_NS" link add "$2" type veth peer name eth0 netns "$1" || fail "veth $2"
    ip -n "$SW_NS" link set "$2" master br0 up
    ip -n "$1" addr add "$3" dev eth0
    ip -n "$1" link set eth0 up
  }
  attach "$ROUTER_NS" p-router "$ROUTER_IP/24"
  for i in "${!NODE_NS[@]}"; do attach "${NODE_NS[$i]}" "p$i" "${NODE_IP[$i]}/24"; done
  ip -n "$ROUTER_NS" link add eth1 type veth peer name eth0 netns "$CLIENT_NS" || fail "veth client"
  ip -n "$ROUTER_NS" addr add 192.168.10.1/24 dev eth1
  ip -n "$ROUTER_NS" link set eth1 up
  ip -n "$CLIENT_NS" addr add 192.168.10.100/24 dev eth0
  ip -n "$CLIENT_NS" link set eth0 up
  ip -n "$CLIENT_NS" route add default via 192.168.10.1 || fail "client default route"
  ip netns exec "$ROUTER_NS" sysctl -qw net.ipv4.ip_forward=1 || fail "ip_forward"
  # Hash on L4 too so several curls from one client spread over the next hops.
  ip netns exec "$ROUTER_NS" sysctl -qw net.ipv4.fib_multipath_hash_policy=1 || true
  for i in "${!NODE_NS[@]}"; do
    local ns=${NODE_NS[$i]}
    ip -n "$ns" route add default via "$ROUTER_IP" || fail "default route in $ns"
    ip -n "$ns" addr add "$SVC_IP/32" dev lo || fail "$SVC_IP/32 on lo of $ns"
    mkdir -p "$LABDIR/$ns/www"
    echo "served by ${NODE_NAME[$i]}" >"$LABDIR/$ns/www/index.html"
    start_http "$i"
  done
  for ns in "${NODE_NS[@]}"; do
    T0=$(now_ms)
    wait_for 15 ip netns exec "$ns" curl -s -o /dev/null -m 1 "http://$SVC_IP/" >/dev/null ||
      fail "HTTP server in $ns did not come up"
  done
  log "9 namespaces, bridge with 7 ports, HTTP servers up on $SVC_IP:80 in 6 nodes"
}

# The node's web server: what `python3 -m http.server --bind 172.16.10.0 80` does, minus its
# reverse-DNS lookup of the bind address at start (in a namespace whose DNS server is not
# reachable that lookup can stall a restart for 5 s).
start_http() {
  local ns=${NODE_NS[$1]}
  spawn "$ns" "http-$ns" "$LABDIR/$ns/http.log" "$PY" -c "
import functools, http.server, socketserver, sys
socketserver.ThreadingTCPServer.allow_reuse_address = True
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
print('serving', sys.argv[1], 'on $SVC_IP:80', flush=True)
socketserver.ThreadingTCPServer(('$SVC_IP', 80), h).serve_forever()
" "$LABDIR/$ns/www"
  HTTP_PID[$1]=$LAST_PID
}

start_router() {
  step "router: FRR zebra + bgpd (AS $ASN, router-id $ROUTER_IP, 6 iBGP neighbours, next-hop-self, timers 3 9)"
  local d="$LABDIR/router"
  mkdir -p "$d/$ROUTER_NS" "/var/run/frr/$ROUTER_NS"
  : >"$d/$ROUTER_NS/vtysh.conf"
  printf 'hostname router\n!\n' >"$d/zebra.conf"
  {
    printf 'frr defaults traditional\nhostname router\n!\nrouter bgp %s\n' "$ASN"
    printf ' bgp router-id %s\n no bgp ebgp-requires-policy\n no bgp network import-check\n' "$ROUTER_IP"
    for ip in "${NODE_IP[@]}"; do
      printf ' neighbor %s remote-as %s\n neighbor %s timers 3 9\n neighbor %s timers connect 1\n' \
        "$ip" "$ASN" "$ip" "$ip"
    done
    if [ "$BFD" = 1 ]; then
      for ip in "${NODE_IP[@]}"; do printf ' neighbor %s bfd profile lab\n' "$ip"; done
    fi
    printf ' !\n address-family ipv4 unicast\n'
    for ip in "${NODE_IP[@]}"; do printf '  neighbor %s next-hop-self\n' "$ip"; done
    printf ' exit-address-family\n!\n'
  } >"$d/bgpd.conf"
  chown -R frr:frr "$d" "/var/run/frr/$ROUTER_NS"
  T0=$(now_ms)
  spawn "$ROUTER_NS" zebra "$d/zebra.out" /usr/lib/frr/zebra -N "$ROUTER_NS" -f "$d/zebra.conf" \
    -P 0 --log "file:$d/zebra.log"
  wait_for 10 test -S "/var/run/frr/$ROUTER_NS/zserv.api" >/dev/null || fail "zebra did not start"
  if [ "$BFD" = 1 ]; then
    bfd_profile_conf router >"$d/bfdd.conf"
    chown frr:frr "$d/bfdd.conf"
    spawn "$ROUTER_NS" bfdd "$d/bfdd.out" /usr/lib/frr/bfdd -N "$ROUTER_NS" -f "$d/bfdd.conf" \
      -P 0 --log "file:$d/bfdd.log"
    ROUTER_BFDD=$LAST_PID
    wait_for 10 eval 'vt -c "show bfd peers json" 2>/dev/null | jq -e . >/dev/null' >/dev/null ||
      fail "bfdd did not answer vtysh"
  fi
  spawn "$ROUTER_NS" bgpd "$d/bgpd.out" /usr/lib/frr/bgpd -N "$ROUTER_NS" -f "$d/bgpd.conf" \
    -P 0 --log "file:$d/bgpd.log"
  ROUTER_BGPD=$LAST_PID
  local ms
  ms=$(wait_for 10 eval 'vt -c "show bgp summary json" 2>/dev/null | jq -e . >/dev/null') ||
    fail "bgpd did not answer vtysh"
  log "FRR up in ${ms} ms (bgpd pid $ROUTER_BGPD)"
}

# bfdd.conf with the lab's BFD profile `lab`.
bfd_profile_conf() {
  printf 'hostname %s\n!\nbfd\n profile lab\n  receive-interval %s\n  transmit-interval %s\n  detect-multiplier %s\n !\n!\n' \
    "$1" "$BFD_RX" "$BFD_TX" "$BFD_MULT"
}

# Number of BFD peers the router's bfdd shows up.
bfd_up_count() { vt -c "show bfd peers json" 2>/dev/null | jq '[.[] | select(.status == "up")] | length'; }

# Capture the router's LAN side (BGP) when tcpdump and tshark are installed, so every message
# of the run is checked by an independent decoder at the end.
start_capture() {
  CAP_PID=""
  command -v tcpdump >/dev/null && command -v tshark >/dev/null || {
    log "tcpdump/tshark not installed: no capture check"
    return 0
  }
  spawn "$ROUTER_NS" tcpdump "$LABDIR/router/tcpdump.log" tcpdump -n -U --immediate-mode -Z root \
    -s 0 -i eth0 -w "$LABDIR/router/bgp.pcap" tcp port 179 or udp port 3784
  CAP_PID=$LAST_PID
  T0=$(now_ms)
  wait_for 10 grep -q "listening on" "$LABDIR/router/tcpdump.log" >/dev/null ||
    fail "tcpdump did not start"
}

# Where the SIGSTOP failover time goes, from the router's capture: the age of the frozen node's
# last BFD packet at the freeze, the router's detection (that packet -> the router's first
# non-Up packet to the node) and the rest (-> next hop gone from the kernel); plus the node's
# mean transmit interval while Up and what it advertised last.
bfd_freeze_breakdown() {
  [ -n "${FREEZE_T0:-}" ] && [ -n "${R[freeze_ms]:-}" ] || return 0
  local line
  line=$(tshark -r "$1" -Y bfd -T fields -e frame.time_epoch -e ip.src -e ip.dst -e bfd.sta \
    -e bfd.desired_min_tx_interval -e bfd.required_min_rx_interval -e bfd.detect_time_multiplier \
    2>/dev/null | awk -v node="${NODE_IP[3]}" -v t0="$FREEZE_T0" -v gone_ms="${R[freeze_ms]}" '
    { t = $1 * 1000 }
    $2 == node && t < t0 {
      if ($4 == 3) { if (prev_up != "") { sum += t - prev_up; n++ }; prev_up = t } else prev_up = ""
      last = t; adv = $5 "/" $6 "x" $7
    }
    $3 == node && t >= t0 && $4 != 3 && down == "" { down = t }
    END {
      if (last == "" || down == "") { print "incomplete"; exit }
      printf "age_ms=%.1f detect_ms=%.1f after_detect_ms=%.1f node_tx_mean_ms=%.1f (n=%d) node_advertised_us=%s\n",
        t0 - last, down - last, t0 + gone_ms - down, n ? sum / n : 0, n, adv
    }')
  echo "RESULT bfd_freeze_breakdown $line"
  R[freeze_age_ms]=$(sed -n 's/.*age_ms=\([0-9.]*\).*/\1/p' <<<"$line")
  R[freeze_detect_ms]=$(sed -n 's/.* detect_ms=\([0-9.]*\).*/\1/p' <<<"$line")
  R[freeze_after_ms]=$(sed -n 's/.*after_detect_ms=\([0-9.]*\).*/\1/p' <<<"$line")
}

check_capture() {
  [ -n "$CAP_PID" ] || return 0
  step "tshark: every captured BGP message decodes cleanly"
  sleep 0.2
  stop_pid "$CAP_PID" 3
  local pcap="$LABDIR/router/bgp.pcap" bad counts
  bad=$(tshark -r "$pcap" -Y '_ws.malformed || _ws.expert.severity >= error' 2>/dev/null | wc -l)
  counts=$(tshark -r "$pcap" -Y bgp -T fields -e bgp.type 2>/dev/null | tr ',' '\n' |
    awk '{n[$1]++} END {printf "open=%d update=%d notification=%d keepalive=%d", n[1], n[2], n[3], n[4]}')
  echo "RESULT tshark_malformed=$bad bgp_messages: $counts"
  if [ "$BFD" = 1 ]; then
    echo "RESULT bfd_packets_decoded=$(tshark -r "$pcap" -Y bfd 2>/dev/null | wc -l)"
    bfd_freeze_breakdown "$pcap"
  fi
  [ "$bad" = 0 ] || {
    tshark -r "$pcap" -Y '_ws.malformed || _ws.expert.severity >= error' 2>/dev/null | head -n 5
    fail "tshark flags $bad captured packets as malformed or erroneous"
  }
}

# ---------------------------------------------------------------------------------------------
# node speakers: start_speaker I MODE (non-blocking), originate I MODE (blocking part, if any)

start_speaker() {
  local i=$1 mode=$2 ns=${NODE_NS[$1]} ip=${NODE_IP[$1]} d="$LABDIR/${NODE_NS[$1]}"
  case "$mode" in
    announce)
      if [ "$CONFIG_MODE" = 1 ]; then
        cat >"$d/announce.toml" <<EOF
local-as = $ASN
router-id = "$ip"
peer = ["$ROUTER_IP"]
peer-as = $ASN
hold-time = $HOLD
connect-retry = 1
no-listen = true
json = true
$( [ "$BFD" = 1 ] && echo "bfd = { min-rx-ms = $BFD_RX, min-tx-ms = $BFD_TX, multiplier = $BFD_MULT }")

[[pool]]
name = "lb"
cidr = "172.16.10.0/24"

[[service]]
name = "web"
pool = "lb"
health = { http = "http://$SVC_IP:80/", interval-ms = 200, timeout-ms = 500, rise = 1, fall = 1 }
EOF
        spawn "$ns" "announce-$ns" "$d/speaker.log" "$ANNOUNCE_BIN" --config "$d/announce.toml"
      else
        spawn "$ns" "announce-$ns" "$d/speaker.log" "$ANNOUNCE_BIN" --local-as "$ASN" \
          --router-id "$ip" --peer "$ROUTER_IP" --peer-as "$ASN" --prefix "$PREFIX" \
          --hold-time "$HOLD" --connect-retry 1 --json --no-listen "${BFD_ARGS[@]}"
      fi
      ;;
    gobgp)
      # GoBGP listens on 179 (its default): it never retries a connection sooner than ~5 s,
      # so without listening it would wait for its own retry; the router's 1 s retry gets in.
      cat >"$d/gobgpd.toml" <<EOF
[global.config]
  as = $ASN
  router-id = "$ip"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "$ROUTER_IP"
    peer-as = $ASN
  [neighbors.timers.config]
    hold-time = $HOLD
    keepalive-interval = $(( HOLD / 3 > 0 ? HOLD / 3 : 1 ))
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
EOF
      spawn "$ns" "gobgpd-$ns" "$d/speaker.log" gobgpd -f "$d/gobgpd.toml" -t toml -p \
        --pprof-disable --api-hosts=127.0.0.1:50051
      ;;
    frr)
      mkdir -p "/var/run/frr/$ns"
      cat >"$d/bgpd.conf" <<EOF
frr defaults traditional
hostname ${NODE_NAME[$i]}
!
router bgp $ASN
 bgp router-id $ip
 no bgp network import-check
 neighbor $ROUTER_IP remote-as $ASN
 neighbor $ROUTER_IP timers $(( HOLD / 3 > 0 ? HOLD / 3 : 1 )) $HOLD
 neighbor $ROUTER_IP timers connect 1
$( [ "$BFD" = 1 ] && echo " neighbor $ROUTER_IP bfd profile lab")
 !
 address-family ipv4 unicast
  network $PREFIX
 exit-address-family
!
EOF
      chown -R frr:frr "$d" "/var/run/frr/$ns"
      if [ "$BFD" = 1 ]; then
        # bgpd reaches bfdd through zebra: the node runs all three (started once per lab).
        if [ -z "${NODE_FRR_PIDS[$i]:-}" ]; then
          printf 'hostname %s\n!\n' "${NODE_NAME[$i]}" >"$d/zebra.conf"
          bfd_profile_conf "${NODE_NAME[$i]}" >"$d/bfdd.conf"
          chown -R frr:frr "$d"
          spawn "$ns" "zebra-$ns" "$d/zebra.out" /usr/lib/frr/zebra -N "$ns" -f "$d/zebra.conf" \
            -P 0 --log "file:$d/zebra.log"
          local zpid=$LAST_PID k
          for ((k = 0; k < 200; k++)); do [ -S "/var/run/frr/$ns/zserv.api" ] && break; sleep 0.02; done
          spawn "$ns" "bfdd-$ns" "$d/bfdd.out" /usr/lib/frr/bfdd -N "$ns" -f "$d/bfdd.conf" \
            -P 0 --log "file:$d/bfdd.log"
          NODE_FRR_PIDS[$i]="$zpid $LAST_PID"
        fi
        spawn "$ns" "bgpd-$ns" "$d/speaker.out" /usr/lib/frr/bgpd -p 0 -N "$ns" \
          -f "$d/bgpd.conf" -P 0 --log "file:$d/speaker.log"
      else
      # bgpd alone (-Z: no zebra), not listening (-p 0), like announce --no-listen.
      spawn "$ns" "bgpd-$ns" "$d/speaker.out" /usr/lib/frr/bgpd -Z -p 0 -N "$ns" \
        -f "$d/bgpd.conf" -P 0 --log "file:$d/speaker.log"
      fi
      ;;
  esac
  SPK_PID[$i]=$LAST_PID
}

originate() {
  local i=$1 mode=$2 ns=${NODE_NS[$1]} ip=${NODE_IP[$1]}
  [ "$mode" = gobgp ] || return 0
  local k
  for ((k = 0; k < 400; k++)); do
    ip netns exec "$ns" gobgp global rib add -a ipv4 "$PREFIX" nexthop "$ip" origin igp \
      >/dev/null 2>&1 && return 0
    alive "${SPK_PID[$i]}" || fail "gobgpd in $ns died: $(tail -n 5 "$LABDIR/$ns/speaker.log")"
    sleep 0.025
  done
  fail "gobgp API in $ns did not come up"
}

# False when a speaker process has exited (so a broken speaker fails the wait at once).
speakers_alive() {
  local i
  for i in "${!SPK_PID[@]}"; do alive "${SPK_PID[$i]}" || return 1; done
}
# Fails the step naming a speaker that has exited, with its last log lines.
speakers_check() {
  local i
  for i in "${!SPK_PID[@]}"; do
    alive "${SPK_PID[$i]}" ||
      fail "speaker of ${NODE_NAME[$i]} (pid ${SPK_PID[$i]}) exited: $(tail -n 5 "$LABDIR/${NODE_NS[$i]}/speaker.log")"
  done
}

# ---------------------------------------------------------------------------------------------
# the scenario for one speaker mode

declare -A R # results of the current mode

show_state() {
  echo "--- router: show bgp summary"
  vt -c "show bgp summary" | sed -n '/Neighbor/,$p'
  echo "--- router: ip route show $PREFIX"
  ip -n "$ROUTER_NS" route show "$PREFIX"
}

curl_client() { # prints "CODE BODY"
  local body code
  body=$(ip netns exec "$CLIENT_NS" curl -s -m 3 -w '\n%{http_code}' "http://$SVC_IP/" 2>/dev/null)
  code=${body##*$'\n'}
  body=${body%$'\n'*}
  echo "$code $body"
}

run_mode() {
  local mode=$1 i ms out
  R=()
  SPK_PID=()
  HTTP_PID=()
  NODE_FRR_PIDS=()
  echo
  echo "##############################################################################"
  echo "# speaker: $mode"
  echo "##############################################################################"
  for ns in "${ALL_NS[@]}"; do
    [ -e "/run/netns/$ns" ] && {
      echo "namespace $ns already exists: another lab is up. Run: $0 --down" >&2
      STEP="preflight"; exit 1
    }
  done
  [ -e "$LABDIR" ] && { echo "$LABDIR exists: another lab is up? Run: $0 --down" >&2; STEP="preflight"; exit 1; }
  mkdir -p "$LABDIR"
  chmod 755 "$LABDIR"
  : >"$LABDIR/pids"
  CREATED=1
  for ns in "${NODE_NS[@]}"; do mkdir -p "$LABDIR/$ns"; done
  [ "$mode" = announce ] && { step "build examples/announce"; build_announce; }

  setup_topology
  start_router
  start_capture

  step "start 6 node speakers ($mode), measure time to 6 kernel next hops"
  T0=$(now_ms)
  for i in "${!NODE_NS[@]}"; do start_speaker "$i" "$mode"; done
  for i in "${!NODE_NS[@]}"; do originate "$i" "$mode"; done
  R[first_nh_ms]=$(wait_for 60 eval 'speakers_alive && [ "$(nh_count)" -ge 1 ]') ||
    { show_state; speakers_check; fail "no route in the router's kernel after 60 s"; }
  R[all6_ms]=$(wait_for 60 eval 'speakers_alive && nh_is 6') ||
    { show_state; speakers_check; fail "kernel route never reached 6 next hops (has $(nh_count))"; }
  log "first next hop in the kernel after ${R[first_nh_ms]} ms, all 6 after ${R[all6_ms]} ms"

  step "router state: 6 peers Established with PfxRcd 1, one route with 6 next hops"
  show_state
  local sum est pfx
  sum=$(vt -c "show bgp summary json")
  est=$(jq '[.ipv4Unicast.peers[] | select(.state == "Established")] | length' <<<"$sum")
  pfx=$(jq '[.ipv4Unicast.peers[] | select(.pfxRcd == 1)] | length' <<<"$sum")
  echo "RESULT established_peers=$est pfxrcd1_peers=$pfx kernel_nexthops=$(nh_count)"
  [ "$est" = 6 ] || fail "$est of 6 peers Established"
  [ "$pfx" = 6 ] || fail "$pfx of 6 peers with PfxRcd 1"
  local rj paths mp best
  rj=$(vt -c "show bgp ipv4 unicast $PREFIX json")
  paths=$(jq '.paths | length' <<<"$rj")
  mp=$(jq '[.paths[] | select(.multipath == true)] | length' <<<"$rj")
  best=$(jq -r '[.paths[] | select(.bestpath.overall == true) | .peer.peerId] | join(",")' <<<"$rj")
  echo "RESULT bgp_paths=$paths multipath=$mp bestpath=$best"
  [ "$paths" = 6 ] && [ "$mp" = 6 ] || fail "want 6 BGP paths all multipath, have $paths / $mp"
  local hold
  hold=$(vt -c "show bgp neighbors ${NODE_IP[1]} json" | jq ".\"${NODE_IP[1]}\".bgpTimerHoldTimeMsecs")
  R[hold_ms]=$hold
  log "negotiated hold time with ${NODE_IP[1]}: $hold ms"
  if [ "$BFD" = 1 ]; then
    T0=$(now_ms)
    wait_for 10 eval '[ "$(bfd_up_count)" = 6 ]' >/dev/null ||
      { vt -c "show bfd peers brief"; fail "want 6 BFD peers up at the router, have $(bfd_up_count)"; }
    local bj
    bj=$(vt -c "show bfd peers json" | jq -c "[.[] | select(.peer == \"${NODE_IP[1]}\")][0] | {status, \"remote-receive-interval\", \"remote-transmit-interval\", \"remote-detect-multiplier\"}")
    echo "RESULT bfd_peers_up=$(bfd_up_count) router_view_of_${NODE_IP[1]}=$bj"
  fi

  step "client: curl http://$SVC_IP/ (ECMP over 6 nodes)"
  out=$(curl_client)
  echo "curl -> HTTP ${out%% *}: ${out#* }"
  [ "${out%% *}" = 200 ] || fail "curl from the client returned '${out%% *}' (want 200)"
  R[curl]=200
  local -A seen=()
  for ((k = 0; k < 12; k++)); do
    out=$(curl_client)
    [ "${out%% *}" = 200 ] && seen[${out#* }]=$(( ${seen[${out#* }]:-0} + 1 ))
  done
  for b in "${!seen[@]}"; do echo "  12 curls: ${seen[$b]} x '$b'"; done
  R[distinct_nodes]=${#seen[@]}

  if [ "$mode" = announce ] && [ "$CONFIG_MODE" = 1 ]; then
    step "health check: stop the HTTP server of ${NODE_NAME[4]} (its speaker must withdraw)"
    T0=$(now_ms)
    stop_pid "${HTTP_PID[4]}" 3
    ms=$(wait_for 15 nh_gone "${NODE_IP[4]}") || fail "next hop ${NODE_IP[4]} kept after its HTTP server stopped"
    R[health_down_ms]=$ms
    echo "RESULT http_down_to_nexthop_gone_ms=$ms kernel_nexthops=$(nh_count)"
    [ "$(nh_count)" = 5 ] || fail "want 5 next hops, have $(nh_count)"
    T0=$(now_ms)
    start_http 4
    ms=$(wait_for 15 nh_has "${NODE_IP[4]}") || fail "next hop ${NODE_IP[4]} not back after its HTTP server restarted"
    R[health_up_ms]=$ms
    echo "RESULT http_up_to_nexthop_back_ms=$ms kernel_nexthops=$(nh_count)"
    [ "$(nh_count)" = 6 ] || fail "want 6 next hops, have $(nh_count)"
  fi

  step "failover 1: SIGTERM the speaker of ${NODE_NAME[1]} (want 5 next hops within 1 s)"
  T0=$(now_ms)
  kill -TERM "${SPK_PID[1]}"
  ms=$(wait_for 30 nh_gone "${NODE_IP[1]}") || fail "next hop ${NODE_IP[1]} still there 30 s after SIGTERM"
  R[sigterm_ms]=$ms
  echo "RESULT sigterm_to_nexthop_gone_ms=$ms kernel_nexthops=$(nh_count)"
  [ "$(nh_count)" = 5 ] || fail "want 5 next hops after SIGTERM, have $(nh_count)"
  [ "$ms" -le 1000 ] || fail "SIGTERM failover took $ms ms (> 1000)"
  stop_pid "${SPK_PID[1]}" 3

  step "restart the speaker of ${NODE_NAME[1]}: time from start to its next hop in the kernel"
  T0=$(now_ms)
  start_speaker 1 "$mode"
  originate 1 "$mode"
  ms=$(wait_for 60 nh_has "${NODE_IP[1]}") || fail "restarted speaker's next hop never came back"
  R[start_ms]=$ms
  echo "RESULT speaker_start_to_kernel_ms=$ms kernel_nexthops=$(nh_count)"

  step "failover 2: kill -9 the speaker of ${NODE_NAME[2]} (the kernel closes its TCP socket)"
  T0=$(now_ms)
  kill -KILL "${SPK_PID[2]}"
  ms=$(wait_for $(( HOLD + 10 )) nh_gone "${NODE_IP[2]}") ||
    fail "next hop ${NODE_IP[2]} still there $(( HOLD + 10 )) s after kill -9"
  R[kill9_ms]=$ms
  echo "RESULT kill9_to_nexthop_gone_ms=$ms kernel_nexthops=$(nh_count)"
  [ "$ms" -le $(( (HOLD + 3) * 1000 )) ] || fail "kill -9 failover took $ms ms (> hold $HOLD s + 3 s)"

  if [ "$BFD" = 1 ]; then
    step "failover 3: freeze (SIGSTOP) the speaker of ${NODE_NAME[3]}: BFD ($BFD_TX ms x $BFD_MULT) takes the session down"
  else
    step "failover 3: freeze (SIGSTOP) the speaker of ${NODE_NAME[3]}: gone after the hold time"
  fi
  T0=$(now_ms)
  # An FRR speaker with BFD is three processes: freeze them together, as one process is frozen.
  kill -STOP "${SPK_PID[3]}" ${NODE_FRR_PIDS[3]:-}
  ms=$(wait_for $(( HOLD + 10 )) nh_gone "${NODE_IP[3]}") ||
    fail "next hop ${NODE_IP[3]} still there $(( HOLD + 10 )) s after SIGSTOP"
  R[freeze_ms]=$ms
  FREEZE_T0=$T0
  echo "RESULT sigstop_to_nexthop_gone_ms=$ms kernel_nexthops=$(nh_count) (hold time ${HOLD} s)"
  [ "$ms" -le $(( (HOLD + 3) * 1000 )) ] || fail "hold-timer failover took $ms ms (> hold $HOLD s + 3 s)"
  if [ "$BFD" = 1 ]; then
    local goal=$(( BFD_TX * BFD_MULT + 100 ))
    echo "RESULT bfd_sigstop_goal_ms=$goal met=$([ "$ms" -lt "$goal" ] && echo yes || echo NO)"
    [ "$ms" -le 1000 ] || fail "BFD failover took $ms ms (> 1000: BFD did not act)"
  fi
  for p in "${SPK_PID[3]}" ${NODE_FRR_PIDS[3]:-}; do
    kill -KILL "$p" 2>/dev/null
    kill -CONT "$p" 2>/dev/null
    stop_pid "$p" 1
  done
  [ "$(nh_count)" = 4 ] || fail "want 4 next hops now, have $(nh_count)"

  step "client still served by the 4 remaining nodes"
  out=$(curl_client)
  echo "curl -> HTTP ${out%% *}: ${out#* }"
  [ "${out%% *}" = 200 ] || fail "curl after failover returned '${out%% *}'"
  show_state

  if [ "$BFD" = 1 ]; then
    step "failover 4: link failure: the veth of ${NODE_NAME[5]} set down on the node side"
    T0=$(now_ms)
    ip -n "${NODE_NS[5]}" link set eth0 down
    ms=$(wait_for $(( HOLD + 10 )) nh_gone "${NODE_IP[5]}") ||
      fail "next hop ${NODE_IP[5]} still there $(( HOLD + 10 )) s after its link went down"
    R[linkdown_ms]=$ms
    local goal=$(( BFD_TX * BFD_MULT + 100 ))
    echo "RESULT linkdown_to_nexthop_gone_ms=$ms kernel_nexthops=$(nh_count) goal_ms=$goal met=$([ "$ms" -lt "$goal" ] && echo yes || echo NO)"
    [ "$ms" -le 1000 ] || fail "BFD failover on link down took $ms ms (> 1000: BFD did not act)"
    [ "$(nh_count)" = 3 ] || fail "want 3 next hops now, have $(nh_count)"
  fi

  step "SIGTERM all remaining speakers: time until the route is gone from the router's kernel"
  T0=$(now_ms)
  for i in 0 1 4 5; do kill -TERM "${SPK_PID[$i]}"; done
  ms=$(wait_for 30 route_gone) || fail "route still in the kernel 30 s after SIGTERM of all speakers"
  R[withdraw_all_ms]=$ms
  echo "RESULT sigterm_all_to_route_gone_ms=$ms"
  for i in 0 1 4 5; do stop_pid "${SPK_PID[$i]}" 3; done
  out=$(curl_client)
  [ "${out%% *}" != 200 ] || fail "service still reachable with no route"

  check_capture

  {
    for k in "${!R[@]}"; do echo "$k=${R[$k]}"; done
  } >"$RESULTS-$mode.env"

  if [ "$KEEP" = 1 ] && [ "$mode" = "${MODES[-1]}" ]; then
    step "--keep: restart all speakers and leave the lab up"
    for i in "${!NODE_NS[@]}"; do start_speaker "$i" "$mode"; done
    for i in "${!NODE_NS[@]}"; do originate "$i" "$mode"; done
    T0=$(now_ms)
    wait_for 60 nh_is 6 >/dev/null || fail "speakers did not come back"
    show_state
    cat <<EOF

The lab is up ($mode speakers). Explore it:
  vtysh -N $ROUTER_NS --config_dir $LABDIR/router -c 'show bgp summary'
  vtysh -N $ROUTER_NS --config_dir $LABDIR/router -c 'show bgp ipv4 unicast $PREFIX'
  ip -n $ROUTER_NS route show $PREFIX
  ip netns exec $CLIENT_NS curl http://$SVC_IP/
  ip netns exec ${NSP}worker1 bash   # a shell on a node; logs in $LABDIR/<namespace>/
  processes (pid name): $LABDIR/pids
Tear it down:
  $( [ "$NSP" = kb- ] || printf 'KB_LAB_PREFIX=%s ' "$NSP")$0 --down
EOF
    return
  fi
  step "teardown ($mode)"
  cp "$LABDIR/pids" "$RESULTS-$mode.pids"
  teardown
  CREATED=0
  local left
  left=$(ip netns list | grep -c "^$NSP" || true)
  [ "$left" = 0 ] || fail "$left $NSP* namespaces left after teardown"
  for p in $(awk '{print $1}' "$RESULTS-$mode.pids" 2>/dev/null); do
    alive "$p" && fail "lab process $p still alive after teardown"
  done
  log "torn down: no $NSP* namespace, no lab process left"
}

# ---------------------------------------------------------------------------------------------

STEP="prerequisites"
install_prereqs
for mode in "${MODES[@]}"; do
  rm -f "$RESULTS-$mode.env"
  run_mode "$mode"
done

if [ "$COMPARE" = 1 ]; then
  echo
  echo "=== comparison (ms; hold time $HOLD s; router FRR timers 3 9$( [ "$BFD" = 1 ] && echo "; BFD $BFD_RX/$BFD_TX ms x $BFD_MULT"))"
  printf '%-40s' "measure"
  for m in "${MODES[@]}"; do printf '%12s' "$m"; done
  echo
  for row in "all6_ms:6 speakers start -> 6 kernel next hops" \
             "start_ms:1 speaker start -> its next hop" \
             "sigterm_ms:SIGTERM -> next hop gone" \
             "kill9_ms:kill -9 -> next hop gone" \
             "freeze_ms:SIGSTOP -> next hop gone$( [ "$BFD" = 1 ] && echo ' (BFD)' || echo ' (hold)')" \
             "freeze_age_ms:  of which: last BFD pkt age at freeze" \
             "freeze_detect_ms:  router detection (last pkt -> Down)" \
             "freeze_after_ms:  router Down -> next hop gone" \
             "linkdown_ms:node link down -> next hop gone (BFD)" \
             "withdraw_all_ms:SIGTERM all -> route gone" \
             "health_down_ms:HTTP server down -> next hop gone" \
             "health_up_ms:HTTP server up -> next hop back"; do
    key=${row%%:*}
    line=$(printf '%-40s' "${row#*:}")
    any=0
    for m in "${MODES[@]}"; do
      v=$(grep "^$key=" "$RESULTS-$m.env" 2>/dev/null | cut -d= -f2)
      [ -n "$v" ] && any=1
      line+=$(printf '%12s' "${v:--}")
    done
    [ "$any" = 1 ] && echo "$line"
  done
fi
for m in "${MODES[@]}"; do rm -f "$RESULTS-$m.env" "$RESULTS-$m.pids"; done
STEP="done"
