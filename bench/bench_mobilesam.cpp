// File: bench/bench_mobilesam.cpp
// Purpose: MobileSAM on the CPU reference backend, stage by stage: preprocessing (Pillow-style
// resize, normalise, pad), the image encoder (TinyViT-5M + neck, what set_image costs once per
// frame) and the prompt encoder + mask decoder + postprocess (what each predict costs), for a box
// prompt with one mask and with multimask. Google Benchmark, reported as the median (and mean,
// stddev) of repetitions. Weights and frame: ../shared/fixtures/mobilesam (or
// ULTRAMOTION_FIXTURES); the phantom model's weights take the same time.
//   build-x/bench_mobilesam --benchmark_filter=Encoder
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>

#include "io/image.h"
#include "models/mobilesam/mobilesam.h"
#include "models/mobilesam/predictor.h"
#include "models/mobilesam/preprocess.h"
#include "test_support.h"

namespace {

using namespace um::mobilesam;

struct Setup {
  std::shared_ptr<const MobileSam> model;
  um::io::Image frame;
  std::unique_ptr<Predictor> predictor;  // embedding set once, for the decoder benchmarks
  std::string error;
};

Setup& setup() {
  static Setup s = [] {
    Setup r;
    const auto dir = um::test::fixtures_dir() / "mobilesam";
    auto m = MobileSam::load((dir / "checkpoint.pt").string());
    if (!m.ok()) {
      r.error = m.status().to_string();
      return r;
    }
    auto f = um::io::read_image((dir / "frame.png").string());
    if (!f.ok()) {
      r.error = f.status().to_string();
      return r;
    }
    r.model = *m;
    r.frame = *f;
    r.predictor = std::make_unique<Predictor>(r.model);
    const um::Status st = r.predictor->set_image(r.frame);
    if (!st.ok()) r.error = st.to_string();
    return r;
  }();
  return s;
}

bool ready(benchmark::State& state) {
  if (!setup().error.empty()) {
    state.SkipWithError(setup().error.c_str());
    return false;
  }
  return true;
}

void BM_MobileSamPreprocess(benchmark::State& state) {
  if (!ready(state)) return;
  const auto& f = setup().frame;
  for (auto _ : state) {
    auto rgb = frame_to_rgb(f);
    const InputGeometry g = input_geometry(f.height, f.width);
    benchmark::DoNotOptimize(normalize_and_pad(resize_longest_side(*rgb, g)));
  }
}

void BM_MobileSamImageEncoder(benchmark::State& state) {
  if (!ready(state)) return;
  const auto& f = setup().frame;
  auto rgb = frame_to_rgb(f);
  const um::Tensor input = normalize_and_pad(resize_longest_side(*rgb, input_geometry(f.height, f.width)));
  for (auto _ : state) benchmark::DoNotOptimize(setup().model->image_encoder().forward(input));
}

void BM_MobileSamPromptAndDecoder(benchmark::State& state) {
  if (!ready(state)) return;
  Prompt p;
  p.box = Box{120.f, 180.f, 330.f, 300.f};
  p.multimask = state.range(0) != 0;
  for (auto _ : state) {
    auto r = setup().predictor->predict(p);
    if (!r.ok()) {
      state.SkipWithError(r.status().to_string().c_str());
      return;
    }
    benchmark::DoNotOptimize(r->mask_logits);
  }
}

BENCHMARK(BM_MobileSamPreprocess)->Unit(benchmark::kMillisecond)->Repetitions(7)
    ->ReportAggregatesOnly(true);
BENCHMARK(BM_MobileSamImageEncoder)->Unit(benchmark::kMillisecond)->Iterations(1)
    ->Repetitions(7)->ReportAggregatesOnly(true);
BENCHMARK(BM_MobileSamPromptAndDecoder)->Arg(0)->Arg(1)->ArgName("multimask")
    ->Unit(benchmark::kMillisecond)->Iterations(3)->Repetitions(7)->ReportAggregatesOnly(true);

}  // namespace

BENCHMARK_MAIN();
