#!/usr/bin/env bash
# Prints the path of a cached tarball of a minimal bootable Debian root filesystem, building it
# with debootstrap the first time (≈ 1 min per release). Re-used by every later run.
#
#   tests/appliance/rootfs.sh bookworm|trixie
#
# Environment: BASECOMMERCE_CI_CACHE (default /var/cache/basecommerce-ci),
# DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail
release=${1:?usage: rootfs.sh RELEASE}
cache=${BASECOMMERCE_CI_CACHE:-/var/cache/basecommerce-ci}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Bump when the package list changes so stale tarballs are not reused.
tag=v1
tarball="$cache/rootfs-$release-$tag.tar"
if [ -s "$tarball" ]; then echo "$tarball"; exit 0; fi
mkdir -p "$cache"
work=$(mktemp -d "$cache/debootstrap-$release.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "==> debootstrap $release into $work (once; cached as $tarball)" >&2
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,dbus,ca-certificates,curl,procps,iproute2,gnupg \
  "$release" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
# A machine id is generated on first boot; an empty file keeps it from being "first boot" each time.
: > "$work/root/etc/machine-id"
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
tar -C "$work/root" -cf "$tarball.tmp" .
mv "$tarball.tmp" "$tarball"
echo "$tarball"
