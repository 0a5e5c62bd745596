#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (in parallel with CTest).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test.sh: the tests run real containers and need root" >&2; exit 1; }
./scripts/install-deps.sh
./scripts/prepare-host.sh
./scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j"${TEST_JOBS:-4}" --timeout 600 "$@"
