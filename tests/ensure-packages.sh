#!/usr/bin/env bash
# Installs the Debian packages a profile needs when they are missing (as root), or says which
# are missing (otherwise). Profiles: runtime (run the appliance locally), test (run all tests).
set -euo pipefail
profile=${1:-test}
need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
have_cmd psql || need+=(postgresql-client)
have_cmd redis-server || need+=(redis-server)
have_cmd curl || need+=(curl)
have_cmd cmake || need+=(cmake)   # pingora builds zlib-ng with cmake
if [ "$profile" = test ]; then
  have_cmd runuser || need+=(util-linux)
  have_cmd cc || need+=(build-essential)
  have_cmd pebble || need+=(pebble)   # real ACME server (+ pebble-challtestsrv) for the proxy's ACME tests
  have_cmd promtool || need+=(prometheus)   # promtool: the alert rules and their unit tests (tests/stack/tests/monitoring.rs)
  python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3 python3-venv)   # schemathesis venv
  # Browser tests of the tenant UI (tests/stack/tests/browser.rs) drive real headless Chromium.
  have_cmd chromium || need+=(chromium)
  have_cmd chromedriver || need+=(chromium-driver)
  # The appliance test boots Debian in systemd-nspawn (as root only).
  if [ "$(id -u)" = 0 ]; then
    have_cmd systemd-nspawn || need+=(systemd-container)
    have_cmd debootstrap || need+=(debootstrap)
  fi
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: ${need[*]} — run: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "==> installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
# Debian starts the packaged services; the appliance and the tests run their own instances.
for svc in postgresql redis-server; do
  if have_cmd systemctl && systemctl is-active --quiet "$svc" 2>/dev/null; then systemctl stop "$svc" || true; fi
done
