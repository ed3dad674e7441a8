#!/usr/bin/env bash
# The appliance on a real systemd: boots Debian 12 (bookworm) and Debian 13 (trixie) root file
# systems with systemd-nspawn, copies the binaries in, runs install.sh --tls self-signed and checks
# what the appliance issue's "Must show" lists. Needs root; called by tests/run.sh.
#
#   sudo tests/appliance/run.sh                    # both releases
#   BASECOMMERCE_APPLIANCE_RELEASES=bookworm sudo tests/appliance/run.sh
#
# Environment:
#   BASECOMMERCE_APPLIANCE_BIN       directory with prebuilt binaries (default: cargo build --profile appliance)
#   BASECOMMERCE_APPLIANCE_RELEASES  Debian releases to test (default "bookworm trixie")
#   BASECOMMERCE_CI_CACHE            rootfs tarballs and apt archives (default /var/cache/basecommerce-ci)
#   BASECOMMERCE_APPLIANCE_KEEP=1    keep the root filesystem of a failed run for inspection
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${BASECOMMERCE_CI_CACHE:-/var/cache/basecommerce-ci}
releases=${BASECOMMERCE_APPLIANCE_RELEASES:-bookworm trixie}
domain=example.test
readonly SERVICES=(basecommerce-vertical basecommerce-relay basecommerce-worker basecommerce-proxy)

say() { printf '\033[1m==> [%s] %s\033[0m\n' "${release:-appliance}" "$*"; }
pass() { printf '    \033[32mPASS\033[0m %s\n' "$*"; passed+=("$release: $*"); }
fail() { printf '    \033[31mFAIL\033[0m %s\n' "$*" >&2; exit 1; }
passed=()

if [ "$(id -u)" != 0 ]; then
  printf '\n\033[33m!!! SKIPPED: the appliance test (systemd-nspawn) needs root: sudo tests/appliance/run.sh\033[0m\n\n' >&2
  exit 0
fi
for cmd in systemd-nspawn debootstrap nsenter curl; do
  command -v "$cmd" >/dev/null || { echo "appliance test: $cmd missing (tests/ensure-packages.sh test installs it)" >&2; exit 1; }
done

# --- binaries -----------------------------------------------------------------------------------
if [ -n "${BASECOMMERCE_APPLIANCE_BIN:-}" ]; then
  bin=$BASECOMMERCE_APPLIANCE_BIN
else
  say "building the binaries (cargo --profile appliance)"
  (cd "$repo" && cargo build --locked --profile appliance --bins -p basecommerce-vertical -p basecommerce-admin -p basecommerce-proxy -p basecommerce-engines)
  bin="${CARGO_TARGET_DIR:-$repo/target}/appliance"
fi
for b in basecommerce basecommerce-vertical basecommerce-proxy basecommerce-engines; do
  [ -x "$bin/$b" ] || { echo "appliance test: $bin/$b missing" >&2; exit 1; }
done

