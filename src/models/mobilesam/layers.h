// File: src/models/mobilesam/layers.h
// Purpose: the small weight bundles MobileSAM's submodules share (Linear, LayerNorm, a conv with
// its eval-mode BatchNorm folded in, SAM's MLP head) and their loaders. Every loader reads the
// checkpoint key with the shape it requires, so a wrong or incomplete checkpoint fails at load
// with um::Error naming the key (io::WeightSource does the check).
// Placement: every bundle is built on the CPU in float32, then place() moves it, once, to the
// model's device in its compute dtype (MobileSam::load(path, device, dtype)).
// Usage:
//   Linear fc = load_linear(w, "mlp.fc1", 512, 128);        // keys mlp.fc1.weight / .bias
//   fc.place({Device::cuda(), DType::kF16});                 // optional, at load
//   Tensor y = fc(x);                                        // x [..., 128] -> [..., 512]
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "io/weight_source.h"
#include "nn/ops.h"
#include "nn/ops_fused.h"
#include "nn/ops_layer_norm_add.h"
#include "nn/ops_mlp.h"

namespace um::mobilesam {

// Where a model's tensors live and the dtype its activations compute in.
struct Placement {
  Device device = Device::cpu();
  DType dtype = DType::kF32;
  // Tests only: build the device placements' restructured layers (stacked projections, the
  // folded PE, the GEMM upscaling) on a CPU placement too, so that the CPU can check their math
  // against the official sequence (tests/mobilesam/decoder_device_layout_test.cpp).
  bool force_device_layouts = false;
  bool is_cpu_f32() const { return device.is_cpu() && dtype == DType::kF32; }
  bool device_layouts() const { return !device.is_cpu() || force_device_layouts; }
};
// t converted to p.dtype ON THE HOST, then copied to p.device (a synchronous copy: load time
// only, and the tensor is ready on every stream when it returns). Undefined stays undefined.
Tensor placed(const Tensor& t, const Placement& p);

// torch.nn.Linear: weight [out, in], bias [out] (may be undefined).
struct Linear {
  Tensor weight, bias;
  Tensor operator()(const Tensor& x) const { return nn::linear(x, weight, bias); }
  // residual + linear(x): on CUDA the add is the GEMM's C input (one kernel, one rounding).
  Tensor operator()(const Tensor& x, const Tensor& residual) const {
    return nn::linear(x, weight, bias, residual);
  }
  // act(linear(x)) as one op (nn::linear_act: on CUDA ReLU is the GEMM's epilogue).
  Tensor with_act(const Tensor& x, nn::Activation act) const {
    return nn::linear_act(x, weight, bias, act);
  }
  void place(const Placement& p);
};
Linear load_linear(const io::WeightSource& w, const std::string& name, int64_t out, int64_t in,
                   bool has_bias = true);

// torch.nn.LayerNorm over the last dim (eps 1e-5 unless stated).
struct LayerNorm {
  Tensor weight, bias;
  float eps = 1e-5f;
  Tensor operator()(const Tensor& x) const { return nn::layer_norm(x, weight, bias, eps); }
  // {norm(x), norm(x) + addend} as one op (nn::layer_norm_add; the CPU runs the two ops).
  std::pair<Tensor, Tensor> with_add(const Tensor& x, const Tensor& addend) const {
    return nn::layer_norm_add(x, weight, bias, eps, addend);
  }
  void place(const Placement& p);
};
LayerNorm load_layer_norm(const io::WeightSource& w, const std::string& name, int64_t dim,
                          float eps = 1e-5f);

// SAM's LayerNorm2d over the channels of NCHW (eps 1e-6).
struct LayerNorm2d {
  Tensor weight, bias;
  float eps = 1e-6f;
  Tensor operator()(const Tensor& x) const { return nn::layer_norm_2d(x, weight, bias, eps); }
  void place(const Placement& p);
};
LayerNorm2d load_layer_norm_2d(const io::WeightSource& w, const std::string& name, int64_t dim);

// A conv (bias optional) ready to run: TinyViT's Conv2d_BN has its BatchNorm folded at load.
struct Conv {
  Tensor weight, bias;
  nn::Conv2dParams params;
  Tensor operator()(const Tensor& x) const { return nn::conv2d(x, weight, bias, params); }
  // act(conv(x)) as one fused op (nn::conv2d_bias_act: on the GPU the bias and the activation
  // are one epilogue pass; on the CPU the same float32 results as nn::gelu(conv(x)) etc.).
  Tensor with_act(const Tensor& x, nn::Activation act) const {
    return nn::conv2d_bias_act(x, weight, bias, params, act);
  }
  void place(const Placement& p);
};
// Plain torch.nn.Conv2d: keys <name>.weight [cout, cin/groups, k, k] and (has_bias) <name>.bias.
Conv load_conv(const io::WeightSource& w, const std::string& name, int64_t cout, int64_t cin,
               int k, int stride, int pad, bool has_bias, int groups = 1);
// TinyViT Conv2d_BN: <name>.c.weight (no bias) + <name>.bn.{weight,bias,running_mean,running_var},
// BatchNorm eps 1e-5 folded into the conv.
Conv load_conv_bn(const io::WeightSource& w, const std::string& name, int64_t cout, int64_t cin,
                  int k, int stride, int pad, int groups = 1);

// segment_anything's MLP: Linear layers with ReLU between them (none after the last).
struct Mlp {
  std::vector<Linear> layers;
  Tensor operator()(const Tensor& x) const;
  void place(const Placement& p);
};
Mlp load_mlp(const io::WeightSource& w, const std::string& name, int64_t in, int64_t hidden,
             int64_t out, int num_layers);

// G MLPs of the same widths, each applied to its own input row, as one op (nn::grouped_mlp: one
// kernel on CUDA; on the CPU bit-identical to running each Mlp on its row). SAM's 4 output
// hypernetworks (row g = mask token g) and its IoU head (G = 1).
struct GroupedMlp {
  std::vector<Tensor> weights, biases;  // layer i: [G, out_i, in_i], [G, out_i]
  // x [G, in] (any strides) -> [G, out].
  Tensor operator()(const Tensor& x) const { return nn::grouped_mlp(x, weights, biases); }
  void place(const Placement& p);
};
// Stacks the MLPs' layers (all with biases, same widths) along a new dim 0.
GroupedMlp group_mlps(const std::vector<Mlp>& mlps);

}  // namespace um::mobilesam
