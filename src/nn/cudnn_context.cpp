// File: src/nn/cudnn_context.cpp
// Purpose: the per-thread cuDNN handle and the RAII descriptor wrappers declared in
// cudnn_context.h. Compiled to nothing without the CUDA backend (the CMake glob picks up every
// .cpp in src/nn, also in -DULTRAMOTION_CUDA=OFF builds).
#ifdef UM_WITH_CUDA

#include "nn/cudnn_context.h"

#include <cuda_runtime_api.h>

#include <atomic>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <unordered_map>

#include "core/cuda/stream_context.h"
#include "core/log.h"
#include "nn/op_util.h"

namespace um::nn::detail {
namespace {

// Owns one thread's handles (one per device), destroyed when the thread ends. Errors at
// destruction are ignored: at process exit the driver may already be shutting down.
struct ThreadHandles {
  std::unordered_map<int, cudnnHandle_t> by_device;
  ~ThreadHandles() {
    for (auto& [device, handle] : by_device) (void)cudnnDestroy(handle);
  }
};

}  // namespace

cudnnHandle_t cudnn_handle() {
  thread_local ThreadHandles handles;
  int device = 0;
  UM_CUDA_CHECK(cudaGetDevice(&device));
  auto it = handles.by_device.find(device);
  if (it == handles.by_device.end()) {
    cudnnHandle_t h = nullptr;
    UM_CUDNN_CHECK(cudnnCreate(&h));
    it = handles.by_device.emplace(device, h).first;
  }
  UM_CUDNN_CHECK(cudnnSetStream(it->second, um::cuda::current_stream()));
  return it->second;
}

cudnnDataType_t cudnn_data_type(DType dtype) {
  switch (dtype) {
    case DType::kF32: return CUDNN_DATA_FLOAT;
    case DType::kF16: return CUDNN_DATA_HALF;
    default: fail("cudnn", std::string("unsupported dtype ") + dtype_name(dtype));
  }
}

int cudnn_dim(const char* op, int64_t v) {
  if (v < 0 || v > INT_MAX) {
    fail(op, "dimension " + std::to_string(v) + " does not fit a cuDNN descriptor");
  }
  return static_cast<int>(v);
}

TensorDesc::TensorDesc() { UM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc_)); }
TensorDesc::~TensorDesc() { (void)cudnnDestroyTensorDescriptor(desc_); }
void TensorDesc::set_nchw(cudnnDataType_t type, int n, int c, int h, int w) {
  UM_CUDNN_CHECK(cudnnSetTensor4dDescriptor(desc_, CUDNN_TENSOR_NCHW, type, n, c, h, w));
}

FilterDesc::FilterDesc() { UM_CUDNN_CHECK(cudnnCreateFilterDescriptor(&desc_)); }
FilterDesc::~FilterDesc() { (void)cudnnDestroyFilterDescriptor(desc_); }
void FilterDesc::set_kchw(cudnnDataType_t type, int k, int c, int h, int w) {
  UM_CUDNN_CHECK(cudnnSetFilter4dDescriptor(desc_, type, CUDNN_TENSOR_NCHW, k, c, h, w));
}

ConvDesc::ConvDesc() { UM_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&desc_)); }
ConvDesc::~ConvDesc() { (void)cudnnDestroyConvolutionDescriptor(desc_); }

Tensor cudnn_operand(const Tensor& t) {
  Tensor c = t.contiguous();
  if (reinterpret_cast<uintptr_t>(c.raw_data()) % 16 != 0) c = c.clone();
  return c;
}

cudnnMathType_t conv_math_type(ConvPrecision precision) {
  if (precision.dtype == DType::kF16) return CUDNN_TENSOR_OP_MATH;
  return precision.allow_tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
}

bool math_type_allowed(ConvPrecision precision, cudnnMathType_t math) {
  // float16 data: every math type keeps the float32 compute type (tensor-core or FMA kernels;
  // ALLOW_CONVERSION only ever converts float32 data down, and there is none).
  if (precision.dtype != DType::kF32) return true;
  // float32 with TF32 allowed: FMA, default and tensor-op math (TF32), never the conversion to
  // float16 operands.
  if (precision.allow_tf32) return math != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
  return math == CUDNN_FMA_MATH;
}

void log_conv_plan(const char* op, const std::string& config, int algo, cudnnMathType_t math,
                   size_t workspace_bytes, ConvAlgoSource source, float time_ms) {
  switch (source) {
    case ConvAlgoSource::kFallback:
      spdlog::warn("{}: no cuDNN candidate qualified for {}; using algorithm {} (math {})", op,
                   config, algo, static_cast<int>(math));
      break;
    case ConvAlgoSource::kTimed:
      spdlog::debug("{}: cuDNN algorithm {} (timed fastest, {:.4f} ms; math {}, workspace {} B) "
                    "for {}",
                    op, algo, time_ms, static_cast<int>(math), workspace_bytes, config);
      break;
    case ConvAlgoSource::kHeuristic:
      spdlog::debug("{}: cuDNN algorithm {} (heuristic; math {}, workspace {} B) for {}", op,
                    algo, static_cast<int>(math), workspace_bytes, config);
      break;
  }
}

bool may_time_conv_algorithms() {
  static const bool enabled = [] {
    // Opt-in: measured on an H200 (fp16 frame, D-FINE-N + MobileSAM), the timed choices made the
    // whole captured frame SLOWER (6.6 ms against 3.9 ms with the heuristic; D-FINE 2.97 against
    // 1.36 ms) and grew the frame pool from 0.47 to 1.3 GiB: an algorithm timed alone is not the
    // fastest inside the frame. UM_CUDNN_CONV_ALGO=find turns the timing on.
    const char* e = std::getenv("UM_CUDNN_CONV_ALGO");
    return e != nullptr && std::string(e) == "find";
  }();
  if (!enabled) return false;
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(um::cuda::current_stream(), &status) != cudaSuccess) {
    (void)cudaGetLastError();  // clear it: the heuristic path needs no stream query
    return false;
  }
  return status == cudaStreamCaptureStatusNone;
}

ConvKernelChoice conv_kernel_choice_from_env(const char* var) {
  const char* e = std::getenv(var);
  const std::string v = e != nullptr ? e : "";
  if (v == "own") return ConvKernelChoice::kOwn;
  if (v == "cudnn") return ConvKernelChoice::kCudnn;
  return ConvKernelChoice::kAuto;
}

namespace {
std::atomic<int> g_depthwise_policy{
    static_cast<int>(conv_kernel_choice_from_env("UM_DEPTHWISE_CONV"))};
}  // namespace

void set_depthwise_conv_policy(DepthwiseConvPolicy policy) {
  g_depthwise_policy.store(static_cast<int>(policy));
}

DepthwiseConvPolicy depthwise_conv_policy() {
  return static_cast<DepthwiseConvPolicy>(g_depthwise_policy.load());
}

void log_depthwise_choice(const char* op, const std::string& config, bool own, float own_ms,
                          float cudnn_ms) {
  spdlog::debug("{}: depthwise {} runs {} (own kernel {:.4f} ms, cuDNN {:.4f} ms; negative = not "
                "timed)",
                op, config, own ? "the own kernel" : "cuDNN", own_ms, cudnn_ms);
}

void log_conv_find_failed(const char* op, const std::string& config, const std::string& why) {
  spdlog::debug("{}: timing the cuDNN algorithms failed for {} ({}); using the heuristic", op,
                config, why);
}

}  // namespace um::nn::detail

#endif  // UM_WITH_CUDA