# --- container plumbing -------------------------------------------------------------------------
root="" nspawn_pid="" pid1=""
boot() {
  mkdir -p "$cache/apt-$release"
  SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 setsid systemd-nspawn -q -D "$root" -b --register=no --keep-unit \
    -M "bc-$release" --console=read-only --bind="$cache/apt-$release:/var/cache/apt/archives" \
    >>"$root.console.log" 2>&1 &
  nspawn_pid=$!
  pid1=""
  local i
  for i in $(seq 1 200); do
    pid1=$(pgrep -P "$nspawn_pid" -x systemd || true)
    [ -n "$pid1" ] && break
    kill -0 "$nspawn_pid" 2>/dev/null || fail "systemd-nspawn exited: $(tail -n 20 "$root.console.log")"
    sleep 0.05
  done
  [ -n "$pid1" ] || fail "no systemd inside the container"
  # Wait until systemd inside answers on its bus.
  wait_until 300 inside systemctl show -p Version >/dev/null 2>&1 || fail "systemd inside the container does not answer" 
}
# Issue 15, finding 7: the Redis credential each unit really loads is its own ACL user, refused
# what its service does not do (on a shared password every one of these commands succeeds).
check_redis_users() {
  local unit url out args
  refused() { # unit, command...
    unit=$1; shift
    url=$(inside systemctl cat "$unit" | sed -n 's|^LoadCredential=redis.url:||p')
    [ -n "$url" ] || fail "$unit loads no redis.url credential"
    out=$(inside sh -c 'redis-cli --no-auth-warning -u "$(cat "$0")" "$@" 2>&1' "$url" "$@" || true)
    grep -q NOPERM <<<"$out" || fail "$unit's Redis credential ($url) may run '$*': $out"
  }
  for unit in basecommerce-proxy basecommerce-vertical; do
    refused "$unit" XADD events:construction '*' type forged event '{}'
    refused "$unit" XRANGE events:construction - +
  done
  refused basecommerce-proxy PUBLISH basecommerce:user-changes x
  refused basecommerce-vertical PUBLISH basecommerce:tenant-changes x
  refused basecommerce-relay XREADGROUP GROUP engines c STREAMS events:construction '>'
  refused basecommerce-relay XADD events:dlq '*' a b
  refused basecommerce-worker XTRIM events:construction MAXLEN 0
  for unit in "${SERVICES[@]}"; do refused "$unit" CONFIG GET requirepass; refused "$unit" FLUSHALL; done
  inside grep -q '^user basecommerce-relay reset on #[0-9a-f]\{64\} ' /etc/redis/basecommerce.conf || fail "no relay user (by password digest) in /etc/redis/basecommerce.conf"
  pass "each service has its own Redis user (proxy, vertical, relay, worker; passwords as SHA-256 in redis.conf): NOPERM outside its commands, keys and channels"
}

