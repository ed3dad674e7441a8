#!/usr/bin/env bash
# Every benchmark in one run: edge (wrk vs nginx and Caddy), edge instructions (callgrind vs
# nginx), events (vs redis-benchmark), vertical (vs pgbench -S, footprint) and the 10⁶-case
# Host/SNI fuzz. Prints each table and writes the figures together to bench/results/<date>.json.
#   sudo ./bench/all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=$(date -u +%Y%m%dT%H%M%SZ)
before=$(date +%s)
./bench/edge.sh 10 64
./bench/profile-edge.sh 2000 | sed -n '/Instructions per/,/^  nginx/p' | tee "/tmp/bc-profile-$stamp.txt"
./bench/events.sh 20000 10 2
./bench/vertical.sh 10 32 200
./bench/fuzz-edge.sh 1000000
newest() { ls -t bench/results/"$1"-*.json | head -1; }
ratio=$(awk '$1=="basecommerce-proxy" {print $3}' "/tmp/bc-profile-$stamp.txt" | tr -d x)
naive=$(awk '$1=="naive-pingora" {print $3}' "/tmp/bc-profile-$stamp.txt" | tr -d x)
jq -n --slurpfile edge "$(newest edge)" --slurpfile events "$(newest events)" --slurpfile vertical "$(newest vertical)" \
  --arg date "$stamp" --argjson cores "$(nproc)" --argjson instr "${ratio:-null}" --argjson naive "${naive:-null}" \
  '{date: $date, cores: $cores, edge: $edge[0], edge_instructions_vs_nginx: $instr, naive_pingora_instructions_vs_nginx: $naive, events: $events[0], vertical: $vertical[0], fuzz_cases_per_property: 1000000}' \
  > "bench/results/$stamp.json"
rm -f "/tmp/bc-profile-$stamp.txt"
echo "all benchmarks in $(( $(date +%s) - before )) s; written: bench/results/$stamp.json"
