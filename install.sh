#!/usr/bin/env bash
# basecommerce installer: turns a fresh Debian 12/13 or Ubuntu 22.04/24.04 droplet into a running,
# secured, multi-tenant basecommerce — and, re-run, upgrades it. Idempotent: a second run with the
# same inputs changes nothing.
#
#   sudo ./install.sh --domain example.com --email ops@example.com [--tenant demo --admin-email a@b.c]
#   sudo ./install.sh --from ./release-dir|release.tar.gz     # upgrade to other binaries
#   sudo ./install.sh --rollback                              # back to the previous release
#   sudo ./install.sh --uninstall [--purge]                   # remove units and binaries (data kept)
#
# Run ./install.sh --help for every option. Operations afterwards: systemctl and journalctl
# (README.md, "Operating the appliance").
set -euo pipefail
umask 022

readonly PREFIX=/opt/basecommerce
readonly ETC=/etc/basecommerce
readonly CREDS=$ETC/credentials
readonly TLS_DIR=$ETC/tls
readonly UNIT_DIR=/etc/systemd/system
readonly CLI_WRAPPER=/usr/local/bin/basecommerce
readonly SERVICE_USER=basecommerce
readonly DB_NAME=basecommerce
readonly BINARIES=(basecommerce basecommerce-vertical basecommerce-proxy basecommerce-engines)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly invocation="$0 $*"

usage() {
  cat <<'EOF'
Usage: sudo ./install.sh --domain DOMAIN --email EMAIL [options]
       sudo ./install.sh --rollback | --uninstall [--purge]

Installs or upgrades basecommerce on this machine. Safe to re-run: it converges.

  --domain DOMAIN        base domain; tenants are served at https://<slug>.DOMAIN (required once)
  --email EMAIL          operator e-mail (ACME account, summary) (required once)
  --tenant SLUG          create this first tenant if it does not exist
  --tenant-name NAME     its display name (default: SLUG)
  --admin-email EMAIL    its first admin user (password generated, stored 0600 under /etc/basecommerce)
  --role ROLE            all (default) | edge | vertical | engines | db
  --database-url URL     use this PostgreSQL (owner/admin URL, e.g. managed, ?sslmode=require)
                         instead of installing one
  --redis-url URL        use this Redis (e.g. rediss://…) instead of installing one
  --tls MODE             acme (default) | files DIR | self-signed
  --dns-token-file FILE  acme: DigitalOcean API token (domain managed in DigitalOcean DNS) for one
                         wildcard certificate *.DOMAIN through DNS-01; without it, one
                         certificate per tenant host through HTTP-01
  --acme-staging         acme: use Let's Encrypt's staging CA (untrusted certificates; try first)
  --from DIR|TARBALL     install the binaries from a release directory or tarball; a tarball is
                         unpacked only when its SHA-256 matches TARBALL.sha256 (sha256sum format,
                         published next to it) or --sha256
  --sha256 HEX           the expected SHA-256 of the --from tarball
  --build                build the binaries from this checkout with cargo (release profile)
  --private-cidr CIDR    role db: the private network allowed to reach PostgreSQL/Redis
                         (default: the /16 of this machine's private address)
  --monitoring           also install Debian's prometheus + prometheus-node-exporter on loopback,
                         scraping this machine's services, with the shipped alert rules (remembered)
  --skip-checks          do not stop on failed pre-checks (they are still printed)
  --rollback             switch back to the previous release and restart
  --uninstall            stop and remove units and binaries; keeps configuration and data
  --purge                with --uninstall: also drop the database, credentials and configuration
  -h, --help             this text
EOF
}

# --- output -------------------------------------------------------------------------------------
step_no=0
changes=0
step() { step_no=$((step_no + 1)); printf '\n\033[1m[%d] %s\033[0m\n' "$step_no" "$*"; }
info() { printf '    %s\n' "$*"; }
changed() { changes=$((changes + 1)); printf '    \033[32m+\033[0m %s\n' "$*"; }
warn() { printf '    \033[33mwarning:\033[0m %s\n' "$*" >&2; }
die() { printf '\n\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# --- arguments ----------------------------------------------------------------------------------
action=install domain="" email="" tenant="" tenant_name="" admin_email="" role=all
database_url="" redis_url="" tls_mode=acme tls_src="" from="" build=0 purge=0 skip_checks=0 private_cidr=""
monitoring=""
dns_token_file="" acme_staging=0 from_sha256=""
while [ $# -gt 0 ]; do
  case "$1" in
    --domain) domain=${2:?--domain needs a value}; shift ;;
    --email) email=${2:?--email needs a value}; shift ;;
    --tenant) tenant=${2:?--tenant needs a value}; shift ;;
    --tenant-name) tenant_name=${2:?--tenant-name needs a value}; shift ;;
    --admin-email) admin_email=${2:?--admin-email needs a value}; shift ;;
    --role) role=${2:?--role needs a value}; shift ;;
    --database-url) database_url=${2:?--database-url needs a value}; shift ;;
    --redis-url) redis_url=${2:?--redis-url needs a value}; shift ;;
    --tls)
      tls_mode=${2:?--tls needs a value}; shift
      if [ "$tls_mode" = files ]; then tls_src=${2:?--tls files needs a directory}; shift; fi ;;
    --from) from=${2:?--from needs a directory or tarball}; shift ;;
    --sha256) from_sha256=${2:?--sha256 needs a value}; shift ;;
    --build) build=1 ;;
    --dns-token-file) dns_token_file=${2:?--dns-token-file needs a file}; shift ;;
    --acme-staging) acme_staging=1 ;;
    --private-cidr) private_cidr=${2:?--private-cidr needs a value}; shift ;;
    --skip-checks) skip_checks=1 ;;
    --monitoring) monitoring=1 ;;
    --rollback) action=rollback ;;
    --uninstall) action=uninstall ;;
    --purge) purge=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
  shift
done
case "$role" in all|edge|vertical|engines|db) ;; *) die "--role must be all, edge, vertical, engines or db (not '$role')" ;; esac
case "$tls_mode" in acme|files|self-signed) ;; *) die "--tls must be acme, 'files DIR' or self-signed (not '$tls_mode')" ;; esac
[ "$purge" = 0 ] || [ "$action" = uninstall ] || die "--purge only goes with --uninstall"

# Services each role runs on this machine.
services_for_role() {
  case "$1" in
    all) echo basecommerce-vertical basecommerce-relay basecommerce-worker basecommerce-proxy ;;
    edge) echo basecommerce-proxy ;;
    vertical) echo basecommerce-vertical ;;
    engines) echo basecommerce-relay basecommerce-worker ;;
    db) echo ;;
  esac
}
local_db() { [ -z "$database_url" ] && { [ "$role" = all ] || [ "$role" = db ]; }; }
local_redis() { [ -z "$redis_url" ] && { [ "$role" = all ] || [ "$role" = db ]; }; }

