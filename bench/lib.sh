# shellcheck shell=bash
# bench/lib.sh — the setup pull.sh, pods.sh and containers.sh share. Sourced, never run.
#
# The sourcing script sets PROG (its name, for messages), HERE (bench/), KEEP (a dir
# to copy the results to, or "") and then calls:
#   bench_find_build DIR...  BUILD = the first DIR holding crio/crio and bench/crio-bench
#                            (unless BUILD is set); CRIO, CRIO_BENCH, CONTAINERD, RUNC,
#                            TESTIMAGES default from it / the Debian paths
#   bench_init NAME          START and DEADLINE (from TIME_LIMIT), the temp dir T
#                            (/tmp/crio-bench-NAME.XXXXXX) with T/results, machine.json,
#                            and the traps that take everything down again
# and then the helpers it needs:
#   need FILE HINT           stop before anything starts when FILE is not executable
#   step CMD...              a long step, interruptible (see below)
#   left, log                seconds left before DEADLINE; a timestamped line on stderr
#   mount_tmpfs DIR SIZE     a fresh tmpfs, unmounted (with all below it) on exit
#   make_cni_network PREFIX  a bridge (PREFIXnnnn) and /24 nobody uses, one conflist in
#                            T/results/net.conflist; reset_network; leftovers NAME DIR
#   start_registry DIR       docker-registry on a free loopback port (PORT), data in DIR
#   push_testimages          /work/shared/testimages into it (pause, busybox, ...)
#   crio_start DIR           crio.conf etc. in DIR (the caller may write DIR/registries.conf
#                            and DIR/cni/* first), started; DAEMON_PID; crio_stop DIR PID
#   containerd_start DIR REGHOST [--pods]
#                            config.toml in DIR, certs.d/REGHOST sending pulls to
#                            127.0.0.1:PORT; --pods adds what pods need (runc, CNI from
#                            DIR/cni, the sandbox image, ...); DAEMON_PID; containerd_stop
#   report_errors WHAT RC JSON   prints a failed crio-bench run's errors, sets FAILED=1
# Whatever is started or created through these is stopped and removed on exit, failure
# or a signal: daemons, shims and runc containers (both runtimes' runc roots), any
# process naming T, mounts below T, the bridge, libcni's cache entries, T itself.

REGISTRY_BIN=/usr/bin/docker-registry
PAUSE_IMAGE=registry.k8s.io/pause:3.9
FAILED=0  # set by report_errors, read by the scripts at the end
PIDS=()
MOUNTS=()
CHILD=""
BRIDGE=""
NETNAME=""
DAEMON_PID=""

bench_find_build() {
  local b
  if [ -z "${BUILD:-}" ]; then
    for b in "$@"; do
      if [ -x "$b/bench/crio-bench" ] && [ -x "$b/crio/crio" ]; then BUILD="$b"; break; fi
    done
  fi
  CRIO="${CRIO:-${BUILD:-}/crio/crio}"
  CRIO_BENCH="${CRIO_BENCH:-${BUILD:-}/bench/crio-bench}"
  CONTAINERD="${CONTAINERD:-/usr/bin/containerd}"
  RUNC="${RUNC:-/usr/sbin/runc}"
  TESTIMAGES="${TESTIMAGES:-/work/shared/testimages/build-and-push.sh}"
}

# need FILE HINT: FILE must be executable, else the run stops before anything starts.
need() {
  [ -x "$1" ] || { echo "$PROG: missing $1 ($2)" >&2; exit 1; }
}

# Seconds left for the next step (at least 1, so `timeout` stops it at once when late).
left() { local l=$((DEADLINE - $(date +%s))); [ "$l" -ge 1 ] || l=1; echo "$l"; }
log() { printf '[%3ds] %s\n' $(( $(date +%s) - START )) "$*" >&2; }

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
# below this run's temp dir), this script excluded.
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
  local d="$1" id pid ns dir
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

