// File: src/nn/cudnn_context.h
// Purpose: what the cuDNN-backed ops (conv2d_cuda.cu, conv_transpose2d_cuda.cu) share: the
// calling thread's cuDNN handle bound to um::cuda::current_stream(), RAII descriptors, a
// checked-call macro that throws um::CudaError, and the bias-add kernel launcher. Internal to
// um_nn; only compiled with the CUDA backend.
// Usage:
//   cudnnHandle_t h = cudnn_handle();            // stream already set to current_stream()
//   TensorDesc x; x.set_nchw(CUDNN_DATA_FLOAT, n, c, h, w);
//   UM_CUDNN_CHECK(cudnnConvolutionForward(h, ...));
// Threads: one handle per thread (and device), created on the thread's first cuDNN op (the
// un-captured warm-up frame) and destroyed when the thread ends. cuDNN handles must not be used
// by two threads at once; a per-thread handle makes that impossible by construction.
#pragma once

#ifdef UM_WITH_CUDA

#include <cudnn.h>

#include <cstdint>
#include <string>

#include "core/cuda/cuda_check.h"
#include "core/tensor.h"

#define UM_CUDNN_CHECK(expr) \
  UM_CUDA_CHECK_GEN(expr, CUDNN_STATUS_SUCCESS, cudnnGetErrorString, "cuDNN")

namespace um::nn::detail {

// The calling thread's handle for the current device, with cudnnSetStream(current_stream())
// already applied (the stream scope may change between calls, so it is set on every call).
cudnnHandle_t cudnn_handle();

// CUDNN_DATA_FLOAT or CUDNN_DATA_HALF for a float32/float16 tensor (anything else throws).
cudnnDataType_t cudnn_data_type(DType dtype);

// Casts a dimension for a cuDNN descriptor (int), refusing values that do not fit.
int cudnn_dim(const char* op, int64_t v);

class TensorDesc {
 public:
  TensorDesc();
  ~TensorDesc();
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
  void set_nchw(cudnnDataType_t type, int n, int c, int h, int w);
  cudnnTensorDescriptor_t get() const { return desc_; }

 private:
  cudnnTensorDescriptor_t desc_ = nullptr;
};

class FilterDesc {
 public:
  FilterDesc();
  ~FilterDesc();
  FilterDesc(const FilterDesc&) = delete;
  FilterDesc& operator=(const FilterDesc&) = delete;
  // [k, c, h, w] in NCHW (PyTorch's [out, in/groups, kh, kw] for a forward conv).
  void set_kchw(cudnnDataType_t type, int k, int c, int h, int w);
  cudnnFilterDescriptor_t get() const { return desc_; }

 private:
  cudnnFilterDescriptor_t desc_ = nullptr;
};

class ConvDesc {
 public:
  ConvDesc();
  ~ConvDesc();
  ConvDesc(const ConvDesc&) = delete;
  ConvDesc& operator=(const ConvDesc&) = delete;
  cudnnConvolutionDescriptor_t get() const { return desc_; }