# --- small helpers ------------------------------------------------------------------------------
random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }   # kernel CSPRNG; $1 bytes
# Writes stdin to $1 (mode $2, owner $3) only when the content differs; reports the change.
install_content() {
  local path=$1 mode=$2 owner=$3 tmp
  tmp=$(mktemp "$(dirname "$path")/.install.XXXXXX")
  cat > "$tmp"
  if [ -f "$path" ] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    [ "$(stat -c '%a %U:%G' "$path")" = "${mode#0} $owner" ] || { chmod "$mode" "$path"; chown "$owner" "$path"; changed "permissions of $path"; }
    return 1
  fi
  chmod "$mode" "$tmp"; chown "$owner" "$tmp"; mv -f "$tmp" "$path"
  changed "wrote $path"
  return 0
}
# A secret credential file, generated once (never overwritten).
credential() { # name, generator command...
  local name=$1; shift
  if [ ! -s "$CREDS/$name" ]; then
    (umask 077; "$@" > "$CREDS/$name.tmp" && mv "$CREDS/$name.tmp" "$CREDS/$name")
    changed "generated credential $name"
  fi
  chmod 0600 "$CREDS/$name"; chown root:root "$CREDS/$name"
}
url_password() { sed -n 's|^[a-z]*://[^:/@]*:\([^@]*\)@.*|\1|p' "$1"; }
psql_admin() { # SQL via the local superuser or the given admin URL
  if [ -n "$database_url" ]; then
    # The password goes in the environment (readable by root only), not on psql's command line,
    # which every local user sees in ps (issue 15, finding 11).
    local pw; pw=$(printf '%s' "$database_url" | url_password /dev/stdin)
    PGPASSWORD=$(printf '%b' "${pw//%/\\x}") psql -X -q -v ON_ERROR_STOP=1 "$(printf '%s' "$database_url" | sed -E 's|^([a-z]+://[^:/@]*):[^@]*@|\1@|')" "$@"
  else (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 "$@"); fi
}
cli() { CREDENTIALS_DIRECTORY=$CREDS "$PREFIX/current/bin/basecommerce" --config "$ETC/basecommerce.toml" "$@"; }
unit_files() { ls "$1"/basecommerce*.service "$1"/basecommerce*.target 2>/dev/null; }
installed_services() { systemctl list-unit-files 'basecommerce*' --no-legend 2>/dev/null | awk '{print $1}'; }

