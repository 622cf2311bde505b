#!/usr/bin/env bash
# Runs every test of the project: format, lints, unit/property/interop tests, benches build, fuzzing.
# Needs root (interop tests create network namespaces). Installs missing packages first.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
bash scripts/install-deps.sh

step() { echo; echo "=== $* ==="; }
step "cargo fmt --check";    cargo fmt --all -- --check
step "cargo clippy";         cargo clippy --workspace --all-targets --all-features -- -D warnings
# Every interop test that found root and its daemons appends its name here (testlab); under
# CI=true a missing prerequisite fails the test instead of skipping it.
export TESTLAB_RAN_LOG
TESTLAB_RAN_LOG=$(mktemp /tmp/testlab-ran.XXXXXX)
step "cargo test";           cargo test --workspace --all-features
echo "interop tests that ran (root + daemons found): $(sort -u "$TESTLAB_RAN_LOG" | wc -l)"
rm -f "$TESTLAB_RAN_LOG"
step "cargo bench --no-run"; cargo bench --workspace --no-run
step "fuzz (${FUZZ_SECONDS}s per target)"
bash scripts/fuzz.sh "$FUZZ_SECONDS"
echo; echo "ALL TESTS PASSED"
