#!/usr/bin/env bash
# Runs every test of the workspace against real PostgreSQL and Redis (started by the test
# harness itself on random ports). As root, installs missing Debian packages first.
#
#   ./tests/run.sh            # all tests
#   ./tests/run.sh -p basecommerce-vertical --test auth   # extra args go to cargo test
#
# With no arguments it also runs the appliance test (tests/appliance/run.sh: install.sh on Debian 12
# and 13 booted with systemd-nspawn) — as root only; BASECOMMERCE_SKIP_APPLIANCE=1 skips it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
"$repo/tests/ensure-packages.sh" test
# schemathesis (PyPI) drives the API fuzzing test; it lives in a venv of its own, next to the build.
tools="${CARGO_TARGET_DIR:-$repo/target}/tools"
if [ ! -x "$tools/schemathesis/bin/st" ]; then
  echo "==> installing schemathesis into $tools/schemathesis"
  python3 -m venv "$tools/schemathesis"
  "$tools/schemathesis/bin/pip" install -q --disable-pip-version-check "schemathesis==4.32.5"
fi
export BASECOMMERCE_SCHEMATHESIS="$tools/schemathesis/bin/st"
echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --locked --workspace --all-targets -- -D warnings
echo "==> cargo test (target: ${CARGO_TARGET_DIR:-$repo/target})"
appliance=0
if [ $# -eq 0 ]; then set -- --workspace; appliance=1; fi
cargo test --locked "$@"
if [ "$appliance" = 1 ]; then
  if [ "${BASECOMMERCE_SKIP_APPLIANCE:-}" = 1 ]; then
    printf '\n\033[33m!!! SKIPPED: the appliance test (BASECOMMERCE_SKIP_APPLIANCE=1)\033[0m\n\n' >&2
  else
    echo "==> appliance test (systemd-nspawn; BASECOMMERCE_SKIP_APPLIANCE=1 skips it)"
    "$repo/tests/appliance/run.sh"
  fi
fi
