#!/usr/bin/env bash
# Installs the Debian packages the tests use (listed in scripts/debian-packages.txt), or those of
# the list given as the argument (scripts/bench-debian-packages.txt: make bench), when any is missing.
# CI's fresh machine has only Python, pip and PostgreSQL; we run as root there.
set -euo pipefail
list="${1:-$(dirname "$0")/debian-packages.txt}"
missing=()
while read -r package _; do
  [[ -z "$package" || "$package" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done < "$list"
((${#missing[@]} == 0)) && exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "missing Debian packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
