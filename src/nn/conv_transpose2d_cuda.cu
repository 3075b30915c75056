// File: src/nn/conv_transpose2d_cuda.cu
// Purpose: conv_transpose2d on the GPU (declared in nn/ops_cuda.h, reached through
// nn::conv_transpose2d when x lives on a CUDA device): torch.nn.ConvTranspose2d without
// output_padding, groups or dilation, as SAM's mask decoder uses it (2x2, stride 2, pad 0).
// Method: a transposed convolution IS the data gradient of the forward convolution that maps the
// output back to the input: conv2d(out [N, Cout, OH, OW], W [Cin, Cout, kh, kw], stride, pad)
// has shape [N, Cin, H, W] exactly when OH = (H - 1) * stride - 2 * pad + kh. So x plays dy,
// the PyTorch weight [Cin, Cout, kh, kw] is already that conv's filter (K = Cin, C = Cout), and
// cudnnConvolutionBackwardData computes the output, overlapping taps accumulating like PyTorch.
// Precision and graph capture as in conv2d_cuda.cu: fp32 FMA math (no TF32), float16 with a
// float32 compute type, per-configuration plans, workspace from the DevicePool, everything
// queued on um::cuda::current_stream(). The algorithm: as in conv2d_cuda.cu, the first call of a
// configuration (un-captured warm-up, host sync allowed) times the candidates with
// cudnnFindConvolutionBackwardDataAlgorithmEx and keeps the fastest precise, deterministic one;
// the timing is opt-in (UM_CUDNN_CONV_ALGO=find); by default, when Find fails or under capture
// the host-only heuristic chooses.
#include <array>
#include <map>
#include <memory>
#include <string>

#include "nn/cuda_op_util.cuh"
#include "nn/cudnn_algo_select.h"
#include "nn/cudnn_context.h"
#include "nn/ops_cuda.h"

namespace um::nn::detail {
namespace {

constexpr const char* kOp = "conv_transpose2d";

struct BackwardDataPlan {
  TensorDesc dy, dx;  // dy = our input x [N, Cin, H, W], dx = our output [N, Cout, OH, OW]
  FilterDesc w;       // [Cin, Cout, kh, kw]
  ConvDesc conv;
  cudnnConvolutionBwdDataAlgo_t algo = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
  size_t workspace_bytes = 0;
};

// device, dtype, x [N, Cin, H, W], weight [Cout, kh, kw], stride, pad.
using PlanKey = std::array<int64_t, 11>;

// The backward-data API for select_conv_algorithm (cudnn_algo_select.h): Find times the
// candidates on the real operands (x as dy, the output buffer y as dx scratch); the heuristic is
// cudnnGetConvolutionBackwardDataAlgorithm_v7. Deterministic choices only where one qualifies
// (ALGO_0 accumulates with atomics, so the same frame could give different bits run to run);
// ALGO_1 is deterministic and supports every configuration this op allows (the fallback).
struct BackwardDataAlgoTraits {
  using Perf = cudnnConvolutionBwdDataAlgoPerf_t;
  using Algo = cudnnConvolutionBwdDataAlgo_t;
  static constexpr int kCount = CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
  static constexpr bool kDeterministic = true;
  static constexpr Algo kFallback = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
  static bool half_precision_transform(Algo a) {
    return a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT ||
           a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING ||
           a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED;
  }

  cudnnHandle_t handle;
  const BackwardDataPlan& plan;
  const Tensor& x;
  const Tensor& w;
  const Tensor& y;

  cudnnStatus_t workspace_size(Algo a, size_t* bytes) const {
    return cudnnGetConvolutionBackwardDataWorkspaceSize(handle, plan.w.get(), plan.dy.get(),
                                                        plan.conv.get(), plan.dx.get(), a, bytes);
  }
  cudnnStatus_t find(int n, int* returned, Perf* perf, void* ws, size_t ws_bytes) const {
    return cudnnFindConvolutionBackwardDataAlgorithmEx(
        handle, plan.w.get(), w.raw_data(), plan.dy.get(), x.raw_data(), plan.conv.get(),
        plan.dx.get(), y.raw_data(), n, returned, perf, ws, ws_bytes);
  }
  cudnnStatus_t heuristic(int n, int* returned, Perf* perf) const {
    return cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, plan.w.get(), plan.dy.get(),
                                                       plan.conv.get(), plan.dx.get(), n,
                                                       returned, perf);
  }
};

std::unique_ptr<BackwardDataPlan> make_plan(cudnnHandle_t handle, const Tensor& x,
                                            const Tensor& w, const Tensor& y, int stride, int pad,
                                            const Shape& out_shape) {
  auto plan = std::make_unique<BackwardDataPlan>();
  const cudnnDataType_t type = cudnn_data_type(x.dtype());
  plan->dy.set_nchw(type, cudnn_dim(kOp, x.size(0)), cudnn_dim(kOp, x.size(1)),
                    cudnn_dim(kOp, x.size(2)), cudnn_dim(kOp, x.size(3)));
  plan->dx.set_nchw(type, cudnn_dim(kOp, out_shape[0]), cudnn_dim(kOp, out_shape[1]),
                    cudnn_dim(kOp, out_shape[2]), cudnn_dim(kOp, out_shape[3]));
  plan->w.set_kchw(type, cudnn_dim(kOp, w.size(0)), cudnn_dim(kOp, w.size(1)),
                   cudnn_dim(kOp, w.size(2)), cudnn_dim(kOp, w.size(3)));
  UM_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(plan->conv.get(), pad, pad, stride, stride, 1, 1,
                                                 CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  UM_CUDNN_CHECK(cudnnSetConvolutionMathType(plan->conv.get(), conv_math_type({x.dtype(), false})));
  // The forward conv of dx must give exactly dy's shape, or the pairing above is wrong.
  int n = 0, c = 0, h = 0, wd = 0;
  UM_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(plan->conv.get(), plan->dx.get(),
                                                       plan->w.get(), &n, &c, &h, &wd));
  if (Shape{n, c, h, wd} != x.shape()) {
    throw Error(StatusCode::kInternal, std::string(kOp) + ": output " + shape_str(out_shape) +
                                           " does not map back onto x " + shape_str(x.shape()) +
                                           " (cuDNN gives " + shape_str(Shape{n, c, h, wd}) + ")");
  }
  const std::string config = std::string(dtype_name(x.dtype())) + " x " + shape_str(x.shape()) +
                             " w " + shape_str(w.shape()) + " stride " + std::to_string(stride) +
                             " pad " + std::to_string(pad);
  const ConvAlgoChoice<cudnnConvolutionBwdDataAlgo_t> choice = select_conv_algorithm(
      BackwardDataAlgoTraits{handle, *plan, x, w, y}, kOp, ConvPrecision{x.dtype(), false},
      plan->conv.get(),
      x.device(), config);
  plan->algo = choice.algo;
  plan->workspace_bytes = choice.workspace_bytes;
  return plan;
}

const BackwardDataPlan& plan_for(cudnnHandle_t handle, const Tensor& x, const Tensor& w,
                                 const Tensor& y, int stride, int pad, const Shape& out_shape) {
  thread_local std::map<PlanKey, std::unique_ptr<BackwardDataPlan>> cache;
  int device = 0;
  UM_CUDA_CHECK(cudaGetDevice(&device));
  const PlanKey key{device,    static_cast<int64_t>(x.dtype()),
                    x.size(0), x.size(1), x.size(2), x.size(3),
                    w.size(1), w.size(2), w.size(3), stride, pad};
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;
  if (cache.size() >= 1024) cache.clear();
  return *cache.emplace(key, make_plan(handle, x, w, y, stride, pad, out_shape)).first->second;
}

}  // namespace

