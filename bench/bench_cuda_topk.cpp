// File: bench/bench_cuda_topk.cpp
// Purpose: GPU time of nn::topk on CUDA (the multi-block radix select, src/nn/topk_radix.cuh)
// against the previous single-block bitonic kernel (nn::detail::topk_cuda_bitonic) on the
// shapes D-FINE runs: query selection over the encoder's anchors ([1, 8400] at 640x640, k=300,
// float32 scores; also float16 and a batch of 4), the post-processor's top-300 over queries x
// classes ([1, 300 * C]: C = 1 and 2 for the project's checkpoints, 80 as in COCO), and a long
// row ([1, 100000], k = 512).
// Timing: CUDA events around kInner back-to-back calls on a private stream (manual time per
// call), after a warm-up call that fills the pool; report the median of the repetitions. Built
// in every configuration; without the CUDA backend or a GPU each benchmark reports
// SkipWithError.
// Run: build/bench/bench_cuda_topk --benchmark_repetitions=7 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include "core/tensor.h"
#include "cuda_bench_util.h"
#include "nn/ops.h"

#ifdef UM_WITH_CUDA
#include "nn/topk_cuda.h"
#endif

namespace {

using um::DType;
using um::Shape;
using um::Tensor;

enum class Path { kRadix, kBitonic };

constexpr int kInner = 20;

void BM_CudaTopk(benchmark::State& state, Shape shape, int64_t k, DType dtype, Path path) {
#ifndef UM_WITH_CUDA
  (void)shape;
  (void)k;
  (void)dtype;
  (void)path;
  um::bench::skip(state, "built without the CUDA backend");
#else
  if (!um::bench::require_gpu(state)) return;
  const Tensor x = um::bench::device_scores(shape, dtype);
  // The upload ran on this thread's default stream; the top-k calls run on the timer's stream.
  um::cuda::synchronize(um::cuda::current_stream());
  um::bench::GpuTimer timer;
  auto run = [&] {
    return path == Path::kRadix ? um::nn::topk(x, k) : um::nn::detail::topk_cuda_bitonic(x, k);
  };
  { const auto warm = run(); }
  timer.measure(state, [&] { benchmark::DoNotOptimize(run()); }, kInner);
#endif
}

void configure(benchmark::internal::Benchmark* b) {
  b->UseManualTime()->Unit(benchmark::kMicrosecond)->Repetitions(7)->ReportAggregatesOnly(true);
}

#define UM_TOPK_BENCH(name, shape, k, dtype)                                                \
  BENCHMARK_CAPTURE(BM_CudaTopk, name##_radix, Shape shape, k, dtype, Path::kRadix)       \
      ->Apply(configure);                                                                 \
  BENCHMARK_CAPTURE(BM_CudaTopk, name##_bitonic, Shape shape, k, dtype, Path::kBitonic)   \
      ->Apply(configure)

UM_TOPK_BENCH(dfine_query_select_1x8400_k300_f32, ({1, 8400}), 300, DType::kF32);
UM_TOPK_BENCH(dfine_query_select_1x8400_k300_f16, ({1, 8400}), 300, DType::kF16);
UM_TOPK_BENCH(dfine_query_select_4x8400_k300_f32, ({4, 8400}), 300, DType::kF32);
UM_TOPK_BENCH(dfine_post_1x300_c1_k300_f32, ({1, 300}), 300, DType::kF32);
UM_TOPK_BENCH(dfine_post_1x600_c2_k300_f32, ({1, 600}), 300, DType::kF32);
UM_TOPK_BENCH(dfine_post_1x24000_c80_k300_f32, ({1, 24000}), 300, DType::kF32);
UM_TOPK_BENCH(long_row_1x100000_k512_f32, ({1, 100000}), 512, DType::kF32);

}  // namespace

BENCHMARK_MAIN();
