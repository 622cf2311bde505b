#!/usr/bin/env bash
# Captures real BGP messages from FRR, BIRD, GoBGP and ExaBGP peering with each other in
# network namespaces, and stores each message as hex under bgp-wire/testdata/<sender>/.
#
# Run as root from anywhere: `bash scripts/capture-vectors.sh [OUTDIR]` (default
# bgp-wire/testdata). Needs frr (bgpd, zebra), bird2, gobgpd, exabgp, tcpdump, tshark, python3.
#
# Topology (one bridge in a hub namespace, every daemon in its own namespace, 10.77.0.0/24 and
# fd77::/64 on the bridge):
#   frr1   AS 65001  .1  route reflector; eBGP to gobgp and exabgp; role "provider" to them
#   frr2   AS 65001  .2  RR client of frr1 over IPv6 transport (IPv4 NLRI with IPv6 next hop)
#   bird   AS 65001  .3  RR client of frr1 over IPv4, add-path both ways
#   gobgp  AS 4200000002 .4  eBGP to frr1 (4-octet AS), add-path receive
#   exabgp AS 65004  .5  eBGP to frr1, 4-octet AS capability disabled (AS4_PATH / AS_TRANS)
# Then it drives route refresh, withdrawals, a shutdown message and a Cease, and captures
# everything on the bridge with tcpdump. Everything it starts is stopped by PID on exit.
#
# `bash scripts/capture-vectors.sh --seeds-only` only regenerates the fuzz seed corpora
# fuzz/corpus/seed-wire_{decode,roundtrip,framing}/ from the stored vectors (no root needed);
# a capture into the default directory regenerates them too.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)

