#!/usr/bin/env bash
# Installs what UltraMotion needs on a fresh Debian 12 machine (as root, or with sudo), then
# configures and builds it into ./build. Safe to run again: it skips what is already there.
#   bash scripts/setup.sh            # deps + build (CUDA backend when nvcc is found)
#   UM_CUDA=OFF bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git python3 python3-pip
  libopenblas-dev libzip-dev libpng-dev libturbojpeg0-dev zlib1g-dev
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  libopenigtlink-dev
  chromium
  libjs-chart.js
)
# Python packages for the independent test peers and reference checks only (never at run time).
PIP_PACKAGES=(numpy scipy pyigtl prometheus-client playwright)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

need_pip=0
python3 - <<'PY' || need_pip=1
import importlib.util, sys
mods = ["numpy", "scipy", "pyigtl", "prometheus_client", "playwright"]
sys.exit(0 if all(importlib.util.find_spec(m) for m in mods) else 1)
PY
if [ "$need_pip" = 1 ]; then
  echo "setup: installing Python test peers: ${PIP_PACKAGES[*]}"
  python3 -m pip install -q "${PIP_PACKAGES[@]}" 2>/dev/null ||
    python3 -m pip install -q --break-system-packages "${PIP_PACKAGES[@]}"
fi

BUILD_DIR="${UM_BUILD_DIR:-build}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DULTRAMOTION_CUDA="${UM_CUDA:-AUTO}" >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
echo "setup: built $BUILD_DIR/ultramotion"