# --- uninstall ----------------------------------------------------------------------------------
uninstall() {
  step "Stopping and removing units"
  systemctl disable --now basecommerce.target $(installed_services | grep -v '@\.service$' | tr '\n' ' ') >/dev/null 2>&1 || true
  systemctl disable --now pgbackrest-backup@full.timer pgbackrest-backup@diff.timer >/dev/null 2>&1 || true
  rm -rf "$UNIT_DIR"/basecommerce*.service "$UNIT_DIR"/basecommerce.target "$UNIT_DIR"/basecommerce*.service.d \
         "$UNIT_DIR"/basecommerce.target.wants "$UNIT_DIR"/pgbackrest-backup@*
  systemctl daemon-reload
  systemctl reset-failed 'basecommerce*' 2>/dev/null || true
  info "units removed"
  step "Removing binaries"
  rm -rf "$PREFIX" "$CLI_WRAPPER"
  info "removed $PREFIX and $CLI_WRAPPER"
  if [ "$purge" = 1 ]; then
    step "Purging data and configuration"
    if systemctl is-active --quiet postgresql 2>/dev/null; then
      (cd / && runuser -u postgres -- psql -X -q -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" \
        -c "DROP ROLE IF EXISTS basecommerce" -c "DROP ROLE IF EXISTS basecommerce_engines" \
        -c "DROP ROLE IF EXISTS basecommerce_relay" -c "DROP ROLE IF EXISTS basecommerce_app" \
        -c "DROP ROLE IF EXISTS basecommerce_proxy" -c "DROP ROLE IF EXISTS basecommerce_edge" \
        -c "DROP ROLE IF EXISTS basecommerce_owner") || warn "could not drop the database (drop it by hand)"
    fi
    if [ -f /etc/redis/basecommerce.conf ]; then
      sed -i '\|^include /etc/redis/basecommerce.conf$|d' /etc/redis/redis.conf
      rm -f /etc/redis/basecommerce.conf
      systemctl restart redis-server 2>/dev/null || true
    fi
    rm -f /etc/postgresql/*/main/conf.d/basecommerce.conf
    rm -rf "$ETC" /var/lib/basecommerce-proxy
    userdel "$SERVICE_USER" 2>/dev/null || true
    info "database, credentials, configuration and the $SERVICE_USER user removed (OS packages stay)"
  else
    info "kept: $ETC (configuration, credentials), the database and Redis data — --purge removes them"
  fi
  printf '\nbasecommerce uninstalled.\n'
}

# --- pre-checks ---------------------------------------------------------------------------------
problems=0
problem() { problems=$((problems + 1)); printf '    \033[31m✗\033[0m %s\n' "$*" >&2; }
ok() { printf '    \033[32m✓\033[0m %s\n' "$*"; }
prechecks() {
  step "Checking this machine"
  [ "$(id -u)" = 0 ] || die "run as root: sudo $invocation"
  # shellcheck disable=SC1091
  . /etc/os-release
  case "$ID:$VERSION_ID" in
    debian:12|debian:13|ubuntu:22.04|ubuntu:24.04) ok "OS: $PRETTY_NAME" ;;
    *) problem "OS: $PRETTY_NAME is not supported (Debian 12/13, Ubuntu 22.04/24.04)" ;;
  esac
  if [ -d /run/systemd/system ]; then ok "systemd is running"; else problem "systemd is not PID 1 here: units cannot run (use a VM or droplet, not a plain container)"; fi
  local free_mb mem_mb
  free_mb=$(df -Pm /opt | awk 'NR==2 {print $4}')
  if [ "$free_mb" -ge 2048 ]; then ok "disk: ${free_mb} MB free"; else problem "disk: only ${free_mb} MB free on /opt; 2 GB needed (resize the droplet or free space)"; fi
  mem_mb=$(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo)
  if [ "$mem_mb" -ge 900 ]; then ok "memory: ${mem_mb} MB"; else problem "memory: ${mem_mb} MB; at least 1 GB is needed"; fi
  if [ "$role" = all ] || [ "$role" = edge ]; then
    local port user
    for port in 80 443; do
      user=$(ss -Hltnp "sport = :$port" 2>/dev/null | sed -n 's/.*users:(("\([^"]*\)".*/\1/p' | head -n1)
      if [ -z "$user" ] || [ "$user" = basecommerce-pr ] || [ "$user" = basecommerce-proxy ]; then ok "port $port is free for the proxy"
      else problem "port $port is used by '$user': stop it (systemctl disable --now <its service>)"; fi
    done
  fi
  if [ -n "$domain" ]; then
    if getent ahosts "$domain" >/dev/null 2>&1 && getent ahosts "check.$domain" >/dev/null 2>&1; then ok "DNS: $domain and *.$domain resolve"
    else warn "DNS: $domain or *.$domain does not resolve yet — add A records for $domain and *.$domain pointing here (installation continues)"; fi
  fi
  if [ "$problems" -gt 0 ]; then
    [ "$skip_checks" = 1 ] || die "$problems check(s) failed (see above); fix them or re-run with --skip-checks"
    warn "continuing despite $problems failed check(s) (--skip-checks)"
  fi
}

# --- binaries -----------------------------------------------------------------------------------
# Sets $release_src (a directory with bin/ holding the binaries).
find_release() {
  local d
  release_src=""
  if [ -n "$from" ]; then
    if [ -f "$from" ]; then
      # Nothing from a tarball runs (as root) before its checksum matches (issue 15, finding 11).
      local want have
      want=$from_sha256
      [ -n "$want" ] || [ ! -f "$from.sha256" ] || want=$(awk 'NR == 1 {print $1}' "$from.sha256")
      [ -n "$want" ] || die "--from $from: no checksum to verify it against: put its sha256sum line in $from.sha256 or give --sha256 HEX"
      have=$(sha256sum "$from" | cut -d' ' -f1)
      [ "${want,,}" = "$have" ] || die "--from $from: SHA-256 mismatch (expected $want, got $have): not unpacked"
      info "--from $from: SHA-256 verified"
      d=$(mktemp -d /tmp/basecommerce-release.XXXXXX)
      tar -xf "$from" -C "$d" || die "--from $from: not a readable tarball"
      from=$d
    fi
    [ -d "$from" ] || die "--from $from: no such directory or tarball"
    for d in "$from" "$from/bin" "$from"/*/bin; do
      [ -x "$d/basecommerce-proxy" ] && { release_src=$(cd "$d" && pwd); break; }
    done
    [ -n "$release_src" ] || die "--from $from: no basecommerce binaries in it (expected ${BINARIES[*]})"
  elif [ "$build" = 1 ]; then
    command -v cargo >/dev/null || die "--build needs cargo (https://rustup.rs) — or give --from a release"
    info "building with cargo (release profile; several minutes the first time)"
    (cd "$here" && cargo build --release --locked --bins -q) || die "cargo build failed"
    release_src="${CARGO_TARGET_DIR:-$here/target}/release"
  elif [ -e "$PREFIX/current" ]; then
    release_src="$PREFIX/current/bin"
  elif [ -x "$here/bin/basecommerce-proxy" ]; then
    release_src="$here/bin"   # run from an unpacked release tarball
  else
    die "no binaries: give --from DIR|TARBALL, or --build in a source checkout with cargo"
  fi
  for d in "${BINARIES[@]}"; do [ -x "$release_src/$d" ] || die "$release_src/$d is missing"; done
}

# Copies the binaries, units and this script into releases/<version>; sets $version.
stage_release() {
  local sum ver dir tmp
  ver=$("$release_src/basecommerce" --version | awk '{print $2}') || die "$release_src/basecommerce does not run on this machine"
  sum=$(cd "$release_src" && cat "${BINARIES[@]}" | sha256sum | cut -c1-12)
  version="$ver-$sum"
  dir="$PREFIX/releases/$version"
  if [ -d "$dir" ]; then info "release $version is already staged"; return; fi
  mkdir -p "$PREFIX/releases"
  tmp=$(mktemp -d "$PREFIX/releases/.staging.XXXXXX")
  mkdir -p "$tmp/bin" "$tmp/systemd"
  for b in "${BINARIES[@]}"; do install -m 0755 "$release_src/$b" "$tmp/bin/$b"; done
  local units=$here/systemd
  [ -d "$units" ] || units=$release_src/../systemd
  [ -f "$units/basecommerce-proxy.service" ] || die "no systemd units next to install.sh ($here/systemd)"
  cp -r "$units"/. "$tmp/systemd/"
  local mon=$here/infra/monitoring
  [ -d "$mon" ] || mon=$release_src/../monitoring
  if [ -f "$mon/alerts.yml" ]; then mkdir -p "$tmp/monitoring"; cp "$mon"/alerts.yml "$mon"/dashboard.json "$tmp/monitoring/"; fi
  install -m 0755 "$units/basecommerce-proxy-reload" "$tmp/bin/basecommerce-proxy-reload"
  install -m 0755 "$here/install.sh" "$tmp/install.sh"
  [ -f "$here/README.md" ] && install -m 0644 "$here/README.md" "$tmp/README.md"
  chmod 0755 "$tmp"
  mv "$tmp" "$dir"
  changed "staged release $version in $dir"
}

# --- packages, user -----------------------------------------------------------------------------
packages() {
  local need=() p
  command -v curl >/dev/null || need+=(curl)
  command -v ss >/dev/null || need+=(iproute2)
  command -v openssl >/dev/null || need+=(openssl)
  if local_db; then
    ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
    command -v pgbackrest >/dev/null || need+=(pgbackrest)
  fi
  if [ -n "$database_url" ] || local_db; then command -v psql >/dev/null || need+=(postgresql-client); fi
  if local_redis; then command -v redis-server >/dev/null || need+=(redis-server); fi
  if [ ${#need[@]} -eq 0 ]; then info "all packages present"; return; fi
  info "apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null || die "apt-get update failed (network? /etc/apt/sources.list?)"
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null || die "apt-get install ${need[*]} failed"
  for p in "${need[@]}"; do changed "installed package $p"; done
}

service_user() {
  if id "$SERVICE_USER" >/dev/null 2>&1; then info "system user $SERVICE_USER exists"; return; fi
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$SERVICE_USER"
  changed "created system user $SERVICE_USER"
}

# --- secrets ------------------------------------------------------------------------------------
secrets() {
  install -d -m 0755 -o root -g root "$ETC"
  install -d -m 0700 -o root -g root "$CREDS"
  credential auth.jwt_secret random_hex 64          # 128 hex characters
  credential edge.secret random_hex 32
  # Seals the ACME private keys and account in PostgreSQL (issue 15, finding 5); the proxy alone loads it.
  credential acme.key_encryption_key random_hex 32
  local host=127.0.0.1 owner_url
  if [ -n "$database_url" ]; then
    credential database.migrate_url printf '%s' "$database_url"
    # The app and engines roles live on the same server, with generated passwords.
    host=$(printf '%s' "$database_url" | sed -E 's|^[a-z]+://([^@/]*@)?([^/?]*).*|\2|')
    local query; query=$(printf '%s' "$database_url" | sed -n -E 's|^[^?]*(\?.*)$|\1|p')
    local db; db=$(printf '%s' "$database_url" | sed -n -E 's|^[a-z]+://[^/]*/([^?]*).*|\1|p')
    credential database.url printf 'postgres://basecommerce:%s@%s/%s%s' "$(random_hex 24)" "$host" "${db:-$DB_NAME}" "$query"
    credential engines.database_url printf 'postgres://basecommerce_engines:%s@%s/%s%s' "$(random_hex 24)" "$host" "${db:-$DB_NAME}" "$query"
    credential edge.database_url printf 'postgres://basecommerce_proxy:%s@%s/%s%s' "$(random_hex 24)" "$host" "${db:-$DB_NAME}" "$query"
  else
    [ "$role" = all ] || [ "$role" = db ] || [ -s "$CREDS/database.url" ] || \
      die "role $role needs the database: copy $CREDS from the db droplet first, or give --database-url"
    owner_url="postgres://basecommerce_owner:%s@$host:5432/$DB_NAME?sslmode=disable"
    credential database.migrate_url printf "$owner_url" "$(random_hex 24)"
    credential database.url printf "postgres://basecommerce:%s@$host:5432/$DB_NAME?sslmode=disable" "$(random_hex 24)"
    credential engines.database_url printf "postgres://basecommerce_engines:%s@$host:5432/$DB_NAME?sslmode=disable" "$(random_hex 24)"
    # The edge's own role (tenants and domains read-only, the ACME tables): issue 15, finding 5.
    credential edge.database_url printf "postgres://basecommerce_proxy:%s@$host:5432/$DB_NAME?sslmode=disable" "$(random_hex 24)"
  fi
  # Each service has its own Redis user (issue 15, finding 7: rules in infra/src/redis/acl.rs);
  # redis.url, the administrative one, stays with root and the admin CLI.
  local svc services=(proxy vertical relay worker)
  if [ -n "$redis_url" ]; then
    credential redis.url printf '%s' "$redis_url"
    # A managed Redis: its users are the provider's, so every service gets the given URL.
    for svc in "${services[@]}"; do credential "redis.${svc}_url" printf '%s' "$redis_url"; done
  else
    for svc in url "${services[@]/%/_url}"; do
      [ "$role" = all ] || [ "$role" = db ] || [ -s "$CREDS/redis.$svc" ] || \
        die "role $role needs Redis: copy $CREDS from the db droplet first (redis.$svc is missing), or give --redis-url"
    done
    credential redis.url printf 'redis://:%s@127.0.0.1:6379' "$(random_hex 24)"
    for svc in "${services[@]}"; do
      credential "redis.${svc}_url" printf "redis://basecommerce-$svc:%s@127.0.0.1:6379" "$(random_hex 24)"
    done
  fi
  info "credentials in $CREDS (0600 root; services get them through LoadCredential=)"
}

# --- PostgreSQL ---------------------------------------------------------------------------------
postgres() {
  local conf_dir
  conf_dir=$(ls -d /etc/postgresql/*/main 2>/dev/null | sort -V | tail -n1)
  [ -n "$conf_dir" ] || die "PostgreSQL is installed but has no cluster (/etc/postgresql/*/main): pg_createcluster <version> main"
  # WAL archiving for point-in-time recovery (pgBackRest) and, on the db role, the private network.
  local listen="localhost" hba_changed=0
  if [ "$role" = db ]; then listen="localhost,$(private_address)"; fi
  if install_content "$conf_dir/conf.d/basecommerce.conf" 0644 postgres:postgres <<EOF
# Managed by basecommerce install.sh
listen_addresses = '$listen'
password_encryption = 'scram-sha-256'
archive_mode = on
archive_command = 'pgbackrest --stanza=basecommerce archive-push %p'
archive_timeout = 60
wal_level = replica
max_wal_senders = 3
EOF
  then pg_restart=1; fi
  if [ "$role" = db ]; then
    local line="hostssl $DB_NAME all $(private_network) scram-sha-256"
    if ! grep -qxF "$line" "$conf_dir/pg_hba.conf"; then
      echo "$line" >> "$conf_dir/pg_hba.conf"; changed "pg_hba.conf: $line"; hba_changed=1
    fi
  fi
  systemctl enable --quiet postgresql
  if [ "${pg_restart:-0}" = 1 ] || ! systemctl is-active --quiet postgresql; then
    systemctl restart postgresql; changed "restarted PostgreSQL"
  elif [ "$hba_changed" = 1 ]; then systemctl reload postgresql; fi
  local i; for i in $(seq 1 60); do (cd / && runuser -u postgres -- pg_isready -q) && break; sleep 0.5; done
  (cd / && runuser -u postgres -- pg_isready -q) || die "PostgreSQL does not accept connections: journalctl -u postgresql"
  roles_and_database
  backups_stanza
}

# Owner role (migrations), the app role (owns nothing, so RLS applies), the engines' role.
# Every role is created here, as the administrator: the owner needs no CREATEROLE.
roles_and_database() {
  local owner_pw app_pw engines_pw edge_pw
  owner_pw=$(url_password "$CREDS/database.migrate_url")
  app_pw=$(url_password "$CREDS/database.url")
  engines_pw=$(url_password "$CREDS/engines.database_url")
  edge_pw=$(url_password "$CREDS/edge.database_url")
  local sql
  sql=$(cat <<EOF
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'basecommerce_owner') THEN
    CREATE ROLE basecommerce_owner LOGIN; RAISE NOTICE 'created role basecommerce_owner';
  END IF;
  IF (SELECT rolcreaterole FROM pg_roles WHERE rolname = 'basecommerce_owner') THEN
    ALTER ROLE basecommerce_owner NOCREATEROLE; RAISE NOTICE 'role basecommerce_owner no longer has CREATEROLE';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'basecommerce_app') THEN CREATE ROLE basecommerce_app NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'basecommerce_relay') THEN CREATE ROLE basecommerce_relay NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'basecommerce_edge') THEN CREATE ROLE basecommerce_edge NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'basecommerce_proxy') THEN
    CREATE ROLE basecommerce_proxy LOGIN IN ROLE basecommerce_edge; RAISE NOTICE 'created role basecommerce_proxy';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'basecommerce') THEN
    CREATE ROLE basecommerce LOGIN IN ROLE basecommerce_app; RAISE NOTICE 'created role basecommerce';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'basecommerce_engines') THEN
    CREATE ROLE basecommerce_engines LOGIN IN ROLE basecommerce_app, basecommerce_relay; RAISE NOTICE 'created role basecommerce_engines';
  END IF;
