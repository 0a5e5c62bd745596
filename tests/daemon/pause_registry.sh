#!/usr/bin/env bash
# The CTest fixture of the daemon tests: one loopback registry for the whole run that
# serves test/pause:v1, the pause image every pod needs (a pod without an infra
# container still gets the pause image's file system, as in CRI-O). The daemon fixture
# points pause_image at it through DIR/host.
#
#   pause_registry.sh start DIR      pause_registry.sh stop DIR
set -euo pipefail
action="$1"
dir="$2"
here="$(cd "$(dirname "$0")" && pwd)"

stop() {
  if [ -f "$dir/pid" ]; then kill "$(cat "$dir/pid")" 2>/dev/null || true; fi
  rm -rf "$dir"
}

case "$action" in
  stop) stop ;;
  start)
    stop
    mkdir -p "$dir/storage"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    host="127.0.0.1:$port"
    cat >"$dir/config.yml" <<CONFIG
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/storage
http:
  addr: $host
CONFIG
    setsid /usr/bin/docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null &
    echo $! >"$dir/pid"
    for _ in $(seq 100); do
      if python3 -c "import urllib.request; urllib.request.urlopen('http://$host/v2/')" 2>/dev/null; then break; fi
      sleep 0.1
    done
    python3 "$here/../image/make_images.py" --registry "$host" --busybox /bin/busybox \
      --escape-dir /nonexistent --registry-root "$dir/storage" --only pause >/dev/null
    echo "$host" >"$dir/host"
    ;;
  *) echo "usage: pause_registry.sh start|stop DIR" >&2; exit 2 ;;
esac
