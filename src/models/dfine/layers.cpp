// File: src/models/dfine/layers.cpp
// Purpose: loading and running D-FINE's basic layers (see layers.h).
#include "models/dfine/layers.h"

#include <cmath>

#include "core/status.h"
#include "nn/ops_dfine.h"
#include "nn/ops_fused.h"

namespace um::dfine {

Tensor place_tensor(const Tensor& t, const Placement& p) {
  if (!t.defined()) return t;
  if (p.device.is_cpu() && t.device().is_cpu() && t.dtype() == p.dtype) return t;
  return t.to(p.dtype).to(p.device);
}

void place_mha(nn::MultiheadAttentionWeights& w, const Placement& p) {
  w.in_proj_weight = place_tensor(w.in_proj_weight, p);
  w.in_proj_bias = place_tensor(w.in_proj_bias, p);
  w.out_proj_weight = place_tensor(w.out_proj_weight, p);
  w.out_proj_bias = place_tensor(w.out_proj_bias, p);
}

void apply_activation_inplace(Tensor& x, Act act, bool lab, float lab_scale, float lab_bias) {
  if (act == Act::kNone && !lab) return;
  if (!x.is_contiguous()) x = x.contiguous();
  nn::ActKind k = nn::ActKind::kNone;
  switch (act) {
    case Act::kNone: k = nn::ActKind::kNone; break;
    case Act::kReLU: k = nn::ActKind::kReLU; break;
    case Act::kSiLU: k = nn::ActKind::kSiLU; break;
    case Act::kGELU: k = nn::ActKind::kGELU; break;
  }
  nn::act_affine_inplace(x, k, lab, lab_scale, lab_bias);
}

ConvBN ConvBN::load(const io::WeightSource& w, const std::string& bn, const Shape& weight_shape,
                    int stride, int pad, int groups, Act act, bool lab, float eps) {
  ConvBN c;
  const Tensor conv_w = w.get("conv.weight", weight_shape);
  if (conv_w.dim() != 4) {
    throw Error(StatusCode::kInvalidArgument, "key '" + w.prefix() + "conv.weight': expected a 4-D "
                                              "conv weight, checkpoint has " + shape_str(conv_w.shape()));
  }
  const int64_t cout = conv_w.size(0);
  const io::WeightSource b = w.sub(bn + ".");
  auto [fw, fb] = nn::fold_batch_norm(conv_w, Tensor(), b.get("weight", {cout}), b.get("bias", {cout}),
                                      b.get("running_mean", {cout}), b.get("running_var", {cout}), eps);
  c.weight = fw;
  c.bias = fb;
  c.params = nn::Conv2dParams::square(stride, pad, groups);
  c.act = act;
  c.lab = lab;
  if (lab) {
    c.lab_scale = w.get("lab.scale", {1}).data<float>()[0];
    c.lab_bias = w.get("lab.bias", {1}).data<float>()[0];
  }
  return c;
}

namespace {

nn::Activation fused_activation(Act act) {
  switch (act) {
    case Act::kNone: return nn::Activation::kNone;
    case Act::kReLU: return nn::Activation::kReLU;
    case Act::kSiLU: return nn::Activation::kSiLU;
    case Act::kGELU: return nn::Activation::kGELU;
  }
  return nn::Activation::kNone;
}

}  // namespace

Tensor ConvBN::operator()(const Tensor& x) const {
  // One fused op (conv, folded-BN bias, activation, lab affine): on the GPU a single epilogue
  // pass after the cuDNN conv; on the CPU exactly conv2d + apply_activation_inplace.
  return nn::conv2d_bias_act(x, weight, bias, params, fused_activation(act),
                             lab ? lab_scale : 1.f, lab ? lab_bias : 0.f);
}

Tensor ConvBN::operator()(const Tensor& x, const Tensor& residual) const {
  return nn::conv2d_bias_act_residual(x, weight, bias, params, fused_activation(act), residual,
                                      lab ? lab_scale : 1.f, lab ? lab_bias : 0.f);
}

void ConvBN::place(const Placement& p) {
  weight = place_tensor(weight, p);
  bias = place_tensor(bias, p);
  params.allow_tf32 = p.tf32 && p.device.is_cuda() && p.dtype == DType::kF32;
  params.allow_split_tf32 = p.split_tf32 && p.device.is_cuda() && p.dtype == DType::kF32;
}

void Linear::place(const Placement& p) {
  weight = place_tensor(weight, p);
  bias = place_tensor(bias, p);
  mlp_params = {.allow_split_tf32 = p.split_tf32 && p.device.is_cuda() && p.dtype == DType::kF32};
}

void Mlp::place(const Placement& p) {
  for (Linear& l : layers) l.place(p);
}

void LayerNormW::place(const Placement& p) {
  weight = place_tensor(weight, p);
  bias = place_tensor(bias, p);
}

Linear Linear::load(const io::WeightSource& w, int64_t out, int64_t in) {
  Linear l;
  Shape ws;
  if (out > 0 && in > 0) ws = {out, in};
  l.weight = w.get("weight", ws);
  if (l.weight.dim() != 2) {
    throw Error(StatusCode::kInvalidArgument, "key '" + w.prefix() + "weight': expected a 2-D "
                                              "linear weight, checkpoint has " + shape_str(l.weight.shape()));
  }
  l.bias = w.get("bias", {l.weight.size(0)});
  return l;
}

Mlp Mlp::load(const io::WeightSource& w, int num_layers, int64_t in, int64_t hidden, int64_t out) {
  Mlp m;
  for (int i = 0; i < num_layers; ++i) {
    const int64_t li = i == 0 ? in : hidden;
    const int64_t lo = i == num_layers - 1 ? out : hidden;
    m.layers.push_back(Linear::load(w.sub("layers." + std::to_string(i) + "."), lo, li));
  }
  return m;
}

Tensor Mlp::operator()(const Tensor& x) const { return (*this)(x, Tensor()); }

Tensor Mlp::operator()(const Tensor& x, const Tensor& residual) const {
  if (layers.empty()) return x;
  // One op: on the CPU exactly linear + ReLU per hidden layer, then the last linear with the
  // residual (the sequence this ran as before); on CUDA in float32 one fused kernel.
  std::vector<Tensor> weights, biases;
  weights.reserve(layers.size());
  biases.reserve(layers.size());
  for (const Linear& l : layers) {
    weights.push_back(l.weight);
    biases.push_back(l.bias);
  }
  return nn::mlp(x, weights, biases, residual, layers.front().mlp_params);
}

LayerNormW LayerNormW::load(const io::WeightSource& w, int64_t dim) {
  return {w.get("weight", {dim}), w.get("bias", {dim})};
}

int count_indexed(const io::WeightSource& w, const std::string& prefix, const std::string& suffix) {
  int n = 0;
  while (w.has(prefix + std::to_string(n) + suffix)) ++n;
  return n;
}

}  // namespace um::dfine
