#!/usr/bin/env bash
# Runs every test of the project: format, lints, unit/property/interop tests, benches build, fuzzing.
# Needs root (interop tests create network namespaces). Installs missing packages first.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
bash scripts/install-deps.sh

step() { echo; echo "=== $* ==="; }
step "cargo fmt --check";    cargo fmt --all -- --check
step "cargo clippy";         cargo clippy --workspace --all-targets --all-features -- -D warnings
step "cargo test";           cargo test --workspace --all-features
step "cargo bench --no-run"; cargo bench --workspace --no-run
step "fuzz (${FUZZ_SECONDS}s per target)"
bash scripts/fuzz.sh "$FUZZ_SECONDS"
echo; echo "ALL TESTS PASSED"
