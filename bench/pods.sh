#!/usr/bin/env bash
# Side-by-side pod sandbox benchmark: crio vs containerd's CRI plugin.
#
#   sudo bench/pods.sh [--runs N] [--parallel P] [--parallel-runs R] [--pods N]
#                      [--only crio|containerd] [--keep DIR]
#
# For each daemon in turn, with its own config, socket and store on a fresh tmpfs,
# and both on the SAME CNI network (a conflist of bridge + portmap, cniVersion
# 1.0.0, a bridge and subnet of this run's own, host-local with its own data dir):
#   1. run-pod, sequential: --runs pods (default 50) after 3 warm-up ones, each
#      RunPodSandbox, then StopPodSandbox, then RemovePodSandbox, each timed;
#   2. run-pod, P at once (default 8): --parallel-runs rounds (default 7, so 56 pods)
#      after one warm-up round; the P stops and the P removes run together too;
#   3. pods-memory: --pods pods (default 100) created one after the other and held,
#      the daemon's VmRSS read before and with them, plus the PSS of the processes
#      the runtime keeps for them (containerd: a containerd-shim-runc-v2 and a pause
#      container per pod; crio pins the namespaces and keeps none); then removed.
# Pods ask for namespace_options.pid = CONTAINER and no port mappings, so crio
# starts no infra container. containerd runs runc (/usr/sbin/runc, cgroupfs, its own
# --root) and takes its sandbox image, registry.k8s.io/pause:3.9, from a local
# registry (Debian's docker-registry on a free loopback port, loaded by
# /work/shared/testimages/build-and-push.sh); it is pulled before anything is timed.
#
# Environment: BUILD (build dir holding crio/crio and bench/crio-bench; default: the
# first of <source>/build-bench, <source>/build that has both), CRIO, CRIO_BENCH, CONTAINERD, RUNC (binaries), TESTIMAGES
# (build-and-push.sh), TIME_LIMIT (seconds for the whole run, default 330).
#
# Exit status 1 when a step failed (the table is still printed). The results (JSON
# per daemon and scenario, the daemons' logs, the table) stay in --keep DIR if
# given. Everything started is stopped and everything created is removed on exit,
# failure or Ctrl-C: daemons, shims and pause containers, runc state, the bridge,
# the netns files, the tmpfs mounts. (The setup and clean-up shared with pull.sh and
# containers.sh are in lib.sh.)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

RUNS=50
PARALLEL=8
PARALLEL_RUNS=7
PODS=100
ONLY=""
KEEP=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --parallel) PARALLEL="$2"; shift 2 ;;
    --parallel-runs) PARALLEL_RUNS="$2"; shift 2 ;;
    --pods) PODS="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --keep) KEEP="$2"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "pods.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "pods.sh: run as root (tmpfs mounts, network, daemons)" >&2; exit 1; }
PROG=pods.sh
# shellcheck source=lib.sh
. "$HERE/lib.sh"

bench_find_build "$HERE/../build-bench" "$HERE/../build"
TIME_LIMIT="${TIME_LIMIT:-330}"
for b in "$CRIO_BENCH" "$RUNC" /usr/bin/python3 /usr/sbin/ip /usr/lib/cni/bridge /usr/lib/cni/host-local /usr/lib/cni/portmap; do
  need "$b" "set BUILD= or the binary's variable"
done
[ "$ONLY" = containerd ] || need "$CRIO" "set BUILD= or CRIO="
if [ "$ONLY" != crio ]; then
  for b in "$CONTAINERD" /usr/bin/containerd-shim-runc-v2 "$REGISTRY_BIN" "$TESTIMAGES"; do
    need "$b" "apt-get install containerd docker-registry"
  done
fi

bench_init pods
make_cni_network bpod
mount_tmpfs "$T/store" 2g

bench() {  # NAME PID SOCKET MARKER
  local name="$1" pid="$2" sock="$3" marker="$4" rc
  local cb=("$CRIO_BENCH" --endpoint "unix://$sock" --daemon-pid "$pid" --timeout 60)
  log "$name: run-pod, $RUNS pods one at a time (after 3 warm-up)"
  rc=0
  step timeout "$(left)" "${cb[@]}" run-pod --runs "$RUNS" --warmup 3 \
    > "$T/results/run-pod-seq-$name.json" || rc=$?
  report_errors "$name run-pod" "$rc" "$T/results/run-pod-seq-$name.json"
  log "$name: run-pod, $PARALLEL_RUNS rounds of $PARALLEL at once (after 1 warm-up round)"
  rc=0
  step timeout "$(left)" "${cb[@]}" run-pod --runs "$PARALLEL_RUNS" --parallel "$PARALLEL" --warmup 1 \
    > "$T/results/run-pod-par-$name.json" || rc=$?
  report_errors "$name run-pod --parallel $PARALLEL" "$rc" "$T/results/run-pod-par-$name.json"
  log "$name: pods-memory, $PODS pods held"
  rc=0
  step timeout "$(left)" "${cb[@]}" pods-memory --pods "$PODS" --pod-procs "$marker" \
    > "$T/results/pods-memory-$name.json" || rc=$?
  report_errors "$name pods-memory" "$rc" "$T/results/pods-memory-$name.json"
}

# ---------------------------------------------------------------- crio
run_crio() {
  local d="$T/store/crio" pid
  mkdir -p "$d/cni"
  cp "$T/results/net.conflist" "$d/cni/10-bench.conflist"
  crio_start "$d"
  pid="$DAEMON_PID"
  bench crio "$pid" "$d/crio.sock" "$d/"
  leftovers crio "$d"
  crio_stop "$d" "$pid"
  reset_network
}

# ---------------------------------------------------------------- containerd
run_containerd() {
  local d="$T/store/containerd" pid
  mkdir -p "$d/cni"
  cp "$T/results/net.conflist" "$d/cni/10-bench.conflist"
  containerd_start "$d" registry.k8s.io --pods
  pid="$DAEMON_PID"
  containerd_pull_pause "$d"
  bench containerd "$pid" "$d/containerd.sock" "-address $d/containerd.sock"
  leftovers containerd "$d"
  containerd_stop "$d" "$pid"
  reset_network
}

[ "$ONLY" = containerd ] || run_crio
if [ "$ONLY" != crio ]; then
  # Only containerd needs it (its sandbox image); crio's run has no registry around.
  start_registry "$T/store/reg"
  push_testimages
  log "registry on 127.0.0.1:$PORT holds the test images (pause:3.9)"
  run_containerd
fi

# ---------------------------------------------------------------- table
machine "$T/results/machine.json"
/usr/bin/python3 "$HERE/report.py" pods "$T/results" | tee "$T/results/table.md"
[ "$FAILED" -eq 0 ] || { log "done, but some steps failed (see above)"; exit 1; }
log "done"
