// File: src/nn/cudnn_algo_select.h
// Purpose: the cuDNN convolution algorithm choice shared by conv2d_cuda.cu (forward) and
// conv_transpose2d_cuda.cu (backward data): the opt-in Find timing (UM_CUDNN_CONV_ALGO=find, see
// may_time_conv_algorithms), the precision filter on the candidates, the host-only heuristic with
// its always-supported fallback, and the debug log of the result. The two cuDNN APIs differ only
// in their perf/algo types and Find/Get/workspace functions, which an op passes in as a traits
// object. Internal to um_nn; header-only (a template), included by the .cu files.
// Usage:
//   struct MyTraits {
//     using Perf = cudnnConvolutionFwdAlgoPerf_t;
//     using Algo = cudnnConvolutionFwdAlgo_t;
//     static constexpr int kCount = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
//     static constexpr bool kDeterministic = false;  // see select_conv_algorithm
//     static constexpr Algo kFallback = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
//     static bool half_precision_transform(Algo a);  // FFT / unfused Winograd
//     cudnnStatus_t workspace_size(Algo a, size_t* bytes) const;  // with the desc's math type
//     cudnnStatus_t find(int n, int* returned, Perf* perf, void* ws, size_t ws_bytes) const;
//     cudnnStatus_t heuristic(int n, int* returned, Perf* perf) const;
//   };
//   ConvAlgoChoice<cudnnConvolutionFwdAlgo_t> c =
//       select_conv_algorithm(MyTraits{...}, kOp, precision, conv_desc, x.device(), config);
#pragma once

#ifdef UM_WITH_CUDA

#include <cudnn.h>

#include <array>
#include <cstddef>
#include <exception>
#include <string>

#include "core/tensor.h"
#include "nn/cudnn_context.h"

namespace um::nn::detail {

template <typename Algo>
struct ConvAlgoChoice {
  Algo algo{};
  size_t workspace_bytes = 0;
  ConvAlgoSource source = ConvAlgoSource::kTimed;
  float time_ms = -1.f;  // measured time of a timed choice, else negative
};

namespace algo_select_internal {

// Whether candidate `r` may run: a successful result with a precise math type, deterministic
// when the op requires it (`deterministic`), within the workspace cap (`check_memory`: Find
// reports each one's memory) and, for float16, not an FFT / unfused-Winograd transform, whose
// transformed operands are stored in half precision (a precision loss the heuristic's choices
// never had; the models' convs are small enough that implicit GEMM and direct kernels win).
template <typename Traits>
bool candidate_allowed(const typename Traits::Perf& r, ConvPrecision precision,
                       bool deterministic, bool check_memory, bool exclude_half_transforms) {
  if (r.status != CUDNN_STATUS_SUCCESS || !math_type_allowed(precision, r.mathType)) return false;
  if (deterministic && r.determinism != CUDNN_DETERMINISTIC) return false;
  if (check_memory && r.memory > kMaxConvWorkspaceBytes) return false;
  return !(exclude_half_transforms && precision.dtype == DType::kF16 &&
           Traits::half_precision_transform(r.algo));
}

// Sets the descriptor's math type to the candidate's (cuDNN runs an algorithm with the math type
// on the descriptor, not the one it ranked it with) and asks its workspace; true when both
// succeed and the workspace fits the cap.
template <typename Traits>
bool adopt_candidate(const Traits& traits, cudnnConvolutionDescriptor_t conv,
                     const typename Traits::Perf& r, size_t* bytes) {
  if (cudnnSetConvolutionMathType(conv, r.mathType) != CUDNN_STATUS_SUCCESS) return false;
  *bytes = 0;
  return traits.workspace_size(r.algo, bytes) == CUDNN_STATUS_SUCCESS &&
         *bytes <= kMaxConvWorkspaceBytes;
}

// Times the candidates (Find runs each one on the real operands, then synchronises) and keeps
// the fastest that qualifies (deterministic only when Traits::kDeterministic), leaving the
// descriptor's math type set to that result's. False (math type restored) when Find fails or
// nothing qualifies.
template <typename Traits>
bool find_algorithm(const Traits& traits, const char* op, ConvPrecision precision,
                    cudnnConvolutionDescriptor_t conv, const Device& device,
                    const std::string& config, ConvAlgoChoice<typename Traits::Algo>* choice) {
  // The workspace every candidate that fits the cap asks for (so none is skipped for want of it).
  size_t workspace_bytes = 0;
  for (int a = 0; a < Traits::kCount; ++a) {
    size_t bytes = 0;
    if (traits.workspace_size(static_cast<typename Traits::Algo>(a), &bytes) ==
            CUDNN_STATUS_SUCCESS &&
        bytes <= kMaxConvWorkspaceBytes && bytes > workspace_bytes) {
      workspace_bytes = bytes;
    }
  }
  std::array<typename Traits::Perf, Traits::kCount> perf{};
  int returned = 0;
  try {
    Tensor workspace;  // back to the pool on return; Find has synchronised by then
    if (workspace_bytes > 0) {
      workspace = Tensor::empty({static_cast<int64_t>(workspace_bytes)}, DType::kU8, device);
    }
    const cudnnStatus_t status =
        traits.find(static_cast<int>(perf.size()), &returned, perf.data(),
                    workspace.defined() ? workspace.raw_data() : nullptr, workspace_bytes);
    if (status != CUDNN_STATUS_SUCCESS) {
      log_conv_find_failed(op, config, cudnnGetErrorString(status));
      return false;
    }
  } catch (const std::exception& e) {  // e.g. the pool could not provide the workspace
    log_conv_find_failed(op, config, e.what());
    return false;
  }
  for (int i = 0; i < returned; ++i) {  // perf is sorted by time, fastest first
    const typename Traits::Perf& r = perf[static_cast<size_t>(i)];
    if (!candidate_allowed<Traits>(r, precision, Traits::kDeterministic, /*check_memory=*/true,
                                   /*exclude_half_transforms=*/true)) {
      continue;
    }
    size_t bytes = 0;
    if (!adopt_candidate(traits, conv, r, &bytes)) continue;
    choice->algo = r.algo;
    choice->workspace_bytes = bytes;
    choice->time_ms = r.time;
    return true;
  }
  UM_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, conv_math_type(precision)));
  return false;
}

