#!/usr/bin/env bash
# Host-header and SNI fuzzing of the edge's routing, at 10⁶ cases per property (the test suite
# runs 20,000): arbitrary Unicode hosts never panic the router nor yield a slug outside the
# rules, and any SNI name gets only the exact, parent-wildcard or fallback certificate.
#   ./bench/fuzz-edge.sh [cases=1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-1000000}
echo "==> proptest, $cases cases per property (release build of the proxy's unit tests)"
time BASECOMMERCE_FUZZ_CASES="$cases" cargo test --release --quiet -p basecommerce-proxy --lib host::tests