END
\$\$;
EOF
)
  local out
  out=$(psql_admin -d postgres -c "$sql" 2>&1) || die "creating roles failed: $out"
  while read -r l; do [ -n "$l" ] && changed "${l#NOTICE:  }"; done < <(printf '%s\n' "$out" | grep NOTICE || true)
  # Passwords always converge on the credential files (no-op when already equal).
  psql_admin -d postgres >/dev/null <<EOF
SET client_min_messages = warning;
ALTER ROLE basecommerce_owner PASSWORD '$owner_pw';
ALTER ROLE basecommerce PASSWORD '$app_pw';
ALTER ROLE basecommerce_engines PASSWORD '$engines_pw';
ALTER ROLE basecommerce_proxy PASSWORD '$edge_pw';
EOF
  if ! psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep 1 >/dev/null; then
    psql_admin -d postgres -c "CREATE DATABASE $DB_NAME OWNER basecommerce_owner" >/dev/null
    changed "created database $DB_NAME"
  fi
  info "roles basecommerce_owner (migrations), basecommerce (app, RLS applies), basecommerce_engines, basecommerce_proxy (edge)"
}

private_address() { ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | grep -E '^(10\.|192\.168\.|172\.(1[6-9]|2[0-9]|3[01])\.)' | head -n1; }
private_network() {
  if [ -n "$private_cidr" ]; then echo "$private_cidr"; return; fi
  local a; a=$(private_address); [ -n "$a" ] || die "role db: no private address on this machine; give --private-cidr"
  echo "$a" | awk -F. '{print $1"."$2".0.0/16"}'
}

