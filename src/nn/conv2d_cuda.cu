// File: src/nn/conv2d_cuda.cu
// Purpose: conv2d on the GPU (declared in nn/ops_cuda.h, reached through nn::conv2d when x lives
// on a CUDA device): torch.nn.Conv2d with zero padding, stride, dilation and groups (D-FINE's and
// TinyViT's depthwise convs are groups == channels), NCHW in and out, via cuDNN's
// cudnnConvolutionForward. Also the per-channel bias kernel shared with conv_transpose2d_cuda.
// Precision: float32 runs true fp32 FMA kernels (no TF32) unless Conv2dParams::allow_tf32 lets
// it use TF32 tensor cores; float16 tensors use tensor cores with a float32 compute type (cuDNN's
// "pseudo half" configuration), so sums accumulate in float32.
// Algorithm: chosen once per (device, dtype, shapes, params). On the first call of a
// configuration (the un-captured warm-up), cudnnFindConvolutionForwardAlgorithmEx times the
// candidates on the real operands (workspace from the pool, at most kMaxConvWorkspaceBytes; the
// output buffer serves as scratch, the real forward overwrites it) and the fastest one that keeps
// the precision contract wins: cuDNN's v7 heuristic alone picked slow kernels for some shapes
// (implicit_convolve_sgemm, grouped direct kernels, NCHW<->NHWC transposes around fp16 convs).
// That timing is OPT-IN (UM_CUDNN_CONV_ALGO=find; it synchronises the host on the first call):
// measured on an H200 it made the captured frame slower (see may_time_conv_algorithms). By
// default, and when Find fails or under stream capture, the host-only heuristic
// (cudnnGetConvolutionForwardAlgorithm_v7) chooses. The choice is logged at debug level.
// Depthwise float16 (groups == C == Cout, 3x3/5x5, stride 1/2, no dilation): the own direct kernel
// of conv2d_depthwise_cuda.cu (one thread per output, the block's input tile in shared memory,
// float32 accumulation) competes on that first call too: it is timed against the cuDNN
// algorithm Find chose and runs only where it measured faster (DepthwiseConvPolicy in
// cudnn_context.h forces either side for tests and benches).
// Graph capture: the workspace is a Tensor from the current DevicePool. A warm call therefore
// only queues kernels on um::cuda::current_stream(): no allocation from the driver, no host sync.
#include <cuda_fp16.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/cuda/strided_copy.h"
#include "nn/conv2d_implicit_gemm_cuda.h"
#include "nn/cuda_op_util.cuh"
#include "nn/cudnn_algo_select.h"
#include "nn/cudnn_context.h"
#include "nn/ops_cuda.h"

namespace um::nn::detail {
namespace {

constexpr const char* kOp = "conv2d";

// Everything cudnnConvolutionForward needs besides the data pointers, for one configuration.
struct ForwardPlan {
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;
  cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  size_t workspace_bytes = 0;
  bool own_depthwise = false;  // run the own depthwise kernel instead of cuDNN
};

// ---- Own depthwise float16 kernel (conv2d_depthwise_cuda.cu, no epilogue) --------------------
bool depthwise_eligible(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  return x.dtype() == DType::kF16 && depthwise_conv_supported(x, w, p);
}

void launch_depthwise(const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dParams& p) {
  depthwise_conv_cuda(kOp, x, w, Tensor(), p, Activation::kNone, 1.f, 0.f, Tensor(), y);
}

// Mean time of the own kernel over 5 launches after a warm one, on the current stream (first
// call of a plan only: it synchronises the host on the stop event, like cudnnFind does).
float time_depthwise(const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dParams& p) {
  struct Events {
    cudaEvent_t start = nullptr, stop = nullptr;
    ~Events() {
      if (start != nullptr) (void)cudaEventDestroy(start);
      if (stop != nullptr) (void)cudaEventDestroy(stop);
    }
  } ev;
  UM_CUDA_CHECK(cudaEventCreate(&ev.start));
  UM_CUDA_CHECK(cudaEventCreate(&ev.stop));
  constexpr int kRuns = 5;
  launch_depthwise(x, w, y, p);
  UM_CUDA_CHECK(cudaEventRecord(ev.start, stream()));
  for (int i = 0; i < kRuns; ++i) launch_depthwise(x, w, y, p);
  UM_CUDA_CHECK(cudaEventRecord(ev.stop, stream()));
  UM_CUDA_CHECK(cudaEventSynchronize(ev.stop));
  float ms = 0.f;
  UM_CUDA_CHECK(cudaEventElapsedTime(&ms, ev.start, ev.stop));
  return ms / kRuns;
}

// device, dtype, x [N, C, H, W], weight [K, C/g, kh, kw], stride, pad, dilation, groups.
// + the depthwise policy in force when the plan was made + whether TF32 was allowed.
using PlanKey = std::array<int64_t, 18>;

// The forward-conv API for select_conv_algorithm (cudnn_algo_select.h): Find times the
// candidates on x, w and the output buffer y (the real forward overwrites it); the heuristic is
// cudnnGetConvolutionForwardAlgorithm_v7; implicit GEMM supports every configuration (and needs
// no workspace), the safe fallback.
struct ForwardAlgoTraits {
  using Perf = cudnnConvolutionFwdAlgoPerf_t;
  using Algo = cudnnConvolutionFwdAlgo_t;
  static constexpr int kCount = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
  static constexpr bool kDeterministic = false;
  static constexpr Algo kFallback = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  static bool half_precision_transform(Algo a) {
    return a == CUDNN_CONVOLUTION_FWD_ALGO_FFT || a == CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING ||
           a == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED;
  }

