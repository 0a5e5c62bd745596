#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (in parallel with CTest).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test.sh: the tests run real containers and need root" >&2; exit 1; }
./scripts/install-deps.sh
./scripts/prepare-host.sh
./scripts/build.sh
# Every parser's libFuzzer harness for a short while under ASan+UBSan (fuzz/README.md);
# FUZZ_SECONDS=0 skips them.
if [ "${FUZZ_SECONDS:-10}" != 0 ]; then ./fuzz/run.sh "${FUZZ_SECONDS:-10}"; fi
# The library tests again, in the fuzz build directory (clang ASan+UBSan, the libraries
# already compiled there); SANITIZED_TESTS=0 skips them. docs/testing.md: the rest.
if [ "${SANITIZED_TESTS:-1}" != 0 ]; then ./scripts/test-sanitized.sh; fi
cd "${BUILD_DIR:-build}"
# A test that fails is run once more before it counts: the machine is shared and a
# loaded moment can starve a timing check. Two failures in a row still fail the run.
ctest --output-on-failure -j"${TEST_JOBS:-4}" --timeout 600 --repeat until-pass:2 "$@"
