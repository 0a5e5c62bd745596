#!/usr/bin/env bash
# Installs the Debian 12 packages crio builds, runs and tests with. Idempotent and
# quiet when everything is already there.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config ccache git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libboost-dev libboost-filesystem-dev libboost-program-options-dev
  libyaml-cpp-dev libtomlplusplus-dev libfmt-dev nlohmann-json3-dev
  libarchive-dev libssl-dev libcurl4-openssl-dev zlib1g-dev libzstd-dev
  libseccomp-dev libgpgme-dev prometheus-cpp-dev catch2
  go-md2man dpkg-dev  # man pages; dpkg-shlibdeps for `cpack -G DEB`
  # run containers
  runc crun conmon containernetworking-plugins iproute2 iptables catatonit
  # tests and benchmarks
  docker-registry busybox-static openssl python3 curl zstd util-linux gnupg containerd
  prometheus  # promtool and the server, for the metrics tests
  clang-14 libclang-rt-14-dev  # the libFuzzer harnesses in fuzz/
)

missing=()
for p in "${packages[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
