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
#   1. run-container, sequential: --runs (default 30) pod + container after 3 warm-up,
#      each RunPodSandbox + CreateContainer + StartContainer timed as one sample
#      ("run"), then StopContainer (timeout 0) + RemoveContainer + StopPodSandbox +
#      RemovePodSandbox timed as one ("teardown");
#   2. the same with P at once (default 8): --parallel-runs rounds (default 4, so 32)
#      after one warm-up round, the P teardowns together too;
#   3. exec-sync: ExecSync `true` --execs times (default 50, after 5 warm-up) in one
#      running container;
#   4. containers-memory: --containers pods with one running container each (default
#      50) held at once: the daemon's VmRSS idle (image pulled) and with them, and the
#      PSS of the per-container processes the runtime keeps (crio: conmon;
#      containerd: containerd-shim-runc-v2 + pause), the containers' own `sleep`
#      excluded; then all removed.
#
# Environment: BUILD (build dir holding crio/crio and bench/crio-bench; default: the
# first of /work/build-benchctr, /work/build-benchpod, /work/build-bench,
# <source>/build, /work/build-main that has both), CRIO, CRIO_BENCH, CONTAINERD, RUNC,
# TESTIMAGES, TIME_LIMIT (seconds for the whole run, default 400).
#
# Exit status 1 when a step failed (the table is still printed). Everything started
# is stopped and everything created removed on exit, failure or Ctrl-C: daemons,
# conmons, shims, runc containers (both runc roots), the registry, the bridge, netns
# files, the tmpfs mounts.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

RUNS=30
PARALLEL=8
PARALLEL_RUNS=4
EXECS=50
CONTAINERS=50
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

if [ -z "${BUILD:-}" ]; then
  for b in /work/build-benchctr /work/build-benchpod /work/build-bench "$HERE/../build" /work/build-main; do
    if [ -x "$b/bench/crio-bench" ] && [ -x "$b/crio/crio" ]; then BUILD="$b"; break; fi
  done
fi
CRIO="${CRIO:-${BUILD:-}/crio/crio}"
CRIO_BENCH="${CRIO_BENCH:-${BUILD:-}/bench/crio-bench}"
CONTAINERD="${CONTAINERD:-/usr/bin/containerd}"
RUNC="${RUNC:-/usr/sbin/runc}"
TESTIMAGES="${TESTIMAGES:-/work/shared/testimages/build-and-push.sh}"
TIME_LIMIT="${TIME_LIMIT:-400}"
REGISTRY_BIN=/usr/bin/docker-registry
PAUSE_IMAGE=registry.k8s.io/pause:3.9
IMAGE=registry.k8s.io/e2e-test-images/busybox:1.29-2
for b in "$CRIO_BENCH" "$RUNC" /usr/bin/python3 /usr/sbin/ip /usr/lib/cni/bridge /usr/lib/cni/host-local /usr/lib/cni/portmap; do
  [ -x "$b" ] || { echo "containers.sh: missing $b (set BUILD= or the binary's variable)" >&2; exit 1; }
done
[ "$ONLY" = containerd ] || [ -x "$CRIO" ] || { echo "containers.sh: missing $CRIO" >&2; exit 1; }
for b in "$REGISTRY_BIN" "$TESTIMAGES"; do
  [ -x "$b" ] || { echo "containers.sh: missing $b (apt-get install docker-registry)" >&2; exit 1; }
done
if [ "$ONLY" != crio ]; then
  for b in "$CONTAINERD" /usr/bin/containerd-shim-runc-v2; do
    [ -x "$b" ] || { echo "containers.sh: missing $b (apt-get install containerd docker-registry)" >&2; exit 1; }
  done
fi

START=$(date +%s)
DEADLINE=$((START + TIME_LIMIT))
# Seconds left for the next step (at least 1, so `timeout` stops it at once when late).
left() { local l=$((DEADLINE - $(date +%s))); [ "$l" -ge 1 ] || l=1; echo "$l"; }
log() { printf '[%3ds] %s\n' $(( $(date +%s) - START )) "$*" >&2; }

T="$(mktemp -d /tmp/crio-bench-ctr.XXXXXX)"
PIDS=()
MOUNTS=()
CHILD=""
BRIDGE=""
NETNAME=""

# Runs a long step in the background and waits for it: bash runs a trap only between
# commands, and `wait` is the one it interrupts, so a kill stops us at once.
step() {
  "$@" &
  CHILD=$!
  local rc=0
  wait "$CHILD" || rc=$?
  CHILD=""
  return "$rc"
}

