#!/bin/sh
# Init (pid 1) of the user-mode-linux cgroup v2 host booted by scripts/uml-v2.sh: mounts what a
# modern host has (proc, sysfs, cgroup2 with the cpu, memory, io and pids controllers for
# children, devpts and /run for LXC), brings up loopback, runs
# $SC_UML_WORK/run.sh with its output on the console, writes its exit code to
# $SC_UML_WORK/exit-code and halts. SC_UML_WORK comes from the kernel command line.
# cpuset is not enabled: UML is uniprocessor and has no cpuset controller (+cpuset would make the
# whole subtree_control write fail).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs cgroup-root /sys/fs/cgroup
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo "+cpu +memory +io +pids" >/sys/fs/cgroup/cgroup.subtree_control
mount -t tmpfs run /run
mkdir -p /dev/pts
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
ln -sf /dev/pts/ptmx /dev/ptmx
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null
code=125
if [ -n "$SC_UML_WORK" ] && [ -x "$SC_UML_WORK/run.sh" ]; then
  cd "$SC_UML_WORK" && "$SC_UML_WORK/run.sh" </dev/null 2>&1
  code=$?
else
  echo "uml-init: no runnable \$SC_UML_WORK/run.sh (SC_UML_WORK=$SC_UML_WORK)"
fi
[ -n "$SC_UML_WORK" ] && echo "$code" >"$SC_UML_WORK/exit-code"
sync
halt -f
