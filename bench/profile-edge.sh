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
(cd "$repo" && cargo build --profile profiling --bins --quiet)
bin="${CARGO_TARGET_DIR:-$repo/target}/profiling"
start_backing_services

backend=$(free_port); p_bc=$(free_port); p_nginx=$(free_port)
mkdir -p "$work/nginx"
cat > "$work/nginx/backend.conf" <<NGINX
worker_processes 1; pid $work/nginx/backend.pid; error_log $work/nginx/backend.log warn;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx; uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  server { listen 127.0.0.1:$backend; location / { return 200 "ok"; } } }
NGINX
cat > "$work/nginx/edge.conf" <<NGINX
worker_processes 1; master_process off; daemon off; pid $work/nginx/edge.pid; error_log $work/nginx/edge.log warn;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx; uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  keepalive_requests 100000;
  map \$host \$tenant { ~^(?<slug>[a-z0-9-]+)\.bench\.test\$ \$slug; default ""; }
  upstream backend { server 127.0.0.1:$backend; keepalive 64; }
  server { listen 127.0.0.1:$p_nginx;
    location / { if (\$tenant = "") { return 404; }
      proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header X-Tenant-Slug \$tenant;
      proxy_set_header X-Forwarded-For \$remote_addr; proxy_pass http://backend; } } }
NGINX
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
  kill "$pid"; wait "$pid" 2>/dev/null || true
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
nginx_ir=$(profile nginx "$p_nginx" nginx -c "$work/nginx/edge.conf")
printf '\nInstructions per proxied request (callgrind, %s keep-alive requests, 1 worker each)\n' "$requests"
printf '  basecommerce-proxy %12s\n  nginx              %12s\n  ratio              %12s\n' "$proxy_ir" "$nginx_ir" "$(awk -v a="$proxy_ir" -v b="$nginx_ir" 'BEGIN { printf "%.2fx", a/b }')"
printf '\nTop functions of basecommerce-proxy (self instructions):\n'
f=$(ls -S "$work"/proxy.cg* | head -1)
callgrind_annotate --inclusive=no "$f" 2>/dev/null | sed -n '/^Ir/,$p' | head -45
if [ -n "${BENCH_KEEP_PROFILE:-}" ]; then cp "$work"/proxy.cg* "$BENCH_KEEP_PROFILE"/ && echo "profiles copied to $BENCH_KEEP_PROFILE"; fi
