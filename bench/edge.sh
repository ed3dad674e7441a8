#!/usr/bin/env bash
# Edge benchmark: the same `return 200` upstream reached directly, through basecommerce-proxy
# (tenant check on, cache warm), through nginx configured equivalently (map on $host →
# X-Tenant-Slug, keepalive upstream), and through Caddy — all on loopback, same wrk settings, in
# one run. Prints a table with ratios and writes bench/results/edge-<date>.json.
# BENCH_PROXY_ENV="BASECOMMERCE_PROXY__WORK_STEALING=false" tries proxy settings.
#   ./bench/edge.sh [duration_seconds=10] [connections=64]
source "$(dirname "$0")/lib.sh"
duration=${1:-10}; conns=${2:-64}
need wrk:wrk nginx:nginx-light caddy:caddy
build
build_naive_edge
start_backing_services

backend=$(free_port); p_bc=$(free_port); p_nginx=$(free_port); p_caddy=$(free_port); p_naive=$(free_port)
mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx; uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  keepalive_requests 100000;
  server { listen 127.0.0.1:$backend; location / { return 200 "ok"; } }
  map \$host \$tenant { ~^(?<slug>[a-z0-9-]+)\.bench\.test\$ \$slug; default ""; }
  upstream backend { server 127.0.0.1:$backend; keepalive 64; }
  server {
    listen 127.0.0.1:$p_nginx;
    location / {
      if (\$tenant = "") { return 404; }
      proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header X-Tenant-Slug \$tenant; proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_pass http://backend;
    }
  }
}
NGINX
nginx -c "$work/nginx/nginx.conf" -g 'daemon off;' & pids+=($!)
cat > "$work/Caddyfile" <<CADDY
{
  admin off
  auto_https off
}
http://:$p_caddy {
  reverse_proxy 127.0.0.1:$backend {
    header_up X-Tenant-Slug {http.request.host.labels.2}
  }
}
CADDY
caddy run --config "$work/Caddyfile" --adapter caddyfile >/dev/null 2>&1 & pids+=($!)

BASECOMMERCE_PROXY__HTTP_LISTEN="127.0.0.1:$p_bc" BASECOMMERCE_PROXY__BASE_DOMAINS="[bench.test]" \
BASECOMMERCE_PROXY__UPSTREAMS="[127.0.0.1:$backend]" BASECOMMERCE_PROXY__RATE_LIMIT_PER_MINUTE=1000000000 \
BASECOMMERCE_PROXY__METRICS_LISTEN="127.0.0.1:$(free_port)" BASECOMMERCE_PROXY__UPGRADE_SOCK="$work/upgrade.sock" \
BASECOMMERCE_PROXY__THREADS="$cores" BASECOMMERCE_LOG__LEVEL=warn env ${BENCH_PROXY_ENV:-} "$bin/basecommerce-proxy" >/dev/null 2>"$work/proxy.err" & pids+=($!)

# The smallest Pingora proxy doing the same (proxy/examples/naive_edge.rs): Pingora's own floor.
THREADS="$cores" "$bin/examples/naive_edge" "127.0.0.1:$p_naive" "127.0.0.1:$backend" >/dev/null 2>&1 & pids+=($!)

wait_http "http://127.0.0.1:$backend/"
wait_http -H "Host: acme.bench.test" "http://127.0.0.1:$p_naive/"
wait_http -H "Host: acme.bench.test" "http://127.0.0.1:$p_nginx/"
wait_http "http://127.0.0.1:$p_caddy/" -H "Host: acme.bench.test"
wait_http -H "Host: acme.bench.test" "http://127.0.0.1:$p_bc/"

run() { # name port -> "rps p50_ms p99_ms"
  local out; out=$(wrk -t2 -c"$conns" -d"${duration}s" --latency -H "Host: acme.bench.test" "http://127.0.0.1:$2/")
  local rps p50 p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out"); p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $4}' <<<"$out"); non2xx=${non2xx:-0}
  to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v+0 } else { sub(/s$/,"",v); print v*1000 } }'; }
  echo "$1 $rps $(to_ms "$p50") $(to_ms "$p99") $non2xx"
}
# Warm: the tenant lookup happens once, then the cache answers.
for port in $p_bc $p_naive $p_nginx $p_caddy $backend; do wrk -t1 -c4 -d1s -H "Host: acme.bench.test" "http://127.0.0.1:$port/" >/dev/null; done
results=()
results+=("$(run direct "$backend")")
results+=("$(run basecommerce-proxy "$p_bc")")
results+=("$(run naive-pingora "$p_naive")")
results+=("$(run nginx "$p_nginx")")
results+=("$(run caddy "$p_caddy")")

nginx_rps=$(awk '$1=="nginx" {print $2}' <<<"$(printf '%s\n' "${results[@]}")")
direct_p99=$(awk '$1=="direct" {print $4}' <<<"$(printf '%s\n' "${results[@]}")")
printf '\nEdge benchmark — %s cores, wrk -t2 -c%s -d%ss, Host: acme.bench.test, upstream nginx `return 200`\n' "$cores" "$conns" "$duration"
printf '%-20s %12s %9s %9s %10s %8s\n' target req/s p50_ms p99_ms vs_nginx non2xx
json="["
for r in "${results[@]}"; do
  read -r name rps p50 p99 non <<<"$r"
  ratio=$(awk -v a="$rps" -v b="$nginx_rps" 'BEGIN { printf "%.2f", a/b }')
  printf '%-20s %12.0f %9.2f %9.2f %10s %8s\n' "$name" "$rps" "$p50" "$p99" "${ratio}x" "$non"
  json+="{\"target\":\"$name\",\"rps\":$rps,\"p50_ms\":$p50,\"p99_ms\":$p99,\"vs_nginx\":$ratio,\"non2xx\":$non},"
done
json="${json%,}]"
mkdir -p "$repo/bench/results"
out="$repo/bench/results/edge-$(date -u +%Y%m%dT%H%M%SZ).json"
echo "{\"date\":\"$(date -u +%FT%TZ)\",\"cores\":$cores,\"connections\":$conns,\"duration_s\":$duration,\"direct_p99_ms\":$direct_p99,\"results\":$json}" > "$out"
echo "written: $out"