  cudnnHandle_t handle;
  const ForwardPlan& plan;
  const Tensor& x;
  const Tensor& w;
  const Tensor& y;

  cudnnStatus_t workspace_size(Algo a, size_t* bytes) const {
    return cudnnGetConvolutionForwardWorkspaceSize(handle, plan.x.get(), plan.w.get(),
                                                   plan.conv.get(), plan.y.get(), a, bytes);
  }
  cudnnStatus_t find(int n, int* returned, Perf* perf, void* ws, size_t ws_bytes) const {
    return cudnnFindConvolutionForwardAlgorithmEx(
        handle, plan.x.get(), x.raw_data(), plan.w.get(), w.raw_data(), plan.conv.get(),
        plan.y.get(), y.raw_data(), n, returned, perf, ws, ws_bytes);
  }
  cudnnStatus_t heuristic(int n, int* returned, Perf* perf) const {
    return cudnnGetConvolutionForwardAlgorithm_v7(handle, plan.x.get(), plan.w.get(),
                                                  plan.conv.get(), plan.y.get(), n, returned,
                                                  perf);
  }
};

std::unique_ptr<ForwardPlan> make_plan(cudnnHandle_t handle, const Tensor& x, const Tensor& w,
                                       const Tensor& y, const Conv2dParams& p,
                                       const Shape& out_shape) {
  auto plan = std::make_unique<ForwardPlan>();
  const cudnnDataType_t type = cudnn_data_type(x.dtype());
  plan->x.set_nchw(type, cudnn_dim(kOp, x.size(0)), cudnn_dim(kOp, x.size(1)),
                   cudnn_dim(kOp, x.size(2)), cudnn_dim(kOp, x.size(3)));
  plan->w.set_kchw(type, cudnn_dim(kOp, w.size(0)), cudnn_dim(kOp, w.size(1)),
                   cudnn_dim(kOp, w.size(2)), cudnn_dim(kOp, w.size(3)));
  // CROSS_CORRELATION is what PyTorch calls convolution (no kernel flip). Compute type float
  // for both dtypes: float16 data then accumulates in float32.
  UM_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(plan->conv.get(), p.pad_h, p.pad_w, p.stride_h,
                                                 p.stride_w, p.dilation_h, p.dilation_w,
                                                 CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  UM_CUDNN_CHECK(cudnnSetConvolutionGroupCount(plan->conv.get(), p.groups));
  // TF32 only for float32 data that allows it (Conv2dParams::allow_tf32).
  const ConvPrecision precision{x.dtype(), p.allow_tf32 && x.dtype() == DType::kF32};
  UM_CUDNN_CHECK(cudnnSetConvolutionMathType(plan->conv.get(), conv_math_type(precision)));
  int n = 0, c = 0, h = 0, wd = 0;
  UM_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(plan->conv.get(), plan->x.get(),
                                                       plan->w.get(), &n, &c, &h, &wd));
  const Shape cudnn_shape{n, c, h, wd};
  if (cudnn_shape != out_shape) {
    throw Error(StatusCode::kInternal, std::string(kOp) + ": cuDNN computes output " +
                                           shape_str(cudnn_shape) + " but PyTorch's rule gives " +
                                           shape_str(out_shape));
  }
  plan->y.set_nchw(type, n, c, h, wd);
  const std::string config =
      std::string(dtype_name(x.dtype())) + " x " + shape_str(x.shape()) + " w " +
      shape_str(w.shape()) + " stride " + std::to_string(p.stride_h) + "x" +
      std::to_string(p.stride_w) + " pad " + std::to_string(p.pad_h) + "x" +
      std::to_string(p.pad_w) + " dilation " + std::to_string(p.dilation_h) + "x" +
      std::to_string(p.dilation_w) + " groups " + std::to_string(p.groups) +
      (precision.allow_tf32 ? " tf32" : "");
  const ConvAlgoChoice<cudnnConvolutionFwdAlgo_t> choice = select_conv_algorithm(
      ForwardAlgoTraits{handle, *plan, x, w, y}, kOp, precision, plan->conv.get(), x.device(),
      config);
  plan->algo = choice.algo;
  plan->workspace_bytes = choice.workspace_bytes;
  const ConvAlgoSource source = choice.source;
  const float time_ms = choice.time_ms;
  if (depthwise_eligible(x, w, p)) {
    const DepthwiseConvPolicy policy = depthwise_conv_policy();
    float own_ms = -1.f;
    if (policy == DepthwiseConvPolicy::kOwn) {
      plan->own_depthwise = true;
    } else if (policy == DepthwiseConvPolicy::kAuto && source == ConvAlgoSource::kTimed) {
      // Timed only next to a timed cuDNN choice (same first, un-captured call).
      own_ms = time_depthwise(x, w, y, p);
      plan->own_depthwise = own_ms < time_ms;
    }
    log_depthwise_choice(kOp, config, plan->own_depthwise, own_ms, time_ms);
  }
  return plan;
}

// The thread's plan for this configuration (plans are host-side only; one thread's cache is
// never seen by another, matching the per-thread cuDNN handle).
const ForwardPlan& plan_for(cudnnHandle_t handle, const Tensor& x, const Tensor& w,
                            const Tensor& y, const Conv2dParams& p, const Shape& out_shape) {
  thread_local std::map<PlanKey, std::unique_ptr<ForwardPlan>> cache;
  int device = 0;
  UM_CUDA_CHECK(cudaGetDevice(&device));
  const PlanKey key{device,    static_cast<int64_t>(x.dtype()),
                    x.size(0), x.size(1), x.size(2), x.size(3),
                    w.size(0), w.size(2), w.size(3),
                    p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.dilation_h, p.dilation_w,
                    p.groups, static_cast<int64_t>(depthwise_conv_policy()),
                    static_cast<int64_t>(p.allow_tf32 && x.dtype() == DType::kF32)};
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;
  // A pipeline uses a few dozen shapes; a caller sweeping shapes must not grow this forever.
  if (cache.size() >= 1024) cache.clear();
  return *cache.emplace(key, make_plan(handle, x, w, y, p, out_shape)).first->second;
}

// The original bias kernel (MemopsMode::kLegacy, for bench_cuda_memops): one block row per
// (n, c) plane (grid-stride in y for more than 65535 planes), threads along the plane's pixels.
template <typename T>
__global__ void add_bias_kernel(T* __restrict__ y, const T* __restrict__ bias, int64_t planes,
                                int64_t channels, int64_t plane_size) {
  for (int64_t plane = blockIdx.y; plane < planes; plane += gridDim.y) {
    const float b = to_f(bias[plane % channels]);
    T* row = y + plane * plane_size;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < plane_size;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
      row[i] = from_f<T>(to_f(row[i]) + b);
    }
  }
}

// The fast bias add: one flat grid-stride loop over the NCHW output in units of `kVec` elements
// (kVec = Pack16<T>::kN when every (n, c) plane is a whole number of 16-byte packs and y is
// 16-byte aligned, else 1), so small planes (20x20) keep every thread busy as well as large ones.
// Unit i lies in plane (i / units_per_plane), whose bias is bias[plane % channels]: the same
// float32 sum per element as the original kernel, so results are identical. I is int32_t when
// the unit count is below 2^30 (no overflow of i + the grid stride).
template <typename T, int kVec, typename I>
__global__ void add_bias_flat_kernel(T* __restrict__ y, const T* __restrict__ bias, I units,
                                     I units_per_plane, I channels) {
  for (I i = static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + static_cast<I>(threadIdx.x);
       i < units; i += static_cast<I>(gridDim.x) * static_cast<I>(blockDim.x)) {
    const float b = to_f(bias[(i / units_per_plane) % channels]);
    if constexpr (kVec == 1) {
      y[i] = from_f<T>(to_f(y[i]) + b);
    } else {
      auto* yv = reinterpret_cast<Pack16<T>*>(y);
      Pack16<T> p = yv[i];
#pragma unroll
      for (int k = 0; k < kVec; ++k) p.v[k] = from_f<T>(to_f(p.v[k]) + b);
      yv[i] = p;
    }
  }
}

template <typename T, int kVec>
void launch_bias_flat(const Tensor& y, const Tensor& bias, int64_t units, int64_t per_plane,
                      int64_t channels) {
  constexpr int kThreads = 256;
  const int blocks = blocks_for(units, kThreads);
  auto* py = static_cast<T*>(y.raw_data());
  const auto* pb = static_cast<const T*>(bias.raw_data());
  if (units < (int64_t{1} << 30) &&
      um::cuda::memops_mode() != um::cuda::MemopsMode::kFastIndex64) {
    add_bias_flat_kernel<T, kVec, int32_t><<<blocks, kThreads, 0, stream()>>>(
        py, pb, static_cast<int32_t>(units), static_cast<int32_t>(per_plane),
        static_cast<int32_t>(channels));
  } else {
    add_bias_flat_kernel<T, kVec, int64_t><<<blocks, kThreads, 0, stream()>>>(
        py, pb, units, per_plane, channels);
  }
}

}  // namespace

