// File: bench/bench_io.cpp
// Purpose: how long src/io takes on the shared files: loading a D-FINE-S checkpoint (torch zip +
// pickle, 41 MB), a float16 phantom model, reading the fixture safetensors, decoding a frame PNG.
// Run: build/bench/bench_io --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <filesystem>

#include "io/checkpoint.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "test_support.h"

namespace {

std::string shared(const char* rel) {
  return (um::test::fixtures_dir().parent_path() / rel).string();
}

void skip_if_missing(benchmark::State& state, const std::string& path) {
  if (!std::filesystem::exists(path)) state.SkipWithError(("missing " + path).c_str());
}

void BM_LoadCheckpoint(benchmark::State& state, const char* rel) {
  const std::string path = shared(rel);
  skip_if_missing(state, path);
  size_t bytes = std::filesystem::exists(path) ? std::filesystem::file_size(path) : 0;
  for (auto _ : state) {
    auto r = um::io::load_checkpoint(path);
    if (!r.ok()) {
      state.SkipWithError(r.status().to_string().c_str());
      break;
    }
    benchmark::DoNotOptimize(r->tensors.size());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK_CAPTURE(BM_LoadCheckpoint, dfine_s_pth, "fixtures/dfine_s/checkpoint.pth")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_LoadCheckpoint, dfine_n_phantom_f16, "models/dfine_n_phantom.pth")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_LoadCheckpoint, mobilesam_pt, "fixtures/mobilesam/checkpoint.pt")
    ->Unit(benchmark::kMillisecond);

void BM_ReadSafetensors(benchmark::State& state) {
  const std::string path = shared("fixtures/mobilesam/tensors.safetensors");
  skip_if_missing(state, path);
  for (auto _ : state) {
    auto r = um::io::read_safetensors(path);
    if (!r.ok()) {
      state.SkipWithError(r.status().to_string().c_str());
      break;
    }
    benchmark::DoNotOptimize(r->size());
  }
}
BENCHMARK(BM_ReadSafetensors)->Unit(benchmark::kMillisecond);

void BM_ReadFramePng(benchmark::State& state) {
  const std::string path = shared("fixtures/dfine_n/frame.png");  // 640x480 gray
  skip_if_missing(state, path);
  for (auto _ : state) {
    auto r = um::io::read_image(path);
    if (!r.ok()) {
      state.SkipWithError(r.status().to_string().c_str());
      break;
    }
    benchmark::DoNotOptimize(r->pixels.data());
  }
}
BENCHMARK(BM_ReadFramePng)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
