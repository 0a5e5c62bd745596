#!/usr/bin/env bash
# Side-by-side cold pull of one big image: crio vs containerd's CRI plugin.
#
#   sudo bench/pull.sh [--runs N] [--warmup N] [--parallel P] [--only crio|containerd] [--keep DIR]
#
# --parallel P starts P PullImage calls of the same image together in each round
# (one download should serve them all).
#
# Environment: BUILD (build dir holding crio/crio and bench/crio-bench; default: the
# first of /work/build-bench, <source>/build, /work/build-main that has both),
# CRIO, CRIO_BENCH, CONTAINERD (binaries), TARGET_MB (image size, default 200),
# FORMAT (oci or docker: the manifest and layer media types, default oci),
# TIME_LIMIT (seconds for the whole run, default 290).
#
# One command does everything: a registry on a free loopback port (data in a
# tmpfs), the image built from host files and pushed, a fresh tmpfs for the
# daemons' storage, then each daemon in turn with its own config, socket and dirs,
# driven by crio-bench (PullImage, then RemoveImage, RUNS times; between rounds it
# waits until the daemon's layer/content dirs are empty, so every pull is cold).
# The results (JSON per daemon and the table) stay in --keep DIR if given.
# Everything started is stopped and everything mounted or created is removed on
# exit, failure or Ctrl-C.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# ---------------------------------------------------------------- hook mode
# crio-bench runs this between rounds: wait until every DIR is empty (ignoring the
# names given with --ignore), so the next pull finds no layer or blob left.
if [ "${1:-}" = "--wait-empty" ]; then
  shift
  ignore=""
  if [ "${1:-}" = "--ignore" ]; then ignore="$2"; shift 2; fi
  found=0
  for d in "$@"; do [ -d "$d" ] && found=1; done
  [ "$found" -eq 1 ] || { echo "pull.sh: none of these exists (wrong store layout?): $*" >&2; exit 1; }
  for _ in $(seq 1 100); do
    left=0
    for d in "$@"; do
      [ -d "$d" ] || continue
      n=$(find "$d" -mindepth 1 -maxdepth 1 ${ignore:+! -name "$ignore"} | wc -l)
      left=$((left + n))
    done
    [ "$left" -eq 0 ] && exit 0
    sleep 0.1
  done
  echo "pull.sh: after 10 s, $left entries still in: $*" >&2
  for d in "$@"; do ls -la "$d" >&2 2>/dev/null || true; done
  exit 1
fi

RUNS=5
WARMUP=1
PARALLEL=1
ONLY=""
KEEP=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --parallel) PARALLEL="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --keep) KEEP="$2"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "pull.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "pull.sh: run as root (tmpfs mounts, daemons)" >&2; exit 1; }

if [ -z "${BUILD:-}" ]; then
  for b in /work/build-bench "$HERE/../build" /work/build-main; do
    if [ -x "$b/bench/crio-bench" ] && [ -x "$b/crio/crio" ]; then BUILD="$b"; break; fi
  done
fi
CRIO="${CRIO:-${BUILD:-}/crio/crio}"
CRIO_BENCH="${CRIO_BENCH:-${BUILD:-}/bench/crio-bench}"
CONTAINERD="${CONTAINERD:-/usr/bin/containerd}"
TARGET_MB="${TARGET_MB:-200}"
FORMAT="${FORMAT:-oci}"
TIME_LIMIT="${TIME_LIMIT:-290}"
REGISTRY_BIN=/usr/bin/docker-registry
for b in "$CRIO_BENCH" "$REGISTRY_BIN" /usr/bin/python3; do
  [ -x "$b" ] || { echo "pull.sh: missing $b (set BUILD= or the binary's variable)" >&2; exit 1; }
done
[ "$ONLY" = containerd ] || [ -x "$CRIO" ] || { echo "pull.sh: missing $CRIO" >&2; exit 1; }
[ "$ONLY" = crio ] || [ -x "$CONTAINERD" ] || { echo "pull.sh: missing $CONTAINERD (apt-get install containerd)" >&2; exit 1; }

START=$(date +%s)
DEADLINE=$((START + TIME_LIMIT))
# Seconds left for the next step (at least 1, so `timeout` stops it at once when late).
left() { local l=$((DEADLINE - $(date +%s))); [ "$l" -ge 1 ] || l=1; echo "$l"; }
log() { printf '[%3ds] %s\n' $(( $(date +%s) - START )) "$*" >&2; }

T="$(mktemp -d /tmp/crio-bench-pull.XXXXXX)"
PIDS=()
MOUNTS=()
CHILD=""

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