stop_pid() {  # TERM, then KILL after 5 s; only our own children
  local pid="$1"
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# PIDs of the processes whose command line contains TEXT (ours: TEXT is a path
# below this run's temp dir), this script and its children excluded.
pids_with() {
  local text="$1" p
  for p in /proc/[0-9]*; do
    p="${p#/proc/}"
    [ "$p" = "$$" ] && continue
    tr '\0' ' ' 2>/dev/null < "/proc/$p/cmdline" | grep -qF -- "$text" && echo "$p"
  done
  return 0
}

# Takes down what a containerd run may leave when it did not finish: its runc
# containers (the pause processes), its shims and their sockets (containerd 1.6
# keeps them in /run/containerd/s/, named by sha256 of address/namespace/id).
reap_containerd() {
  local d="$1" id pid
  [ -d "$d" ] || return 0
  if [ -d "$d/runc" ]; then
    for ns in "$d"/runc/*/; do
      [ -d "$ns" ] || continue
      for id in $("$RUNC" --root "$ns" list -q 2>/dev/null); do
        "$RUNC" --root "$ns" delete -f "$id" >/dev/null 2>&1 || true
      done
    done
  fi
  for pid in $(pids_with "-address $d/containerd.sock"); do kill -KILL "$pid" 2>/dev/null || true; done
  for dir in "$d"/state/io.containerd.runtime.v2.task/*/*/; do
    [ -d "$dir" ] || continue
    id="$(basename "$dir")"
    ns="$(basename "$(dirname "$dir")")"
    rm -f "/run/containerd/s/$(printf '%s' "$d/containerd.sock/$ns/$id" | sha256sum | cut -d' ' -f1)"
  done
}

cleanup() {
  local rc=$?
  set +e
  [ "$rc" -eq 0 ] || log "exit status $rc; cleaning up"
  [ -z "$CHILD" ] || stop_pid "$CHILD"
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  reap_containerd "$T/store/containerd"
  # crio's containers (the sleeps name nothing of ours): through its runc root.
  if [ -d "$T/store/crio/runc" ]; then
    for id in $("$RUNC" --root "$T/store/crio/runc" list -q 2>/dev/null); do
      "$RUNC" --root "$T/store/crio/runc" delete -f "$id" >/dev/null 2>&1 || true
    done
  fi
  # Any process still naming our dir (a conmon, a CNI plugin) is ours.
  for pid in $(pids_with "$T/"); do kill -KILL "$pid" 2>/dev/null || true; done
  # Daemons leave mounts below the store (overlay rootfs, pinned namespaces, pod
  # /dev/shm, netns files): deepest first, then the tmpfs themselves.
  for m in "${MOUNTS[@]}"; do
    if mountpoint -q "$m"; then
      grep -o " $m/[^ ]*" /proc/self/mounts | sort -r | while read -r sub; do umount -l "$sub"; done
      umount "$m" 2>/dev/null || umount -l "$m"
    fi
  done
  if [ -n "$BRIDGE" ] && ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE"; fi
  # libcni's result cache (containerd's CNI calls use the default /var/lib/cni).
  [ -z "$NETNAME" ] || rm -f /var/lib/cni/results/"$NETNAME"-*
  if [ -n "$KEEP" ] && [ -d "$T/results" ]; then mkdir -p "$KEEP" && cp -r "$T/results/." "$KEEP/"; fi
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_socket() {  # PATH PID NAME LOG
  for _ in $(seq 1 200); do
    [ -S "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || { echo "containers.sh: $3 exited at start; its log:" >&2; tail -20 "$4" >&2; exit 1; }
    sleep 0.05
  done
  echo "containers.sh: $3 did not create $1 within 10 s; its log:" >&2; tail -20 "$4" >&2; exit 1
}

mount_tmpfs() {
  mkdir -p "$1"
  mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1"
  MOUNTS=("$1" "${MOUNTS[@]}")
}

mkdir -p "$T/results"
# The machine is shared: what else was running is part of the result.
machine() {
  /usr/bin/python3 - "$1" <<'PY'
import json, os, platform, sys
path = sys.argv[1]
facts = json.load(open(path)) if os.path.exists(path) else {"cpus": os.cpu_count(), "kernel": platform.release()}
facts.setdefault("loadavg", []).append(open("/proc/loadavg").read().split()[0:3])
json.dump(facts, open(path, "w"))
PY
}
machine "$T/results/machine.json"

# ---------------------------------------------------------------- the CNI network
# A bridge name and a /24 nobody on the machine uses; host-local keeps its leases
# in our dir. No ipMasq: nothing leaves the host, and no NAT rules to clean up.
for _ in $(seq 1 50); do
  BRIDGE="bctr$((RANDOM % 10000))"
  ip link show "$BRIDGE" >/dev/null 2>&1 || break
done
for _ in $(seq 1 50); do
  SUBNET="10.$((100 + RANDOM % 100)).$((RANDOM % 250)).0"
  prefix="${SUBNET%.0}."
  ip -4 addr show | grep -qF " $prefix" || ip -4 route show | grep -qF "$prefix" || break
done
NETNAME="crio-bench-$BRIDGE"
cat > "$T/results/net.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$NETNAME",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$SUBNET/24"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$T/ipam"
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
log "CNI network $NETNAME: bridge $BRIDGE, $SUBNET/24"

mount_tmpfs "$T/store" 2g

# Between the daemons: no bridge and no lease left, so each starts the same way.
reset_network() {
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE"; fi
  rm -rf "$T/ipam"
}

FAILED=0
report_errors() {  # WHAT RC JSON
  if [ "$2" -ne 0 ]; then
    FAILED=1
    log "$1: crio-bench exited with $2"
    /usr/bin/python3 - "$3" <<'PY' >&2 || true
import json, sys
r = json.load(open(sys.argv[1]))
if "aborted" in r: print("  aborted:", r["aborted"])
for op, s in r.get("operations", {}).items():
    for m in s.get("error_messages", []): print(f"  {op}: {m}")
PY
  fi
}

# After every pod was removed, what the daemon left behind: mounts below its dir
# (netns files, pod /dev/shm, rootfs), host-local leases, ports on the bridge.
leftovers() {  # NAME DIR
  local mounts leases ports
  mounts=$(grep -c " $2/" /proc/self/mounts || true)
  leases=$(find "$T/ipam" -type f ! -name lock ! -name 'last_reserved_ip*' 2>/dev/null | wc -l)
  ports=$(ip -o link show master "$BRIDGE" 2>/dev/null | wc -l)
  printf '{"mounts": %d, "ip_leases": %d, "bridge_ports": %d}\n' "$mounts" "$leases" "$ports" \
    > "$T/results/leftovers-$1.json"
  [ "$mounts$leases$ports" = 000 ] || log "$1 left $mounts mounts, $leases IP leases, $ports bridge ports"
}

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
  log "$name: exec-sync, $EXECS calls (after 5 warm-up)"
  rc=0
  step timeout "$(left)" "${cb[@]}" exec-sync --runs "$EXECS" --warmup 5 \
    > "$T/results/exec-sync-$name.json" || rc=$?
  report_errors "$name exec-sync" "$rc" "$T/results/exec-sync-$name.json"
  log "$name: containers-memory, $CONTAINERS containers held"
  rc=0
  step timeout "$(left)" "${cb[@]}" containers-memory --pods "$CONTAINERS" --pod-procs "$marker" \
    > "$T/results/containers-memory-$name.json" || rc=$?
  report_errors "$name containers-memory" "$rc" "$T/results/containers-memory-$name.json"
}

# ---------------------------------------------------------------- crio
run_crio() {
  local d="$T/store/crio"
  mkdir -p "$d"/{root,runroot,run,exits,ns,cni,conf.d,lib,logs,runc}
  cp "$T/results/net.conflist" "$d/cni/10-bench.conflist"
  : > "$d/storage.conf"
    cat > "$d/registries.conf" <<EOF
[[registry]]
prefix = "registry.k8s.io"
location = "127.0.0.1:$PORT"
insecure = true
EOF
  cat > "$d/policy.json" <<'EOF'
{"default": [{"type": "insecureAcceptAnything"}]}
EOF
  cat > "$d/crio.conf" <<EOF
[crio]
root = "$d/root"
runroot = "$d/runroot"
storage_driver = "overlay"
log_dir = "$d/logs"
version_file = "$d/run/version"
clean_shutdown_file = "$d/lib/clean.shutdown"
[crio.api]
listen = "$d/crio.sock"
[crio.runtime]
log_level = "warn"
container_exits_dir = "$d/exits"
container_attach_socket_dir = "$d/run"
namespaces_dir = "$d/ns"
hooks_dir = []
[crio.runtime.runtimes.runc]
runtime_path = "$RUNC"
runtime_root = "$d/runc"
[crio.image]
signature_policy = "$d/policy.json"
[crio.network]
network_dir = "$d/cni"
plugin_dirs = ["/usr/lib/cni"]
EOF
  CONTAINERS_REGISTRIES_CONF="$d/registries.conf" CONTAINERS_STORAGE_CONF="$d/storage.conf" \
    "$CRIO" --config "$d/crio.conf" --config-dir "$d/conf.d" > "$T/crio.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait_socket "$d/crio.sock" "$pid" crio "$T/crio.log"
  log "crio $("$CRIO" --version 2>/dev/null | awk '/^Version:/ {print $2}') up (pid $pid)"
  pull_image crio "$d/crio.sock"
  bench crio "$pid" "$d/crio.sock" "$d/"
  leftovers crio "$d"
  stop_pid "$pid"
  grep -E 'level=(error|warn)|"level":"(error|warn)"| (ERROR|WARN) ' "$T/crio.log" | sort | uniq -c | sort -rn | head -5 \
    > "$T/results/crio-log-errors.txt" || true
  cp "$T/crio.log" "$T/results/crio.log"
  reset_network
}

# ---------------------------------------------------------------- containerd
start_registry() {
  mkdir -p "$T/store/reg"
  PORT=$(free_port)
  cat > "$T/store/reg/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $T/store/reg/data
http:
  addr: 127.0.0.1:$PORT
EOF
  "$REGISTRY_BIN" serve "$T/store/reg/config.yml" > "$T/registry.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && break
    sleep 0.1
  done
  step timeout "$(left)" env REGISTRY="127.0.0.1:$PORT" "$TESTIMAGES" > "$T/testimages.log" 2>&1 ||
    { echo "containers.sh: $TESTIMAGES failed:" >&2; tail -20 "$T/testimages.log" >&2; exit 1; }
  log "registry on 127.0.0.1:$PORT holds the test images (busybox, pause)"
}

run_containerd() {
  local d="$T/store/containerd"
  mkdir -p "$d"/{root,state,opt,cni,runc,certs.d/registry.k8s.io}
  cp "$T/results/net.conflist" "$d/cni/10-bench.conflist"
  cat > "$d/certs.d/registry.k8s.io/hosts.toml" <<EOF
server = "http://127.0.0.1:$PORT"
[host."http://127.0.0.1:$PORT"]
  capabilities = ["pull", "resolve"]
EOF
  cat > "$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = [
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.native", "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.grpc.v1.introspection",
]
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[debug]
  address = ""
  level = "warn"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  sandbox_image = "$PAUSE_IMAGE"
  # Root here lacks CAP_SYS_RESOURCE: the sandbox's -998 would fail the pause start.
  restrict_oom_score_adj = true
  # The netns files go below our state dir, not /run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$RUNC"
        Root = "$d/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/cni"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$d/certs.d"
EOF
  "$CONTAINERD" --config "$d/config.toml" > "$T/containerd.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait_socket "$d/containerd.sock" "$pid" containerd "$T/containerd.log"
  log "containerd $("$CONTAINERD" --version | awk '{print $3}') up (pid $pid); pulling $PAUSE_IMAGE (untimed)"
  local rc=0
  step timeout "$(left)" "$CRIO_BENCH" --endpoint "unix://$d/containerd.sock" image-status --image "$PAUSE_IMAGE" \
    --runs 1 --timeout 60 > "$T/results/pause-containerd.json" || rc=$?
  report_errors "containerd pull $PAUSE_IMAGE" "$rc" "$T/results/pause-containerd.json"
  [ "$rc" -eq 0 ] || exit 1
  pull_image containerd "$d/containerd.sock"
  bench containerd "$pid" "$d/containerd.sock" "-address $d/containerd.sock"
  leftovers containerd "$d"
  stop_pid "$pid"
  reap_containerd "$d"
  cp "$T/containerd.log" "$T/results/containerd.log"
  reset_network
}

start_registry
[ "$ONLY" = containerd ] || run_crio
[ "$ONLY" = crio ] || run_containerd

# ---------------------------------------------------------------- table
machine "$T/results/machine.json"
/usr/bin/python3 "$HERE/report.py" containers "$T/results" | tee "$T/results/table.md"
[ "$FAILED" -eq 0 ] || { log "done, but some steps failed (see above)"; exit 1; }
log "done"
