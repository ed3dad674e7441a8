#!/usr/bin/env bash
# Load and faults at length, on optimised binaries: the test suite's soak test
# (tests/stack/tests/soak.rs: 50 tenants through the proxy, two verticals, relay, two workers;
# SIGKILLs, Redis and PostgreSQL restarts and a stream backlog under load; exactly-once effects
# and flat memory checked) with a longer soak phase and faster users. Prints the report, also
# written to $CARGO_TARGET_DIR/tmp/soak-report.md.
#   ./bench/soak.sh [soak_seconds=300] [requests_per_second_per_user=4]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-300}; rps=${2:-4}
profile=${BENCH_PROFILE:-release}
"$PWD/tests/ensure-packages.sh" runtime
echo "==> cargo build --profile $profile --workspace --bins (several minutes when cold)" >&2
cargo build --quiet --profile "$profile" --workspace --bins
echo "==> soak: ${secs} s at ${rps} req/s per user, then the faults" >&2
BASECOMMERCE_SOAK_SECS="$secs" BASECOMMERCE_SOAK_USER_RPS="$rps" \
  cargo test --quiet --profile "$profile" -p basecommerce-stack --test soak -- --nocapture
