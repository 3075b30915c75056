// File: src/models/dfine/layers.h
// Purpose: the small building blocks D-FINE is made of, loaded by checkpoint key with the shapes
// they require: a convolution with its eval-mode BatchNorm folded in at load time (plus the
// activation and HGNetv2's learnable affine), linear layers, MLP heads and LayerNorm parameters.
// Placement: every layer is loaded (and BN-folded) on the CPU in float32; place() then moves its
// weights once to the model's device and dtype (a no-op for the CPU).
// Usage:
//   ConvBN c = ConvBN::load(w.sub("stem.stem1."), "bn", {16, 3, 3, 3}, /*stride=*/2, /*pad=*/1,
//                           /*groups=*/1, Act::kReLU, /*lab=*/true);
//   Tensor y = c(x);
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/weight_source.h"
#include "nn/ops.h"
#include "nn/ops_mlp.h"

namespace um::dfine {

enum class Act { kNone, kReLU, kSiLU, kGELU };

// Where a layer's weights live and in which dtype its activations run.
struct Placement {
  Device device = Device::cpu();
  DType dtype = DType::kF32;
  // float32 on CUDA: the convolutions may use TF32 tensor cores (Options::tf32_backbone_parts).
  bool tf32 = false;
  // float32 on CUDA: the convolutions and the fused MLP heads may use 3xTF32 tensor-core products
  // (Options::split_tf32_backbone, Options::split_tf32_box_chain;
  // nn::Conv2dParams::allow_split_tf32, nn::MlpParams::allow_split_tf32).
  bool split_tf32 = false;
  // The same placement in dtype d (the decoder's float32 box chain inside a float16 decoder).
  Placement with_dtype(DType d) const { return {device, d, tf32, split_tf32}; }
};
// t converted to p.dtype on the host, then copied to p.device (load time only: it synchronises).
Tensor place_tensor(const Tensor& t, const Placement& p);
void place_mha(nn::MultiheadAttentionWeights& w, const Placement& p);

// Applies act (then scale * x + bias when lab) in place on a contiguous float tensor, on its
// device (nn::act_affine_inplace).
void apply_activation_inplace(Tensor& x, Act act, bool lab = false, float lab_scale = 1.f,
                              float lab_bias = 0.f);

// conv (no bias) -> BatchNorm (folded) -> activation -> learnable affine (optional).
struct ConvBN {
  Tensor weight, bias;  // BN folded in
  nn::Conv2dParams params;
  Act act = Act::kNone;
  bool lab = false;
  float lab_scale = 1.f, lab_bias = 0.f;

  // Reads "<prefix>conv.weight" (with `weight_shape`; empty = any) and "<prefix><bn>.{weight,
  // bias,running_mean,running_var}"; with `lab`, "<prefix>lab.{scale,bias}".
  static ConvBN load(const io::WeightSource& w, const std::string& bn, const Shape& weight_shape,
                     int stride, int pad, int groups, Act act, bool lab, float eps = 1e-5f);
  Tensor operator()(const Tensor& x) const;
  // operator()(x) + residual (the output's shape): on CUDA the add rides in the conv's epilogue.
  Tensor operator()(const Tensor& x, const Tensor& residual) const;
  void place(const Placement& p);
  int64_t out_channels() const { return weight.size(0); }
  int64_t in_channels() const { return weight.size(1) * params.groups; }
};

struct Linear {
  Tensor weight, bias;
  // "<prefix>weight" [out, in] and "<prefix>bias" [out]; out/in <= 0 means "as stored".
  static Linear load(const io::WeightSource& w, int64_t out = -1, int64_t in = -1);
  Tensor operator()(const Tensor& x) const { return nn::linear(x, weight, bias); }
  // residual + linear(x): on CUDA the add is the GEMM's C input (one kernel, one rounding).
  Tensor operator()(const Tensor& x, const Tensor& residual) const {
    return nn::linear(x, weight, bias, residual);
  }
  // The same linear as a one-layer nn::mlp: on CUDA, float32 rows (a few hundred: the decoder's
  // queries) take ONE fused kernel where cuBLASLt runs a split-K kernel pair; elsewhere (CPU,
  // float16) exactly nn::linear.
  Tensor rows(const Tensor& x) const { return nn::mlp(x, {weight}, {bias}, Tensor(), mlp_params); }
  void place(const Placement& p);
  // Set by place(): 3xTF32 where the placement allows it; for rows() and for the Mlp this layer
  // belongs to (its layers share one placement).
  nn::MlpParams mlp_params;
  int64_t out_features() const { return weight.size(0); }
  int64_t in_features() const { return weight.size(1); }
};

// D-FINE's MLP: Linear layers "<prefix>layers.i." with ReLU between them (not after the last).
struct Mlp {
  std::vector<Linear> layers;
  static Mlp load(const io::WeightSource& w, int num_layers, int64_t in, int64_t hidden,
                  int64_t out);
  Tensor operator()(const Tensor& x) const;
  // residual + mlp(x) as one nn::mlp (nn/ops_mlp.h): on CUDA float32 one fused kernel for the
  // whole MLP and the add; on the CPU linear_act ... linear, then add(residual, y).
  Tensor operator()(const Tensor& x, const Tensor& residual) const;
  void place(const Placement& p);
};

struct LayerNormW {
  Tensor weight, bias;
  static constexpr float kEps = 1e-5f;  // torch.nn.LayerNorm's default, as D-FINE uses it
  static LayerNormW load(const io::WeightSource& w, int64_t dim);
  Tensor operator()(const Tensor& x) const { return nn::layer_norm(x, weight, bias, kEps); }
  void place(const Placement& p);
};

// Counts consecutive "<prefix><i><suffix>" keys from i = 0.
int count_indexed(const io::WeightSource& w, const std::string& prefix, const std::string& suffix);

}  // namespace um::dfine
