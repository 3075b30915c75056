#!/usr/bin/env bash
# The test command: installs dependencies, builds, and runs every test.
#   1. the whole project (CUDA code compiled when the toolkit is present; GPU tests skip loudly
#      without a GPU) and all of CTest;
#   2. the bad-input tests (label "asan") again under AddressSanitizer + UBSan;
#   3. the libFuzzer targets (label "fuzz") for a bounded time, when clang is present.
set -euo pipefail
cd "$(dirname "$0")/.."
export ULTRAMOTION_FIXTURES="${ULTRAMOTION_FIXTURES:-$(cd .. && pwd)/shared/fixtures}"
JOBS="$(nproc)"
SUMMARY="$(mktemp)"
trap 'rm -f "$SUMMARY"' EXIT
# Runs ctest in a build folder, keeping its "N% tests passed, F tests failed out of T" line.
run_ctest() {
  local dir="$1"; shift
  (cd "$dir" && ctest --output-on-failure "$@") | tee -a "$SUMMARY"
}

bash scripts/setup.sh

echo "=== stage 1: all tests (build) ==="
run_ctest build -j "$JOBS" --timeout 900

echo "=== stage 2: bad-input tests under AddressSanitizer + UBSan (build-asan) ==="
# -O1 -g1: the tests it runs are small, and this build is the slowest part of CI on 2 cores.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
  -DULTRAMOTION_CUDA=OFF \
  -DULTRAMOTION_BUILD_BENCH=OFF -DULTRAMOTION_SANITIZE=address,undefined >/dev/null
cmake --build build-asan --target asan_tests -j "$JOBS"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  run_ctest build-asan -L asan -j "$JOBS"

if [ -d tests/fuzz ] && command -v clang++ >/dev/null; then
  echo "=== stage 3: fuzzers under ASan + UBSan (build-fuzz) ==="
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DULTRAMOTION_CUDA=OFF -DULTRAMOTION_BUILD_BENCH=OFF -DULTRAMOTION_FUZZ=ON \
    -DULTRAMOTION_SANITIZE=address,undefined >/dev/null
  cmake --build build-fuzz --target fuzz_targets -j "$JOBS"
  run_ctest build-fuzz -L fuzz
fi
echo "=== all stages passed ==="
# One plain closing line over every stage (each stage also printed its own ctest summary).
awk '/tests passed, .* tests failed out of/ {total += $NF; failed += $4}
     END {printf "summary: %d passed, %d failed\n", total - failed, failed}' "$SUMMARY"
