#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds a consumer against it with
# find_package(crio): the package config, the headers and both library flavours work.
set -euo pipefail
build_dir=$1 src_dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build_dir" --prefix "$tmp/prefix" >/dev/null
for f in bin/crio bin/crio-status etc/crio/crio.conf lib/systemd/system/crio.service \
         include/crio/image/reference.hpp include/crio/core/status.hpp include/crio/core/export.hpp \
         share/man/man8/crio.8 share/man/man5/crio.conf.5 share/man/man8/crio-status.8 lib/pkgconfig/crio-core.pc \
         share/crio/grafana/crio-dashboard.json; do
  [ -e "$tmp/prefix/$f" ] || { echo "not installed: $f"; exit 1; }
done
grep -qx "ExecStart=$tmp/prefix/bin/crio \$CRIO_OPTIONS" "$tmp/prefix/lib/systemd/system/crio.service" ||
  { echo "unit: $(grep ExecStart "$tmp/prefix/lib/systemd/system/crio.service")"; exit 1; }
ls "$tmp/prefix"/lib*/libcrio-image.a "$tmp/prefix"/lib*/libcrio-image.so >/dev/null
cmake -S "$src_dir/consumer" -B "$tmp/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
out=$("$tmp/consumer/consumer" busybox)
[ "$out" = "docker.io/library/busybox:latest" ] || { echo "static consumer printed: $out"; exit 1; }
out=$(LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/consumer/consumer_shared" quay.io/a/b:1)
[ "$out" = "quay.io/a/b:1" ] || { echo "shared consumer printed: $out"; exit 1; }
if "$tmp/consumer/consumer" 'UPPER/Case' 2>/dev/null; then echo "bad reference accepted"; exit 1; fi
echo "install: ok"
