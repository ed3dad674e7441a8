#!/usr/bin/env bash
# Vertical benchmark, straight to basecommerce-vertical (no proxy) with a valid JWT:
#  * reads: GET /api/v1/products?limit=20 and GET /api/v1/quotes/{id} (wrk), beside
#    `pgbench -S` (select-only) on the same PostgreSQL, same connections and duration;
#  * writes: create a quote with 5 items → send → approve → convert to order, sequentially
#    (operations/s, each a few transactions with outbox events).
# Also the footprint: binary sizes, each service's RSS idle and after the read load, and the
# time from exec to a healthy /health for the vertical.
#   ./bench/vertical.sh [duration_seconds=10] [connections=32] [write_ops=200]
source "$(dirname "$0")/lib.sh"
duration=${1:-10}; conns=${2:-32}; writes=${3:-200}
need wrk:wrk pgbench:postgresql-contrib jq:jq
build
start_backing_services

port=$(free_port)
start_ns=$(date +%s%N)
BASECOMMERCE_VERTICAL__LISTEN="127.0.0.1:$port" "$bin/basecommerce-vertical" >/dev/null 2>"$work/vertical.err" & vpid=$!; pids+=($vpid)
wait_http "http://127.0.0.1:$port/health"
cold_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$1/status"; }
# The other three services idle beside it, for the footprint of the whole appliance.
export BASECOMMERCE_ENGINES__WORKER_HEALTH_LISTEN="127.0.0.1:0" BASECOMMERCE_ENGINES__RELAY_HEALTH_LISTEN="127.0.0.1:0"
"$bin/basecommerce-engines" relay >/dev/null 2>"$work/relay.err" & rpid=$!; pids+=($rpid)
"$bin/basecommerce-engines" worker >/dev/null 2>"$work/worker.err" & wpid=$!; pids+=($wpid)
BASECOMMERCE_PROXY__HTTP_LISTEN="127.0.0.1:$(free_port)" BASECOMMERCE_PROXY__BASE_DOMAINS="[bench.test]" \
BASECOMMERCE_PROXY__UPSTREAMS="[127.0.0.1:$port]" BASECOMMERCE_PROXY__METRICS_LISTEN="127.0.0.1:$(free_port)" \
BASECOMMERCE_PROXY__UPGRADE_SOCK="$work/upgrade.sock" "$bin/basecommerce-proxy" >/dev/null 2>"$work/proxy.err" & ppid=$!; pids+=($ppid)
sleep 3
idle_rss=$(rss "$vpid")
idle_all="proxy $(rss "$ppid") + vertical $idle_rss + relay $(rss "$rpid") + worker $(rss "$wpid") = $(( $(rss "$ppid") + idle_rss + $(rss "$rpid") + $(rss "$wpid") ))"