inside() {
  nsenter -t "$pid1" -a -- env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb "$@"
}
shutdown_container() {
  [ -n "$nspawn_pid" ] || return 0
  if kill -0 "$nspawn_pid" 2>/dev/null; then
    inside systemctl poweroff --no-block >/dev/null 2>&1 || kill "$nspawn_pid" 2>/dev/null || true
    local i; for i in $(seq 1 600); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$nspawn_pid" 2>/dev/null || true
  fi
  wait "$nspawn_pid" 2>/dev/null || true
  nspawn_pid=""
}
client_pids=()
cleanup() {
  local rc=$?
  [ ${#client_pids[@]} -eq 0 ] || kill "${client_pids[@]}" 2>/dev/null || true
  shutdown_container
  if [ -n "$root" ] && [ -d "$root" ]; then
    if [ "$rc" != 0 ] && [ "${BASECOMMERCE_APPLIANCE_KEEP:-}" = 1 ]; then echo "kept $root" >&2
    else rm -rf "$root" "$root".*.log; fi
  fi
}
trap cleanup EXIT

# --- checks -------------------------------------------------------------------------------------
main_pids() { local s; for s in "${SERVICES[@]}"; do printf '%s=%s ' "$s" "$(inside systemctl show -p MainPID --value "$s")"; done; }
fingerprint() { # everything install.sh manages, with modes and owners
  inside sh -c 'find /etc/basecommerce /etc/systemd/system /opt/basecommerce /etc/redis /etc/postgresql /etc/pgbackrest.conf /usr/local/bin/basecommerce \
    \( -type f -o -type l \) -printf "%p %m %u:%g %l\n" 2>/dev/null | sort; \
    find /etc/basecommerce /etc/systemd/system /etc/redis /etc/postgresql /opt/basecommerce -type f -exec sha256sum {} + | sort'
}
request() { # host path → body; fails on non-2xx
  curl -fsS -k --max-time 10 --resolve "$1:443:127.0.0.1" "https://$1$2"
}
wait_until() { # tries, command...: retries every 0.2 s
  local tries=$1; shift
  until "$@"; do tries=$((tries - 1)); [ "$tries" -gt 0 ] || return 1; sleep 0.2; done
}
all_active() { local s; for s in "${SERVICES[@]}"; do [ "$(inside systemctl is-active "$s")" = active ] || return 1; done; }
system_running() { [ "$(inside systemctl is-system-running --wait 2>/dev/null)" = running ]; }
tenant_is() { request "$1.$domain" /tenant.json 2>/dev/null | grep "\"slug\": *\"$1\"" >/dev/null; }
install_sh() { inside /root/basecommerce/install.sh --domain "$domain" --email ops@$domain --tls self-signed --from /root/basecommerce/bin "$@"; }

check_units_and_system() {
  wait_until 150 all_active || { inside systemctl --no-pager status 'basecommerce*' >&2 || true; fail "not every unit is active"; }
  local t
  for t in pgbackrest-backup@full.timer pgbackrest-backup@diff.timer; do
    [ "$(inside systemctl is-active "$t")" = active ] || fail "$t is not active"
  done
  pass "every unit active (${SERVICES[*]}, backup timers)"
  system_running || { inside systemctl --no-pager --failed >&2; fail "systemctl is-system-running is $(inside systemctl is-system-running)"; }
  pass "systemctl is-system-running = running"
}
check_request() {
  wait_until 100 tenant_is demo || fail "https://demo.$domain/tenant.json through the proxy: $(request "demo.$domain" /tenant.json 2>&1 || true)"
  pass "request with Host demo.$domain reaches the vertical as tenant demo"
}

run_release() {
  release=$1
  local tarball t0 t_healthy
  tarball=$("$repo/tests/appliance/rootfs.sh" "$release")
  root=$(mktemp -d "/var/tmp/bc-appliance-$release.XXXXXX")
  t0=$(date +%s.%N)
  say "fresh root filesystem from $tarball"
  tar -xf "$tarball" -C "$root"
  echo "bc-$release" > "$root/etc/hostname"
  mkdir -p "$root/root/basecommerce/bin"
  cp -r "$repo/install.sh" "$repo/systemd" "$repo/README.md" "$root/root/basecommerce/"
  mkdir -p "$root/root/basecommerce/infra" && cp -r "$repo/infra/monitoring" "$root/root/basecommerce/infra/"
  cp "$bin"/basecommerce "$bin"/basecommerce-vertical "$bin"/basecommerce-proxy "$bin"/basecommerce-engines "$root/root/basecommerce/bin/"
  boot
  say "booted; running install.sh"
  install_sh --tenant demo --admin-email "admin@demo.$domain" > "$root.install1.log" 2>&1 \
    || { cat "$root.install1.log" >&2; fail "install.sh failed"; }
  check_units_and_system
  check_request
  t_healthy=$(date +%s.%N)
  local secs; secs=$(awk -v a="$t0" -v b="$t_healthy" 'BEGIN {printf "%.1f", b - a}')
  pass "fresh root filesystem → all units healthy in ${secs} s (install.sh log: apt, PostgreSQL, Redis, migrations, tenant)"
  timings+=("$release: ${secs} s from fresh root filesystem to healthy")

  # journald: each service's start-up line, under its own identifier.
  local s line
  for s in "${SERVICES[@]}"; do
    case "$s" in
      basecommerce-vertical) line="vertical listening" ;;
      basecommerce-proxy) line="proxy ready" ;;
      basecommerce-relay) line="relay is the leader" ;;
      basecommerce-worker) line="worker ready" ;;
    esac
    inside journalctl -u "$s" -b --no-pager -o cat | grep "$line" >/dev/null || fail "journalctl -u $s has no '$line'"
    inside journalctl -t "$s" -b --no-pager -o cat | grep "$line" >/dev/null || fail "journalctl -t $s has no '$line'"
  done
  inside journalctl -u basecommerce-proxy -b --no-pager -o cat | grep '"tenant":"demo"' >/dev/null || fail "no access-log line of tenant demo in journalctl -u basecommerce-proxy"
  pass "journalctl -u/-t shows each service's start-up line; a tenant's requests are found with grep '\"tenant\":\"demo\"'"

  # Another tenant through the same proxy gets its own identity; unknown tenants stop at the edge.
  inside basecommerce tenant create acme --name "Acme Materiais" >/dev/null
  wait_until 50 tenant_is acme || fail "tenant acme not served"
  tenant_is demo || fail "tenant demo lost"
  local code; code=$(curl -s -k -o /dev/null -w '%{http_code}' --resolve "nope.$domain:443:127.0.0.1" "https://nope.$domain/tenant.json")
  [ "$code" = 404 ] || fail "unknown tenant answered $code, not 404"
  pass "tenants acme and demo each get their own data; unknown tenant → 404 at the edge"

  check_redis_users

  # Re-running install.sh changes nothing: same files, same processes.
  local before_fp before_pids
  before_fp=$(fingerprint); before_pids=$(main_pids)
  install_sh --tenant demo --admin-email "admin@demo.$domain" > "$root.install2.log" 2>&1 \
    || { cat "$root.install2.log" >&2; fail "second install.sh failed"; }
  grep -q "nothing changed" "$root.install2.log" || { cat "$root.install2.log" >&2; fail "second install.sh reported changes"; }
  [ "$(fingerprint)" = "$before_fp" ] || { diff <(echo "$before_fp") <(fingerprint) >&2 || true; fail "second install.sh changed files"; }
  [ "$(main_pids)" = "$before_pids" ] || fail "second install.sh restarted services: $before_pids → $(main_pids)"
  pass "re-running install.sh changes nothing (files, modes, owners, service PIDs)"

  check_doctor
  check_monitoring
  check_reload_loses_nothing
  check_worker_sigkill
  check_point_in_time_restore
  check_backup_hardening
  check_security
  check_tarball_checksum
  check_upgrade_and_rollback
  check_tls_files
  check_reboot
  check_uninstall
  shutdown_container
  rm -rf "$root" "$root".*.log; root=""
}

