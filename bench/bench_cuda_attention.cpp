// File: bench/bench_cuda_attention.cpp
// Purpose: GPU time of the attention (nn::scaled_dot_product_attention on CUDA tensors) on the
// shapes the models run, float32 and float16, for the automatic dispatch ("auto") next to each
// path forced through nn::detail::attention_cuda_with_path: the original generic kernel
// ("generic"), the key-tiled kernel of src/nn/attention_tiled_cuda.cu ("tiled", where it takes
// the operands) and the tensor-core path of src/nn/attention_gemm_cuda.cu ("gemm": cuBLASLt
// q k^T, softmax kernel, cuBLASLt P v) and the fused tensor-core kernel of
// src/nn/attention_mma_cuda.cu ("mma": float16, head dim 32, no bias; the D-FINE shapes take it
// automatically), so that the paths print side by side. "tiled", "gemm" and "mma" report an error
// where the path refuses the operands; the "auto" row's label names the path it picked.
// Shapes (MobileSAM TinyViT at 1024 input, src/models/mobilesam/tiny_vit.{h,cpp}: patch embed
// /4 -> 256x256 tokens; stage 2: 128 dims, 4 heads, window 7 on 128x128 tokens padded to 133 ->
// 19x19 = 361 windows; stage 3: 160 dims, 5 heads, window 14 on 64x64 padded to 70 -> 5x5 = 25
// windows of 196 tokens; stage 4: 320 dims, 10 heads, window 7 on 64x64 padded to 70 -> 100
// windows; head dim 32, relative-position bias [1, H, N, N]; q/k/v are head views of the packed
// per-head qkv [windows, N, H, 3*32]. SAM's two-way transformer: tokens -> image 7 x 4096 and
// image -> tokens 4096 x 7 at head dim 16 (internal dim 128, 8 heads), token self-attention
// 7 x 7 at head dim 32. D-FINE: encoder 400 x 400 (20 x 20 tokens at 640 input), decoder
// 300 x 300, 8 heads of 32, head views of the packed [1, L, 3E] projection.)
// Also nn::window_attention (src/nn/window_attention_cuda.cu: TinyViT's whole windowed attention,
// from the packed unpadded qkv [1, H*W, heads*96] to the merged output, one kernel per call) on
// the same three TinyViT stages, float16 (the tensor-core kernel) and float32 (the plain one):
// "window_attention/<stage>/<dtype>".
// Timing: CUDA events around kInner back-to-back calls on a private stream (manual time per
// call), after a warm-up call that fills the pool; median of the repetitions. Built in every
// configuration; without the CUDA backend or a GPU each benchmark reports SkipWithError.
// Run: build/bench/bench_cuda_attention --benchmark_repetitions=7 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "core/tensor.h"
#include "cuda_bench_util.h"
#include "nn/ops.h"
#include "nn/ops_sam.h"

#ifdef UM_WITH_CUDA
#include "nn/attention_cuda.h"
#endif

