#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine (root): apt packages, then npm deps.
set -euo pipefail
cd "$(dirname "$0")/.."
APT_PACKAGES=(victoria-metrics lxc lxc-templates busybox-static iproute2 default-jre-headless)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing apt packages: ${missing[*]} — run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
npm ci --no-audit --no-fund
