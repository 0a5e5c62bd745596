#!/usr/bin/env bash
# Builds the Debian package from the existing build directory (cpack -G DEB, no
# rebuild), unpacks it into a scratch root with dpkg-deb -x and checks its layout: the
# binaries run from there, a consumer builds with the installed CMake package and with
# pkg-config, the man pages, configuration and systemd unit are where Debian wants them.
set -euo pipefail
build_dir=$1 src_dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "deb: $*"; exit 1; }

# The package's own staging tree goes under $tmp, so parallel runs do not share one.
cpack -G DEB --config "$build_dir/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log"; fail "cpack failed"; }
debs=("$tmp"/out/crio_*.deb)
[ ${#debs[@]} = 1 ] && [ -f "${debs[0]}" ] || fail "expected one crio_*.deb in $(ls "$tmp/out")"
deb=${debs[0]}

info=$(dpkg-deb -f "$deb" Package Architecture Depends)
grep -q '^Package: crio$' <<<"$info" || fail "control: $info"
grep -q '^Depends: .*conmon' <<<"$info" || fail "no conmon dependency: $info"
grep -q 'libc6' <<<"$info" || fail "no shared-library dependencies (dpkg-shlibdeps): $info"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/crio/crio.conf || fail "crio.conf is no conffile"

root=$tmp/root
dpkg-deb -x "$deb" "$root"
for f in usr/bin/crio usr/bin/crio-status etc/crio/crio.conf usr/lib/systemd/system/crio.service \
         usr/share/man/man8/crio.8 usr/share/man/man5/crio.conf.5 usr/share/man/man8/crio-status.8 \
         usr/include/crio/core/status.hpp usr/include/crio/core/export.hpp usr/include/crio/oci/cgroup_driver.hpp \
         usr/lib/cmake/crio/crioConfig.cmake usr/lib/pkgconfig/crio-core.pc usr/lib/libcrio-core.so \
         usr/lib/libcrio-core.a usr/share/crio/policy.json usr/share/crio/grafana/crio-dashboard.json; do
  [ -e "$root/$f" ] || fail "not in the package: $f"
done
if find "$root" -name '*_test' | grep -q .; then fail "test binaries packaged"; fi
# Crash points (docs/crash-points.md): only the test binary crio-fault can arm them.
if find "$root" -name 'crio-fault' | grep -q .; then fail "crio-fault packaged"; fi
if grep -q -a -e 'CRIO_FAULT_POINT=' -e 'crio-fault: crash point' "$root/usr/bin/crio"; then
  fail "the packaged crio can arm crash points"
fi

version=$(dpkg-deb -f "$deb" Version)
"$root/usr/bin/crio" --version | grep -qE "^Version: +$version\$" ||
  fail "crio --version: $("$root/usr/bin/crio" --version 2>&1)"
"$root/usr/bin/crio-status" --help >/dev/null 2>&1 || fail "crio-status --help failed"
grep -qx 'ExecStart=/usr/bin/crio $CRIO_OPTIONS' "$root/usr/lib/systemd/system/crio.service" ||
  fail "unit: $(grep ExecStart "$root/usr/lib/systemd/system/crio.service")"
head -c 200 "$root/usr/share/man/man8/crio.8" | grep -q '^\.TH' || fail "crio.8 is no man page"
man -l "$root/usr/share/man/man5/crio.conf.5" 2>/dev/null | grep -q cgroup_manager || fail "crio.conf.5 does not render"
# The configuration shipped is what the shipped crio reads.
"$root/usr/bin/crio" --config "$root/etc/crio/crio.conf" --config-dir "$tmp/none" config >/dev/null ||
  fail "the packaged crio.conf does not load"

# The completions `crio completion` prints, for the three shells; bash's is valid bash.
for f in usr/share/bash-completion/completions/crio usr/share/zsh/vendor-completions/_crio \
         usr/share/fish/vendor_completions.d/crio.fish; do
  [ -s "$root/$f" ] || fail "not in the package: $f"
done
bash -n "$root/usr/share/bash-completion/completions/crio" || fail "the bash completion is not valid bash"

# A consumer of the unpacked tree: CMake package (static and shared) and pkg-config.
cmake -S "$src_dir/consumer" -B "$tmp/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$root/usr" >"$tmp/cmake.log" 2>&1 ||
  { cat "$tmp/cmake.log"; fail "consumer configure"; }
cmake --build "$tmp/consumer" --target core_consumer >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "consumer build"; }
[ "$("$tmp/consumer/core_consumer" web)" = "pod sandbox web: not found" ] || fail "core consumer output"
export PKG_CONFIG_PATH=$root/usr/lib/pkgconfig
for pc in crio-core crio-image crio-oci crio-net; do
  pkg-config --validate "$pc" || fail "$pc.pc is invalid"
done
[ "$(pkg-config --modversion crio-core)" = "$version" ] || fail "pkg-config version"
# shellcheck disable=SC2046
g++ -std=c++20 -o "$tmp/pc_consumer" "$src_dir/consumer/core_main.cpp" $(pkg-config --cflags --libs crio-core) ||
  fail "building with pkg-config"
[ "$(LD_LIBRARY_PATH="$root/usr/lib" "$tmp/pc_consumer" db)" = "pod sandbox db: not found" ] ||
  fail "pkg-config consumer output"
echo "deb: ok ($(du -h "$deb" | cut -f1))"