h=(-H "x-basecommerce-edge: $BASECOMMERCE_EDGE__SECRET" -H "x-tenant-slug: acme")
api() { curl -fsS "${h[@]}" -H "authorization: Bearer $token" -H 'content-type: application/json' "$@"; }
token=$(curl -fsS "${h[@]}" -H 'content-type: application/json' -d '{"email":"admin@acme.test","password":"bench password 1"}' "http://127.0.0.1:$port/auth/login" | jq -r .access_token)
products=()
for i in $(seq 1 25); do
  products+=("$(api -d "{\"code\":\"P$i\",\"name\":\"Product $i\",\"unit\":\"UN\",\"base_price\":\"$i.50\"}" "http://127.0.0.1:$port/api/v1/products" | jq -r .id)")
done
client=$(api -d '{"kind":"company","name":"Bench Client","document":"12.345.678/0001-90"}' "http://127.0.0.1:$port/api/v1/clients" | jq -r .id)
site=$(api -d "{\"client_id\":\"$client\",\"name\":\"Site\",\"city\":\"Campinas\",\"postal_code\":\"13010-000\"}" "http://127.0.0.1:$port/api/v1/sites" | jq -r .id)
items=$(printf '{"product_id":"%s","quantity":"2"},' "${products[@]:0:5}"); items="[${items%,}]"
quote_body="{\"client_id\":\"$client\",\"site_id\":\"$site\",\"items\":$items}"
quote=$(api -d "$quote_body" "http://127.0.0.1:$port/api/v1/quotes" | jq -r .id)

wrk_rps() { wrk -t2 -c"$conns" -d"${duration}s" "${h[@]}" -H "authorization: Bearer $token" "$1" | awk '/Requests\/sec/ {printf "%.0f", $2}'; }
wrk -t1 -c4 -d1s "${h[@]}" -H "authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/products?limit=20" >/dev/null
list_rps=$(wrk_rps "http://127.0.0.1:$port/api/v1/products?limit=20")
quote_rps=$(wrk_rps "http://127.0.0.1:$port/api/v1/quotes/$quote")
loaded_rss=$(rss "$vpid")

psql -X -q -h 127.0.0.1 -p "$pg_port" -U "$pg_super" -d postgres -c "CREATE DATABASE pgbench"
pgbench -q -i -s 10 -h 127.0.0.1 -p "$pg_port" -U "$pg_super" pgbench >/dev/null 2>&1
pgbench_tps=$(pgbench -n -S -c "$conns" -j 2 -T "$duration" -h 127.0.0.1 -p "$pg_port" -U "$pg_super" pgbench 2>/dev/null | awk '/^tps/ {printf "%.0f", $3}')

# The same read transaction the vertical runs for the products list (BEGIN READ ONLY, tenant
# binding, the page query, COMMIT), driven by pgbench as the app role: PostgreSQL's own ceiling
# for that request, without any HTTP, JSON or JWT work.
tenant_id=$(psql -X -At -h 127.0.0.1 -p "$pg_port" -U "$pg_super" -d basecommerce -c "SELECT id FROM tenants WHERE slug = 'acme'")
cat > "$work/products-read.sql" <<SQL
BEGIN READ ONLY;
SELECT set_config('app.tenant_id', '$tenant_id', true);
SELECT id, code, name, description, unit, base_price, active, created_at, updated_at FROM products WHERE tenant_id = '$tenant_id' ORDER BY created_at DESC, id DESC LIMIT 21;
COMMIT;
SQL
pg_user=${BASECOMMERCE_DATABASE__URL#postgres://}; pg_user=${pg_user%%@*}
same_tx_tps=$(pgbench -n -M prepared -f "$work/products-read.sql" -c "$conns" -j 2 -T "$duration" -h 127.0.0.1 -p "$pg_port" -U "$pg_user" basecommerce 2>/dev/null | awk '/^tps/ {printf "%.0f", $3}')

w_start=$(date +%s.%N)
for _ in $(seq 1 "$writes"); do
  q=$(api -d "$quote_body" "http://127.0.0.1:$port/api/v1/quotes" | jq -r .id)
  api -X POST -d '{}' "http://127.0.0.1:$port/api/v1/quotes/$q/send" >/dev/null
  api -X POST -d '{}' "http://127.0.0.1:$port/api/v1/quotes/$q/approve" >/dev/null
  api -X POST -d '{}' "http://127.0.0.1:$port/api/v1/orders/from-quote/$q" >/dev/null
done
w_end=$(date +%s.%N)
write_ops=$(awk -v n="$writes" -v a="$w_start" -v b="$w_end" 'BEGIN { printf "%.1f", n/(b-a) }')

sizes=$(for b in basecommerce-proxy basecommerce-vertical basecommerce-engines basecommerce; do printf '%s=%.1fMB ' "$b" "$(stat -c %s "$bin/$b" | awk '{print $1/1048576}')"; done)
printf '\nVertical benchmark — %s cores, wrk -t2 -c%s -d%ss, direct to the vertical with a JWT (%s build)\n' "$cores" "$conns" "$duration" "$bench_profile"
printf '%-52s %s\n' \
  "GET /api/v1/products?limit=20 (req/s)" "$list_rps" \
  "GET /api/v1/quotes/{id} (req/s)" "$quote_rps" \
  "pgbench -S, same PostgreSQL (tps)" "$pgbench_tps" \
  "products list vs pgbench -S" "$(awk -v a="$list_rps" -v b="$pgbench_tps" 'BEGIN { printf "%.2fx", a/b }')" \
  "quote by id vs pgbench -S" "$(awk -v a="$quote_rps" -v b="$pgbench_tps" 'BEGIN { printf "%.2fx", a/b }')" \
  "pgbench, the products list's own transaction (tps)" "$same_tx_tps" \
  "products list vs that transaction in pgbench" "$(awk -v a="$list_rps" -v b="$same_tx_tps" 'BEGIN { printf "%.2fx", a/b }')" \
  "quote(5 items) → send → approve → order (ops/s, 1 client)" "$write_ops" \
  "vertical RSS idle / after the read load (MB)" "$idle_rss / $loaded_rss" \
  "all four services idle, RSS (MB)" "$idle_all" \
  "vertical exec → healthy (ms)" "$cold_ms" \
  "binary sizes" "$sizes"
out="$repo/bench/results/vertical-$(date -u +%Y%m%dT%H%M%SZ).json"
echo "{\"date\":\"$(date -u +%FT%TZ)\",\"cores\":$cores,\"build\":\"$bench_profile\",\"connections\":$conns,\"products_rps\":$list_rps,\"quote_rps\":$quote_rps,\"pgbench_select_tps\":$pgbench_tps,\"pgbench_products_tx_tps\":$same_tx_tps,\"write_flows_per_s\":$write_ops,\"vertical_rss_idle_mb\":$idle_rss,\"vertical_rss_loaded_mb\":$loaded_rss,\"vertical_cold_start_ms\":$cold_ms}" > "$out"
echo "written: $out"
