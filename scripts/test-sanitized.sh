#!/usr/bin/env bash
# Builds the library tests (CTest label "lib": those that need neither the daemon nor the
# generated gRPC code) in the fuzz build directory, where everything is compiled with
# clang ASan+UBSan, and runs them. A sanitizer report fails the test that caused it.
#
#   scripts/test-sanitized.sh [CTEST ARGS...]
#
# The whole suite, daemon included, under ASan+UBSan or TSan: docs/testing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${FUZZ_BUILD_DIR:-build-fuzz}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
FUZZ_BUILD_DIR="$build_dir" ./fuzz/configure.sh
cmake --build "$build_dir" --target crio_lib_tests -- -j"$(nproc)"
cd "$build_dir"
ctest -L '^lib$' --output-on-failure -j"${TEST_JOBS:-4}" --timeout 600 --repeat until-pass:2 "$@"