 private:
  cudnnConvolutionDescriptor_t desc_ = nullptr;
};

// The arithmetic a convolution may use: its data dtype and, for float32 data, whether TF32
// tensor cores are allowed (Conv2dParams::allow_tf32).
struct ConvPrecision {
  DType dtype = DType::kF32;
  bool allow_tf32 = false;
};
// The math type a convolution of that precision is set up with: float32 is true fp32 by default
// (CUDNN_FMA_MATH: on Ampere and later CUDNN_DEFAULT_MATH permits TF32 tensor cores, whose
// 10-bit mantissa would break the ~1e-4 agreement with the CPU reference) and
// CUDNN_TENSOR_OP_MATH (TF32) when allowed; float16 uses tensor cores with float32 accumulation
// (the convolution's compute type is CUDNN_DATA_FLOAT).
cudnnMathType_t conv_math_type(ConvPrecision precision);
// Whether an algorithm that cuDNN reports with `math` keeps that precision contract (never
// CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION for float32 data: it converts the operands to float16).
bool math_type_allowed(ConvPrecision precision, cudnnMathType_t math);

// How a plan's algorithm was chosen.
enum class ConvAlgoSource {
  kTimed,      // fastest qualifying candidate of cudnnFind*AlgorithmEx (the first call's timing)
  kHeuristic,  // first qualifying candidate of cuDNN's host-only heuristic ranking
  kFallback,   // no candidate qualified: the op's always-supported algorithm
};

// Logs the plan chosen for one configuration (debug level; warn on kFallback), so a GPU run can
// tell which cuDNN algorithm each conv shape got and how (time_ms: the measured time of a timed
// choice, else negative). Kept out of the .cu files (spdlog under nvcc).
void log_conv_plan(const char* op, const std::string& config, int algo, cudnnMathType_t math,
                   size_t workspace_bytes, ConvAlgoSource source, float time_ms = -1.f);

// Whether the first call of a plan may time the candidate algorithms with cudnnFind*Ex (which
// runs every candidate and synchronises the host): only when the current stream is not being
// captured into a CUDA graph (a plan first needed under capture uses the heuristic instead), and
// only when the environment sets UM_CUDNN_CONV_ALGO=find (opt-in: on an H200 the timed choices
// made the whole captured frame slower than the heuristic's). Host syncs are allowed there: the first call of a shape is the un-captured
// warm-up frame.
bool may_time_conv_algorithms();

// Logs (debug) that cudnnFind* failed for a configuration; the op then uses the heuristic.
void log_conv_find_failed(const char* op, const std::string& config, const std::string& why);

// Who runs a conv that has an own kernel beside cuDNN: kAuto = the op's measured choice, kOwn /
// kCudnn force one side (tests, benches, side-by-side timing).
enum class ConvKernelChoice : int { kAuto = 0, kOwn = 1, kCudnn = 2 };
// The choice the environment variable `var` names ("own", "cudnn"), else kAuto.
ConvKernelChoice conv_kernel_choice_from_env(const char* var);

// Who runs a float16 depthwise conv that conv2d_cuda.cu's own kernel supports (groups == C ==
// Cout, 3x3/5x5, stride 1/2, no dilation): kAuto = the faster of the own kernel and the cuDNN
// algorithm, timed on the plan's first call (cuDNN when that call cannot time: under capture or
// without UM_CUDNN_CONV_ALGO=find); kOwn / kCudnn force one side (tests, benches;
// UM_DEPTHWISE_CONV=own|cudnn|auto sets the starting value). Process-wide; plans remember the
// policy they were made under (it is part of their cache key).
using DepthwiseConvPolicy = ConvKernelChoice;
void set_depthwise_conv_policy(DepthwiseConvPolicy policy);
DepthwiseConvPolicy depthwise_conv_policy();
// Logs (debug) the depthwise choice of a plan (times negative when not measured).
void log_depthwise_choice(const char* op, const std::string& config, bool own, float own_ms,
                          float cudnn_ms);

// Largest workspace an algorithm may ask for; algorithms wanting more are skipped (the block
// stays cached in the device pool for the life of the pipeline).
constexpr size_t kMaxConvWorkspaceBytes = size_t{256} << 20;

// `t` as a contiguous tensor whose data pointer is 16-byte aligned (a contiguous view with an
// element offset, e.g. x.slice(0, 1, 2), may not be; vectorised cuDNN kernels assume aligned
// operands). Returns t itself when it already is; otherwise a copy on the current stream.
Tensor cudnn_operand(const Tensor& t);

// y[n, c, :, :] += bias[c] for a contiguous NCHW y of y's dtype (float32 or float16, added in
// float32), queued on the current stream. Used instead of cudnnAddTensor so the add is one
// obviously correct kernel.
void add_channel_bias(const Tensor& y, const Tensor& bias, const char* op);

}  // namespace um::nn::detail

#endif  // UM_WITH_CUDA