check_reload_loses_nothing() {
  local old new dir; dir=$(mktemp -d)
  # The request loops come from one IP: lift the per-IP rate limit (an operator drop-in, which
  # --uninstall must remove too).
  inside mkdir -p /etc/systemd/system/basecommerce-proxy.service.d
  printf '[Service]\nEnvironment=BASECOMMERCE_PROXY__RATE_LIMIT_PER_MINUTE=1000000\n' \
    > "$root/etc/systemd/system/basecommerce-proxy.service.d/test-rate-limit.conf"
  inside systemctl daemon-reload
  inside systemctl restart basecommerce-proxy
  check_request
  old=$(inside systemctl show -p MainPID --value basecommerce-proxy)
  # Four clients, each a new connection per request, until told to stop; every failure is kept.
  local c
  for c in 1 2 3 4; do
    ( n=0; f=0
      while [ ! -e "$dir/stop" ]; do
        if request "demo.$domain" /tenant.json 2>>"$dir/errors" | grep '"slug"' >/dev/null; then n=$((n + 1)); else f=$((f + 1)); fi
      done
      echo "$n $f" > "$dir/client$c" ) &
    client_pids+=($!)
  done
  sleep 1   # let the clients get going (not an assertion)
  inside systemctl reload basecommerce-proxy || fail "systemctl reload basecommerce-proxy failed"
  new=$(inside systemctl show -p MainPID --value basecommerce-proxy)
  inside systemctl reload basecommerce-proxy || fail "second systemctl reload failed"
  local newer; newer=$(inside systemctl show -p MainPID --value basecommerce-proxy)
  # Keep the loop going until both old processes have drained and exited.
  wait_until 200 sh -c "! kill -0 $old 2>/dev/null && ! kill -0 $new 2>/dev/null" || fail "old proxy processes did not exit"
  touch "$dir/stop"; wait "${client_pids[@]}"; client_pids=()
  local ok=0 bad=0 n f
  for c in 1 2 3 4; do read -r n f < "$dir/client$c"; ok=$((ok + n)); bad=$((bad + f)); done
  [ "$old" != "$new" ] && [ "$new" != "$newer" ] || fail "MainPID did not follow the reloads ($old → $new → $newer)"
  [ "$(inside systemctl is-active basecommerce-proxy)" = active ] || fail "proxy not active after reload"
  [ "$bad" = 0 ] || fail "$bad of $((ok + bad)) requests failed during reloads: $(sort "$dir/errors" | uniq -c | head -5)"
  [ "$ok" -gt 0 ] || fail "no request was made during the reloads"
  rm -rf "$dir"
  pass "2 × systemctl reload basecommerce-proxy under 4 request loops: $ok requests, 0 lost; MainPID $old → $new → $newer"
}

