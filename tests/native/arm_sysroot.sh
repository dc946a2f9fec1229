#!/bin/sh
# An AArch64 Debian 12 root for `make test-arm-python`: Python 3.11, numpy 1.24 and the shared
# libraries they load, downloaded with apt-get into a private apt state (the machine's own apt
# configuration and dpkg database are not touched) and unpacked with dpkg -x into $1. Run the
# interpreter with `qemu-aarch64 -L $1 $1/usr/bin/python3.11`.
set -eu
root=$(realpath -m "$1")
apt=$(dirname "$root")/arm-apt
mkdir -p "$apt/state/lists/partial" "$apt/cache/archives/partial" "$apt/debs"
touch "$apt/status"
opts="-o Dir::State=$apt/state -o Dir::State::status=$apt/status -o Dir::Cache=$apt/cache \
  -o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o Debug::NoLocking=1"
apt-get $opts -q update
cd "$apt/debs"
apt-get $opts -q download python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libpython3.11-dev \
  python3-numpy libc6 libgcc-s1 libstdc++6 libgfortran5 libgomp1 libblas3 liblapack3 libopenblas0-pthread \
  libbz2-1.0 libcrypt1 libdb5.3 libexpat1 libffi8 liblzma5 libmd0 libncursesw6 libnsl2 libtirpc3 \
  libgssapi-krb5-2 libk5crypto3 libkrb5-3 libkrb5support0 libkeyutils1 libcom-err2 libreadline8 \
  libsqlite3-0 libssl3 libtinfo6 libuuid1 libzstd1 zlib1g media-types
cd - >/dev/null
rm -rf "$root"
mkdir -p "$root"
for deb in "$apt"/debs/*.deb; do dpkg -x "$deb" "$root"; done
# the BLAS/LAPACK alternatives (symlinks update-alternatives would make)
lib="$root/usr/lib/aarch64-linux-gnu"
for so in libblas.so.3 liblapack.so.3 libopenblas.so.0; do ln -sf "openblas-pthread/$so" "$lib/$so"; done
touch "$root/.done"