# --- backups (pgBackRest) -----------------------------------------------------------------------
backups_stanza() {
  # The repository is encrypted (issue 15, finding 11) with a pass generated once and kept in
  # this file across re-runs. A repository made before encryption existed stays as it is
  # (pgBackRest cannot switch one): move /var/lib/pgbackrest aside and re-run to encrypt.
  local pass="" cipher=""
  [ -f /etc/pgbackrest.conf ] && pass=$(sed -n 's/^repo1-cipher-pass=//p' /etc/pgbackrest.conf)
  if [ -z "$pass" ]; then
    if [ -e /var/lib/pgbackrest/backup/basecommerce/backup.info ]; then
      warn "the pgBackRest repository predates encryption and stays unencrypted (move /var/lib/pgbackrest aside and re-run to encrypt it)"
    else
      pass=$(random_hex 32)
    fi
  fi
  [ -n "$pass" ] && cipher=$(printf 'repo1-cipher-type=aes-256-cbc\nrepo1-cipher-pass=%s' "$pass")
  install_content /etc/pgbackrest.conf 0640 postgres:postgres <<EOF || true
# Managed by basecommerce install.sh. Repository on local disk; for DigitalOcean Spaces set
# repo1-type=s3, repo1-s3-endpoint, repo1-s3-bucket, repo1-s3-region, repo1-s3-key(-secret).
# Keep a copy of repo1-cipher-pass off this droplet: without it the backups cannot be read.
[global]
repo1-path=/var/lib/pgbackrest
$cipher
repo1-retention-full=2
repo1-retention-diff=7
start-fast=y
log-level-console=warn
log-level-file=info
archive-async=n

[basecommerce]
pg1-path=$(runuser -u postgres -- psql -X -tAc 'SHOW data_directory' 2>/dev/null || echo /var/lib/postgresql/15/main)
pg1-socket-path=/var/run/postgresql
EOF
  install -d -m 0750 -o postgres -g postgres /var/lib/pgbackrest /var/log/pgbackrest /var/spool/pgbackrest
  if ! (cd / && runuser -u postgres -- pgbackrest --stanza=basecommerce info --output=json 2>/dev/null | grep '"status":{"code":0' >/dev/null); then
    if (cd / && runuser -u postgres -- pgbackrest --stanza=basecommerce stanza-create >/dev/null 2>&1); then
      changed "created pgBackRest stanza basecommerce"
      (cd / && runuser -u postgres -- pgbackrest --stanza=basecommerce --type=full backup >/dev/null 2>&1) \
        && changed "first full backup" || warn "first full backup failed: pgbackrest --stanza=basecommerce check"
    else
      warn "pgBackRest stanza not created: runuser -u postgres -- pgbackrest --stanza=basecommerce stanza-create"
    fi
  fi
}

# --- Redis --------------------------------------------------------------------------------------
redis() {
  local pw acl bind="127.0.0.1 -::1"
  pw=$(url_password "$CREDS/redis.url")
  [ "$role" = db ] && bind="127.0.0.1 -::1 $(private_address)"
  # One user per service, passwords as SHA-256 only, from the one definition in infra.
  acl=$(CREDENTIALS_DIRECTORY=$CREDS "$PREFIX/releases/$version/bin/basecommerce" redis acl) || die "basecommerce redis acl failed (see above)"
  local restart=0
  install_content /etc/redis/basecommerce.conf 0640 redis:redis <<EOF && restart=1
# Managed by basecommerce install.sh (included at the end of /etc/redis/redis.conf).
bind $bind
protected-mode yes
port 6379
requirepass $pw
# The event stream must never be evicted: writes fail loudly instead.
maxmemory-policy noeviction
appendonly yes
appendfsync everysec
# Each service's own user: only the commands, keys and channels it uses.
$acl
EOF
  if ! grep -qx 'include /etc/redis/basecommerce.conf' /etc/redis/redis.conf; then
    echo 'include /etc/redis/basecommerce.conf' >> /etc/redis/redis.conf
    changed "/etc/redis/redis.conf includes basecommerce.conf"; restart=1
  fi
  systemctl enable --quiet redis-server
  if [ "$restart" = 1 ] || ! systemctl is-active --quiet redis-server; then systemctl restart redis-server; changed "restarted Redis"; fi
  local i; for i in $(seq 1 40); do REDISCLI_AUTH=$pw redis-cli ping 2>/dev/null | grep PONG >/dev/null && break; sleep 0.25; done
  REDISCLI_AUTH=$pw redis-cli ping 2>/dev/null | grep PONG >/dev/null || die "Redis does not answer: journalctl -u redis-server"
  info "Redis: append-only, noeviction, password, bound to $bind"
}

# --- TLS ----------------------------------------------------------------------------------------
# --tls acme with --dns-token-file: the token becomes the credential acme.dns_token, handed to the
# proxy alone by a drop-in (LoadCredential= fails a unit whose source file is missing).
acme_credentials() {
  if [ -n "$dns_token_file" ]; then
    [ -s "$dns_token_file" ] || die "--dns-token-file $dns_token_file: missing or empty"
    tr -d ' \n' < "$dns_token_file" | install_content "$CREDS/acme.dns_token" 0600 root:root || true
  fi
  if [ -s "$CREDS/acme.dns_token" ]; then
    install -d -m 0755 "$UNIT_DIR/basecommerce-proxy.service.d"
    printf '# Written by install.sh: the DigitalOcean API token for DNS-01 (wildcard certificates).\n[Service]\nLoadCredential=acme.dns_token:%s/acme.dns_token\n' "$CREDS" \
      | install_content "$UNIT_DIR/basecommerce-proxy.service.d/20-acme-dns.conf" 0644 root:root && systemctl daemon-reload || true
  fi
}

