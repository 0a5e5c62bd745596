#!/usr/bin/env bash
# Builds the libFuzzer harnesses into ${FUZZ_BUILD_DIR:-build-fuzz} (clang 14, ASan+UBSan)
# and runs each for SECONDS (default 20; scripts/test.sh gives 10), one after another,
# one process each.
#
#   fuzz/run.sh [SECONDS] [HARNESS...]     e.g. fuzz/run.sh 600 spdy websocket
#
# Each harness starts from its checked-in seeds (fuzz/corpus/NAME) plus what earlier runs
# found (BUILD/corpus/NAME, kept between runs); a crash, leak, UB report or timeout is
# written to BUILD/artifacts/NAME/ and makes the script fail once every harness ran.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
shift || true
build_dir="${FUZZ_BUILD_DIR:-build-fuzz}"

all=(reference manifest image_config registries_conf policy sigstore_payload crio_conf storage_conf
     unpack_tar cni hooks spdy websocket status_api)
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=("${all[@]}")

export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
FUZZ_BUILD_DIR="$build_dir" ./fuzz/configure.sh
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
cmake --build "$build_dir" --target "${targets[@]}" -- -j"$(nproc)"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
passed=0
failed=()
for h in "${harnesses[@]}"; do
  mkdir -p "$build_dir/corpus/$h" "$build_dir/artifacts/$h"
  log="$build_dir/artifacts/$h/last-run.log"
  # Paths stay relative: the unpack_tar harness chroots and keeps only its working
  # directory outside the jail.
  if "$build_dir/fuzz/fuzz_$h" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$build_dir/artifacts/$h/" \
      "$build_dir/corpus/$h" "fuzz/corpus/$h" >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz $h: ${execs:-?} runs in ${seconds}s, no finding"
    passed=$((passed + 1))
  else
    echo "fuzz $h: FAILED, see $log"
    grep -m1 -E 'ERROR: |runtime error|harness:|deadly signal' "$log" || tail -5 "$log"
    failed+=("$h")
  fi
done
echo "fuzz: ${passed} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
