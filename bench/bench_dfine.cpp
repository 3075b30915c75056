// File: bench/bench_dfine.cpp
// Purpose: D-FINE CPU inference time at 640x640 (forward pass only, and detect() with
// preprocessing and post-processing on the fixture frame). Uses the dfine_s fixture checkpoint;
// skips with a message when fixtures are absent. OpenBLAS threads follow OPENBLAS_NUM_THREADS.
// Run: bench_dfine --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <memory>

#include "io/image.h"
#include "models/dfine/dfine.h"
#include "test_support.h"

namespace {

struct Fixture {
  std::unique_ptr<um::dfine::DFine> model;
  um::io::Image frame;
  std::string error;
};

const Fixture& fixture() {
  static Fixture f = [] {
    Fixture x;
    const auto dir = um::test::fixtures_dir() / "dfine_s";
    auto m = um::dfine::DFine::load((dir / "checkpoint.pth").string());
    auto img = um::io::read_image((dir / "frame.png").string());
    if (!m.ok() || !img.ok()) {
      x.error = !m.ok() ? m.status().to_string() : img.status().to_string();
      return x;
    }
    x.model = std::move(m).value();
    x.frame = std::move(img).value();
    return x;
  }();
  return f;
}

void BM_DFineS_Forward640(benchmark::State& state) {
  const Fixture& f = fixture();
  if (!f.model) {
    state.SkipWithError(("dfine_s fixture unavailable: " + f.error).c_str());
    return;
  }
  const um::Tensor input = f.model->preprocess(f.frame).input;
  for (auto _ : state) {
    auto out = f.model->forward(input);
    benchmark::DoNotOptimize(out.pred_logits.data<float>());
  }
}
BENCHMARK(BM_DFineS_Forward640)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_DFineS_Detect(benchmark::State& state) {
  const Fixture& f = fixture();
  if (!f.model) {
    state.SkipWithError(("dfine_s fixture unavailable: " + f.error).c_str());
    return;
  }
  for (auto _ : state) {
    auto d = f.model->detect(f.frame);
    benchmark::DoNotOptimize(d.items.data());
  }
}
BENCHMARK(BM_DFineS_Detect)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
