#!/usr/bin/env bash
# Host facts a container runtime needs on this kind of machine (see docs/architecture.md).
set -euo pipefail
# crun refuses cgroup v1 hybrid hosts while the hugetlb controller sits on the v2 tree;
# binding it to a v1 hierarchy once per boot lets both runc and crun work.
if [ -d /sys/fs/cgroup/unified ] && ! mountpoint -q /sys/fs/cgroup/hugetlb; then
  mkdir -p /sys/fs/cgroup/hugetlb
  mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb 2>/dev/null || true
fi
