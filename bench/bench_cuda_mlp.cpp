// File: bench/bench_cuda_mlp.cpp
// Purpose: GPU time of nn::mlp's fused float32 kernels (src/nn/mlp_cuda.cu: FFMA;
// src/nn/mlp_tf32_cuda.cu: 3xTF32 tensor cores, MlpParams::allow_split_tf32) side by side with the
// per-layer sequence it replaced in D-FINE's box chain (nn::linear_act with ReLU per hidden
// layer, nn::linear with the residual: cuBLASLt GEMMs), on the decoder's shapes (300 query rows):
// arg shape 0 = a bbox head 256 -> 256 -> 256 -> 132 with the corners residual, 1 = the query
// position head 4 -> 512 -> 256; arg path 0 = fused FFMA, 1 = per-layer sequence, 2 = fused
// 3xTF32.
// Timing: each iteration replays ONE CUDA graph holding kCallsPerGraph calls (inside the frame
// graph the launch gaps between kernels are what the fusion removes, so the graph is the honest
// setting); the reported time is per graph, i.e. per kCallsPerGraph MLPs. Median of repetitions.
// Without the CUDA backend or a GPU each benchmark reports SkipWithError.
// Run: build/bench/bench_cuda_mlp --benchmark_repetitions=7 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <vector>

#include "core/tensor.h"
#include "cuda_bench_util.h"
#include "nn/ops.h"
#include "nn/ops_fused.h"
#include "nn/ops_mlp.h"

namespace {

using um::DType;
using um::Tensor;

#ifdef UM_WITH_CUDA
constexpr int kCallsPerGraph = 8;  // D-FINE-S's decoder runs 8 box-chain MLPs per frame

void BM_MlpGpu(benchmark::State& state) {
  if (!um::bench::require_gpu(state)) return;
  const bool bbox = state.range(0) == 0;
  const bool fused = state.range(1) != 1;
  const um::nn::MlpParams params{.allow_split_tf32 = state.range(1) == 2};
  const std::vector<int64_t> dims =
      bbox ? std::vector<int64_t>{256, 256, 256, 132} : std::vector<int64_t>{4, 512, 256};
  std::vector<Tensor> w, b;
  for (size_t i = 0; i + 1 < dims.size(); ++i) {
    w.push_back(um::bench::device_pattern({dims[i + 1], dims[i]}, DType::kF32, 2 * i));
    b.push_back(um::bench::device_pattern({dims[i + 1]}, DType::kF32, 2 * i + 1));
  }
  const Tensor x = um::bench::device_pattern({300, dims.front()}, DType::kF32, 7);
  const Tensor res = bbox ? um::bench::device_pattern({300, dims.back()}, DType::kF32, 8) : Tensor();
  auto one = [&] {
    if (fused) return um::nn::mlp(x, w, b, res, params);
    Tensor y = x;
    for (size_t i = 0; i + 1 < w.size(); ++i) {
      y = um::nn::linear_act(y, w[i], b[i], um::nn::Activation::kReLU);
    }
    return um::nn::linear(y, w.back(), b.back(), res);
  };
  um::bench::time_graph_replay(state, [&] {
    std::vector<Tensor> outs;
    for (int i = 0; i < kCallsPerGraph; ++i) outs.push_back(one());
    return outs;
  });
}
#else
UM_BENCH_SKIP_WITHOUT_CUDA(BM_MlpGpu)
#endif

BENCHMARK(BM_MlpGpu)
    ->ArgsProduct({{0, 1}, {0, 1, 2}})
    ->ArgNames({"shape", "path"})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
