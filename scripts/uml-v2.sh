#!/usr/bin/env bash
# Boots a cgroup v2 host in user mode (Debian's user-mode-linux: a Linux 6.1 kernel run as an
# ordinary process, no KVM) with this machine's filesystem as its root, and runs one command in
# it as root; prints the guest's console and exits with the command's exit code.
#
#   scripts/uml-v2.sh WORKDIR COMMAND [ARG...]
#
# WORKDIR (created if missing) holds run.sh, the guest's exit-code and whatever the command writes
# there (files written through hostfs land on this machine). The guest mounts cgroup2 at
# /sys/fs/cgroup with +cpu +memory +io +pids (scripts/uml-init.sh); SC_* and CI variables are passed
# in. Settings: SC_UML_MEM (default 1G), SC_UML_DISK (a file to attach as the block device ubda,
# major:minor 98:0), SC_UML_TIMEOUT_S (default 300; the kernel is killed after it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if (($# < 2)); then
  echo "usage: $0 WORKDIR COMMAND [ARG...]" >&2
  exit 2
fi
work=$(mkdir -p "$1" && cd "$1" && pwd)
shift
uml=${SC_UML_BIN:-linux.uml}
if ! command -v "$uml" >/dev/null 2>&1; then
  echo "$uml not found: apt-get install user-mode-linux (scripts/setup.sh installs it)" >&2
  exit 127
fi
{
  echo '#!/bin/sh'
  while IFS='=' read -r name _; do
    [[ $name =~ ^(SC_[A-Z0-9_]+|CI)$ ]] && printf 'export %s=%q\n' "$name" "${!name}"
  done < <(env)
  printf 'exec'
  printf ' %q' "$@"
  printf '\n'
} >"$work/run.sh"
chmod +x "$work/run.sh"
rm -f "$work/exit-code"
args=(mem="${SC_UML_MEM:-1G}" root=/dev/root rootfstype=hostfs rootflags=/ rw quiet
  init="$here/uml-init.sh" SC_UML_WORK="$work" con0=fd:0,fd:1 con=null)
[[ -n ${SC_UML_DISK:-} ]] && args+=(ubd0="$SC_UML_DISK")
# UML forks helper processes: its own process group, so a timeout ends all of them.
timeout -k 5 "${SC_UML_TIMEOUT_S:-300}" setsid "$uml" "${args[@]}" </dev/null || true
[[ -f $work/exit-code ]] || { echo "uml-v2: the guest did not finish (timeout or crash)" >&2; exit 124; }
exit "$(cat "$work/exit-code")"
