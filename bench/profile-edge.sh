#!/usr/bin/env bash
# Where the edge spends its instructions: basecommerce-proxy and nginx (one worker each, same
# upstream, same requests) under callgrind. Instruction counts do not depend on what else the
# machine is doing, so this profile is repeatable on a busy box where wrk figures are not.
# Prints instructions per request for both, their ratio, and the proxy's top functions.
#   ./bench/profile-edge.sh [requests=2000]
source "$(dirname "$0")/lib.sh"
requests=${1:-2000}
need valgrind:valgrind ab:apache2-utils nginx:nginx-light callgrind_annotate:valgrind
echo "==> cargo build --profile profiling (release code with symbols)" >&2
bench_profile=profiling; bin="${CARGO_TARGET_DIR:-$repo/target}/profiling"; build; build_naive_edge
start_backing_services

backend=$(free_port); p_bc=$(free_port); p_nginx=$(free_port); p_naive=$(free_port)
nginx_edge_configs "$backend" "$p_nginx"
nginx -c "$work/nginx/backend.conf" -g 'daemon off;' & pids+=($!)
wait_http "http://127.0.0.1:$backend/"

# profile NAME PORT CMD... → instructions per request (between zeroing and dumping the counters)
profile() {
  local name=$1 port=$2; shift 2
  valgrind --tool=callgrind --callgrind-out-file="$work/$name.cg" "$@" >"$work/$name.out" 2>&1 & local pid=$!; pids+=($pid)
  wait_http -H "Host: acme.bench.test" "http://127.0.0.1:$port/" || { cat "$work/$name.out" >&2; exit 1; }
  ab -q -k -n 300 -c 4 -H "Host: acme.bench.test" "http://127.0.0.1:$port/" >/dev/null   # warm: tenant cached, pools filled
  callgrind_control -z "$pid" >/dev/null
  ab -q -k -n "$requests" -c 4 -H "Host: acme.bench.test" "http://127.0.0.1:$port/" > "$work/$name.ab"
  callgrind_control -d "$pid" >/dev/null
  sleep 1
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true   # SIGINT: fast shutdown (SIGTERM waits out a grace period)
  local total; total=$(for f in "$work/$name.cg"*; do callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}'; done | sort -n | tail -1)
  grep -q "Failed requests: *0" "$work/$name.ab" || { echo "$name: failed requests" >&2; cat "$work/$name.ab" >&2; }
  echo $(( total / requests ))
}
# Exported, not passed through `env`: valgrind must run the proxy itself, not a wrapper.
export BASECOMMERCE_PROXY__HTTP_LISTEN="127.0.0.1:$p_bc" BASECOMMERCE_PROXY__BASE_DOMAINS="[bench.test]" \
  BASECOMMERCE_PROXY__UPSTREAMS="[127.0.0.1:$backend]" BASECOMMERCE_PROXY__RATE_LIMIT_PER_MINUTE=1000000000 \
  BASECOMMERCE_PROXY__METRICS_LISTEN="127.0.0.1:$(free_port)" BASECOMMERCE_PROXY__UPGRADE_SOCK="$work/upgrade.sock" \
  BASECOMMERCE_PROXY__THREADS=1
proxy_ir=$(profile proxy "$p_bc" "$bin/basecommerce-proxy")
naive_ir=$(profile naive-pingora "$p_naive" "$bin/examples/naive_edge" "127.0.0.1:$p_naive" "127.0.0.1:$backend")
nginx_ir=$(profile nginx "$p_nginx" nginx -c "$work/nginx/edge.conf")
printf '\nInstructions per proxied request (callgrind, %s keep-alive requests, 1 worker each)\n' "$requests"
for row in "basecommerce-proxy $proxy_ir" "naive-pingora $naive_ir" "nginx $nginx_ir"; do
  set -- $row; printf '  %-20s %10s  %5sx nginx\n' "$1" "$2" "$(awk -v a="$2" -v b="$nginx_ir" 'BEGIN { printf "%.2f", a/b }')"
done
printf '\nTop functions of basecommerce-proxy (self instructions):\n'
f=$(ls -S "$work"/proxy.cg* | head -1)
python3 "$repo/bench/callgrind-self.py" "$f" 40
if [ -n "${BENCH_KEEP_PROFILE:-}" ]; then cp "$work"/proxy.cg* "$BENCH_KEEP_PROFILE"/ && echo "profiles copied to $BENCH_KEEP_PROFILE"; fi