// Picks the first candidate of cuDNN's heuristic ranking that keeps the precision contract and
// fits the workspace cap (with Traits::kDeterministic: a deterministic one first, any precise
// one if none fits), leaving the descriptor's math type set to it. Falls back to
// Traits::kFallback (supports every configuration of the op) and returns true when nothing
// qualified.
template <typename Traits>
bool choose_algorithm(const Traits& traits, ConvPrecision precision,
                      cudnnConvolutionDescriptor_t conv,
                      ConvAlgoChoice<typename Traits::Algo>* choice) {
  std::array<typename Traits::Perf, Traits::kCount> perf{};
  int returned = 0;
  UM_CUDNN_CHECK(traits.heuristic(static_cast<int>(perf.size()), &returned, perf.data()));
  const int passes = Traits::kDeterministic ? 2 : 1;
  for (int pass = 0; pass < passes; ++pass) {
    const bool need_deterministic = Traits::kDeterministic && pass == 0;
    for (int i = 0; i < returned; ++i) {
      const typename Traits::Perf& r = perf[static_cast<size_t>(i)];
      if (!candidate_allowed<Traits>(r, precision, need_deterministic, /*check_memory=*/false,
                                     /*exclude_half_transforms=*/false)) {
        continue;
      }
      size_t bytes = 0;
      if (!adopt_candidate(traits, conv, r, &bytes)) continue;
      choice->algo = r.algo;
      choice->workspace_bytes = bytes;
      return false;
    }
  }
  UM_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, conv_math_type(precision)));
  choice->algo = Traits::kFallback;
  UM_CUDNN_CHECK(traits.workspace_size(choice->algo, &choice->workspace_bytes));
  return true;
}

}  // namespace algo_select_internal

// The algorithm for one configuration: timed with Find when may_time_conv_algorithms() allows
// (fastest qualifying result), otherwise (or when Find fails or nothing qualifies) the
// heuristic's first qualifying candidate, or Traits::kFallback. Leaves `conv`'s math type set to
// the chosen algorithm's and logs the choice (log_conv_plan).
template <typename Traits>
ConvAlgoChoice<typename Traits::Algo> select_conv_algorithm(const Traits& traits, const char* op,
                                                            ConvPrecision precision,
                                                            cudnnConvolutionDescriptor_t conv,
                                                            const Device& device,
                                                            const std::string& config) {
  ConvAlgoChoice<typename Traits::Algo> choice;
  choice.source = ConvAlgoSource::kTimed;
  if (!may_time_conv_algorithms() ||
      !algo_select_internal::find_algorithm(traits, op, precision, conv, device, config,
                                            &choice)) {
    choice.time_ms = -1.f;
    choice.source = algo_select_internal::choose_algorithm(traits, precision, conv, &choice)
                        ? ConvAlgoSource::kFallback
                        : ConvAlgoSource::kHeuristic;
  }
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  UM_CUDNN_CHECK(cudnnGetConvolutionMathType(conv, &math));
  log_conv_plan(op, config, static_cast<int>(choice.algo), math, choice.workspace_bytes,
                choice.source, choice.time_ms);
  return choice;
}

}  // namespace um::nn::detail

#endif  // UM_WITH_CUDA
