#!/usr/bin/env bash
# Side-by-side container benchmark: crio vs containerd's CRI plugin.
#
#   sudo bench/containers.sh [--runs N] [--parallel P] [--parallel-runs R] [--execs N]
#                            [--containers N] [--only crio|containerd] [--keep DIR]
#
# The same setup as pods.sh (one CNI conflist for both, own configs, sockets and
# stores on a fresh tmpfs, /usr/sbin/runc for both) plus a local registry holding
# /work/shared/testimages (docker-registry on a free loopback port) that BOTH daemons
# reach under registry.k8s.io (crio: a registries.conf [[registry]] prefix/location;
# containerd: certs.d/registry.k8s.io/hosts.toml). The image,
# registry.k8s.io/e2e-test-images/busybox:1.29-2, is pulled once before anything is
# timed. Pods ask for pid CONTAINER (crio starts no infra process, containerd a
# pause); every container runs `sleep 3600`. For each daemon in turn:
#   1. run-container, sequential: --runs (default 50) pod + container after 3 warm-up,
#      each RunPodSandbox + CreateContainer + StartContainer timed as one sample
#      ("run"), then StopContainer (timeout 0) + RemoveContainer + StopPodSandbox +
#      RemovePodSandbox timed as one ("teardown");
#   2. the same with P at once (default 8): --parallel-runs rounds (default 7, so 56
#      samples) after one warm-up round, the P teardowns together too;
#   3. exec-sync, sequential: ExecSync `true` --execs times (default 50, after 5
#      warm-up) in one running container;
#   4. exec-sync, P at once: --parallel-runs rounds (default 7, so 56 samples) after
#      one warm-up round, each call of a round in its own running container;
#   5. containers-memory: --containers pods with one running container each (default
#      100) held at once: the daemon's VmRSS idle (image pulled) and with them, and the
#      PSS of the per-container processes the runtime keeps (crio: conmon;
#      containerd: containerd-shim-runc-v2 + pause), the containers' own `sleep`
#      excluded; then all removed.
#
# Environment: BUILD (build dir holding crio/crio and bench/crio-bench; default: the
# first of <source>/build-bench, <source>/build that has both), CRIO, CRIO_BENCH, CONTAINERD, RUNC,
# TESTIMAGES, TIME_LIMIT (seconds for the whole run, default 400).
#
# Exit status 1 when a step failed (the table is still printed). Everything started
# is stopped and everything created removed on exit, failure or Ctrl-C: daemons,
# conmons, shims, runc containers (both runc roots), the registry, the bridge, netns
# files, the tmpfs mounts. (The setup and clean-up shared with pull.sh and pods.sh
# are in lib.sh.)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

RUNS=50
PARALLEL=8
PARALLEL_RUNS=7
EXECS=50
CONTAINERS=100
ONLY=""
KEEP=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --parallel) PARALLEL="$2"; shift 2 ;;
    --parallel-runs) PARALLEL_RUNS="$2"; shift 2 ;;
    --execs) EXECS="$2"; shift 2 ;;
    --containers) CONTAINERS="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --keep) KEEP="$2"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "containers.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "containers.sh: run as root (tmpfs mounts, network, daemons)" >&2; exit 1; }
PROG=containers.sh
# shellcheck source=lib.sh
. "$HERE/lib.sh"

bench_find_build "$HERE/../build-bench" "$HERE/../build"
TIME_LIMIT="${TIME_LIMIT:-400}"
IMAGE=registry.k8s.io/e2e-test-images/busybox:1.29-2
for b in "$CRIO_BENCH" "$RUNC" /usr/bin/python3 /usr/sbin/ip /usr/lib/cni/bridge /usr/lib/cni/host-local /usr/lib/cni/portmap; do
  need "$b" "set BUILD= or the binary's variable"
done
[ "$ONLY" = containerd ] || need "$CRIO" "set BUILD= or CRIO="
for b in "$REGISTRY_BIN" "$TESTIMAGES"; do need "$b" "apt-get install docker-registry"; done
if [ "$ONLY" != crio ]; then
  for b in "$CONTAINERD" /usr/bin/containerd-shim-runc-v2; do
    need "$b" "apt-get install containerd docker-registry"
  done
fi

