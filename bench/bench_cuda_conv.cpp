// File: bench/bench_cuda_conv.cpp
// Purpose: GPU time of the cuDNN convolutions behind nn::conv2d / nn::conv_transpose2d
// (src/nn/conv2d_cuda.cu, conv_transpose2d_cuda.cu) on shapes the two models run, float32 and
// float16 (NCHW): a D-FINE-like 3x3 conv (HGNetv2 stage at 1x64x160x160), TinyViT-like ones
// (MobileSAM's first stage at 256x256: depthwise 3x3 on 256 channels, pointwise 64 -> 256) and
// SAM's mask-decoder upscaling (ConvTranspose2d 256 -> 64, 2x2 stride 2 at 64x64).
// Timing: CUDA events around kInner back-to-back launches on a private stream (manual time per
// conv), after a warm-up call that fills the plan cache and the pool; report the median of the
// repetitions. Built in every configuration; without the CUDA backend or a GPU each benchmark
// reports SkipWithError.
// The fused conv + bias + activation + affine (nn::conv2d_bias_act, D-FINE's ConvBN and TinyViT's
// Conv2d_BN + GELU) is timed next to the sequence it replaced (conv2d with its bias pass, then
// act_affine_inplace): BM_CudaConvBiasAct/<shape>_<act>_{unfused,fused}_<dtype>.
// BM_CudaDepthwise/<shape>_{own,cudnn}_f16 force conv2d_cuda.cu's own depthwise kernel or cuDNN
// (the plain BM_CudaConv depthwise entries show the automatic, timed choice).
// BM_CudaOwnConv/<shape>_{own,cudnn}_<dtype>: nn::conv2d_bias_act with the own kernels
// (conv2d_implicit_gemm_cuda.h: the generic implicit GEMM, or where it is the one used the
// float16 shared-memory-patch kernel or the float32 pointwise kernel) forced against cuDNN + the
// epilogue pass, on the shapes whose automatic choice those kernels decide (OwnConvPolicy;
// float32 with allow_split_tf32).
// UM_CUDNN_CONV_ALGO=find in the environment makes the plans time the candidates on the first
// call instead of using cuDNN's heuristic (to compare the two algorithm choices).
// Run: build/bench/bench_cuda_conv --benchmark_repetitions=7 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <vector>

#include "core/tensor.h"
#include "cuda_bench_util.h"
#include "nn/ops.h"
#include "nn/ops_dfine.h"
#include "nn/ops_fused.h"

#ifdef UM_WITH_CUDA
#include "nn/conv2d_implicit_gemm_cuda.h"
#include "nn/cudnn_context.h"
#endif

