// File: bench/bench_pipeline.cpp
// Purpose: speed of the pipeline's own per-frame work (everything around the two models):
// phantom rendering (the simulator's cost per frame), W_in/W_edge/W_out, the quality scores,
// and, for scale, the whole CPU frame path with the phantom models.
// Run: build/bench/bench_pipeline --benchmark_repetitions=5 --benchmark_report_aggregates_only
//      (median of repetitions; BM_CpuFramePath takes seconds per iteration on a laptop CPU).
#include <benchmark/benchmark.h>

#include <memory>

#include "pipeline/frame_processor.h"
#include "pipeline/mask_weights.h"
#include "pipeline/phantom.h"
#include "pipeline/phantom_stream.h"
#include "pipeline/quality.h"
#include "test_support.h"

namespace um::pipeline {
namespace {

// Frame sizes: the reference 558x422 (H x W) and the largest demo size 600x800.
const FrameSize kSizes[] = {{558, 422}, {600, 800}};

PhantomFrame bone_frame(FrameSize size) {
  PhantomGenerator gen(1, size);
  PhantomFrame f = gen.next();
  while (!f.has_box) f = gen.next();
  return f;
}

void BM_PhantomRender(benchmark::State& state) {
  PhantomStream stream(1, {.size = kSizes[state.range(0)]});
  for (auto _ : state) benchmark::DoNotOptimize(stream.next().pixels.data());
  state.SetLabel(std::to_string(kSizes[state.range(0)].height) + "x" +
                 std::to_string(kSizes[state.range(0)].width));
}
BENCHMARK(BM_PhantomRender)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_MaskWeights(benchmark::State& state) {
  const PhantomFrame f = bone_frame(kSizes[state.range(0)]);
  const int w = f.params.width, h = f.params.height;
  std::vector<uint8_t> in(f.mask.size()), edge(f.mask.size()), out(f.mask.size());
  for (auto _ : state) {
    compute_mask_weights(f.mask.data(), w, h, in.data(), edge.data(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(f.mask.size()));
  state.SetLabel(std::to_string(h) + "x" + std::to_string(w));
}
BENCHMARK(BM_MaskWeights)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_QualityScores(benchmark::State& state) {
  const PhantomFrame f = bone_frame(kSizes[state.range(0)]);
  const int w = f.params.width, h = f.params.height;
  const MaskWeights mw = compute_mask_weights(f.mask, w, h);
  const QualityInputs in{f.pixels.data(), f.mask.data(), mw.w_in.data(), mw.w_edge.data(),
                         mw.w_out.data(), w, h, f.mask.data(), 0, 0};
  for (auto _ : state) benchmark::DoNotOptimize(compute_quality(in).combined);
  state.SetLabel(std::to_string(h) + "x" + std::to_string(w));
}
BENCHMARK(BM_QualityScores)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_CpuFramePath(benchmark::State& state) {
  ProcessorOptions opt;
  opt.dfine_checkpoint = (test::source_dir() / "models/phantom/dfine_n_phantom.pth").string();
  opt.sam_checkpoint = (test::source_dir() / "models/phantom/mobilesam_phantom.pt").string();
  auto proc = create_frame_processor(opt);
  if (!proc.ok()) {
    state.SkipWithError(proc.status().to_string().c_str());
    return;
  }
  const Frame frame = to_frame(bone_frame({558, 422}), 0);
  StageTimings last;
  for (auto _ : state) {
    auto r = (*proc)->process(frame);
    if (!r.ok()) {
      state.SkipWithError(r.status().to_string().c_str());
      return;
    }
    last = r->timings;
  }
  state.counters["detector_ms"] = static_cast<double>(last.detector_ns) * 1e-6;
  state.counters["encoder_ms"] = static_cast<double>(last.encoder_ns) * 1e-6;
  state.counters["decoder_ms"] = static_cast<double>(last.decoder_ns) * 1e-6;
  state.counters["post_ms"] = static_cast<double>(last.weights_ns + last.quality_ns) * 1e-6;
}
BENCHMARK(BM_CpuFramePath)->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();

}  // namespace
}  // namespace um::pipeline

BENCHMARK_MAIN();