Tensor conv_transpose2d_cuda(const Tensor& x_in, const Tensor& w_in, const Tensor& bias,
                             int stride, int pad) {
  require_cuda_float(kOp, x_in, "x");
  require_like(kOp, w_in, "weight", x_in);
  if (w_in.device() != x_in.device()) {
    fail(kOp, "weight is on " + w_in.device().str() + " but x is on " + x_in.device().str());
  }
  if (x_in.dim() != 4) fail(kOp, "x must be [N, Cin, H, W], got " + shape_str(x_in.shape()));
  if (w_in.dim() != 4) {
    fail(kOp, "weight must be [Cin, Cout, kh, kw], got " + shape_str(w_in.shape()));
  }
  if (w_in.size(0) != x_in.size(1)) {
    fail(kOp, "x " + shape_str(x_in.shape()) + " has " + std::to_string(x_in.size(1)) +
                  " channels but weight " + shape_str(w_in.shape()) + " expects " +
                  std::to_string(w_in.size(0)));
  }
  if (stride < 1 || pad < 0) {
    fail(kOp, "stride must be >= 1 and pad >= 0, got stride " + std::to_string(stride) +
                  ", pad " + std::to_string(pad));
  }
  const int64_t n = x_in.size(0), h = x_in.size(2), w = x_in.size(3);
  const int64_t cout = w_in.size(1), kh = w_in.size(2), kw = w_in.size(3);
  const int64_t oh = (h - 1) * stride - 2 * pad + kh;
  const int64_t ow = (w - 1) * stride - 2 * pad + kw;
  if (oh <= 0 || ow <= 0 || h <= 0 || w <= 0) {
    fail(kOp, "output would be empty for x " + shape_str(x_in.shape()) + ", weight " +
                  shape_str(w_in.shape()) + ", stride " + std::to_string(stride) + ", pad " +
                  std::to_string(pad));
  }
  if (bias.defined()) {
    require_like(kOp, bias, "bias", x_in);
    if (bias.device() != x_in.device()) {
      fail(kOp, "bias is on " + bias.device().str() + " but x is on " + x_in.device().str());
    }
    if (bias.dim() != 1 || bias.size(0) != cout) {
      fail(kOp, "bias must be [" + std::to_string(cout) + "], got " + shape_str(bias.shape()));
    }
  }
  const Shape out_shape{n, cout, oh, ow};
  Tensor y = Tensor::empty(out_shape, x_in.dtype(), x_in.device());
  if (y.numel() == 0) return y;  // empty batch or no output channels
  if (x_in.size(1) == 0) fail(kOp, "x " + shape_str(x_in.shape()) + " has no channels");

  const Tensor x = cudnn_operand(x_in);
  const Tensor wt = cudnn_operand(w_in);
  cudnnHandle_t handle = cudnn_handle();
  const BackwardDataPlan& plan = plan_for(handle, x, wt, y, stride, pad, out_shape);
  Tensor workspace;
  if (plan.workspace_bytes > 0) {
    workspace = Tensor::empty({static_cast<int64_t>(plan.workspace_bytes)}, DType::kU8,
                              x.device());
  }
  const float alpha = 1.f, beta = 0.f;  // beta 0: dx is overwritten, never read
  UM_CUDNN_CHECK(cudnnConvolutionBackwardData(
      handle, &alpha, plan.w.get(), wt.raw_data(), plan.dy.get(), x.raw_data(), plan.conv.get(),
      plan.algo, workspace.defined() ? workspace.raw_data() : nullptr, plan.workspace_bytes,
      &beta, plan.dx.get(), y.raw_data()));
  if (bias.defined()) add_channel_bias(y, bias, kOp);
  return y;
}

}  // namespace um::nn::detail