bench_cleanup() {
  local rc=$? pid id m
  set +e
  [ "$rc" -eq 0 ] || log "exit status $rc; cleaning up"
  [ -z "$CHILD" ] || stop_pid "$CHILD"
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  reap_containerd "$T/store/containerd"
  # crio's containers (their processes name nothing of ours): through its runc root.
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

# The machine is shared: what else was running is part of the result (called at the
# start and at the end; machine.json keeps both load averages).
machine() {
  /usr/bin/python3 - "$1" <<'PY'
import json, os, platform, sys
path = sys.argv[1]
facts = json.load(open(path)) if os.path.exists(path) else {"cpus": os.cpu_count(), "kernel": platform.release()}
facts.setdefault("loadavg", []).append(open("/proc/loadavg").read().split()[0:3])
json.dump(facts, open(path, "w"))
PY
}

bench_init() {  # NAME
  START=$(date +%s)
  DEADLINE=$((START + TIME_LIMIT))
  T="$(mktemp -d "/tmp/crio-bench-$1.XXXXXX")"
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
  mkdir -p "$T/results"
  machine "$T/results/machine.json"
}

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_socket() {  # PATH PID NAME LOG
  for _ in $(seq 1 200); do
    [ -S "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || { echo "$PROG: $3 exited at start; its log:" >&2; tail -20 "$4" >&2; exit 1; }
    sleep 0.05
  done
  echo "$PROG: $3 did not create $1 within 10 s; its log:" >&2; tail -20 "$4" >&2; exit 1
}

mount_tmpfs() {  # DIR SIZE
  mkdir -p "$1"
  mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1"
  MOUNTS=("$1" "${MOUNTS[@]}")
}

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

# ---------------------------------------------------------------- the CNI network
# A bridge name and a /24 nobody on the machine uses; host-local keeps its leases
# in our dir. No ipMasq: nothing leaves the host, and no NAT rules to clean up.
# bridge (isGateway) + host-local, then portmap; both daemons get this file unchanged.
make_cni_network() {  # BRIDGE-PREFIX
  local subnet prefix
  for _ in $(seq 1 50); do
    BRIDGE="$1$((RANDOM % 10000))"
    ip link show "$BRIDGE" >/dev/null 2>&1 || break
  done
  for _ in $(seq 1 50); do
    subnet="10.$((100 + RANDOM % 100)).$((RANDOM % 250)).0"
    prefix="${subnet%.0}."
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
        "ranges": [[{"subnet": "$subnet/24"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$T/ipam"
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  log "CNI network $NETNAME: bridge $BRIDGE, $subnet/24"
}

# Between the daemons: no bridge and no lease left, so each starts the same way.
reset_network() {
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE"; fi
  rm -rf "$T/ipam"
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

# ---------------------------------------------------------------- the registry
start_registry() {  # DIR: config and data below it; sets PORT
  mkdir -p "$1"
  PORT=$(free_port)
  cat > "$1/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $1/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$PORT
EOF
  "$REGISTRY_BIN" serve "$1/config.yml" > "$T/registry.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && break
    sleep 0.1
  done
}

push_testimages() {
  step timeout "$(left)" env REGISTRY="127.0.0.1:$PORT" "$TESTIMAGES" > "$T/testimages.log" 2>&1 ||
    { echo "$PROG: $TESTIMAGES failed:" >&2; tail -20 "$T/testimages.log" >&2; exit 1; }
}

# ---------------------------------------------------------------- crio
# Everything of its own below DIR: root, runroot, socket, exits/ns/version/shutdown
# files, CNI config dir (empty unless the caller filled DIR/cni), runc with its own
# root, a policy.json accepting anything, empty storage.conf and drop-in dir, and
# DIR/registries.conf (empty unless the caller wrote one).
crio_start() {  # DIR; sets DAEMON_PID
  local d="$1"
  mkdir -p "$d"/{root,runroot,run,exits,ns,cni,conf.d,lib,logs,runc}
  : > "$d/storage.conf"
  [ -e "$d/registries.conf" ] || : > "$d/registries.conf"
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
  DAEMON_PID=$!
  PIDS+=("$DAEMON_PID")
  wait_socket "$d/crio.sock" "$DAEMON_PID" crio "$T/crio.log"
  log "crio $("$CRIO" --version 2>/dev/null | awk '/^Version:/ {print $2}') up (pid $DAEMON_PID)"
}

crio_stop() {  # DIR PID: stops it; its log and its warnings/errors go to the results
  stop_pid "$2"
  grep -E 'level=(error|warn)|"level":"(error|warn)"| (ERROR|WARN) ' "$T/crio.log" | sort | uniq -c | sort -rn | head -5 \
    > "$T/results/crio-log-errors.txt" || true
  cp "$T/crio.log" "$T/results/crio.log"
}

# ---------------------------------------------------------------- containerd
# Own root, state, sockets; unused snapshotters and tracing disabled; overlayfs; the
# CRI registry config_path with certs.d/REGHOST/hosts.toml pointing at the local
# registry. --pods: sandbox_image, restrict_oom_score_adj (root here lacks
# CAP_SYS_RESOURCE), netns files below the state dir, the runc v2 shim on $RUNC with
# its own root and cgroupfs, CNI from DIR/cni (the caller puts the conflist there).
containerd_start() {  # DIR REGHOST [--pods]; sets DAEMON_PID
  local d="$1" reghost="$2" pods="${3:-}" pod_conf=""
  mkdir -p "$d"/{root,state,opt,cni,runc,"certs.d/$reghost"}
  cat > "$d/certs.d/$reghost/hosts.toml" <<EOF
server = "http://127.0.0.1:$PORT"
[host."http://127.0.0.1:$PORT"]
  capabilities = ["pull", "resolve"]
EOF
  if [ "$pods" = --pods ]; then
    pod_conf=$(cat <<EOF
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
EOF
)
  else
    pod_conf=$(cat <<EOF
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/cni"
EOF
)
  fi
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
$pod_conf
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$d/certs.d"
EOF
  "$CONTAINERD" --config "$d/config.toml" > "$T/containerd.log" 2>&1 &
  DAEMON_PID=$!
  PIDS+=("$DAEMON_PID")
  wait_socket "$d/containerd.sock" "$DAEMON_PID" containerd "$T/containerd.log"
  log "containerd $("$CONTAINERD" --version | awk '{print $3}') up (pid $DAEMON_PID)"
}

# The sandbox image, pulled through CRI before anything is timed.
containerd_pull_pause() {  # DIR
  local rc=0
  log "containerd: pulling $PAUSE_IMAGE (untimed)"
  step timeout "$(left)" "$CRIO_BENCH" --endpoint "unix://$1/containerd.sock" image-status --image "$PAUSE_IMAGE" \
    --runs 1 --timeout 60 > "$T/results/pause-containerd.json" || rc=$?
  report_errors "containerd pull $PAUSE_IMAGE" "$rc" "$T/results/pause-containerd.json"
  [ "$rc" -eq 0 ] || exit 1
}

containerd_stop() {  # DIR PID: stops it and whatever it left running; its log goes to the results
  stop_pid "$2"
  reap_containerd "$1"
  cp "$T/containerd.log" "$T/results/containerd.log"
}
