// File: src/models/dfine/hybrid_encoder.cpp
// Purpose: HybridEncoder loading and forward pass; see hybrid_encoder.h.
#include "models/dfine/hybrid_encoder.h"

#include <cmath>

#include "core/status.h"
#include "nn/ops_dfine.h"

namespace um::dfine {
namespace {

// ConvNormLayer(_fuse): conv (padding (k-1)/2, no bias) + BN, optional activation.
ConvBN conv_norm(const io::WeightSource& w, int stride, int groups, Act act,
                 const Shape& shape = {}) {
  const Shape s = shape.empty() ? w.shape_of("conv.weight") : shape;
  if (s.size() != 4) {
    throw Error(StatusCode::kInvalidArgument, "key '" + w.prefix() + "conv.weight': expected a 4-D "
                                              "conv weight, checkpoint has " + shape_str(s));
  }
  return ConvBN::load(w, "norm", s, stride, static_cast<int>((s[2] - 1) / 2), groups, act, false);
}

}  // namespace

Tensor sincos_position_embedding_2d(int64_t w, int64_t h, int64_t dim, float temperature) {
  if (dim % 4 != 0) {
    throw Error(StatusCode::kInvalidArgument,
                "2D sin-cos embedding: dim " + std::to_string(dim) + " is not divisible by 4");
  }
  const int64_t pos_dim = dim / 4;
  std::vector<float> omega(pos_dim);
  for (int64_t i = 0; i < pos_dim; ++i) {
    const float e = static_cast<float>(i) / static_cast<float>(pos_dim);
    omega[i] = 1.f / std::pow(temperature, e);
  }
  Tensor pe = Tensor::empty({1, w * h, dim});
  float* p = pe.data<float>();
  for (int64_t k = 0; k < w * h; ++k) {
    const float gw = static_cast<float>(k / h), gh = static_cast<float>(k % h);
    float* row = p + k * dim;
    for (int64_t i = 0; i < pos_dim; ++i) {
      const float ow = gw * omega[i], oh = gh * omega[i];
      row[i] = std::sin(ow);
      row[pos_dim + i] = std::cos(ow);
      row[2 * pos_dim + i] = std::sin(oh);
      row[3 * pos_dim + i] = std::cos(oh);
    }
  }
  return pe;
}

HybridEncoder::VggBlock HybridEncoder::load_vgg(const io::WeightSource& w) {
  // RepVGG re-parameterisation (the official convert_to_deploy): BN-folded 3x3 plus the
  // BN-folded 1x1 padded to 3x3, biases summed. Exact up to float rounding.
  ConvBN c3 = conv_norm(w.sub("conv1."), 1, 1, Act::kSiLU);
  const int64_t co = c3.weight.size(0), ci = c3.weight.size(1);
  if (c3.weight.size(2) != 3 || c3.weight.size(3) != 3) {
    throw Error(StatusCode::kInvalidArgument, "key '" + w.prefix() + "conv1.conv.weight': expected "
                                              "a 3x3 kernel, checkpoint has " + shape_str(c3.weight.shape()));
  }
  const ConvBN c1 = conv_norm(w.sub("conv2."), 1, 1, Act::kNone, {co, ci, 1, 1});
  float* pw = c3.weight.data<float>();
  for (int64_t o = 0; o < co; ++o) {
    for (int64_t i = 0; i < ci; ++i) pw[(o * ci + i) * 9 + 4] += c1.weight.data<float>()[o * ci + i];
    c3.bias.data<float>()[o] += c1.bias.data<float>()[o];
  }
  return {c3};
}

HybridEncoder::CspLayer HybridEncoder::load_csp(const io::WeightSource& w) {
  CspLayer l;
  l.conv1 = conv_norm(w.sub("conv1."), 1, 1, Act::kSiLU);
  l.conv2 = conv_norm(w.sub("conv2."), 1, 1, Act::kSiLU, l.conv1.weight.shape());
  const int n = count_indexed(w, "bottlenecks.", ".conv1.conv.weight");
  for (int i = 0; i < n; ++i) l.bottlenecks.push_back(load_vgg(w.sub("bottlenecks." + std::to_string(i) + ".")));
  l.has_conv3 = w.has("conv3.conv.weight");
  if (l.has_conv3) l.conv3 = conv_norm(w.sub("conv3."), 1, 1, Act::kSiLU);
  return l;
}

Tensor HybridEncoder::CspLayer::operator()(const Tensor& x) const {
  // x1 = bottlenecks(conv1(x)) + conv2(x), with the sum in the last bottleneck's epilogue.
  Tensor x1, x2;
  if (conv12.weight.defined()) {
    const Tensor both = conv12(x);
    const int64_t c = conv1.out_channels();
    x1 = both.slice(1, 0, c);  // for batch 1, channel slices are contiguous: no copy
    x2 = both.slice(1, c, 2 * c);
  } else {
    x1 = conv1(x);
    x2 = conv2(x);
  }
  if (bottlenecks.empty()) {
    x1 = nn::add(x1, x2);
  } else {
    for (size_t i = 0; i + 1 < bottlenecks.size(); ++i) x1 = bottlenecks[i].fused(x1);
    x1 = bottlenecks.back().fused(x1, x2);
  }
  return has_conv3 ? conv3(x1) : x1;
}

void HybridEncoder::CspLayer::place(const Placement& p) {
  // Stack only what is provably the same op on the same input: equal shapes and activation, no
  // lab affine, both biases, weights still on the host (place() runs once, at load).
  const bool stackable = conv1.act == conv2.act && !conv1.lab && !conv2.lab &&
                         conv1.weight.shape() == conv2.weight.shape() && conv1.bias.defined() &&
                         conv2.bias.defined() && conv1.weight.device().is_cpu() &&
                         conv2.weight.device().is_cpu();
  if (!p.device.is_cpu() && stackable) {
    conv12 = conv1;
    conv12.weight = nn::concat({conv1.weight, conv2.weight}, 0);
    conv12.bias = nn::concat({conv1.bias, conv2.bias}, 0);
    conv12.place(p);
  }
  conv1.place(p);
  conv2.place(p);
  for (VggBlock& b : bottlenecks) b.fused.place(p);
  if (has_conv3) conv3.place(p);
}

HybridEncoder::RepNCSPELAN4 HybridEncoder::load_elan(const io::WeightSource& w) {
  RepNCSPELAN4 e;
  e.cv1 = conv_norm(w.sub("cv1."), 1, 1, Act::kSiLU);
  e.cv2_csp = load_csp(w.sub("cv2.0."));
  e.cv2_conv = conv_norm(w.sub("cv2.1."), 1, 1, Act::kSiLU);
  e.cv3_csp = load_csp(w.sub("cv3.0."));
  e.cv3_conv = conv_norm(w.sub("cv3.1."), 1, 1, Act::kSiLU);
  e.cv4 = conv_norm(w.sub("cv4."), 1, 1, Act::kSiLU);
  const int64_t c3 = e.cv1.out_channels(), c4 = e.cv2_conv.out_channels();
  if (c3 % 2 != 0 || e.cv2_csp.conv1.in_channels() != c3 / 2 || e.cv4.in_channels() != c3 + 2 * c4) {
    throw Error(StatusCode::kInvalidArgument,
                "RepNCSPELAN4 at '" + w.prefix() + "': inconsistent widths (cv1 " +
                    shape_str(e.cv1.weight.shape()) + ", cv2.0.conv1 " +
                    shape_str(e.cv2_csp.conv1.weight.shape()) + ", cv4 " +
                    shape_str(e.cv4.weight.shape()) + ")");
  }
  return e;
}

Tensor HybridEncoder::RepNCSPELAN4::operator()(const Tensor& x) const {
  const Tensor y = cv1(x);
  const int64_t half = y.size(1) / 2;
  const auto parts = nn::split(y, {half, half}, 1);
  const Tensor y2 = cv2_conv(cv2_csp(parts[1]));
  const Tensor y3 = cv3_conv(cv3_csp(y2));
  return cv4(nn::concat({y, y2, y3}, 1));  // cat(chunk0, chunk1, y2, y3) == cat(y, y2, y3)
}

HybridEncoder HybridEncoder::load(const io::WeightSource& w, int num_heads) {
  HybridEncoder e;
  const int levels = count_indexed(w, "input_proj.", ".conv.weight");
  if (levels < 1) {
    throw Error(StatusCode::kNotFound, "missing key '" + w.prefix() + "input_proj.0.conv.weight'");
  }
  for (int i = 0; i < levels; ++i) {
    e.input_proj_.push_back(conv_norm(w.sub("input_proj." + std::to_string(i) + "."), 1, 1, Act::kNone));
    e.in_channels_.push_back(e.input_proj_.back().in_channels());
  }
  e.hidden_ = e.input_proj_[0].out_channels();
  const int64_t d = e.hidden_;
  for (int i = 1; i < levels; ++i) {
    if (e.input_proj_[i].out_channels() != d) {
      throw Error(StatusCode::kInvalidArgument,
                  "key '" + w.prefix() + "input_proj." + std::to_string(i) + ".conv.weight': " +
                      shape_str(e.input_proj_[i].weight.shape()) + " does not project to hidden dim " +
                      std::to_string(d));
    }
  }
  const io::WeightSource a = w.sub("encoder.0.layers.0.");
  e.attn_.in_proj_weight = a.get("self_attn.in_proj_weight", {3 * d, d});
  e.attn_.in_proj_bias = a.get("self_attn.in_proj_bias", {3 * d});
  e.attn_.out_proj_weight = a.get("self_attn.out_proj.weight", {d, d});
  e.attn_.out_proj_bias = a.get("self_attn.out_proj.bias", {d});
  e.attn_.num_heads = num_heads;
  e.ffn_ = Linear::load(a.sub("linear1."));
  e.ffn_out_ = Linear::load(a.sub("linear2."), d, e.ffn_.out_features());
  if (e.ffn_.in_features() != d) {
    throw Error(StatusCode::kInvalidArgument, "key '" + a.prefix() + "linear1.weight': expected [*, " +
                                                  std::to_string(d) + "], checkpoint has " +
                                                  shape_str(e.ffn_.weight.shape()));
  }
  e.norm1_ = LayerNormW::load(a.sub("norm1."), d);
  e.norm2_ = LayerNormW::load(a.sub("norm2."), d);
  for (int i = 0; i < levels - 1; ++i) {
    const std::string s = std::to_string(i);
    e.lateral_.push_back(conv_norm(w.sub("lateral_convs." + s + "."), 1, 1, Act::kNone, {d, d, 1, 1}));
    e.fpn_.push_back(load_elan(w.sub("fpn_blocks." + s + ".")));
    ScDown sc;
    sc.cv1 = conv_norm(w.sub("downsample_convs." + s + ".0.cv1."), 1, 1, Act::kNone, {d, d, 1, 1});
    sc.cv2 = conv_norm(w.sub("downsample_convs." + s + ".0.cv2."), 2, static_cast<int>(d), Act::kNone,
                       {d, 1, 3, 3});
    e.downsample_.push_back(sc);
    e.pan_.push_back(load_elan(w.sub("pan_blocks." + s + ".")));
  }
  if (!e.fpn_.empty()) {
    e.depth_ = static_cast<int>(e.fpn_[0].cv2_csp.bottlenecks.size());
    e.c4_ = e.fpn_[0].cv2_conv.out_channels();
  }
  return e;
}

Tensor HybridEncoder::aifi(const Tensor& x) const {
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const Tensor src = x.view({b, c, h * w}).permute({0, 2, 1}).contiguous();  // [B, HW, C]
  // The official eval path builds the embedding for eval_spatial_size / stride, i.e. this
  // feature map's own size, as build_2d_sincos_position_embedding(w, h).
  // q = src + pos summed in float32 and rounded once (pos is kept float32: in float16 the sum of
  // a rounded embedding and src would be rounded twice); nn::add_mixed does the conversions and
  // the add as one kernel (batch 1: same shapes; a batch broadcasts pos through nn::add).
  const Tensor pos = position_embedding(w, h, c);
  const Tensor q = pos.shape() == src.shape()
                       ? nn::add_mixed(src, pos, src.dtype())
                       : nn::add(src.to(DType::kF32), pos).to(src.dtype());
  Tensor t = nn::add(src, nn::multi_head_attention(q, q, src, attn_));
  t = norm1_(t);
  Tensor f = ffn_(t);
  apply_activation_inplace(f, Act::kGELU);
  t = norm2_(ffn_out_(f, /*residual=*/t));
  return t.permute({0, 2, 1}).contiguous().view({b, c, h, w});
}

Tensor HybridEncoder::position_embedding(int64_t w, int64_t h, int64_t c) const {
  if (placement_.device.is_cpu()) return sincos_position_embedding_2d(w, h, c, 10000.f);
  // Device model: computed on the host and uploaded once per feature size (a synchronous copy,
  // so the first call of a size must not be inside a graph capture: prepare() at load does it).
  std::lock_guard<std::mutex> lock(pos_cache_->mu);
  Tensor& t = pos_cache_->by_size[{w, h}];
  if (!t.defined() || t.size(2) != c) {
    t = place_tensor(sincos_position_embedding_2d(w, h, c, 10000.f),
                     placement_.with_dtype(DType::kF32));
  }
  return t;
}

void HybridEncoder::prepare(int64_t h, int64_t w) const { (void)position_embedding(w, h, hidden_); }

void HybridEncoder::place(const Placement& p) {
  placement_ = p;
  auto place_elan = [&](RepNCSPELAN4& e) {
    for (ConvBN* c : {&e.cv1, &e.cv2_conv, &e.cv3_conv, &e.cv4}) c->place(p);
    e.cv2_csp.place(p);
    e.cv3_csp.place(p);
  };
  for (ConvBN& c : input_proj_) c.place(p);
  place_mha(attn_, p);
  ffn_.place(p);
  ffn_out_.place(p);
  norm1_.place(p);
  norm2_.place(p);
  for (ConvBN& c : lateral_) c.place(p);
  for (RepNCSPELAN4& e : fpn_) place_elan(e);
  for (RepNCSPELAN4& e : pan_) place_elan(e);
  for (ScDown& d : downsample_) {
    d.cv1.place(p);
    d.cv2.place(p);
  }
}

std::vector<Tensor> HybridEncoder::forward(const std::vector<Tensor>& feats) const {
  const size_t n = input_proj_.size();
  if (feats.size() != n) {
    throw Error(StatusCode::kInvalidArgument, "HybridEncoder: expected " + std::to_string(n) +
                                                  " feature levels, got " + std::to_string(feats.size()));
  }
  std::vector<Tensor> proj;
  for (size_t i = 0; i < n; ++i) proj.push_back(input_proj_[i](feats[i]));
  proj.back() = aifi(proj.back());

  // Top-down FPN.
  std::vector<Tensor> inner(n);
  inner[n - 1] = proj[n - 1];
  for (size_t idx = n - 1; idx >= 1; --idx) {
    const size_t k = n - 1 - idx;
    const Tensor high = lateral_[k](inner[idx]);
    inner[idx] = high;
    inner[idx - 1] = fpn_[k](nn::concat({nn::upsample_nearest2x(high), proj[idx - 1]}, 1));
  }
  // Bottom-up PAN.
  std::vector<Tensor> outs{inner[0]};
  for (size_t idx = 0; idx + 1 < n; ++idx) {
    const Tensor down = downsample_[idx].cv2(downsample_[idx].cv1(outs.back()));
    outs.push_back(pan_[idx](nn::concat({down, inner[idx + 1]}, 1)));
  }
  return outs;
}

}  // namespace um::dfine
