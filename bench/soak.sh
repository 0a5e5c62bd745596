#!/usr/bin/env bash
# bench/soak.sh — the daemon load test's lifecycles (8 clients, each pod + container
# run, exec, log read, stop, remove) for a long time against a freshly started crio
# with its own root, sampling the daemon's resident memory, descriptors and threads.
# Not in CI. Fails when a lifecycle failed or when the last window is more than 10%
# above the first. See bench/README.md.
set -euo pipefail

PROG=soak.sh
HERE="$(cd "$(dirname "$0")" && pwd)"
DURATION=1800
INTERVAL=10
WINDOW=300
CLIENTS=8
OUT=""

usage() {
  cat <<USAGE
usage: $PROG [--duration SECONDS] [--interval SECONDS] [--window SECONDS] [--clients N] [--out DIR]
  --duration  how long the load runs (default 1800)
  --interval  seconds between samples of the daemon (default 10)
  --window    length of the first and the last window compared (default 300)
  --clients   concurrent clients (default 8)
  --out       keep samples.csv, the test's output and the summary here
              (default: a new /tmp/crio-soak.XXXXXX, kept)
Environment: BUILD (a build dir with tests/daemon/daemon_load_test and crio/crio;
default build-bench/ or build/ next to bench/).
USAGE
}

while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --interval) INTERVAL="$2"; shift 2 ;;
    --window) WINDOW="$2"; shift 2 ;;
    --clients) CLIENTS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "$PROG: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
for n in "$DURATION" "$INTERVAL" "$WINDOW" "$CLIENTS"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "$PROG: $n is not a positive whole number" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "$PROG: needs root (containers, CNI, mounts)" >&2; exit 1; }
if [ $((WINDOW * 2)) -gt "$DURATION" ]; then
  echo "$PROG: --window $WINDOW is more than half of --duration $DURATION: the windows would overlap" >&2
  exit 2
fi

if [ -z "${BUILD:-}" ]; then
  for b in "$HERE/../build-bench" "$HERE/../build"; do
    if [ -x "$b/tests/daemon/daemon_load_test" ] && [ -x "$b/crio/crio" ]; then BUILD="$b"; break; fi
  done
fi
TEST_BIN="${BUILD:-}/tests/daemon/daemon_load_test"
[ -x "$TEST_BIN" ] || {
  echo "$PROG: no daemon_load_test; build it: cmake --build build --target crio daemon_load_test" >&2
  exit 1
}

if [ -z "$OUT" ]; then OUT="$(mktemp -d /tmp/crio-soak.XXXXXX)"; fi
mkdir -p "$OUT"
CSV="$OUT/samples.csv"
PIDFILE="$OUT/daemon.pid"
PROGRESS="$OUT/progress"
STOPFILE="$OUT/stop"
IDLE="$OUT/idle"
rm -f "$PIDFILE" "$PROGRESS" "$STOPFILE" "$IDLE"

log() { echo "$(date -u +%H:%M:%S) $PROG: $*" >&2; }

# The test removes its pods, containers and daemon itself; on a signal it is asked
# to stop through the stop file, so it still does.
TEST_PID=""
on_signal() {
  log "interrupted: asking the load to stop and clean up"
  touch "$STOPFILE"
  [ -n "$TEST_PID" ] && wait "$TEST_PID" 2>/dev/null || true
  exit 130
}
trap on_signal INT TERM

log "load for ${DURATION}s with $CLIENTS clients, a sample every ${INTERVAL}s; results in $OUT"
CRIO_SOAK_SECONDS="$DURATION" CRIO_SOAK_PID_FILE="$PIDFILE" CRIO_SOAK_PROGRESS="$PROGRESS" \
  CRIO_SOAK_STOP_FILE="$STOPFILE" CRIO_SOAK_CLIENTS="$CLIENTS" CRIO_SOAK_IDLE="$IDLE" \
  "$TEST_BIN" "[soak]" --durations yes >"$OUT/test.out" 2>&1 &
TEST_PID=$!

# The daemon is up once the test wrote its pid (after the test image is pulled).
for _ in $(seq 1 600); do
  [ -s "$PIDFILE" ] && break
  kill -0 "$TEST_PID" 2>/dev/null || break
  sleep 0.2
done
[ -s "$PIDFILE" ] || { log "the daemon did not come up; see $OUT/test.out"; tail -20 "$OUT/test.out" >&2; exit 1; }
DPID="$(cat "$PIDFILE")"
log "daemon pid $DPID"

# gRPC core's own pools (executor and timer threads) grow and shrink with the calls in
# flight; the load test holds them to a fixed bound instead of comparing them, and so
# does this script. Their names as /proc shows them (15 characters):
CORE_POOL='^(default-executo|grpc_global_tim|timer_manager|event_engine|resolver-execut)'