check_doctor() {
  local out
  out=$(inside basecommerce doctor 2>&1) || fail "basecommerce doctor fails on a healthy install: $out"
  grep -q "all checks passed" <<<"$out" || fail "doctor: $out"
  # Break two things; doctor must name both, with the fixing commands, and exit non-zero.
  inside systemctl stop basecommerce-worker
  inside chmod 0644 /etc/basecommerce/credentials/edge.secret
  if out=$(inside basecommerce doctor 2>&1); then fail "doctor exits 0 with a stopped worker and a world-readable secret: $out"; fi
  grep -q "FAIL  units .*basecommerce-worker.service is inactive" <<<"$out" || fail "doctor does not report the stopped worker: $out"
  grep -q "fix: systemctl restart basecommerce-worker.service" <<<"$out" || fail "doctor gives no fix for the worker: $out"
  grep -q "FAIL  credentials .*edge.secret is 644" <<<"$out" || fail "doctor does not report the credential's mode: $out"
  grep -q "fix: chown -R root:root /etc/basecommerce/credentials && chmod 0700" <<<"$out" || fail "doctor gives no fix for the credentials: $out"
  inside chmod 0600 /etc/basecommerce/credentials/edge.secret
  inside systemctl start basecommerce-worker
  inside basecommerce doctor >/dev/null 2>&1 || fail "doctor still fails after the fixes"
  pass "basecommerce doctor: passes when healthy; names a stopped unit and a readable secret with their fixes, exit 1"
}

# Prometheus shares the host's network namespace with the container: asked from the host.
prometheus_api() { curl -fsS "http://127.0.0.1:9090/api/v1/$1"; }
targets_up() { # every job of the role scraped, every target up
  prometheus_api targets | python3 -c '
import json, sys
targets = json.load(sys.stdin)["data"]["activeTargets"]
jobs = {t["labels"]["job"] for t in targets}
sys.exit(0 if {"prometheus", "node", "proxy", "vertical", "relay", "worker"} <= jobs and all(t["health"] == "up" for t in targets) else 1)'
}
check_monitoring() {
  install_sh --monitoring > "$root.monitoring.log" 2>&1 || { cat "$root.monitoring.log" >&2; fail "install.sh --monitoring failed"; }
  wait_until 300 targets_up || fail "Prometheus targets not all up after 60 s: $(prometheus_api targets | head -c 3000)"
  local rules listening
  rules=$(prometheus_api rules | python3 -c 'import json, sys; print(sum(len(g["rules"]) for g in json.load(sys.stdin)["data"]["groups"]))')
  [ "$rules" -ge 10 ] || fail "Prometheus loaded $rules rules, not the shipped alerts"
  listening=$(inside ss -Hltn '( sport = :9090 or sport = :9100 )' | awk '{print $4}' | sort -u | tr '\n' ' ')
  [ "$listening" = "127.0.0.1:9090 127.0.0.1:9100 " ] || fail "Prometheus/node exporter listen on: $listening (loopback only expected)"
  install_sh > "$root.monitoring2.log" 2>&1 || { cat "$root.monitoring2.log" >&2; fail "install.sh after --monitoring failed"; }
  grep -q "nothing changed" "$root.monitoring2.log" || { cat "$root.monitoring2.log" >&2; fail "re-running install.sh after --monitoring changed things"; }
  pass "install.sh --monitoring: Prometheus + node exporter on loopback only, $rules shipped alert rules loaded, every target up (proxy, vertical, relay, worker, node); a re-run changes nothing"
  # basecommerce status finds an extra worker through systemd and reads its own endpoint.
  inside systemctl start basecommerce-worker@11
  worker11_up() { inside basecommerce status --json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)
sys.exit(0 if any(e["service"] == "worker@11" and e["up"] and e["address"] == "127.0.0.1:9111" for e in s["endpoints"]) else 1)'; }
  wait_until 100 worker11_up || fail "basecommerce status does not show worker@11 up: $(inside basecommerce status 2>&1 | head -n 30)"
  inside systemctl stop basecommerce-worker@11
  pass "basecommerce status discovers basecommerce-worker@11 and reads its endpoint (127.0.0.1:9111)"
}