# Seeds in both input forms of fuzz/fuzz_targets/wire_*.rs: `NAME.raw` is the raw message
# (decode, roundtrip) or raw stream (framing); `NAME` adds the session context in front:
# decode and roundtrip take one context octet (1 asn4, 2 add-path IPv4, 4 add-path IPv6,
# 8 extended message, 16 extended next hop IPv4) then one message; framing takes a context
# octet (1 asn4, 2 extended message), a cut count octet, 2 octets per cut, then the stream.
make_seeds() {
  python3 - "$here/bgp-wire/testdata" "$here/fuzz/corpus" <<'PYEOF'
import collections, glob, os, shutil, sys
data, corpus = sys.argv[1], sys.argv[2]
def bits(ctx):
    b = 0
    for w in ctx.split():
        b |= {"asn4": 1, "add-path=ipv4/unicast": 2, "add-path=ipv6/unicast": 4,
              "extended-message": 8, "extended-nexthop=ipv4/unicast": 16}.get(w, 0)
    return b
msgs = []
for f in sorted(glob.glob(os.path.join(data, "*", "*.hex"))):
    lines = open(f).read().splitlines()
    msgs.append((os.path.basename(f)[:-4], bits(lines[0].split(":", 1)[1]), bytes.fromhex(lines[1].strip())))
for t in ["seed-wire_decode", "seed-wire_roundtrip", "seed-wire_framing"]:
    shutil.rmtree(os.path.join(corpus, t), ignore_errors=True)
    os.makedirs(os.path.join(corpus, t))
per = collections.Counter()
n = 0
for name, b, m in msgs:
    kind = name.rsplit("-", 1)[0]
    if per[kind] >= (4 if "update" in kind else 2):
        continue
    per[kind] += 1; n += 1
    for t in ["seed-wire_decode", "seed-wire_roundtrip"]:
        open(os.path.join(corpus, t, name), "wb").write(bytes([b]) + m)
        open(os.path.join(corpus, t, name + ".raw"), "wb").write(m)
streams = collections.OrderedDict()
for name, b, m in msgs:
    k = name
    for t in ["-open", "-update", "-notification", "-route-refresh", "-keepalive"]:
        k = k.split(t)[0]
    s = streams.setdefault(k, [b, bytearray()])
    if len(s[1]) + len(m) <= 8000:
        s[1] += m
for i, (k, (b, s)) in enumerate(streams.items()):
    fb = (b & 1) | (2 if b & 8 else 0)
    # whole, and cut at three places
    open(os.path.join(corpus, "seed-wire_framing", "stream-" + k), "wb").write(bytes([fb, 0]) + s)
    open(os.path.join(corpus, "seed-wire_framing", "stream-" + k + ".raw"), "wb").write(bytes(s))
    cuts = [len(s) // 4, len(s) // 2 + 1, len(s) - 3]
    head = bytes([fb, 3]) + b"".join(c.to_bytes(2, "big") for c in cuts)
    open(os.path.join(corpus, "seed-wire_framing", "cut-" + k), "wb").write(head + s)
print("capture-vectors: %d decode/roundtrip seeds, %d framing seeds" % (2 * n, 3 * len(streams)))
PYEOF
}
if [ "${1:-}" = "--seeds-only" ]; then make_seeds; exit 0; fi

out=${1:-$here/bgp-wire/testdata}
[ "$(id -u)" = 0 ] || { echo "capture-vectors: must run as root" >&2; exit 1; }
for b in /usr/lib/frr/bgpd /usr/lib/frr/zebra bird gobgpd gobgp exabgp tcpdump tshark python3; do
  command -v "$b" >/dev/null || [ -x "$b" ] || { echo "capture-vectors: missing $b" >&2; exit 1; }
done

id=$$
p="wx$id"                       # namespace / link prefix, unique per run
work=$(mktemp -d "/tmp/wirex-capture.XXXXXX")
chmod 755 "$work"
pids=()
nss=()

cleanup() {
  set +e
  for ((i=${#pids[@]}-1; i>=0; i--)); do kill "${pids[$i]}" 2>/dev/null; done
  sleep 0.5
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
  for ns in "${nss[@]}"; do ip netns del "$ns" 2>/dev/null; done
  for n in f1 f2; do rm -rf "/var/run/frr/$p$n"; done
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT INT TERM

bg() { # bg LOGFILE CMD... : start a child, remember its PID
  local log=$1; shift
  "$@" >"$log" 2>&1 &
  pids+=($!)
}

hub="${p}h"
ip netns add "$hub"; nss+=("$hub")
ip -n "$hub" link add br0 type bridge
ip -n "$hub" link set br0 up
ip -n "$hub" link set lo up

# node NAME INDEX: namespace $p$NAME with 10.77.0.INDEX/24 and fd77::INDEX/64 on eth0
node() {
  local ns="$p$1" i=$2
  ip netns add "$ns"; nss+=("$ns")
  ip link add "${ns}a" type veth peer name "${ns}b"
  ip link set "${ns}a" netns "$ns"
  ip link set "${ns}b" netns "$hub"
  ip -n "$ns" link set "${ns}a" name eth0
  ip -n "$hub" link set "${ns}b" master br0 up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
    net.ipv6.conf.eth0.accept_dad=0 net.ipv4.ip_forward=1
  ip -n "$ns" addr add "10.77.0.$i/24" dev eth0
  ip -n "$ns" addr add "fd77::$i/64" dev eth0 nodad
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
}
node f1 1; node f2 2; node bd 3; node gb 4; node ex 5

bg "$work/tcpdump.log" ip netns exec "$hub" tcpdump -i br0 -s 0 -U -w "$work/bgp.pcap" 'tcp port 179'
sleep 1

# ---- FRR ----
frr_start() { # frr_start NAME
  local n=$1 d="$work/$1"
  mkdir -p "$d" "/var/run/frr/$p$n"
  chown frr:frr "$d" "/var/run/frr/$p$n"
  touch "$d/zebra.conf"; mkdir -p "$d/vty/$p$n"; touch "$d/vty/$p$n/vtysh.conf"
  chown -R frr:frr "$d"
  bg "$d/zebra.out" ip netns exec "$p$n" /usr/lib/frr/zebra -N "$p$n" -f "$d/zebra.conf" -P 0 \
    -i "/var/run/frr/$p$n/zebra.pid" --log "file:$d/zebra.log"
  sleep 0.5
  bg "$d/bgpd.out" ip netns exec "$p$n" /usr/lib/frr/bgpd -N "$p$n" -f "$d/bgpd.conf" -P 0 \
    -i "/var/run/frr/$p$n/bgpd.pid" --log "file:$d/bgpd.log"
}
vty() { # vty NAME CMD...
  local n=$1; shift
  local args=()
  for c in "$@"; do args+=(-c "$c"); done
  vtysh --config_dir "$work/$n/vty" -N "$p$n" "${args[@]}"
}

mkdir -p "$work/f1" "$work/f2"
cat >"$work/f1/bgpd.conf" <<'EOF'
frr defaults traditional
hostname wirex-frr1
domainname lab.example
router bgp 65001
 bgp router-id 10.77.0.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 bgp cluster-id 10.77.0.100
 bgp graceful-restart
 bgp long-lived-graceful-restart stale-time 120
 neighbor fd77::2 remote-as 65001
 neighbor fd77::2 timers 3 9
 neighbor fd77::2 timers connect 2
 neighbor fd77::2 capability extended-nexthop
 neighbor 10.77.0.3 remote-as 65001
 neighbor 10.77.0.3 timers 3 9
 neighbor 10.77.0.3 timers connect 2
 neighbor 10.77.0.4 remote-as 4200000002
 neighbor 10.77.0.4 timers 3 9
 neighbor 10.77.0.4 timers connect 2
 neighbor 10.77.0.4 local-role provider
 neighbor 10.77.0.5 remote-as 65004
 neighbor 10.77.0.5 timers 3 9
 neighbor 10.77.0.5 local-role provider
 address-family ipv4 unicast
  network 172.21.0.0/24 route-map ORIG
  neighbor fd77::2 activate
  neighbor fd77::2 route-reflector-client
  neighbor 10.77.0.3 route-reflector-client
  neighbor 10.77.0.3 addpath-tx-all-paths
  neighbor 10.77.0.3 send-community all
  neighbor 10.77.0.4 addpath-tx-all-paths
  neighbor 10.77.0.4 send-community all
  neighbor 10.77.0.5 send-community all
 exit-address-family
 address-family ipv6 unicast
  neighbor fd77::2 activate
  neighbor fd77::2 route-reflector-client
  neighbor 10.77.0.3 activate
  neighbor 10.77.0.3 route-reflector-client
  neighbor 10.77.0.3 addpath-tx-all-paths
  neighbor 10.77.0.4 activate
  neighbor 10.77.0.5 activate
 exit-address-family
!
route-map ORIG permit 10
 set community 65001:1 65001:2 no-export
 set large-community 65001:1:1
 set extcommunity rt 65001:100
 set metric 11
!
EOF
cat >"$work/f2/bgpd.conf" <<'EOF'
frr defaults traditional
hostname wirex-frr2
router bgp 65001
 bgp router-id 10.77.0.2
 no bgp ebgp-requires-policy
 no bgp network import-check
 bgp graceful-restart
 neighbor fd77::1 remote-as 65001
 neighbor fd77::1 timers 3 9
 neighbor fd77::1 timers connect 2
 neighbor fd77::1 capability extended-nexthop
 address-family ipv4 unicast
  network 172.20.1.0/24 route-map ORIG
  network 172.20.2.0/24 route-map ORIG
  network 172.20.3.128/25 route-map ORIG
  network 172.20.9.9/32
  aggregate-address 172.20.0.0/16
  neighbor fd77::1 activate
  neighbor fd77::1 send-community all
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8:20::/48 route-map ORIG
  network 2001:db8:21:1::/64
  neighbor fd77::1 activate
  neighbor fd77::1 send-community all
 exit-address-family
!
route-map ORIG permit 10
 set community 65001:20 65535:0 no-export
 set large-community 65001:20:1 65001:20:2
 set extcommunity rt 65001:20
 set extcommunity soo 10.77.0.2:7
 set metric 20
 set local-preference 220
 set origin egp
!
EOF
frr_start f1
frr_start f2

# ---- BIRD ----
mkdir -p "$work/bd"
cat >"$work/bd/bird.conf" <<'EOF'
router id 10.77.0.3;
protocol device { }
protocol static s4 {
  ipv4;
  route 172.40.0.0/24 blackhole;
  route 172.40.1.0/24 blackhole;
  route 10.40.0.0/16 blackhole;
}
protocol static s6 {
  ipv6;
  route 2001:db8:40::/48 blackhole;
  route 2001:db8:41::/56 blackhole;
}
filter out4 {
  bgp_community.add((65001,400));
  bgp_community.add((65535,65281));
  bgp_large_community.add((65001,4,4));
  bgp_ext_community.add((rt,65001,40));
  bgp_ext_community.add((ro,10.77.0.3,41));
  bgp_med = 40;
  bgp_local_pref = 140;
  accept;
}
protocol bgp frr1 {
  local 10.77.0.3 as 65001;
  neighbor 10.77.0.1 as 65001;
  hold time 9; keepalive time 3;
  connect delay time 1; connect retry time 2;
  graceful restart on;
  long lived graceful restart on;
  enable extended messages on;
  ipv4 { import all; export filter out4; add paths on; next hop self; };
  ipv6 { import all; export filter out4; add paths on; next hop address fd77::3; };
}
EOF
bg "$work/bd/bird.out" ip netns exec "${p}bd" bird -f -c "$work/bd/bird.conf" -s "$work/bd/bird.ctl"

# ---- GoBGP ----
mkdir -p "$work/gb"
cat >"$work/gb/gobgpd.toml" <<'EOF'
[global.config]
  as = 4200000002
  router-id = "10.77.0.4"
  port = 179
[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.77.0.1"
    peer-as = 65001
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 2
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 90
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
    [neighbors.afi-safis.add-paths.config]
      receive = true
      send-max = 4
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
EOF
bg "$work/gb/gobgpd.out" ip netns exec "${p}gb" gobgpd -f "$work/gb/gobgpd.toml" --api-hosts 127.0.0.1:50051

# ---- ExaBGP ----
mkdir -p "$work/ex"
cat >"$work/ex/exabgp.conf" <<'EOF'
neighbor 10.77.0.1 {
  router-id 10.77.0.5;
  local-address 10.77.0.5;
  local-as 65004;
  peer-as 65001;
  hold-time 9;
  capability {
    asn4 disable;
    route-refresh;
    graceful-restart 60;
  }
  family {
    ipv4 unicast;
    ipv6 unicast;
  }
  static {
    route 172.50.0.0/24 next-hop 10.77.0.5 origin incomplete as-path [ 65004 64999 ( 64700 64701 ) ] med 50 community [ 65004:1 65004:2 no-export ] extended-community [ target:65004:5 origin:65004:6 ] large-community [ 65004:5:5 ] aggregator ( 65004:10.77.0.5 ) atomic-aggregate;
    route 172.50.1.0/24 next-hop 10.77.0.5 as-path [ 65004 ] community [ 65004:3 ];
    route 2001:db8:50::/48 next-hop fd77::5 as-path [ 65004 64998 ] med 5 community [ 65004:6 ] large-community [ 65004:6:6 ];
  }
}
EOF
bg "$work/ex/exabgp.out" env exabgp.daemon.daemonize=false exabgp.daemon.user=root \
  exabgp.daemon.drop=false exabgp.api.cli=false exabgp.tcp.bind='' exabgp.log.destination=stdout \
  ip netns exec "${p}ex" exabgp "$work/ex/exabgp.conf"

established() { vty f1 'show bgp summary json' 2>/dev/null | python3 -c '
import json,sys
d=json.load(sys.stdin); n=set()
for af in d.values():
    for k,v in af.get("peers",{}).items():
        if v.get("state")=="Established": n.add(k)
print(len(n))' 2>/dev/null || echo 0; }
for _ in $(seq 1 60); do
  [ "$(established)" -ge 4 ] && break
  sleep 1
done
echo "capture-vectors: $(established) peers of frr1 established"

sleep 1
ip netns exec "${p}gb" gobgp global rib add 172.30.0.0/24 origin igp med 30 community 4200:1,no-export \
  large-community 4200000002:1:1 >/dev/null
ip netns exec "${p}gb" gobgp global rib add 172.30.1.0/24 origin egp aspath 4200000002,65010,65020 >/dev/null 2>&1 || \
  ip netns exec "${p}gb" gobgp global rib add 172.30.1.0/24 origin egp >/dev/null
ip netns exec "${p}gb" gobgp global rib -a ipv6 add 2001:db8:30::/48 nexthop fd77::4 community 4200:6 >/dev/null
sleep 3

# Route refresh (and enhanced route refresh BoRR/EoRR from the peers that support it).
vty f1 'clear bgp ipv4 unicast 10.77.0.3 soft in' 'clear bgp ipv6 unicast fd77::2 soft in' \
  'clear bgp ipv4 unicast 10.77.0.4 soft in' 'clear bgp ipv4 unicast 10.77.0.5 soft in' >/dev/null
sleep 2
# Withdrawals (IPv4 withdrawn routes and MP_UNREACH_NLRI).
vty f2 'configure terminal' 'router bgp 65001' 'address-family ipv4 unicast' \
  'no network 172.20.2.0/24' 'exit-address-family' 'address-family ipv6 unicast' \
  'no network 2001:db8:21:1::/64' >/dev/null
ip netns exec "${p}gb" gobgp global rib del 172.30.1.0/24 >/dev/null 2>&1 || true
sleep 3
# NOTIFICATION Cease / Administrative Shutdown with a shutdown message (RFC 9003).
vty f1 'configure terminal' 'router bgp 65001' \
  'neighbor 10.77.0.5 shutdown message wirex maintenance: back in 5 minutes' >/dev/null
sleep 1
# NOTIFICATION Cease / Peer De-configured from GoBGP on SIGTERM.
for i in "${!pids[@]}"; do
  if ps -o args= -p "${pids[$i]}" 2>/dev/null | grep -q gobgpd; then kill "${pids[$i]}"; fi
done
sleep 2
vty f1 'show bgp summary' >"$work/summary.txt" 2>&1 || true
kill "${pids[0]}" 2>/dev/null || true   # tcpdump: flush the capture
sleep 1

# ---- extract ----
tshark -r "$work/bgp.pcap" -Y 'tcp.len > 0' -T fields -E separator=, \
  -e tcp.stream -e ip.src -e ipv6.src -e tcp.srcport -e ip.dst -e ipv6.dst -e tcp.dstport \
  -e tcp.seq_raw -e tcp.payload >"$work/segments.csv"
python3 - "$work/segments.csv" "$out" <<'EOF'
import collections, os, sys
segs, out = sys.argv[1], sys.argv[2]
names = {"1": "frr", "2": "frr", "3": "bird", "4": "gobgp", "5": "exabgp"}
hostn = {"1": "frr1", "2": "frr2", "3": "bird", "4": "gobgp", "5": "exabgp"}
def host(a): return a.rsplit(".", 1)[-1] if "." in a else a.rsplit(":", 1)[-1]
flows = collections.OrderedDict()
for line in open(segs):
    f = line.rstrip("\n").split(",")
    if len(f) < 9 or not f[8]: continue
    stream, s4, s6, sp, d4, d6, dp, seq, payload = f[:9]
    key = (int(stream), host(s4 or s6), host(d4 or d6))
    fl = flows.setdefault(key, {"next": None, "data": bytearray()})
    seq = int(seq); data = bytes.fromhex(payload.replace(":", ""))
    if fl["next"] is not None and seq != fl["next"]:
        if (seq - fl["next"]) % 2**32 > 2**31: continue   # retransmission
    fl["data"] += data; fl["next"] = (seq + len(data)) % 2**32
# split flows into messages; learn each session's OPENs for the context
msgs = collections.OrderedDict()
opens = {}
for key, fl in flows.items():
    d, i, ms = bytes(fl["data"]), 0, []
    while i + 19 <= len(d) and d[i:i+16] == b"\xff" * 16:
        ln = int.from_bytes(d[i+16:i+18], "big")
        if ln < 19 or i + ln > len(d): break
        ms.append(d[i:i+ln]); i += ln
    msgs[key] = ms
    for m in ms:
        if m[18] == 1: opens[key] = m
def caps(o):
    res = []
    plen, i = o[28], 29
    end = 29 + plen
    while i + 2 <= end:
        t, l = o[i], o[i+1]
        if t == 2:
            j = i + 2
            while j + 2 <= i + 2 + l:
                res.append((o[j], o[j+2:j+2+o[j+1]])); j += 2 + o[j+1]
        i += 2 + l
    return res
def addpath(c, want):
    fams = set()
    for code, v in c:
        if code == 69:
            for k in range(0, len(v) - 3, 4):
                if v[k+3] & want: fams.add((int.from_bytes(v[k:k+2], "big"), v[k+2]))
    return fams
def extnh(c):
    fams = set()
    for code, v in c:
        if code == 5:
            for k in range(0, len(v) - 5, 6):
                fams.add((int.from_bytes(v[k:k+2], "big"), int.from_bytes(v[k+2:k+4], "big")))
    return fams
famname = {(1, 1): "ipv4/unicast", (2, 1): "ipv6/unicast"}
written = collections.Counter()
seen = set()
for (stream, src, dst), ms in msgs.items():
    mine, theirs = opens.get((stream, src, dst)), opens.get((stream, dst, src))
    ctx = []
    if mine and theirs:
        cm, ct = caps(mine), caps(theirs)
        if any(c == 65 for c, _ in cm) and any(c == 65 for c, _ in ct): ctx.append("asn4")
        for fam in sorted(addpath(cm, 2) & addpath(ct, 1)):
            ctx.append("add-path=" + famname.get(fam, "%d/%d" % fam))
        if any(c == 6 for c, _ in cm) and any(c == 6 for c, _ in ct): ctx.append("extended-message")
        for fam in sorted(extnh(cm) & extnh(ct)):
            ctx.append("extended-nexthop=" + famname.get(fam, "%d/%d" % fam))
    sender = names.get(src, "other")
    tname = {1: "open", 2: "update", 3: "notification", 4: "keepalive", 5: "route-refresh"}
    for m in ms:
        t = tname.get(m[18], "type%d" % m[18])
        if t == "keepalive" and written[(sender, t)] >= 1: continue
        if m in seen: continue
        seen.add(m)
        written[(sender, t)] += 1
        d = os.path.join(out, sender); os.makedirs(d, exist_ok=True)
        fn = os.path.join(d, "%s-to-%s-%s-%02d.hex" % (hostn.get(src, src), hostn.get(dst, dst), t, written[(sender, t)]))
        with open(fn, "w") as f:
            f.write("# context: %s\n" % (" ".join(ctx) if ctx else "none"))
            f.write(m.hex() + "\n")
for (s, t), n in sorted(written.items()): print("capture-vectors: %-7s %-13s %d" % (s, t, n))
EOF
cp "$work/bgp.pcap" "$out/capture.pcap" 2>/dev/null || true
[ "$out" = "$here/bgp-wire/testdata" ] && make_seeds
echo "capture-vectors: done, vectors in $out"