namespace {

using um::DType;
using um::Shape;
using um::Tensor;

struct ConvShape {
  Shape x, w;  // conv2d: w [Cout, Cin/groups, kh, kw]; transpose: w [Cin, Cout, kh, kw]
  um::nn::Conv2dParams p;
  bool transpose;  // conv_transpose2d with stride p.stride_h, pad p.pad_h
};

constexpr int kInner = 20;

#ifdef UM_WITH_CUDA
using um::bench::device_pattern;
#endif

void BM_CudaConv(benchmark::State& state, ConvShape s, DType dtype) {
#ifndef UM_WITH_CUDA
  (void)s;
  (void)dtype;
  um::bench::skip(state, "built without the CUDA backend");
#else
  if (!um::bench::require_gpu(state)) return;
  const Tensor x = device_pattern(s.x, dtype);
  const Tensor w = device_pattern(s.w, dtype);
  const Tensor b = device_pattern({s.transpose ? s.w[1] : s.w[0]}, dtype);
  // The dtype conversions ran on this thread's default stream; the convs run on the timer's.
  um::cuda::synchronize(um::cuda::current_stream());
  um::bench::GpuTimer timer;
  auto run = [&] {
    return s.transpose ? um::nn::conv_transpose2d(x, w, b, s.p.stride_h, s.p.pad_h)
                       : um::nn::conv2d(x, w, b, s.p);
  };
  { const Tensor warm = run(); }
  timer.measure(state, [&] { benchmark::DoNotOptimize(run()); }, kInner);
#endif
}

// A float16 depthwise conv with the own direct kernel forced (own = true) or cuDNN forced,
// next to the automatic choice that BM_CudaConv times (nn::detail::DepthwiseConvPolicy).
void BM_CudaDepthwise(benchmark::State& state, ConvShape s, bool own) {
#ifdef UM_WITH_CUDA
  using um::nn::detail::DepthwiseConvPolicy;
  um::nn::detail::set_depthwise_conv_policy(own ? DepthwiseConvPolicy::kOwn
                                                : DepthwiseConvPolicy::kCudnn);
  BM_CudaConv(state, s, DType::kF16);
  um::nn::detail::set_depthwise_conv_policy(DepthwiseConvPolicy::kAuto);
#else
  (void)own;
  BM_CudaConv(state, s, DType::kF16);
#endif
}

// conv2d + bias, then activation + affine: the old two-pass sequence (fused = false) or the
// fused op (fused = true), with the same operands.
void BM_CudaConvBiasAct(benchmark::State& state, ConvShape s, um::nn::Activation act, bool fused,
                        DType dtype) {
#ifndef UM_WITH_CUDA
  (void)s;
  (void)act;
  (void)fused;
  (void)dtype;
  um::bench::skip(state, "built without the CUDA backend");
#else
  if (!um::bench::require_gpu(state)) return;
  const Tensor x = device_pattern(s.x, dtype);
  const Tensor w = device_pattern(s.w, dtype);
  const Tensor b = device_pattern({s.w[0]}, dtype);
  um::cuda::synchronize(um::cuda::current_stream());
  um::bench::GpuTimer timer;
  um::nn::ActKind kind = um::nn::ActKind::kNone;
  switch (act) {
    case um::nn::Activation::kNone: kind = um::nn::ActKind::kNone; break;
    case um::nn::Activation::kReLU: kind = um::nn::ActKind::kReLU; break;
    case um::nn::Activation::kSiLU: kind = um::nn::ActKind::kSiLU; break;
    case um::nn::Activation::kGELU: kind = um::nn::ActKind::kGELU; break;
  }
  auto run = [&] {
    if (fused) return um::nn::conv2d_bias_act(x, w, b, s.p, act, 0.9f, 0.1f);
    Tensor y = um::nn::conv2d(x, w, b, s.p);
    um::nn::act_affine_inplace(y, kind, true, 0.9f, 0.1f);
    return y;
  };
  { const Tensor warm = run(); }
  timer.measure(state, [&] { benchmark::DoNotOptimize(run()); }, kInner);
#endif
}

// conv2d_bias_act (SiLU) with the own kernels forced (own = true) or cuDNN forced; float32
// convs opt into 3xTF32 (Conv2dParams::allow_split_tf32) as D-FINE's float16 mode does. Timed
// eagerly (graph = false: each call launched from the host) or as ONE CUDA graph of
// kConvsPerGraph calls (graph = true), as the frame graph runs them: no host launch cost between
// kernels, which the eager loop includes (cuDNN's per-call host work made it favour the own
// kernels where the frame did not, session 10); the time is then per graph, i.e. per
// kConvsPerGraph convs.
constexpr int kConvsPerGraph = 8;
void BM_CudaOwnConv(benchmark::State& state, ConvShape s, DType dtype, bool own, bool graph) {
#ifndef UM_WITH_CUDA
  (void)s;
  (void)dtype;
  (void)own;
  (void)graph;
  um::bench::skip(state, "built without the CUDA backend");
#else
  using um::nn::detail::OwnConvPolicy;
  if (!um::bench::require_gpu(state)) return;
  const Tensor x = device_pattern(s.x, dtype);
  const Tensor w = device_pattern(s.w, dtype);
  const Tensor b = device_pattern({s.w[0]}, dtype);
  um::cuda::synchronize(um::cuda::current_stream());
  um::nn::Conv2dParams p = s.p;
  p.allow_split_tf32 = dtype == DType::kF32;
  um::nn::detail::set_own_conv_policy(own ? OwnConvPolicy::kOwn : OwnConvPolicy::kCudnn);
  auto run = [&] { return um::nn::conv2d_bias_act(x, w, b, p, um::nn::Activation::kSiLU); };
  if (graph) {
    um::bench::time_graph_replay(state, [&] {
      std::vector<Tensor> outs;
      for (int i = 0; i < kConvsPerGraph; ++i) outs.push_back(run());
      return outs;
    });
  } else {
    um::bench::GpuTimer timer;
    { const Tensor warm = run(); }
    timer.measure(state, [&] { benchmark::DoNotOptimize(run()); }, kInner);
  }
  um::nn::detail::set_own_conv_policy(OwnConvPolicy::kAuto);
#endif
}

const ConvShape kDfine3x3{{1, 64, 160, 160}, {64, 64, 3, 3}, um::nn::Conv2dParams::square(1, 1),
                          false};
const ConvShape kTinyVitDepthwise{{1, 256, 256, 256}, {256, 1, 3, 3},
                                  um::nn::Conv2dParams::square(1, 1, 256), false};
const ConvShape kTinyVitPointwise{{1, 64, 256, 256}, {256, 64, 1, 1},
                                  um::nn::Conv2dParams::square(1, 0), false};
const ConvShape kSamUpscale{{1, 256, 64, 64}, {256, 64, 2, 2}, um::nn::Conv2dParams::square(2, 0),
                            true};

// MinTime bounds a repetition's GPU time: the iteration count grows until the measured (manual)
// time reaches it, and the host side of each iteration (launches, pool, the timer's sync) costs
// ~20x the GPU time of one of these convs, so the default 0.5 s took ~80 s per benchmark.
void configure(benchmark::internal::Benchmark* b) {
  b->UseManualTime()
      ->Unit(benchmark::kMicrosecond)
      ->MinTime(0.02)
      ->Repetitions(7)
      ->ReportAggregatesOnly(true);
}

BENCHMARK_CAPTURE(BM_CudaConv, dfine_3x3_64x160x160_f32, kDfine3x3, DType::kF32)->Apply(configure);
BENCHMARK_CAPTURE(BM_CudaConv, dfine_3x3_64x160x160_f16, kDfine3x3, DType::kF16)->Apply(configure);
BENCHMARK_CAPTURE(BM_CudaConv, tinyvit_dw3x3_256x256x256_f32, kTinyVitDepthwise, DType::kF32)
    ->Apply(configure);
BENCHMARK_CAPTURE(BM_CudaConv, tinyvit_dw3x3_256x256x256_f16, kTinyVitDepthwise, DType::kF16)
    ->Apply(configure);
BENCHMARK_CAPTURE(BM_CudaConv, tinyvit_pw1x1_64to256_256x256_f32, kTinyVitPointwise, DType::kF32)
    ->Apply(configure);
BENCHMARK_CAPTURE(BM_CudaConv, tinyvit_pw1x1_64to256_256x256_f16, kTinyVitPointwise, DType::kF16)
    ->Apply(configure);
BENCHMARK_CAPTURE(BM_CudaConv, sam_convT2x2_256to64_64x64_f32, kSamUpscale, DType::kF32)
    ->Apply(configure);
BENCHMARK_CAPTURE(BM_CudaConv, sam_convT2x2_256to64_64x64_f16, kSamUpscale, DType::kF16)
    ->Apply(configure);

const ConvShape kDfineDepthwise5x5{{1, 128, 80, 80}, {128, 1, 5, 5},
                                   um::nn::Conv2dParams::square(2, 2, 128), false};
BENCHMARK_CAPTURE(BM_CudaDepthwise, tinyvit_dw3x3_256x256x256_own_f16, kTinyVitDepthwise, true)
    ->Apply(configure);
BENCHMARK_CAPTURE(BM_CudaDepthwise, tinyvit_dw3x3_256x256x256_cudnn_f16, kTinyVitDepthwise,
                  false)
    ->Apply(configure);
BENCHMARK_CAPTURE(BM_CudaDepthwise, dw5x5_s2_128x80x80_own_f16, kDfineDepthwise5x5, true)
    ->Apply(configure);
BENCHMARK_CAPTURE(BM_CudaDepthwise, dw5x5_s2_128x80x80_cudnn_f16, kDfineDepthwise5x5, false)
    ->Apply(configure);
BENCHMARK_CAPTURE(BM_CudaConv, dw5x5_s2_128x80x80_auto_f16, kDfineDepthwise5x5, DType::kF16)
    ->Apply(configure);

// D-FINE ConvBN (3x3, ReLU + lab affine) and TinyViT MBConv conv1 (1x1 64 -> 256, GELU).
BENCHMARK_CAPTURE(BM_CudaConvBiasAct, dfine_3x3_64x160x160_relu_unfused_f16, kDfine3x3,
                  um::nn::Activation::kReLU, false, DType::kF16)
    ->Apply(configure);
BENCHMARK_CAPTURE(BM_CudaConvBiasAct, dfine_3x3_64x160x160_relu_fused_f16, kDfine3x3,
                  um::nn::Activation::kReLU, true, DType::kF16)
    ->Apply(configure);
BENCHMARK_CAPTURE(BM_CudaConvBiasAct, dfine_3x3_64x160x160_relu_unfused_f32, kDfine3x3,
                  um::nn::Activation::kReLU, false, DType::kF32)
    ->Apply(configure);
BENCHMARK_CAPTURE(BM_CudaConvBiasAct, dfine_3x3_64x160x160_relu_fused_f32, kDfine3x3,
                  um::nn::Activation::kReLU, true, DType::kF32)
    ->Apply(configure);
BENCHMARK_CAPTURE(BM_CudaConvBiasAct, tinyvit_pw1x1_64to256_256x256_gelu_unfused_f16,
                  kTinyVitPointwise, um::nn::Activation::kGELU, false, DType::kF16)
    ->Apply(configure);
BENCHMARK_CAPTURE(BM_CudaConvBiasAct, tinyvit_pw1x1_64to256_256x256_gelu_fused_f16,
                  kTinyVitPointwise, um::nn::Activation::kGELU, true, DType::kF16)
    ->Apply(configure);
BENCHMARK_CAPTURE(BM_CudaConvBiasAct, tinyvit_dw3x3_256x256x256_gelu_unfused_f16,
                  kTinyVitDepthwise, um::nn::Activation::kGELU, false, DType::kF16)
    ->Apply(configure);
BENCHMARK_CAPTURE(BM_CudaConvBiasAct, tinyvit_dw3x3_256x256x256_gelu_fused_f16,
                  kTinyVitDepthwise, um::nn::Activation::kGELU, true, DType::kF16)
    ->Apply(configure);

// D-FINE's encoder 3x3 convs (float16, 64 -> 64) at its three levels, the backbone's stem and
// stage-1 3x3 (float32, 3xTF32), TinyViT's first patch-embedding conv (float16, 3 -> 32, s2),
// and a float16 64-channel 3x3 at 160x160 (no model runs it; the generic kernel's float16 case).
const ConvShape kEncoder20{{1, 64, 20, 20}, {64, 64, 3, 3}, um::nn::Conv2dParams::square(1, 1),
                           false};
const ConvShape kEncoder40{{1, 64, 40, 40}, {64, 64, 3, 3}, um::nn::Conv2dParams::square(1, 1),
                           false};
const ConvShape kEncoder80{{1, 64, 80, 80}, {64, 64, 3, 3}, um::nn::Conv2dParams::square(1, 1),
                           false};
const ConvShape kStem1{{1, 3, 640, 640}, {16, 3, 3, 3}, um::nn::Conv2dParams::square(2, 1),
                       false};
const ConvShape kStage1{{1, 16, 160, 160}, {16, 16, 3, 3}, um::nn::Conv2dParams::square(1, 1),
                        false};
const ConvShape kPatchEmbed1{{1, 3, 1024, 1024}, {32, 3, 3, 3},
                             um::nn::Conv2dParams::square(2, 1), false};
// D-FINE-S backbone 1x1 convs (float32, 3xTF32: the pointwise kernel): stage 2's aggregation
// excite at 80x80, stage 3's light-block first conv at 40x40, stage 4's aggregation squeeze.
const ConvShape kExcite80{{1, 128, 80, 80}, {256, 128, 1, 1}, um::nn::Conv2dParams::square(1, 0),
                          false};
const ConvShape kLight40{{1, 256, 40, 40}, {64, 256, 1, 1}, um::nn::Conv2dParams::square(1, 0),
                         false};
const ConvShape kSqueeze20{{1, 896, 20, 20}, {512, 896, 1, 1}, um::nn::Conv2dParams::square(1, 0),
                           false};
// D-FINE-S encoder 1x1 convs (float16: the pointwise kernel vs cuDNN's GEMM + the epilogue
// pass, which kAuto keeps): the 20x20 input projection, an ELAN output conv at 40x40, an 80x80
// one; and a 256x256 one where kAuto takes the own kernel.
const ConvShape kProj20{{1, 1024, 20, 20}, {256, 1024, 1, 1}, um::nn::Conv2dParams::square(1, 0),
                        false};
const ConvShape kElan40{{1, 384, 40, 40}, {256, 384, 1, 1}, um::nn::Conv2dParams::square(1, 0),
                        false};
const ConvShape kElan80{{1, 256, 80, 80}, {128, 256, 1, 1}, um::nn::Conv2dParams::square(1, 0),
                        false};
// Own vs cuDNN entries of one shape, eager (graph false) or graph-replayed (graph true).
#define UM_OWN_CONV_BENCH_PAIR(label, shape, dtype, graph)                                    \
  BENCHMARK_CAPTURE(BM_CudaOwnConv, label##_own, shape, dtype, true, graph)->Apply(configure); \
  BENCHMARK_CAPTURE(BM_CudaOwnConv, label##_cudnn, shape, dtype, false, graph)->Apply(configure)
#define UM_OWN_CONV_BENCH(name, shape, dtype) UM_OWN_CONV_BENCH_PAIR(name, shape, dtype, false)
UM_OWN_CONV_BENCH(encoder_3x3_64_20x20_f16, kEncoder20, DType::kF16);
UM_OWN_CONV_BENCH(encoder_3x3_64_40x40_f16, kEncoder40, DType::kF16);
UM_OWN_CONV_BENCH(encoder_3x3_64_80x80_f16, kEncoder80, DType::kF16);
UM_OWN_CONV_BENCH(conv_3x3_64_160x160_f16, kDfine3x3, DType::kF16);
UM_OWN_CONV_BENCH(stem_3x3_s2_3to16_640_f32, kStem1, DType::kF32);
UM_OWN_CONV_BENCH(stage1_3x3_16_160x160_f32, kStage1, DType::kF32);
UM_OWN_CONV_BENCH(patch_embed_3x3_s2_3to32_1024_f16, kPatchEmbed1, DType::kF16);
UM_OWN_CONV_BENCH(excite_1x1_128to256_80x80_f32, kExcite80, DType::kF32);
UM_OWN_CONV_BENCH(light_1x1_256to64_40x40_f32, kLight40, DType::kF32);
UM_OWN_CONV_BENCH(squeeze_1x1_896to512_20x20_f32, kSqueeze20, DType::kF32);
#define UM_OWN_CONV_GRAPH_BENCH(name, shape, dtype) \
  UM_OWN_CONV_BENCH_PAIR(graph_##name, shape, dtype, true)
UM_OWN_CONV_GRAPH_BENCH(proj_1x1_1024to256_20x20_f16_x8, kProj20, DType::kF16);
UM_OWN_CONV_GRAPH_BENCH(elan_1x1_384to256_40x40_f16_x8, kElan40, DType::kF16);
UM_OWN_CONV_GRAPH_BENCH(elan_1x1_256to128_80x80_f16_x8, kElan80, DType::kF16);
UM_OWN_CONV_GRAPH_BENCH(encoder_3x3_64_80x80_f16_x8, kEncoder80, DType::kF16);
UM_OWN_CONV_GRAPH_BENCH(tinyvit_pw1x1_64to256_256x256_f16_x8, kTinyVitPointwise, DType::kF16);
UM_OWN_CONV_GRAPH_BENCH(excite_1x1_128to256_80x80_f32_x8, kExcite80, DType::kF32);

}  // namespace

BENCHMARK_MAIN();
