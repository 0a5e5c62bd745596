#!/usr/bin/env bash
# Installs what is missing, builds, and runs crio in the foreground with the default
# configuration (socket /var/run/crio/crio.sock). Extra arguments go to crio.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run.sh: crio needs root" >&2; exit 1; }
./scripts/install-deps.sh
./scripts/build.sh crio crio-status
./scripts/prepare-host.sh
# A node without any CNI network gets the example bridge network, so pods can start.
if ! ls /etc/cni/net.d/*.conf /etc/cni/net.d/*.conflist /etc/cni/net.d/*.json >/dev/null 2>&1; then
  install -D -m 0644 packaging/10-crio-bridge.conflist /etc/cni/net.d/10-crio-bridge.conflist
fi
# Pulls are checked against policy.json; a node without one accepts any image, as the
# containers packages set it up.
if [ ! -e /etc/containers/policy.json ]; then
  install -D -m 0644 packaging/policy.json /etc/containers/policy.json
fi
exec "${BUILD_DIR:-build}/crio/crio" "$@"
