#!/usr/bin/env bash
# Builds and runs every cargo-fuzz target for a bounded time each (default 60 s).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-60}
export RUSTC_BOOTSTRAP=1
targets=$(cargo fuzz list)
[ -n "$targets" ] || { echo "no fuzz targets"; exit 1; }
cargo fuzz build -O
for t in $targets; do
  seeds=()
  [ -d "corpus/seed-$t" ] && seeds+=("corpus/seed-$t")
  mkdir -p "corpus/$t"
  echo "fuzz: $t for ${secs}s"
  cargo fuzz run -O "$t" "corpus/$t" "${seeds[@]}" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len=8192 2>&1 | tail -n 3
done
