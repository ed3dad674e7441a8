#!/usr/bin/env bash
# Events benchmark: outbox insert → relay → Redis stream → worker → effect committed.
#  * throughput: N receipt events committed at once, time until every effect is committed;
#  * latency: pgbench inserts events at a fixed 1,000/s for T seconds; p50/p99 of
#    (effect committed − event committed);
#  * peer, same run: redis-benchmark XADD on the same Redis.
#   ./bench/events.sh [events=20000] [seconds_at_1k=10] [workers=2]
source "$(dirname "$0")/lib.sh"
n=${1:-20000}; secs=${2:-10}; workers=${3:-2}
need pgbench:postgresql-contrib redis-benchmark:redis-tools
build
start_backing_services
tenant=$(su_psql -c "SELECT id FROM tenants WHERE slug = 'acme'")
product=$(su_psql -c "BEGIN; SELECT set_config('app.tenant_id', '$tenant', true); INSERT INTO products (tenant_id, code, name, unit, base_price) VALUES ('$tenant', 'B1', 'Bench', 'UN', 1) RETURNING id; COMMIT;" | grep -E '^[0-9a-f-]{36}$' | tail -1)
export BASECOMMERCE_ENGINES__WORKER_HEALTH_LISTEN="127.0.0.1:0" BASECOMMERCE_ENGINES__RELAY_HEALTH_LISTEN="127.0.0.1:0"
"$bin/basecommerce-engines" relay >/dev/null 2>"$work/relay.err" & pids+=($!)
for _ in $(seq 1 "$workers"); do "$bin/basecommerce-engines" worker >/dev/null 2>>"$work/worker.err" & pids+=($!); done
sleep 1

insert_sql="INSERT INTO event_outbox (event_id, tenant_id, aggregate_type, aggregate_id, event_type, version, occurred_at, payload)
  SELECT gen_random_uuid(), '$tenant', 'stock', '$product', 'stock_received', 1, clock_timestamp(),
         jsonb_build_object('movement_id', gen_random_uuid(), 'product_id', '$product', 'quantity', '1')"
processed() { su_psql -c "SELECT count(*) FROM processed_events WHERE engine = 'stock'"; }

# Throughput.
start=$(date +%s.%N)
# Like the vertical, each writing transaction also notifies the relay (otherwise it only polls).
notify="SELECT pg_notify('basecommerce_outbox', '')"
su_psql -c "BEGIN; $insert_sql FROM generate_series(1, $n); $notify; COMMIT;"
while [ "$(processed)" -lt "$n" ]; do sleep 0.05; done
end=$(date +%s.%N)
tput=$(awk -v n="$n" -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", n/(b-a) }')

# Latency at 1,000 events/s.
before=$(processed)
printf 'BEGIN;\n%s;\n%s;\nCOMMIT;\n' "$(tr '\n' ' ' <<<"$insert_sql")" "$notify" > "$work/one.sql"
pgbench -n -h 127.0.0.1 -p "$pg_port" -U "$pg_super" -f "$work/one.sql" -R 1000 -T "$secs" -c 4 -j 2 basecommerce >"$work/pgbench.out" 2>&1
target=$((before + $(awk '/number of transactions actually processed/ {print $6}' "$work/pgbench.out" | cut -d/ -f1)))
while [ "$(processed)" -lt "$target" ]; do sleep 0.05; done
read -r p50 p99 < <(su_psql -F' ' -c "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2), round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2)
  FROM (SELECT extract(epoch FROM p.processed_at - o.occurred_at) * 1000 AS ms FROM processed_events p JOIN event_outbox o USING (event_id)
        WHERE p.engine = 'stock' ORDER BY o.id DESC LIMIT $((target - before))) t")

xadd=$(redis-benchmark -p "$redis_port" -n 200000 -q XADD bench:xadd '*' event payload | awk '{for (i=1;i<=NF;i++) if ($i ~ /requests/) print $(i-1)}' | head -1)
onhand=$(su_psql -c "SELECT on_hand FROM stock_levels")

printf '\nEvents benchmark — %s cores, 1 relay + %s workers\n' "$cores" "$workers"
printf '%-46s %s\n' "outbox → effect, burst of $n (events/s)" "$tput" \
  "latency at 1,000/s for ${secs}s: p50 / p99 (ms)" "$p50 / $p99" \
  "redis-benchmark XADD (req/s, same Redis)" "$xadd" \
  "end to end vs raw XADD" "$(awk -v a="$tput" -v b="$xadd" 'BEGIN { printf "%.3fx", a/b }')" \
  "effects check: on_hand (= every event once)" "$onhand"
out="$repo/bench/results/events-$(date -u +%Y%m%dT%H%M%SZ).json"
echo "{\"date\":\"$(date -u +%FT%TZ)\",\"cores\":$cores,\"workers\":$workers,\"burst_events\":$n,\"events_per_s\":$tput,\"rate_1k_p50_ms\":$p50,\"rate_1k_p99_ms\":$p99,\"redis_xadd_per_s\":${xadd:-0},\"on_hand\":$onhand}" > "$out"
echo "written: $out"