cleanup() {
  local rc=$?
  set +e
  [ -z "$CHILD" ] || stop_pid "$CHILD"
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  # Daemons may leave mounts below the store (overlay); take them down first.
  for m in "${MOUNTS[@]}"; do
    if mountpoint -q "$m"; then
      grep -o " $m/[^ ]*" /proc/self/mounts | sort -r | while read -r sub; do umount -l "$sub"; done
      umount "$m" 2>/dev/null || umount -l "$m"
    fi
  done
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
    kill -0 "$2" 2>/dev/null || { echo "pull.sh: $3 exited at start; its log:" >&2; tail -20 "$4" >&2; exit 1; }
    sleep 0.05
  done
  echo "pull.sh: $3 did not create $1 within 10 s; its log:" >&2; tail -20 "$4" >&2; exit 1
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

# ---------------------------------------------------------------- registry + image
mount_tmpfs "$T/reg" 1g
PORT=$(free_port)
cat > "$T/reg/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $T/reg/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$PORT
EOF
"$REGISTRY_BIN" serve "$T/reg/config.yml" > "$T/registry.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && break
  sleep 0.1
done
log "registry on 127.0.0.1:$PORT; building the image (~${TARGET_MB} MB) from host files"
step timeout "$(left)" /usr/bin/python3 "$HERE/make_big_image.py" --registry "127.0.0.1:$PORT" \
  --target-mb "$TARGET_MB" --format "$FORMAT" --summary "$T/results/image.json" > /dev/null
IMAGE=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["reference"])' "$T/results/image.json")
log "pushed $IMAGE"

mount_tmpfs "$T/store" 4g

bench() {  # NAME PID SOCKET WAIT-EMPTY-ARGS...
  local name="$1" pid="$2" sock="$3"; shift 3
  local hook
  hook="$(printf '%q ' "$HERE/pull.sh" --wait-empty "$@")"
  log "$name: $WARMUP warm-up + $RUNS recorded cold pulls"
  local rc=0
  step timeout "$(left)" "$CRIO_BENCH" --endpoint "unix://$sock" pull --image "$IMAGE" \
    --runs "$RUNS" --warmup "$WARMUP" --parallel "$PARALLEL" --daemon-pid "$pid" --timeout 120 \
    --between "$hook" > "$T/results/$name.json" || rc=$?
  report_errors "$name" "$rc" "$T/results/$name.json"
  # With the image present (pulled again, untimed): the calls a kubelet makes all the time.
  for s in image-status list-images; do
    rc=0
    step timeout "$(left)" "$CRIO_BENCH" --endpoint "unix://$sock" "$s" --image "$IMAGE" \
      --runs 200 --warmup 10 --timeout 30 > "$T/results/$s-$name.json" || rc=$?
    report_errors "$name $s" "$rc" "$T/results/$s-$name.json"
  done
}

report_errors() {  # WHAT RC JSON
  if [ "$2" -ne 0 ]; then
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

# ---------------------------------------------------------------- crio
run_crio() {
  local d="$T/store/crio"
  mkdir -p "$d"/{root,runroot,run,exits,ns,cni,conf.d,lib,logs,runc}
  : > "$d/storage.conf"
  cat > "$d/policy.json" <<'EOF'
{"default": [{"type": "insecureAcceptAnything"}]}
EOF
  cat > "$d/registries.conf" <<EOF
unqualified-search-registries = []
[[registry]]
prefix = "127.0.0.1:$PORT"
location = "127.0.0.1:$PORT"
insecure = true
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
runtime_path = "/usr/sbin/runc"
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
  bench crio "$pid" "$d/crio.sock" --ignore l "$d/root/overlay" "$d/root/overlay-staging"
  stop_pid "$pid"
  rm -rf "$d"
}

# ---------------------------------------------------------------- containerd
run_containerd() {
  local d="$T/store/containerd"
  mkdir -p "$d"/{root,state,opt,cni,certs.d/127.0.0.1:$PORT}
  cat > "$d/certs.d/127.0.0.1:$PORT/hosts.toml" <<EOF
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
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/cni"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$d/certs.d"
EOF
  "$CONTAINERD" --config "$d/config.toml" > "$T/containerd.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait_socket "$d/containerd.sock" "$pid" containerd "$T/containerd.log"
  log "containerd $("$CONTAINERD" --version | awk '{print $3}') up (pid $pid)"
  bench containerd "$pid" "$d/containerd.sock" \
    "$d/root/io.containerd.content.v1.content/blobs/sha256" \
    "$d/root/io.containerd.content.v1.content/ingest" \
    "$d/root/io.containerd.snapshotter.v1.overlayfs/snapshots"
  stop_pid "$pid"
  rm -rf "$d"
}

[ "$ONLY" = containerd ] || run_crio
[ "$ONLY" = crio ] || run_containerd

# ---------------------------------------------------------------- table
machine "$T/results/machine.json"
/usr/bin/python3 "$HERE/report.py" pull "$T/results" | tee "$T/results/table.md"
log "done"
