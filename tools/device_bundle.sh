#!/usr/bin/env bash
# Packs binaries built HERE (Debian 12, with nvcc) plus the shared libraries they need into
# .devbin/devbin.tar.xz, for the GPU machine: it has CUDA, cmake and PyTorch but none of our
# Debian -dev libraries, and only 64 MiB of working tree travel (xz keeps OpenBLAS small).
#   bash tools/device_bundle.sh build-cuda ultramotion bench/bench_assignment tests/assignment/assignment_cuda_test
# The CUDA libraries (cudart, cuBLASLt, cuDNN) are NOT packed: the device has CUDA 13 and
# cuDNN 9 (in PyTorch's site-packages); tools/device_env.sh puts them on the library path.
# On the device (carry [".devbin"]):
#   mkdir -p /tmp/d && tar -C /tmp/d -xJf .devbin/devbin.tar.xz && source tools/device_env.sh
#   /tmp/d/bin/assignment_cuda_test
set -euo pipefail
cd "$(dirname "$0")/.."
build="$1"; shift
stage=$(mktemp -d)
mkdir -p "$stage/bin" "$stage/lib" .devbin
for target in "$@"; do cp "$build/$target" "$stage/bin/"; done
strip "$stage"/bin/*
for b in "$stage"/bin/*; do ldd "$b" | awk '/=>/ {print $3}'; done | sort -u |
  grep -v -E 'lib(c|m|pthread|dl|rt|gcc_s|stdc\+\+)\.so|ld-linux' |
  grep -v -E 'lib(cuda|cudart|cublas|cublasLt|cudnn[a-z_]*|nvidia-[a-z-]*|nvrtc|nvJitLink)\.so' |
  xargs -r -I{} cp -L {} "$stage/lib/"
XZ_OPT=${XZ_OPT:--9e} tar -C "$stage" -cJf .devbin/devbin.tar.xz bin lib
rm -rf "$stage"
grep -qx '/.devbin/' .git/info/exclude 2>/dev/null || echo '/.devbin/' >> .git/info/exclude
ls -la .devbin/devbin.tar.xz
