#!/usr/bin/env bash
# Side-by-side cold pull of one big image: crio vs containerd's CRI plugin.
#
#   sudo bench/pull.sh [--runs N] [--warmup N] [--parallel P] [--only crio|containerd] [--keep DIR]
#
# --parallel P starts P PullImage calls of the same image together in each round
# (one download should serve them all).
#
# Environment: BUILD (build dir holding crio/crio and bench/crio-bench; default: the
# first of <source>/build-bench, <source>/build that has both),
# CRIO, CRIO_BENCH, CONTAINERD, RUNC (binaries; crio.conf names RUNC, default
# /usr/sbin/runc, though no container runs here), TARGET_MB (image size, default 200),
# FORMAT (oci or docker: the manifest and layer media types, default oci),
# TIME_LIMIT (seconds for the whole run, default 290).
#
# One command does everything: a registry on a free loopback port (data in a
# tmpfs), the image built from host files and pushed, a fresh tmpfs for the
# daemons' storage, then each daemon in turn with its own config, socket and dirs,
# driven by crio-bench (PullImage, then RemoveImage, RUNS times; between rounds it
# waits until the daemon's layer/content dirs are empty, so every pull is cold).
# The results (JSON per daemon, the daemons' logs and the table) stay in --keep DIR
# if given. Exit status 1 when a step failed (the table is still printed).
# Everything started is stopped and everything mounted or created is removed on
# exit, failure or Ctrl-C (the setup and clean-up shared with pods.sh and
# containers.sh are in lib.sh).
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
PROG=pull.sh
# shellcheck source=lib.sh
. "$HERE/lib.sh"

bench_find_build "$HERE/../build-bench" "$HERE/../build"
TARGET_MB="${TARGET_MB:-200}"
FORMAT="${FORMAT:-oci}"
TIME_LIMIT="${TIME_LIMIT:-290}"
need "$CRIO_BENCH" "set BUILD= or CRIO_BENCH="
need "$REGISTRY_BIN" "apt-get install docker-registry"
need /usr/bin/python3 "apt-get install python3"
[ "$ONLY" = containerd ] || need "$CRIO" "set BUILD= or CRIO="
[ "$ONLY" = crio ] || need "$CONTAINERD" "apt-get install containerd"

bench_init pull

# ---------------------------------------------------------------- registry + image
mount_tmpfs "$T/reg" 1g
start_registry "$T/reg"
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

# ---------------------------------------------------------------- crio
run_crio() {
  local d="$T/store/crio"
  mkdir -p "$d"
  cat > "$d/registries.conf" <<EOF
unqualified-search-registries = []
[[registry]]
prefix = "127.0.0.1:$PORT"
location = "127.0.0.1:$PORT"
insecure = true
EOF
  crio_start "$d"
  local pid="$DAEMON_PID"
  bench crio "$pid" "$d/crio.sock" --ignore l "$d/root/overlay" "$d/root/overlay-staging"
  crio_stop "$d" "$pid"
  rm -rf "$d"
}

# ---------------------------------------------------------------- containerd
run_containerd() {
  local d="$T/store/containerd"
  containerd_start "$d" "127.0.0.1:$PORT"
  local pid="$DAEMON_PID"
  bench containerd "$pid" "$d/containerd.sock" \
    "$d/root/io.containerd.content.v1.content/blobs/sha256" \
    "$d/root/io.containerd.content.v1.content/ingest" \
    "$d/root/io.containerd.snapshotter.v1.overlayfs/snapshots"
  containerd_stop "$d" "$pid"
  rm -rf "$d"
}

[ "$ONLY" = containerd ] || run_crio
[ "$ONLY" = crio ] || run_containerd

# ---------------------------------------------------------------- table
machine "$T/results/machine.json"
/usr/bin/python3 "$HERE/report.py" pull "$T/results" | tee "$T/results/table.md"
[ "$FAILED" -eq 0 ] || { log "done, but some steps failed (see above)"; exit 1; }
log "done"