tls() {
  install -d -m 0750 -o root -g "$SERVICE_USER" "$TLS_DIR"
  case "$tls_mode" in
    files)
      [ -d "$tls_src" ] || die "--tls files $tls_src: no such directory"
      ls "$tls_src"/*.pem >/dev/null 2>&1 || die "--tls files $tls_src: no <host>.pem + <host>.key pairs in it"
      local f
      for f in "$tls_src"/*.pem "$tls_src"/*.key; do
        install_content "$TLS_DIR/$(basename "$f")" 0640 "root:$SERVICE_USER" < "$f" || true
      done ;;
    self-signed|acme)
      # self-signed: tests, or behind a TLS-terminating load balancer. acme: the proxy obtains
      # and renews its own certificates ([acme] in the config); this one is only the fallback
      # served to names that have none yet.
      [ "$tls_mode" = acme ] && acme_credentials
      if [ ! -s "$TLS_DIR/default.pem" ] || ! openssl x509 -in "$TLS_DIR/default.pem" -noout -checkend 2592000 >/dev/null 2>&1 \
         || ! openssl x509 -in "$TLS_DIR/default.pem" -noout -ext subjectAltName 2>/dev/null | grep -F "DNS:*.$domain" >/dev/null; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 397 \
          -subj "/CN=$domain" -addext "subjectAltName=DNS:$domain,DNS:*.$domain" \
          -keyout "$TLS_DIR/default.key.tmp" -out "$TLS_DIR/default.pem.tmp" 2>/dev/null || die "openssl could not create a certificate"
        chmod 0640 "$TLS_DIR"/default.*.tmp; chown "root:$SERVICE_USER" "$TLS_DIR"/default.*.tmp
        mv -f "$TLS_DIR/default.key.tmp" "$TLS_DIR/default.key"; mv -f "$TLS_DIR/default.pem.tmp" "$TLS_DIR/default.pem"
        changed "self-signed certificate for $domain and *.$domain"
      fi ;;
  esac
}

# --- configuration ------------------------------------------------------------------------------
# The [acme] section for --tls acme (running install.sh with it accepts the CA's terms of
# service; the summary says so).
acme_section() {
  [ "$tls_mode" = acme ] || return 0
  local directory=https://acme-v02.api.letsencrypt.org/directory
  [ "$acme_staging" = 1 ] && directory=https://acme-staging-v02.api.letsencrypt.org/directory
  printf '\n[acme]\nenabled = true\ndirectory_url = "%s"\nemail = "%s"\naccept_terms = true\ncache_dir = "/var/lib/basecommerce-proxy/acme"\n' "$directory" "$email"
  if [ -s "$CREDS/acme.dns_token" ]; then printf 'dns_provider = "digitalocean"   # token: credential acme.dns_token\n'; fi
}

config() {
  local upstream="127.0.0.1:8000" listen="127.0.0.1:8000"
  [ "$role" = vertical ] && listen="$(private_address):8000"
  if install_content "$ETC/basecommerce.toml" 0644 root:root <<EOF
# Managed by basecommerce install.sh — re-running it rewrites this file from its options.
# Secrets are not here: they are files in $CREDS (one per <section>.<key>), handed to the
# services by systemd's LoadCredential=. Every key: $PREFIX/current/README.md and
# infra/basecommerce.example.toml in the source.

[vertical]
listen = "$listen"

[proxy]
http_listen = "0.0.0.0:80"
https_listen = "0.0.0.0:443"
base_domains = ["$domain"]
upstreams = ["$upstream"]
tls_cert_dir = "$TLS_DIR"
upgrade_sock = "/run/basecommerce/proxy-upgrade.sock"
$(acme_section)

[log]
format = "json"
level = "info"
EOF
  then config_changed=1; fi
  # The admin CLI needs the credentials the services get from systemd.
  install_content "$CLI_WRAPPER" 0755 root:root <<EOF || true
#!/bin/sh
# basecommerce admin CLI with the appliance's configuration and credentials (run as root).
exec env CREDENTIALS_DIRECTORY="\${CREDENTIALS_DIRECTORY:-$CREDS}" $PREFIX/current/bin/basecommerce --config "\${BASECOMMERCE_CONFIG:-$ETC/basecommerce.toml}" "\$@"
EOF
}

# --- units --------------------------------------------------------------------------------------
units() {
  local src=$PREFIX/releases/$version/systemd f
  units_changed=0
  install -d -m 0755 "$UNIT_DIR/basecommerce-.service.d"
  install_content "$UNIT_DIR/basecommerce-.service.d/10-hardening.conf" 0644 root:root < "$src/basecommerce-.service.d/10-hardening.conf" && units_changed=1
  for f in $(unit_files "$src"); do
    install_content "$UNIT_DIR/$(basename "$f")" 0644 root:root < "$f" && units_changed=1
  done
  if local_db; then
    for f in "$src"/pgbackrest-backup@*; do
      install_content "$UNIT_DIR/$(basename "$f")" 0644 root:root < "$f" && units_changed=1
    done
  fi
  [ "$units_changed" = 1 ] && systemctl daemon-reload
  if local_db; then
    for f in pgbackrest-backup@full.timer pgbackrest-backup@diff.timer; do
      systemctl is-enabled --quiet "$f" 2>/dev/null || { systemctl enable --quiet --now "$f"; changed "enabled $f"; }
    done
  fi
  # Only this role's services are wanted by the target.
  local s wanted
  wanted=" $(services_for_role "$role") "
  for s in basecommerce-vertical basecommerce-relay basecommerce-worker basecommerce-proxy; do
    if [[ "$wanted" == *" $s "* ]]; then
      systemctl is-enabled --quiet "$s" 2>/dev/null || { systemctl enable --quiet "$s"; changed "enabled $s"; }
    else
      systemctl is-enabled --quiet "$s" 2>/dev/null && { systemctl disable --quiet --now "$s"; changed "disabled $s (not this role)"; }
    fi
  done
  systemctl is-enabled --quiet basecommerce.target 2>/dev/null || { systemctl enable --quiet basecommerce.target; changed "enabled basecommerce.target"; }
  return 0
}

# --- switch release, migrate, (re)start ---------------------------------------------------------
activate() {
  local current=""
  [ -L "$PREFIX/current" ] && current=$(basename "$(readlink -f "$PREFIX/current")")
  release_changed=0
  if [ "$current" != "$version" ]; then
    [ -n "$current" ] && ln -sfn "releases/$current" "$PREFIX/previous"
    ln -sfn "releases/$version" "$PREFIX/.current.tmp" && mv -Tf "$PREFIX/.current.tmp" "$PREFIX/current"
    changed "current → releases/$version${current:+ (previous: $current)}"
    release_changed=1
  else
    info "release $version is current"
  fi
}

migrate() {
  if [ "$role" = edge ] || [ "$role" = engines ]; then info "migrations run on the vertical/db droplet"; return; fi
  local out
  out=$(cli migrate 2>&1) || die "basecommerce migrate failed: $out"
  info "schema: ${out:-up to date}"
}

# The relay reports ready only as the leader; a hot standby would block `systemctl start`.
no_block() { [ "$1" = basecommerce-relay ] && echo --no-block || true; }
# Operator-driven restarts must not use up StartLimitBurst= (which is there for crash loops):
# several upgrades or rollbacks within a minute would otherwise leave a unit refused.
restart_unit() { systemctl reset-failed "$1" 2>/dev/null || true; systemctl restart $(no_block "$1") "$1"; }

start_services() {
  local services s
  services=$(services_for_role "$role")
  [ -n "$services" ] || { info "no basecommerce services on role $role"; return; }
  if [ "$release_changed" = 1 ] || [ "${config_changed:-0}" = 1 ] || [ "$units_changed" = 1 ]; then
    # Upgrade order that keeps the site up: backends first (the proxy retries idempotent requests
    # on another attempt while one restarts), the proxy last by a graceful reload.
    for s in $services; do
      [ "$s" = basecommerce-proxy ] && continue
      if systemctl is-active --quiet "$s"; then restart_unit "$s"; changed "restarted $s"; fi
    done
    if [[ " $services " == *" basecommerce-proxy "* ]] && systemctl is-active --quiet basecommerce-proxy; then
      if [ "$units_changed" = 1 ]; then restart_unit basecommerce-proxy; changed "restarted basecommerce-proxy"
      else systemctl reload basecommerce-proxy; changed "reloaded basecommerce-proxy (graceful)"; fi
    fi
  fi
  for s in $services; do
    systemctl is-active --quiet "$s" || { systemctl reset-failed "$s" 2>/dev/null || true; systemctl start $(no_block "$s") "$s" || true; changed "started $s"; }
  done
  systemctl is-active --quiet basecommerce.target || systemctl start basecommerce.target
  local failed=""
  for s in $services; do
    if [ "$s" = basecommerce-relay ]; then
      local i; for i in $(seq 1 60); do systemctl is-active --quiet "$s" && break; sleep 0.5; done
      if [ "$(systemctl is-active "$s")" = activating ]; then
        warn "basecommerce-relay is waiting for the leader lock: a hot standby if another engines droplet leads (otherwise: journalctl -u basecommerce-relay)"
        continue
      fi
    fi
    systemctl is-active --quiet "$s" || failed+=" $s"
  done
  [ -z "$failed" ] || die "not running:$failed — see: journalctl -n 50$(printf " -u %s" $failed)"
  info "active: $services"
}

first_tenant() {
  [ -n "$tenant" ] || return 0
  if [ "$role" != all ] && [ "$role" != vertical ]; then return 0; fi
  if cli --json tenant list | grep "\"slug\": *\"$tenant\"" >/dev/null; then info "tenant $tenant exists"; return; fi
  local args=(tenant create "$tenant" --name "${tenant_name:-$tenant}")
  if [ -n "$admin_email" ]; then
    local pw_file=$ETC/$tenant-admin-password
    [ -s "$pw_file" ] || (umask 077; random_hex 12 > "$pw_file")
    args+=(--admin-email "$admin_email" --admin-password-file "$pw_file")
  fi
  cli "${args[@]}" >/dev/null || die "creating tenant $tenant failed"
  changed "created tenant $tenant${admin_email:+ with admin $admin_email}"
}

firewall() {
  if ! command -v ufw >/dev/null; then info "ufw not installed: use the DigitalOcean cloud firewall (22, 80, 443 only)"; return; fi
  local rules=(22/tcp 80/tcp 443/tcp) r
  if [ "$role" = db ]; then rules=(22/tcp); fi
  for r in "${rules[@]}"; do ufw status | grep "^$r .*ALLOW" >/dev/null || { ufw allow "$r" >/dev/null; changed "ufw allow $r"; }; done
  if [ "$role" = db ]; then
    for r in 5432 6379; do ufw status | grep "^$r/tcp .*ALLOW.*$(private_network)" >/dev/null || { ufw allow from "$(private_network)" to any port "$r" proto tcp >/dev/null; changed "ufw allow $r from $(private_network)"; }; done
  fi
  ufw status | grep "Status: active" >/dev/null || { ufw --force default deny incoming >/dev/null; ufw --force enable >/dev/null; changed "ufw enabled (default deny incoming)"; }
}

health() {
  if [[ " $(services_for_role "$role") " == *" basecommerce-proxy "* ]]; then
    local i
    for i in $(seq 1 40); do curl -fsS -o /dev/null http://127.0.0.1/health && break; sleep 0.25; done
    curl -fsS -o /dev/null http://127.0.0.1/health || die "the proxy does not answer http://127.0.0.1/health: journalctl -u basecommerce-proxy -n 50"
    info "proxy answers /health"
  fi
}

summary() {
  local services; services=$(services_for_role "$role")
  cat <<EOF

basecommerce $version — role $role — $([ "$changes" = 0 ] && echo "nothing changed (already up to date)" || echo "$changes change(s)")

  URLs          https://<tenant>.$domain$([ -n "$tenant" ] && echo "   e.g. https://$tenant.$domain")
  Config        $ETC/basecommerce.toml
  Credentials   $CREDS/ (0600 root)$([ -n "$tenant" ] && [ -n "$admin_email" ] && echo "
  First admin   $admin_email — password in $ETC/$tenant-admin-password")
  TLS           $tls_mode ($TLS_DIR)$([ "$tls_mode" = acme ] && echo "
  ACME          $([ "$acme_staging" = 1 ] && echo "Let's Encrypt STAGING" || echo "Let's Encrypt") as $email (you accept its Subscriber Agreement:
                https://letsencrypt.org/repository/); $([ -s "$CREDS/acme.dns_token" ] && echo "wildcard *.$domain through DigitalOcean DNS" || echo "one certificate per tenant host (HTTP-01)")
                DNS: A records for $domain and *.$domain → this droplet; progress: basecommerce cert status")
  Binaries      $PREFIX/current → releases/$version
  Services      ${services:-none}$([ "$monitoring" = 1 ] && echo "
  Monitoring    Prometheus on 127.0.0.1:9090 (alerts: /etc/prometheus/rules/basecommerce.yml), node exporter on
                127.0.0.1:9100; from your machine: ssh -N -L 9090:127.0.0.1:9090 root@<droplet>, then
                http://localhost:9090/alerts; Grafana dashboard: $PREFIX/current/monitoring/dashboard.json")

  Next:
    systemctl status basecommerce.target            # everything at a glance
    journalctl -u basecommerce-proxy -f             # follow a service (also -t basecommerce-vertical …)
    basecommerce doctor                             # checks and the commands that fix problems
    basecommerce tenant create <slug> --name NAME --admin-email E
    systemctl reload basecommerce-proxy             # graceful proxy reload
    sudo ./install.sh --from NEW_RELEASE            # upgrade; --rollback goes back
EOF
}

# --- monitoring (opt-in) ------------------------------------------------------------------------
# Debian's Prometheus and node exporter, both on loopback only (reached over an SSH tunnel),
# scraping the basecommerce services of this machine's role, with the shipped alert rules and
# a retention sized for a small droplet disk (15 days, at most 1 GB).
monitoring_targets() { # job:address for each service of the role
  local s
  for s in $(services_for_role "$role"); do
    case "$s" in
      basecommerce-proxy) echo proxy:127.0.0.1:9103 ;;
      basecommerce-vertical) echo vertical:127.0.0.1:9104 ;;
      basecommerce-relay) echo relay:127.0.0.1:9102 ;;
      basecommerce-worker) echo worker:127.0.0.1:9101 ;;
    esac
  done
  # Extra workers enabled with `systemctl enable basecommerce-worker@NN` (health on 91NN).
  for s in /etc/systemd/system/basecommerce.target.wants/basecommerce-worker@[0-9][0-9].service; do
    [ -e "$s" ] || continue
    s=${s##*@}; echo "worker-${s%.service}:127.0.0.1:91${s%.service}"
  done
}
monitoring() {
  local need=() mon="" d t restart=0
  command -v prometheus >/dev/null || need+=(prometheus)
  [ -x /usr/bin/prometheus-node-exporter ] || need+=(prometheus-node-exporter)
  if [ ${#need[@]} -gt 0 ]; then
    info "apt-get install ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null || die "apt-get update failed"
    apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null || die "apt-get install ${need[*]} failed"
    for d in "${need[@]}"; do changed "installed package $d"; done
    restart=1
  fi
  for d in "$PREFIX/current/monitoring" "$here/infra/monitoring"; do [ -f "$d/alerts.yml" ] && { mon=$d; break; }; done
  [ -n "$mon" ] || die "no alert rules (infra/monitoring/alerts.yml) in the release or next to install.sh"
  mkdir -p /etc/prometheus/rules
  install_content /etc/prometheus/rules/basecommerce.yml 0644 root:root < "$mon/alerts.yml" && restart=1
  {
    cat <<EOF
# Managed by basecommerce install.sh --monitoring.
global:
  scrape_interval: 15s
  evaluation_interval: 15s
rule_files:
  - /etc/prometheus/rules/*.yml
scrape_configs:
  - job_name: prometheus
    static_configs: [{ targets: ["127.0.0.1:9090"] }]
  - job_name: node
    static_configs: [{ targets: ["127.0.0.1:9100"] }]
EOF
    for t in $(monitoring_targets); do
      printf '  - job_name: %s\n    static_configs: [{ targets: ["%s"] }]\n' "${t%%:*}" "${t#*:}"
    done
  } | install_content /etc/prometheus/prometheus.yml 0644 root:root && restart=1
  promtool check config /etc/prometheus/prometheus.yml >/dev/null || die "promtool check config /etc/prometheus/prometheus.yml failed"
  install_content /etc/default/prometheus 0644 root:root <<'EOF' && restart=1
# Managed by basecommerce install.sh --monitoring: loopback only, small retention.
ARGS="--web.listen-address=127.0.0.1:9090 --storage.tsdb.retention.time=15d --storage.tsdb.retention.size=1GB"
EOF
  install_content /etc/default/prometheus-node-exporter 0644 root:root <<'EOF' && restart=1
# Managed by basecommerce install.sh --monitoring: loopback only; systemd units (states, restarts,
# the backup timers) for the shipped alert rules.
ARGS="--web.listen-address=127.0.0.1:9100 --collector.textfile.directory=/var/lib/prometheus/node-exporter --collector.systemd --collector.systemd.enable-restarts-metrics --collector.systemd.unit-include=(basecommerce-.*|pgbackrest-backup@.*)\\.(service|timer)"
EOF
  for d in prometheus prometheus-node-exporter; do
    systemctl is-enabled --quiet "$d" 2>/dev/null || { systemctl enable -q "$d"; changed "enabled $d"; }
    if [ "$restart" = 1 ] || ! systemctl is-active --quiet "$d"; then systemctl restart "$d"; changed "restarted $d"; fi
  done
  for t in $(seq 1 40); do curl -fsS -o /dev/null http://127.0.0.1:9090/-/ready && break; sleep 0.5; done
  curl -fsS -o /dev/null http://127.0.0.1:9090/-/ready || die "Prometheus does not answer on 127.0.0.1:9090: journalctl -u prometheus -n 50"
  info "Prometheus ready on 127.0.0.1:9090 (rules: /etc/prometheus/rules/basecommerce.yml)"
}

rollback() {
  step "Rolling back"
  [ -L "$PREFIX/previous" ] || die "no previous release to roll back to ($PREFIX/previous)"
  local prev cur
  prev=$(basename "$(readlink -f "$PREFIX/previous")"); cur=$(basename "$(readlink -f "$PREFIX/current")")
  ln -sfn "releases/$prev" "$PREFIX/.current.tmp" && mv -Tf "$PREFIX/.current.tmp" "$PREFIX/current"
  ln -sfn "releases/$cur" "$PREFIX/previous"
  changed "current → releases/$prev (previous: $cur)"
  local s
  for s in basecommerce-vertical basecommerce-relay basecommerce-worker; do
    systemctl is-active --quiet "$s" && { restart_unit "$s"; changed "restarted $s"; }
  done
  systemctl is-active --quiet basecommerce-proxy && { systemctl reload basecommerce-proxy; changed "reloaded basecommerce-proxy"; }
  printf '\nRolled back to %s. Database migrations are not reverted (they only add).\n' "$prev"
}

main() {
  case "$action" in
    uninstall) [ "$(id -u)" = 0 ] || die "run as root"; uninstall; return ;;
    rollback) [ "$(id -u)" = 0 ] || die "run as root"; rollback; return ;;
  esac
  # Domain and e-mail are remembered from the first run.
  if [ -f "$ETC/install.env" ]; then
    # shellcheck disable=SC1091
    . "$ETC/install.env"
    domain=${domain:-$saved_domain}; email=${email:-$saved_email}
  fi
  monitoring=${monitoring:-${saved_monitoring:-0}}
  [ -n "$domain" ] || die "--domain is required (the base domain tenants live under)"
  [ -n "$email" ] || die "--email is required (operator contact, ACME account)"
  [[ "$domain" =~ ^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$ ]] || die "--domain $domain is not a lower-case domain name"
  prechecks
  step "Binaries"; find_release; stage_release
  step "Packages"; packages
  step "System user"; service_user
  step "Secrets"; secrets
  if local_db; then step "PostgreSQL"; postgres
  elif [ -n "$database_url" ] && { [ "$role" = all ] || [ "$role" = vertical ]; }; then
    step "PostgreSQL (external)"; roles_and_database
    info "managed database: the provider's backups apply (no pgBackRest here)"
  fi
  if local_redis; then step "Redis"; redis; fi
  step "TLS"; tls
  step "Configuration"; config
  install_content "$ETC/install.env" 0600 root:root <<EOF || true
saved_domain=$domain
saved_email=$email
saved_monitoring=$monitoring
EOF
  step "systemd units"; units
  step "Release"; activate
  step "Migrations"; migrate
  step "Services"; start_services
  step "First tenant"; first_tenant
  step "Firewall"; firewall
  step "Health"; health
  if [ "$monitoring" = 1 ]; then step "Monitoring"; monitoring; fi
  summary
}

main "$@"