void add_channel_bias(const Tensor& y, const Tensor& bias_in, const char* op) {
  if (y.numel() == 0) return;
  const Tensor bias = bias_in.contiguous();
  const int64_t channels = y.size(1);
  const int64_t planes = y.size(0) * channels;
  const int64_t plane_size = y.numel() / planes;
  constexpr int kThreads = 256;
  if (um::cuda::memops_mode() == um::cuda::MemopsMode::kLegacy) {
    const int64_t bx = (plane_size + kThreads - 1) / kThreads;
    const dim3 grid(static_cast<unsigned>(bx < 1024 ? bx : 1024),
                    static_cast<unsigned>(planes < 65535 ? planes : 65535));
    UM_DISPATCH_FLOAT(y.dtype(), T, {
      add_bias_kernel<T><<<grid, kThreads, 0, stream()>>>(
          static_cast<T*>(y.raw_data()), static_cast<const T*>(bias.raw_data()), planes,
          channels, plane_size);
    });
  } else {
    const bool aligned = aligned16(y.raw_data());
    UM_DISPATCH_FLOAT(y.dtype(), T, {
      constexpr int kN = Pack16<T>::kN;
      if (aligned && plane_size % kN == 0) {
        launch_bias_flat<T, kN>(y, bias, y.numel() / kN, plane_size / kN, channels);
      } else {
        launch_bias_flat<T, 1>(y, bias, y.numel(), plane_size, channels);
      }
    });
  }
  check_launch(op);
}

