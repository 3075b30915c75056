// File: tests/cuda/conv_policy_scope.h
// Purpose: the GPU conv tests' dispatch overrides for one scope: OwnConvPolicyScope forces the own
// conv kernels or cuDNN (nn::detail::OwnConvPolicy), DepthwisePolicyScope the depthwise path of
// nn::conv2d (nn::detail::DepthwiseConvPolicy); both put automatic dispatch back when the scope
// ends (also on a failed ASSERT). One template: both policies are a ConvKernelChoice, told apart
// by the setter they drive.
// Usage:
//   {
//     test::OwnConvPolicyScope scope(nn::detail::OwnConvPolicy::kCudnn);
//     y = nn::conv2d_bias_act(...);
//   }
#pragma once

#include "nn/conv2d_implicit_gemm_cuda.h"
#include "nn/cudnn_context.h"

namespace um::test {

template <void (*kSet)(nn::detail::ConvKernelChoice)>
class ConvChoiceScope {
 public:
  explicit ConvChoiceScope(nn::detail::ConvKernelChoice choice) { kSet(choice); }
  ~ConvChoiceScope() { kSet(nn::detail::ConvKernelChoice::kAuto); }
  ConvChoiceScope(const ConvChoiceScope&) = delete;
  ConvChoiceScope& operator=(const ConvChoiceScope&) = delete;
};

using OwnConvPolicyScope = ConvChoiceScope<&nn::detail::set_own_conv_policy>;
using DepthwisePolicyScope = ConvChoiceScope<&nn::detail::set_depthwise_conv_policy>;

}  // namespace um::test