login_status() { # email password → HTTP status of a login through the proxy
  curl -s -k -o /dev/null -w '%{http_code}' --resolve "demo.$domain:443:127.0.0.1" -H 'content-type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"$2\"}" "https://demo.$domain/auth/login"
}
check_point_in_time_restore() {
  local email="keeper@demo.$domain" pw="Keeper-password-2026" t code out
  printf '%s\n' "$pw" | inside basecommerce user create demo "$email" --role seller --password-file - >/dev/null
  psql_su() { inside runuser -u postgres -- psql -X -tA -d basecommerce -c "$1"; }
  [ "$(psql_su "SELECT count(*) FROM users WHERE email = '$email'")" = 1 ] || fail "user not created"
  t=$(psql_su "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
  # The mistake: the tenant's user is deleted (as an operator with too much power would).
  psql_su "DELETE FROM users WHERE email = '$email'" >/dev/null
  code=$(login_status "$email" "$pw"); [ "$code" = 401 ] || fail "login of the deleted user answered $code, not 401"
  out=$(inside basecommerce backup status 2>&1) || fail "basecommerce backup status: $out"
  grep -q "full" <<<"$out" || fail "backup status shows no full backup: $out"
  out=$(inside basecommerce restore --to "$t" 2>&1) || fail "basecommerce restore --to $t: $out"
  check_units_and_system
  [ "$(psql_su "SELECT count(*) FROM users WHERE email = '$email'")" = 1 ] || fail "the deleted user is not back after restore --to $t"
  wait_until 50 sh -c "[ \"\$(curl -s -k -o /dev/null -w '%{http_code}' --resolve demo.$domain:443:127.0.0.1 -H 'content-type: application/json' -d '{\"email\":\"$email\",\"password\":\"$pw\"}' https://demo.$domain/auth/login)\" = 200 ]" \
    || fail "the restored user cannot log in: $(login_status "$email" "$pw")"
  tenant_is acme || fail "tenant acme (created before $t) lost by the restore"
  pass "point-in-time restore (pgBackRest, --to $t) brings back tenant demo's deleted user: login 401 → 200"
}

# Issue 15, finding 11: the backup repository is encrypted, and the backup unit's root step
# (the Redis AOF copy) writes only where postgres cannot plant links.
check_backup_hardening() {
  local info
  info=$(inside sh -c 'cd / && runuser -u postgres -- pgbackrest --stanza=basecommerce --output=json info') || fail "pgbackrest info: $info"
  grep -q '"cipher":"aes-256-cbc"' <<<"$info" || fail "the pgBackRest repository is not encrypted: $info"
  inside grep -q '^repo1-cipher-pass=[0-9a-f]\{64\}$' /etc/pgbackrest.conf || fail "no generated repo1-cipher-pass in /etc/pgbackrest.conf"
  inside systemctl start pgbackrest-backup@diff.service || fail "a diff backup failed: $(inside journalctl -u pgbackrest-backup@diff -n 20 --no-pager)"
  inside test -d /var/backups/basecommerce-redis/aof || fail "the backup did not copy the Redis AOF to /var/backups/basecommerce-redis/aof"
  [ "$(inside stat -c '%U %a' /var/backups/basecommerce-redis)" = "root 700" ] || fail "/var/backups/basecommerce-redis is not root's alone"
  inside test ! -e /var/lib/pgbackrest/redis-aof || fail "root still writes the AOF copy into postgres's /var/lib/pgbackrest"
  pass "pgBackRest repository encrypted (aes-256-cbc, generated pass kept across re-runs); the AOF copy goes to a root-only directory"
}

# Issue 15, finding 11: a --from tarball is unpacked only when its SHA-256 matches.
check_tarball_checksum() {
  local out
  inside tar -C /root/basecommerce -cf /root/release.tar bin
  out=$(install_sh_from /root/release.tar 2>&1) && fail "a tarball without a checksum was installed: $out"
  grep -q "no checksum to verify it against" <<<"$out" || fail "no clear refusal of an unverified tarball: $out"
  inside sh -c 'echo "0000000000000000000000000000000000000000000000000000000000000000  release.tar" > /root/release.tar.sha256'
  out=$(install_sh_from /root/release.tar 2>&1) && fail "a tarball with a wrong checksum was installed: $out"
  grep -q "SHA-256 mismatch" <<<"$out" || fail "no clear refusal of a mismatching tarball: $out"
  inside sh -c 'cd /root && sha256sum release.tar > release.tar.sha256'
  out=$(install_sh_from /root/release.tar 2>&1) || fail "the verified tarball was refused: $out"
  grep -q "SHA-256 verified" <<<"$out" || fail "install.sh did not say it verified the tarball: $out"
  pass "install.sh --from TARBALL: refused without a checksum and on a mismatch, installed when TARBALL.sha256 matches"
}
install_sh_from() { inside /root/basecommerce/install.sh --domain "$domain" --email "ops@$domain" --tls self-signed --from "$1"; }

check_worker_sigkill() {
  local old new
  old=$(inside systemctl show -p MainPID --value basecommerce-worker)
  inside systemctl kill -s KILL basecommerce-worker
  new_worker() { new=$(inside systemctl show -p MainPID --value basecommerce-worker); [ "$new" != 0 ] && [ "$new" != "$old" ] && [ "$(inside systemctl is-active basecommerce-worker)" = active ]; }
  wait_until 150 new_worker || fail "worker not restarted after SIGKILL"
  inside journalctl -u basecommerce-worker -b --no-pager | grep "status=9/KILL" >/dev/null || fail "journal does not show the SIGKILL"
  pass "SIGKILL of the worker (pid $old) → restarted by systemd (pid $new)"
}

check_security() {
  local s score out
  for s in "${SERVICES[@]}" basecommerce-worker@11 pgbackrest-backup@full; do
    out=$(inside systemd-analyze security "$s.service" 2>&1 | tail -n1)
    score=$(printf '%s' "$out" | sed -n 's/.*: \([0-9.]*\) .*/\1/p')
    [ -n "$score" ] || fail "systemd-analyze security $s: $out"
    awk -v s="$score" 'BEGIN {exit !(s <= 2.0)}' || fail "systemd-analyze security $s = $score (> 2.0)"
    printf '    %s: %s\n' "$s" "$score"
  done
  pass "systemd-analyze security ≤ 2.0 for every unit"
}

check_upgrade_and_rollback() {
  # A "new release": the same binaries with a trailing byte (still valid ELF, a different hash).
  inside sh -c 'rm -rf /root/next && mkdir -p /root/next && cp /root/basecommerce/bin/* /root/next/ && printf "\0" >> /root/next/basecommerce-proxy'
  local before after proxy_before proxy_after out
  before=$(inside readlink /opt/basecommerce/current)
  proxy_before=$(inside systemctl show -p MainPID --value basecommerce-proxy)
  out=$(inside /root/basecommerce/install.sh --domain "$domain" --email "ops@$domain" --tls self-signed --from /root/next 2>&1) \
    || fail "upgrade with install.sh --from failed: $out"
  after=$(inside readlink /opt/basecommerce/current)
  proxy_after=$(inside systemctl show -p MainPID --value basecommerce-proxy)
  [ "$before" != "$after" ] || fail "upgrade did not switch the release ($before)"
  [ "$(inside readlink /opt/basecommerce/previous)" = "$before" ] || fail "previous release not kept for rollback"
  [ "$proxy_before" != "$proxy_after" ] || fail "the proxy was not reloaded onto the new binary"
  [ "$(inside readlink -f "/proc/$proxy_after/exe")" = "/opt/basecommerce/$after/bin/basecommerce-proxy" ] \
    || fail "the proxy runs $(inside readlink -f "/proc/$proxy_after/exe"), not the new release"
  grep -q "reloaded basecommerce-proxy (graceful)" <<<"$out" || fail "upgrade did not reload the proxy gracefully: $out"
  check_units_and_system; check_request
  out=$(inside /root/basecommerce/install.sh --rollback 2>&1) || fail "--rollback failed (exit $?): $out"
  [ "$(inside readlink /opt/basecommerce/current)" = "$before" ] || fail "--rollback did not go back to $before"
  proxy_after=$(inside systemctl show -p MainPID --value basecommerce-proxy)
  [ "$(inside readlink -f "/proc/$proxy_after/exe")" = "/opt/basecommerce/$before/bin/basecommerce-proxy" ] || fail "after --rollback the proxy runs another binary"
  check_units_and_system; check_request
  pass "upgrade (install.sh --from new release: stage, migrate, restart backends, reload proxy onto the new binary) and --rollback"
}

check_tls_files() {
  # The operator's certificate (e.g. a Cloudflare origin certificate) for *.domain.
  inside sh -c "mkdir -p /root/certs && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj /CN=operator-certificate -addext 'subjectAltName=DNS:*.$domain' \
    -keyout /root/certs/_wildcard.$domain.key -out /root/certs/_wildcard.$domain.pem 2>/dev/null"
  local out
  out=$(inside /root/basecommerce/install.sh --domain "$domain" --email "ops@$domain" --tls files /root/certs 2>&1) || fail "install.sh --tls files failed: $out"
  served() { curl -s -k -v -o /dev/null --resolve "demo.$domain:443:127.0.0.1" "https://demo.$domain/health" 2>&1 | grep "subject: CN=operator-certificate" >/dev/null; }
  wait_until 100 served || fail "the proxy does not serve the operator's certificate after --tls files"
  check_request
  pass "--tls files DIR: the operator's certificate is served (picked up live, no restart)"
}

check_reboot() {
  inside systemctl reboot --no-block >/dev/null 2>&1 || true
  wait "$nspawn_pid" 2>/dev/null || true   # nspawn exits on reboot; start the machine again
  nspawn_pid=""
  boot
  check_units_and_system
  check_request
  tenant_is acme || fail "tenant acme lost across the reboot"
  pass "container reboot brings everything back (units, tenants, data)"
}

check_uninstall() {
  inside /root/basecommerce/install.sh --uninstall > "$root.uninstall.log" 2>&1 || { cat "$root.uninstall.log" >&2; fail "--uninstall failed"; }
  local left
  left=$(inside sh -c "systemctl list-units --all --no-legend 'basecommerce*'; systemctl list-unit-files --no-legend 'basecommerce*'; ls -d /etc/systemd/system/basecommerce* /opt/basecommerce 2>/dev/null; pgrep -u basecommerce || true")
  [ -z "$left" ] || fail "--uninstall left: $left"
  inside test -s /etc/basecommerce/credentials/auth.jwt_secret || fail "--uninstall removed the credentials (data must stay)"
  inside runuser -u postgres -- psql -X -tAc "SELECT count(*) FROM tenants" basecommerce 2>/dev/null | grep '^2$' >/dev/null || fail "--uninstall lost the database"
  pass "--uninstall leaves no unit, binary or process; configuration and data stay"
  inside /root/basecommerce/install.sh --uninstall --purge > "$root.purge.log" 2>&1 || { cat "$root.purge.log" >&2; fail "--uninstall --purge failed"; }
  inside test ! -e /etc/basecommerce || fail "--purge left /etc/basecommerce"
  inside sh -c '! id basecommerce 2>/dev/null' || fail "--purge left the basecommerce user"
  [ -z "$(inside runuser -u postgres -- psql -X -tAc "SELECT 1 FROM pg_database WHERE datname = 'basecommerce'")" ] || fail "--purge left the database"
  pass "--uninstall --purge also removes the database, credentials, configuration and user"
}

timings=()
for r in $releases; do run_release "$r"; done
release=summary
say "appliance test passed"
printf '    %s\n' "${passed[@]}" "${timings[@]}"
