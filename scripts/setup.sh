#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine (root): apt packages, then the npm
# dependencies from the lockfile — including Node 24 itself (the `node` devDependency), so the
# machine's own Node (20 is enough to run npm) is never used to run the code.
# Idempotent and quick when nothing changed: apt only for missing packages, `npm ci` only when
# package-lock.json differs from what was last installed. SC_SETUP_CLEAN=1 forces `npm ci`.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

# victoria-metrics: local metrics store; lxc, lxc-templates, busybox-static, iproute2: containers on
# this host; chromium: the dashboard test (headless); unzip: the packaged-bundle test;
# user-mode-linux (a cgroup v2 kernel run as a process): the cgroup v2 host tests
# (test/host/**/*uml*); stress-ng: those tests and `npm run bench -- stress`; a Java runtime for
# DynamoDB Local (skipped when a `java` is already on PATH).
APT_PACKAGES=(victoria-metrics lxc lxc-templates busybox-static iproute2 chromium unzip user-mode-linux stress-ng)
command -v java >/dev/null 2>&1 || APT_PACKAGES+=(default-jre-headless)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing apt packages: ${missing[*]} — run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  say "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp=node_modules/.sc-setup-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ${SC_SETUP_CLEAN:-} == 1 || ! -x node_modules/.bin/node || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  say "npm ci (Node $(node --version) runs npm; the project runs on the Node 24 it installs)"
  npm ci --no-audit --no-fund
  echo "$want" >"$stamp"
fi
say "ready: Node $(node_modules/.bin/node --version) for the project, $(java -version 2>&1 | head -1)"