bench_init ctr
make_cni_network bctr
mount_tmpfs "$T/store" 2g

pull_image() {  # NAME SOCKET: the image, pulled untimed before anything is timed
  local rc=0
  step timeout "$(left)" "$CRIO_BENCH" --endpoint "unix://$2" image-status --image "$IMAGE" \
    --runs 1 --timeout 60 > "$T/results/image-$1.json" || rc=$?
  report_errors "$1 pull $IMAGE" "$rc" "$T/results/image-$1.json"
  [ "$rc" -eq 0 ] || exit 1
}

bench() {  # NAME PID SOCKET MARKER
  local name="$1" pid="$2" sock="$3" marker="$4" rc
  local cb=("$CRIO_BENCH" --endpoint "unix://$sock" --daemon-pid "$pid" --timeout 60 --image "$IMAGE")
  log "$name: run-container, $RUNS one at a time (after 3 warm-up)"
  rc=0
  step timeout "$(left)" "${cb[@]}" run-container --runs "$RUNS" --warmup 3 \
    > "$T/results/run-container-seq-$name.json" || rc=$?
  report_errors "$name run-container" "$rc" "$T/results/run-container-seq-$name.json"
  log "$name: run-container, $PARALLEL_RUNS rounds of $PARALLEL at once (after 1 warm-up round)"
  rc=0
  step timeout "$(left)" "${cb[@]}" run-container --runs "$PARALLEL_RUNS" --parallel "$PARALLEL" --warmup 1 \
    > "$T/results/run-container-par-$name.json" || rc=$?
  report_errors "$name run-container --parallel $PARALLEL" "$rc" "$T/results/run-container-par-$name.json"
  log "$name: exec-sync, $EXECS calls one at a time (after 5 warm-up)"
  rc=0
  step timeout "$(left)" "${cb[@]}" exec-sync --runs "$EXECS" --warmup 5 \
    > "$T/results/exec-sync-seq-$name.json" || rc=$?
  report_errors "$name exec-sync" "$rc" "$T/results/exec-sync-seq-$name.json"
  log "$name: exec-sync, $PARALLEL_RUNS rounds of $PARALLEL at once in $PARALLEL containers (after 1 warm-up round)"
  rc=0
  step timeout "$(left)" "${cb[@]}" exec-sync --runs "$PARALLEL_RUNS" --parallel "$PARALLEL" --warmup 1 \
    > "$T/results/exec-sync-par-$name.json" || rc=$?
  report_errors "$name exec-sync --parallel $PARALLEL" "$rc" "$T/results/exec-sync-par-$name.json"
  log "$name: containers-memory, $CONTAINERS containers held"
  rc=0
  step timeout "$(left)" "${cb[@]}" containers-memory --pods "$CONTAINERS" --pod-procs "$marker" \
    > "$T/results/containers-memory-$name.json" || rc=$?
  report_errors "$name containers-memory" "$rc" "$T/results/containers-memory-$name.json"
}

# ---------------------------------------------------------------- crio
run_crio() {
  local d="$T/store/crio" pid
  mkdir -p "$d/cni"
  cp "$T/results/net.conflist" "$d/cni/10-bench.conflist"
  cat > "$d/registries.conf" <<EOF
[[registry]]
prefix = "registry.k8s.io"
location = "127.0.0.1:$PORT"
insecure = true
EOF
  crio_start "$d"
  pid="$DAEMON_PID"
  pull_image crio "$d/crio.sock"
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
  pull_image containerd "$d/containerd.sock"
  bench containerd "$pid" "$d/containerd.sock" "-address $d/containerd.sock"
  leftovers containerd "$d"
  containerd_stop "$d" "$pid"
  reset_network
}

# Both daemons pull the busybox image from it, so it comes first.
start_registry "$T/store/reg"
push_testimages
log "registry on 127.0.0.1:$PORT holds the test images (busybox, pause)"
[ "$ONLY" = containerd ] || run_crio
[ "$ONLY" = crio ] || run_containerd

# ---------------------------------------------------------------- table
machine "$T/results/machine.json"
/usr/bin/python3 "$HERE/report.py" containers "$T/results" | tee "$T/results/table.md"
[ "$FAILED" -eq 0 ] || { log "done, but some steps failed (see above)"; exit 1; }
log "done"