echo "time_utc,elapsed_s,rss_kib,fds,threads,core_pool_threads,own_threads,lifecycles,errors" >"$CSV"
START=$(date +%s)
while kill -0 "$TEST_PID" 2>/dev/null && [ -d "/proc/$DPID" ]; do
  now=$(date +%s)
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$DPID/status" 2>/dev/null || echo "")
  threads=$(awk '/^Threads:/ {print $2}' "/proc/$DPID/status" 2>/dev/null || echo "")
  fds=$(find "/proc/$DPID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
  core=$(cat /proc/"$DPID"/task/*/comm 2>/dev/null | grep -cE "$CORE_POOL" || true)
  read -r n_done n_failed 2>/dev/null <"$PROGRESS" || { n_done=0; n_failed=0; }
  if [ -n "$rss" ] && [ -n "$threads" ]; then
    echo "$(date -u +%FT%TZ),$((now - START)),$rss,$fds,$threads,$core,$((threads - core)),$n_done,$n_failed" >>"$CSV"
  fi
  sleep "$INTERVAL"
done

set +e
wait "$TEST_PID"
TEST_RC=$?
set -e
log "load finished (exit $TEST_RC)"
grep '^soak error:' "$OUT/test.out" | head -20 >&2 || true

python3 - "$CSV" "$WINDOW" "$PROGRESS" "$TEST_RC" "$OUT/summary.txt" "$IDLE" <<'PY'
import csv, statistics, sys
path, window, progress, test_rc, summary, idle_path = (sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]),
                                                      sys.argv[5], sys.argv[6])
rows = [{k: (v if k == "time_utc" else int(v)) for k, v in r.items()} for r in csv.DictReader(open(path))]
out = []
def say(line=""):
    out.append(line)
    print(line)
failed = False
try:
    done, errors = (int(x) for x in open(progress).read().split())
except Exception:
    done, errors = 0, -1
say(f"lifecycles: {done}, failed: {errors}, load test exit: {test_rc}")
if errors != 0 or test_rc != 0:
    failed = True
if len(rows) < 2:
    say("too few samples")
    failed = True
else:
    end = rows[-1]["elapsed_s"]
    first = [r for r in rows if r["elapsed_s"] < window]
    last = [r for r in rows if r["elapsed_s"] >= end - window]
    say(f"samples: {len(rows)} over {end}s; first window {len(first)} samples (0-{window}s), "
        f"last window {len(last)} samples ({max(0, end - window)}-{end}s)")
    # Each window is judged by its median: a sample catches whatever calls are in
    # flight at that moment (each lifecycle holds a few descriptors for a moment), so
    # the peak of a few dozen samples 10 s apart is noise; a leak raises every sample,
    # the median with them. The peaks are shown, not judged.
    figures = [("RSS KiB", "rss_kib"), ("fds", "fds"), ("threads without gRPC core pools", "own_threads")]
    say(f"{'figure (window median; peak)':42} {'first':>14} {'last':>14} {'change':>8}")
    for label, key in figures:
        a, b = statistics.median(r[key] for r in first), statistics.median(r[key] for r in last)
        pa, pb = max(r[key] for r in first), max(r[key] for r in last)
        change = (b - a) / a * 100 if a else 0.0
        bad = b > a * 1.10
        failed |= bad
        say(f"{label:42} {f'{a:.0f}; {pa}':>14} {f'{b:.0f}; {pb}':>14} {change:>+7.1f}%{'  > 10%: FAIL' if bad else ''}")
    pool = max(r["core_pool_threads"] for r in rows)
    say(f"gRPC core pool threads, peak of the run: {pool} (bound 16){'  FAIL' if pool > 16 else ''}")
    failed |= pool > 16
    say(f"all threads, first/last window peak: {max(r['threads'] for r in first)}/{max(r['threads'] for r in last)}")
# The idle daemon (2 s after the last call) before the load, after its warm-up minute
# and after the load: the last two, free of calls in flight and of the first load's
# one-time growth, show what the long run left behind.
try:
    idle = {l.split()[0]: [int(x) for x in l.split()[1:]] for l in open(idle_path) if l.strip()}
except OSError:
    idle = {}
if all(k in idle for k in ("before", "warm", "after")):
    b, w, a = idle["before"], idle["warm"], idle["after"]
    say(f"idle before / after warm-up / after the load: RSS {b[0]}/{w[0]}/{a[0]} KiB, fds {b[1]}/{w[1]}/{a[1]}, "
        f"threads {b[2]}/{w[2]}/{a[2]} (of which gRPC core pools {b[3]}/{w[3]}/{a[3]})")
    for label, x, y in (("idle RSS", w[0], a[0]), ("idle fds", w[1], a[1]), ("idle own threads", w[2] - w[3], a[2] - a[3])):
        if y > x * 1.10:
            say(f"{label} grew more than 10% from the warm-up to the end: {x} -> {y}: FAIL")
            failed = True
else:
    say("no idle figures from the test")
    failed = True
say("FAIL" if failed else "PASS")
open(summary, "w").write("\n".join(out) + "\n")
sys.exit(1 if failed else 0)
PY
