#!/usr/bin/env bash
# System calls per proxied request: basecommerce-proxy and nginx (one worker each) under
# `strace -c` for the same keep-alive requests. Kernel time is part of every request's cost and
# callgrind does not see it; this shows whether the edge makes more trips into the kernel.
#   ./bench/syscalls-edge.sh [requests=5000]
source "$(dirname "$0")/lib.sh"
requests=${1:-5000}
need strace:strace ab:apache2-utils nginx:nginx-light
build
start_backing_services
backend=$(free_port); p_bc=$(free_port); p_nginx=$(free_port)
nginx_edge_configs "$backend" "$p_nginx"
nginx -c "$work/nginx/backend.conf" -g 'daemon off;' & pids+=($!)
wait_http "http://127.0.0.1:$backend/"
BASECOMMERCE_PROXY__HTTP_LISTEN="127.0.0.1:$p_bc" BASECOMMERCE_PROXY__BASE_DOMAINS="[bench.test]" \
BASECOMMERCE_PROXY__UPSTREAMS="[127.0.0.1:$backend]" BASECOMMERCE_PROXY__RATE_LIMIT_PER_MINUTE=1000000000 \
BASECOMMERCE_PROXY__METRICS_LISTEN="127.0.0.1:$(free_port)" BASECOMMERCE_PROXY__UPGRADE_SOCK="$work/upgrade.sock" \
BASECOMMERCE_PROXY__THREADS=1 "$bin/basecommerce-proxy" >/dev/null 2>"$work/proxy.err" & pids+=($!); proxy_pid=$!
nginx -c "$work/nginx/edge.conf" & pids+=($!); nginx_pid=$!
wait_http -H "Host: acme.bench.test" "http://127.0.0.1:$p_bc/"
wait_http -H "Host: acme.bench.test" "http://127.0.0.1:$p_nginx/"
count() { # name pid port
  ab -q -k -n 300 -c 4 -H "Host: acme.bench.test" "http://127.0.0.1:$3/" >/dev/null
  strace -f -c -o "$work/$1.strace" -p "$2" & local s=$!
  sleep 1
  ab -q -k -n "$requests" -c 4 -H "Host: acme.bench.test" "http://127.0.0.1:$3/" >/dev/null
  kill -INT $s; wait $s 2>/dev/null || true
  printf '\n%s: system calls per request\n' "$1"
  awk -v n="$requests" '$NF ~ /^[a-z_0-9]+$/ && $(NF-1) ~ /^[0-9]+$/ && $NF != "total" { printf "  %-16s %6.2f\n", $NF, $(NF-1)/n } $NF=="total" { printf "  %-16s %6.2f\n", "total", $(NF-1)/n }' "$work/$1.strace" | sort -k2 -nr | head -12
}
count basecommerce-proxy "$proxy_pid" "$p_bc"
count nginx "$nginx_pid" "$p_nginx"
