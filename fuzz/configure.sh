#!/usr/bin/env bash
# Configures (once) the fuzz build directory ${FUZZ_BUILD_DIR:-build-fuzz}: clang 14 with
# the fuzzer's coverage hooks and ASan+UBSan on everything (-DCRIO_FUZZ=ON). It holds the
# libFuzzer harnesses (fuzz/run.sh) and, with the same objects, the sanitized library
# tests (scripts/test-sanitized.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${FUZZ_BUILD_DIR:-build-fuzz}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
if [ ! -f "$build_dir/build.ninja" ]; then
  launcher=()
  if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  fi
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$build_dir" -G Ninja -DCRIO_FUZZ=ON -DCRIO_BUILD_TESTS=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" "${launcher[@]}" >/dev/null
fi
