#!/usr/bin/env bash
# Installs what the tests and the lab need on a fresh Debian 12 machine (as root).
# Idempotent: skips what is already there.
set -euo pipefail
need=()
for pair in frr:/usr/lib/frr/bgpd bird2:/usr/sbin/bird gobgpd:/usr/bin/gobgpd exabgp:/usr/sbin/exabgp \
            tshark:/usr/bin/tshark iproute2:/usr/sbin/ip curl:/usr/bin/curl jq:/usr/bin/jq \
            tcpdump:/usr/bin/tcpdump python3:/usr/bin/python3 pmacct:/usr/sbin/pmbmpd iputils-ping:/usr/bin/ping; do
  pkg=${pair%%:*}; bin=${pair#*:}
  [ -x "$bin" ] || need+=("$pkg")
done
# bgp-mrt: bgpdump is the independent MRT decoder of bgp-mrt/tests/bgpdump.rs.
[ -x /usr/bin/bgpdump ] || need+=(bgpdump)
# bgp-bfd/examples/scale.rs: ethtool turns on threaded NAPI for its steered measurement.
[ -x /usr/sbin/ethtool ] || need+=(ethtool)
# examples/router.rs links jemalloc (tikv-jemalloc-sys builds it from C with make and cc).
[ -x /usr/bin/make ] || need+=(make)
[ -x /usr/bin/cc ] || need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ "${1:-}" != "--no-rust-tools" ]; then
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "install-deps: cargo install cargo-fuzz"
    cargo install --locked cargo-fuzz
  fi
fi