Tensor conv2d_cuda(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias,
                   const Conv2dParams& p) {
  require_cuda_float(kOp, x_in, "x");
  require_like(kOp, weight_in, "weight", x_in);
  if (weight_in.device() != x_in.device()) {
    fail(kOp, "weight is on " + weight_in.device().str() + " but x is on " + x_in.device().str());
  }
  const Shape out_shape = conv2d_output_shape(x_in.shape(), weight_in.shape(), p);
  if (bias.defined()) {
    require_like(kOp, bias, "bias", x_in);
    if (bias.device() != x_in.device()) {
      fail(kOp, "bias is on " + bias.device().str() + " but x is on " + x_in.device().str());
    }
    require_bias_per_filter(kOp, bias, weight_in);
  }
  Tensor y = Tensor::empty(out_shape, x_in.dtype(), x_in.device());
  if (y.numel() == 0) return y;  // empty batch: nothing to compute (cuDNN refuses N == 0)
  if (x_in.size(1) == 0) fail(kOp, "x " + shape_str(x_in.shape()) + " has no channels");

  const Tensor x = cudnn_operand(x_in);
  const Tensor w = cudnn_operand(weight_in);
  cudnnHandle_t handle = cudnn_handle();
  const ForwardPlan& plan = plan_for(handle, x, w, y, p, out_shape);
  if (plan.own_depthwise) {
    launch_depthwise(x, w, y, p);
    if (bias.defined()) add_channel_bias(y, bias, kOp);
    return y;
  }
  Tensor workspace;  // back to the pool after the call; reuse is stream-ordered
  if (plan.workspace_bytes > 0) {
    workspace = Tensor::empty({static_cast<int64_t>(plan.workspace_bytes)}, DType::kU8,
                              x.device());
  }
  // Scaling factors are float for both float and half data (cuDNN's rule for non-double types).
  const float alpha = 1.f, beta = 0.f;
  UM_CUDNN_CHECK(cudnnConvolutionForward(
      handle, &alpha, plan.x.get(), x.raw_data(), plan.w.get(), w.raw_data(), plan.conv.get(),
      plan.algo, workspace.defined() ? workspace.raw_data() : nullptr, plan.workspace_bytes, &beta,
      plan.y.get(), y.raw_data()));
  if (bias.defined()) add_channel_bias(y, bias, kOp);
  return y;
}

}  // namespace um::nn::detail