namespace {

using um::DType;
using um::Shape;
using um::Tensor;

struct AttnShape {
  const char* name;
  int64_t b, h, lq, lk, d;
  bool bias;  // [1, H, Lq, Lk] (TinyViT's relative-position bias)
};

const AttnShape kShapes[] = {
    {"tinyvit_s2_361x4x49x49x32", 361, 4, 49, 49, 32, true},
    {"tinyvit_s3_25x5x196x196x32", 25, 5, 196, 196, 32, true},
    {"tinyvit_s4_100x10x49x49x32", 100, 10, 49, 49, 32, true},
    {"sam_tok2img_1x8x7x4096x16", 1, 8, 7, 4096, 16, false},
    {"sam_img2tok_1x8x4096x7x16", 1, 8, 4096, 7, 16, false},
    {"sam_tokself_1x8x7x7x32", 1, 8, 7, 7, 32, false},
    {"dfine_enc_1x8x400x400x32", 1, 8, 400, 400, 32, false},
    {"dfine_dec_1x8x300x300x32", 1, 8, 300, 300, 32, false},
};

constexpr int kInner = 20;

enum class Path { kAuto, kGeneric, kTiled, kGemm, kMma };

const char* path_name(Path p) {
  switch (p) {
    case Path::kGeneric: return "generic";
    case Path::kTiled: return "tiled";
    case Path::kGemm: return "gemm";
    case Path::kMma: return "mma";
    default: return "auto";
  }
}

void BM_CudaAttention(benchmark::State& state, AttnShape s, DType dtype, Path path) {
#ifndef UM_WITH_CUDA
  (void)s;
  (void)dtype;
  (void)path;
  um::bench::skip(state, "built without the CUDA backend");
#else
  if (!um::bench::require_gpu(state)) return;
  using um::bench::device_pattern;
  Tensor q, k, v;
  if (s.lq == s.lk) {
    // Self-attention: head views of one packed [B, L, H, 3D] tensor (per-head q | k | v).
    const Tensor qkv = device_pattern({s.b, s.lq, s.h, 3 * s.d}, dtype, 1);
    q = qkv.slice(3, 0, s.d).permute({0, 2, 1, 3});
    k = qkv.slice(3, s.d, 2 * s.d).permute({0, 2, 1, 3});
    v = qkv.slice(3, 2 * s.d, 3 * s.d).permute({0, 2, 1, 3});
  } else {
    // Cross-attention: separate [B, L, H, D] projections seen as [B, H, L, D].
    q = device_pattern({s.b, s.lq, s.h, s.d}, dtype, 2).permute({0, 2, 1, 3});
    k = device_pattern({s.b, s.lk, s.h, s.d}, dtype, 3).permute({0, 2, 1, 3});
    v = device_pattern({s.b, s.lk, s.h, s.d}, dtype, 4).permute({0, 2, 1, 3});
  }
  const Tensor bias = s.bias ? device_pattern({1, s.h, s.lq, s.lk}, dtype, 5) : Tensor();
  const float scale = 1.f / 5.656854f;
  // The uploads ran on this thread's default stream; the attention runs on the timer's stream.
  um::cuda::synchronize(um::cuda::current_stream());
  um::bench::GpuTimer timer;
  using um::nn::detail::AttentionPath;
  auto run = [&] {
    switch (path) {
      case Path::kGeneric:
        return um::nn::detail::attention_cuda_with_path(q, k, v, bias, scale,
                                                        AttentionPath::kGeneric);
      case Path::kTiled:
        return um::nn::detail::attention_cuda_with_path(q, k, v, bias, scale,
                                                        AttentionPath::kTiled);
      case Path::kGemm:
        return um::nn::detail::attention_cuda_with_path(q, k, v, bias, scale,
                                                        AttentionPath::kGemm);
      case Path::kMma:
        return um::nn::detail::attention_cuda_with_path(q, k, v, bias, scale,
                                                        AttentionPath::kMma);
      default:
        return um::nn::scaled_dot_product_attention(q, k, v, bias, scale);
    }
  };
  if (path == Path::kAuto) {
    const AttentionPath picked = um::nn::detail::attention_cuda_auto_path(q, k, v, bias);
    state.SetLabel(picked == AttentionPath::kMma     ? "mma"
                   : picked == AttentionPath::kGemm  ? "gemm"
                   : picked == AttentionPath::kTiled ? "tiled"
                                                     : "generic");
  }
  um::bench::time_on_gpu_or_skip(state, timer, run, kInner);
#endif
}

// TinyViT's windowed attention as the model calls it (1024 input; key_dim 32).
struct WindowShape {
  const char* name;
  int64_t h, w, ws, heads;
};

const WindowShape kWindowShapes[] = {
    {"tinyvit_s2_128x128_w7_h4", 128, 128, 7, 4},
    {"tinyvit_s3_64x64_w14_h5", 64, 64, 14, 5},
    {"tinyvit_s4_64x64_w7_h10", 64, 64, 7, 10},
};

void BM_CudaWindowAttention(benchmark::State& state, WindowShape s, DType dtype) {
#ifndef UM_WITH_CUDA
  (void)s;
  (void)dtype;
  um::bench::skip(state, "built without the CUDA backend");
#else
  if (!um::bench::require_gpu(state)) return;
  using um::bench::device_pattern;
  const int64_t row = s.heads * 3 * 32, n = s.ws * s.ws;
  const Tensor qkv = device_pattern({1, s.h * s.w, row}, dtype, 6);
  const Tensor pad = device_pattern({row}, dtype, 7);
  const Tensor bias = device_pattern({1, s.heads, n, n}, dtype, 8);
  const um::nn::WindowAttentionParams p{s.h, s.w, s.ws, s.heads, 32, 1.f / 5.656854f};
  um::cuda::synchronize(um::cuda::current_stream());  // uploads ran on the default stream
  um::bench::GpuTimer timer;
  auto run = [&] { return um::nn::window_attention(qkv, pad, bias, p); };
  um::bench::time_on_gpu_or_skip(state, timer, run, kInner);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  // Registered as <shape>/<dtype>/<path>, the paths adjacent (auto's label names its pick).
  for (const AttnShape& s : kShapes) {
    for (DType dt : {DType::kF16, DType::kF32}) {
      for (Path path : {Path::kAuto, Path::kMma, Path::kTiled, Path::kGemm, Path::kGeneric}) {
        const std::string name = std::string("attention/") + s.name +
                                 (dt == DType::kF16 ? "/f16/" : "/f32/") + path_name(path);
        benchmark::RegisterBenchmark(name.c_str(), BM_CudaAttention, s, dt, path)
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond)
            ->Repetitions(7)
            ->ReportAggregatesOnly(true);
      }
    }
  }
  for (const WindowShape& s : kWindowShapes) {
    for (DType dt : {DType::kF16, DType::kF32}) {
      const std::string name =
          std::string("window_attention/") + s.name + (dt == DType::kF16 ? "/f16" : "/f32");
      benchmark::RegisterBenchmark(name.c_str(), BM_CudaWindowAttention, s, dt)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond)
          ->Repetitions(7)
          ->ReportAggregatesOnly(true);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
