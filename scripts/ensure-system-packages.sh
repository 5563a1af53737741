#!/usr/bin/env bash
# The tests need Debian's Chromium, CJK fonts (the Japanese UI), the tools
# that make test images and PostgreSQL (the repositories' suites on a
# throwaway cluster, mock-server/test/support/postgres.ts). Installs what is
# missing when run as root; otherwise says exactly what to install.
# Each package is known by a file it installs (a glob where a version is in the path).
set -euo pipefail

declare -A needs=(
  [chromium]=/usr/bin/chromium
  [fonts-noto-cjk]=/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
  [genisoimage]=/usr/bin/genisoimage
  [dosfstools]=/usr/sbin/mkfs.fat
  [mtools]=/usr/bin/mcopy
  [e2fsprogs]=/usr/sbin/mkfs.ext4
  [gdisk]=/usr/sbin/sgdisk
  [fdisk]=/usr/sbin/sfdisk
  [util-linux]=/usr/sbin/blkid
  [postgresql]='/usr/lib/postgresql/*/bin/initdb'
)

missing=()
for pkg in "${!needs[@]}"; do
  compgen -G "${needs[$pkg]}" >/dev/null || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "Installing missing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "These Debian packages are needed by the tests and missing: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
