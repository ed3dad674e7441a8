# Shared by the bench scripts: a throw-away PostgreSQL + Redis + migrated database with one
# tenant, release binaries, and helpers. Sourced, not run.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
chmod 755 "$work"
# BENCH_PROFILE=profiling reuses the thin-LTO build of bench/profile-edge.sh (quicker to build;
# figures are then a little below those of the fat-LTO release build).
bench_profile=${BENCH_PROFILE:-release}
bin="${CARGO_TARGET_DIR:-$repo/target}/$bench_profile"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${redis_port:-}" ] && redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  [ -d "$work/pg" ] && as_pg "$pg_bin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pg_super=$([ "$(id -u)" = 0 ] && echo postgres || id -un)
cores=$(nproc)

need() { # apt packages for commands
  local missing=()
  for pair in "$@"; do cmd=${pair%%:*}; pkg=${pair#*:}; command -v "$cmd" >/dev/null || missing+=("$pkg"); done
  if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "install: ${missing[*]}" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

build() {
  echo "==> cargo build --profile $bench_profile (several minutes when cold)" >&2
  (cd "$repo" && cargo build --profile "$bench_profile" --bins --quiet)
}

# The minimal Pingora proxy the edge figures are compared with (proxy/examples/naive_edge.rs);
# only the edge scripts need it, and an example also builds the crate's dev-dependencies.
build_naive_edge() {
  (cd "$repo" && cargo build --profile "$bench_profile" -p basecommerce-proxy --example naive_edge --quiet)
}

start_backing_services() {
  mkdir -p "$work/pg"; [ "$(id -u)" = 0 ] && chown postgres "$work/pg"
  pg_port=$(free_port); redis_port=$(free_port)
  as_pg "$pg_bin/initdb" -D "$work/pg" -U "$pg_super" --auth=trust -E UTF8 --locale=C >/dev/null
  as_pg "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg/log" -w -o "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$work/pg -c max_connections=200 -c shared_buffers=256MB" start >/dev/null
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes --dir "$work" --logfile "$work/redis.log"
  psql -X -q -h 127.0.0.1 -p "$pg_port" -U "$pg_super" -d postgres \
    -c "CREATE ROLE basecommerce_owner LOGIN" -c "CREATE ROLE basecommerce_app NOLOGIN" -c "CREATE ROLE basecommerce_relay NOLOGIN" \
    -c "CREATE ROLE bc LOGIN IN ROLE basecommerce_app" -c "CREATE ROLE bc_engines LOGIN IN ROLE basecommerce_app, basecommerce_relay" \
    -c "CREATE DATABASE basecommerce OWNER basecommerce_owner"
  export BASECOMMERCE_DATABASE__URL="postgres://bc@127.0.0.1:$pg_port/basecommerce?sslmode=disable"
  export BASECOMMERCE_DATABASE__MIGRATE_URL="postgres://basecommerce_owner@127.0.0.1:$pg_port/basecommerce?sslmode=disable"
  export BASECOMMERCE_ENGINES__DATABASE_URL="postgres://bc_engines@127.0.0.1:$pg_port/basecommerce?sslmode=disable"
  export BASECOMMERCE_REDIS__URL="redis://127.0.0.1:$redis_port"
  export BASECOMMERCE_AUTH__JWT_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
  export BASECOMMERCE_EDGE__SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
  export BASECOMMERCE_LOG__LEVEL=warn
  "$bin/basecommerce" migrate >/dev/null
  "$bin/basecommerce" tenant create acme --name "ACME" --admin-email admin@acme.test --admin-password-file <(echo "bench password 1") >/dev/null
}

su_psql() { psql -X -q -t -A -h 127.0.0.1 -p "$pg_port" -U "$pg_super" -d basecommerce "$@"; }
wait_http() { for _ in $(seq 1 200); do curl -fs -o /dev/null "$@" && return 0; sleep 0.05; done; echo "not up: $*" >&2; return 1; }

# nginx_edge_configs BACKEND_PORT EDGE_PORT: writes $work/nginx/backend.conf (`return 200`) and
# $work/nginx/edge.conf (one worker, map on $host → X-Tenant-Slug, keepalive upstream), the pair
# the single-worker edge measurements compare against.
nginx_edge_configs() {
  local backend=$1 edge=$2
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
  server { listen 127.0.0.1:$edge;
    location / { if (\$tenant = "") { return 404; }
      proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header X-Tenant-Slug \$tenant;
      proxy_set_header X-Forwarded-For \$remote_addr; proxy_pass http://backend; } } }
NGINX
}
