// File: src/models/dfine/decoder.cpp
// Purpose: D-FINE decoder loading and forward pass; see decoder.h.
#include "models/dfine/decoder.h"

#include <cmath>
#include <limits>

#include "core/status.h"
#include "nn/ops_dfine.h"
#include "nn/ops_fused.h"

namespace um::dfine {
std::pair<Tensor, Tensor> generate_anchors(const std::vector<std::pair<int64_t, int64_t>>& shapes,
                                           float grid_size, float eps) {
  int64_t total = 0;
  for (const auto& s : shapes) total += s.first * s.second;
  Tensor anchors = Tensor::empty({1, total, 4});
  Tensor valid = Tensor::empty({1, total, 1});
  float* pa = anchors.data<float>();
  float* pv = valid.data<float>();
  int64_t k = 0;
  for (size_t l = 0; l < shapes.size(); ++l) {
    const int64_t h = shapes[l].first, w = shapes[l].second;
    const float wh = grid_size * std::pow(2.f, static_cast<float>(l));
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x, ++k) {
        const float a[4] = {(static_cast<float>(x) + 0.5f) / static_cast<float>(w),
                            (static_cast<float>(y) + 0.5f) / static_cast<float>(h), wh, wh};
        bool ok = true;
        for (float v : a) ok = ok && v > eps && v < 1.f - eps;
        pv[k] = ok ? 1.f : 0.f;
        for (int i = 0; i < 4; ++i) {
          pa[k * 4 + i] = ok ? std::log(a[i] / (1.f - a[i])) : std::numeric_limits<float>::infinity();
        }
      }
    }
  }
  return {anchors, valid};
}

Decoder Decoder::load(const io::WeightSource& w, int num_levels, int num_queries) {
  Decoder d;
  d.num_queries_ = num_queries;
  const Shape es = w.shape_of("enc_output.proj.weight");
  if (es.size() != 2 || es[0] != es[1]) {
    throw Error(StatusCode::kInvalidArgument, "key '" + w.prefix() + "enc_output.proj.weight': "
                                              "expected [hidden, hidden], checkpoint has " + shape_str(es));
  }
  const int64_t hd = es[0];
  d.hidden_ = hd;
  // Optional decoder input projections (D-FINE-X: encoder width != decoder width).
  for (int l = 0; l < num_levels; ++l) {
    const io::WeightSource pw = w.sub("input_proj." + std::to_string(l) + ".");
    const bool has = pw.has("conv.weight");
    d.has_input_proj_.push_back(has);
    if (has) {
      d.input_proj_.push_back(ConvBN::load(pw, "norm", {hd, pw.shape_of("conv.weight")[1], 1, 1}, 1, 0,
                                           1, Act::kNone, false));
      d.feat_channels_.push_back(d.input_proj_.back().in_channels());
    } else {
      d.input_proj_.emplace_back();
      d.feat_channels_.push_back(hd);
    }
  }
  d.reg_scale_ = w.get("reg_scale", {1}).data<float>()[0];
  d.up_ = w.get("up", {1}).data<float>()[0];
  d.enc_proj_ = Linear::load(w.sub("enc_output.proj."), hd, hd);
  d.enc_norm_ = LayerNormW::load(w.sub("enc_output.norm."), hd);
  d.enc_score_ = Linear::load(w.sub("enc_score_head."));
  const int64_t nc = d.enc_score_.out_features();
  if (d.enc_score_.in_features() != hd) {
    throw Error(StatusCode::kInvalidArgument, "key '" + w.prefix() + "enc_score_head.weight': expected [C, " +
                                                  std::to_string(hd) + "], checkpoint has " +
                                                  shape_str(d.enc_score_.weight.shape()));
  }
  d.enc_bbox_ = Mlp::load(w.sub("enc_bbox_head."), 3, hd, hd, 4);
  d.query_pos_ = Mlp::load(w.sub("query_pos_head."), 2, 4, 2 * hd, hd);
  d.pre_bbox_ = Mlp::load(w.sub("pre_bbox_head."), 3, hd, hd, 4);

  const io::WeightSource dw = w.sub("decoder.");
  const int nl = count_indexed(dw, "layers.", ".norm1.weight");
  if (nl < 1) throw Error(StatusCode::kNotFound, "missing key '" + dw.prefix() + "layers.0.norm1.weight'");
  const Shape last = w.shape_of("dec_bbox_head.0.layers.2.weight");
  if (last.size() != 2 || last[0] % 4 != 0 || last[0] / 4 < 4) {
    throw Error(StatusCode::kInvalidArgument, "key '" + w.prefix() + "dec_bbox_head.0.layers.2.weight': "
                                              "expected [4*(reg_max+1), hidden], checkpoint has " + shape_str(last));
  }
  d.reg_max_ = static_cast<int>(last[0] / 4 - 1);
  for (int i = 0; i < nl; ++i) {
    const std::string s = std::to_string(i);
    d.dec_score_.push_back(Linear::load(w.sub("dec_score_head." + s + "."), nc, hd));
    d.dec_bbox_.push_back(Mlp::load(w.sub("dec_bbox_head." + s + "."), 3, hd, hd, 4 * (d.reg_max_ + 1)));
    d.lqe_.push_back(Lqe::load(dw.sub("lqe_layers." + s + "."), d.reg_max_));
    const io::WeightSource lw = dw.sub("layers." + s + ".");
    Layer layer;
    layer.self_attn.in_proj_weight = lw.get("self_attn.in_proj_weight", {3 * hd, hd});
    layer.self_attn.in_proj_bias = lw.get("self_attn.in_proj_bias", {3 * hd});
    layer.self_attn.out_proj_weight = lw.get("self_attn.out_proj.weight", {hd, hd});
    layer.self_attn.out_proj_bias = lw.get("self_attn.out_proj.bias", {hd});
    layer.norm1 = LayerNormW::load(lw.sub("norm1."), hd);
    layer.cross = DeformableAttention::load(lw.sub("cross_attn."), hd, num_levels);
    layer.self_attn.num_heads = layer.cross.num_heads();
    layer.gate = Linear::load(lw.sub("gateway.gate."), 2 * hd, 2 * hd);
    layer.gate_norm = LayerNormW::load(lw.sub("gateway.norm."), hd);
    layer.linear1 = Linear::load(lw.sub("linear1."));
    layer.linear2 = Linear::load(lw.sub("linear2."), hd, layer.linear1.out_features());
    layer.norm3 = LayerNormW::load(lw.sub("norm3."), hd);
    d.layers_.push_back(std::move(layer));
  }
  d.project_ = weighting_function(d.reg_max_, d.up_, d.reg_scale_);
  return d;
}

Tensor Decoder::Layer::operator()(const Tensor& target, const Tensor& ref, const Tensor& memory,
                                  const std::vector<std::pair<int64_t, int64_t>>& shapes,
                                  const Tensor& pos) const {
  // pos is float32 (it comes from the box chain); target is in the compute dtype. In float16 the
  // sums with pos are formed in float32 and rounded once (not pos rounded, then the sum rounded):
  // nn::add_mixed does the conversion, the float32 add and the rounding in one kernel.
  const DType dt = target.dtype();
  // pos is query_pos_head's output unclamped: its clamp to [-10, 10] happens inside the sums.
  const Tensor qk = nn::add_mixed(target, pos, dt, -kPosClamp, kPosClamp);
  // norm1(target + attn): the residual sum and the norm in one op (float32 sum and statistics).
  Tensor t = nn::add_layer_norm(target, nn::multi_head_attention(qk, qk, target, self_attn),
                                norm1.weight, norm1.bias, LayerNormW::kEps, dt);
  // The cross-attention query: float32 for the sampling offsets (SPEC 3), and the same sum
  // rounded once to the attention weights' dtype; both from one kernel.
  const auto [query32, query_c] =
      nn::add_mixed2(t, pos, DType::kF32, cross.weights_dtype(), -kPosClamp, kPosClamp);
  const Tensor cross_out = cross(query32, query_c, ref, memory, shapes);
  // Gate: sigmoid(Linear(cat[x1, x2])) split in two, LayerNorm(g1 * x1 + g2 * x2). The sigmoid,
  // both products, their sum and the norm's statistics in float32, one rounding of the result:
  // one kernel on CUDA (it used to be 8: two conversions to float32, the sigmoid, two muls, the
  // add, the rounding, the norm); on the CPU exactly that sequence (float32).
  const Tensor g = gate(nn::concat({t, cross_out}, 2));
  t = nn::gated_sum_layer_norm(g, t, cross_out, gate_norm.weight, gate_norm.bias, LayerNormW::kEps,
                               dt);
  // FFN: linear1 + ReLU as one op (the ReLU is the GEMM's epilogue on CUDA).
  const Tensor f = nn::linear_act(t, linear1.weight, linear1.bias, nn::Activation::kReLU);
  return norm3(linear2(f, /*residual=*/t));
}

DecoderOutput Decoder::forward(const std::vector<Tensor>& feats) const {
  if (feats.size() != input_proj_.size()) {
    throw Error(StatusCode::kInvalidArgument, "D-FINE decoder: expected " + std::to_string(input_proj_.size()) +
                                                  " feature levels, got " + std::to_string(feats.size()));
  }
  // Flatten levels into memory [B, sum(HW), hidden].
  std::vector<std::pair<int64_t, int64_t>> shapes;
  std::vector<Tensor> flat;
  for (size_t l = 0; l < feats.size(); ++l) {
    const Tensor f = has_input_proj_[l] ? input_proj_[l](feats[l]) : feats[l];
    if (f.dim() != 4 || f.size(1) != hidden_) {
      throw Error(StatusCode::kInvalidArgument, "D-FINE decoder: level " + std::to_string(l) + " is " +
                                                    shape_str(f.shape()) + ", expected " +
                                                    std::to_string(hidden_) + " channels");
    }
    shapes.emplace_back(f.size(2), f.size(3));
    flat.push_back(f.view({f.size(0), hidden_, f.size(2) * f.size(3)}).permute({0, 2, 1}));
  }
  const Tensor memory = nn::concat(flat, 1);
  const int64_t b = memory.size(0), len = memory.size(1);
  if (len < num_queries_) {
    throw Error(StatusCode::kInvalidArgument, "D-FINE decoder: " + std::to_string(len) +
                                                  " tokens are fewer than " + std::to_string(num_queries_) +
                                                  " queries (input too small)");
  }
  auto [anchors, valid] = anchors_for(shapes);
  if (b > 1) anchors = nn::concat(std::vector<Tensor>(static_cast<size_t>(b), anchors), 0);

  // Query selection on the valid-masked memory.
  const Tensor output_memory = enc_norm_(enc_proj_(nn::mul(memory, valid)));
  const Tensor enc_logits = enc_score_(output_memory);  // [B, L, C]
  const Tensor max_logit = nn::amax_last(enc_logits);                 // [B, L] float32
  const Tensor topk_ind = nn::topk(max_logit, num_queries_).second;     // [B, Q]
  const Tensor content = nn::gather_rows(output_memory, topk_ind, 1);   // [B, Q, hidden]
  const Tensor topk_anchors = nn::gather_rows(anchors, topk_ind, 1);    // index [B, Q] on [1, L, 4]
  // Box chain from here on in float32 (SPEC 3); the content path stays in the compute dtype.
  // (The "+ anchors" here and below are the last GEMM's residual input: one kernel fewer on CUDA.)
  const Tensor ref_unact = enc_bbox_(content.to(DType::kF32), /*residual=*/topk_anchors);

  // Decoder layers with fine-grained distribution refinement.
  Tensor output = content;
  Tensor output_prev, corners_prev, ref_initial;  // output_prev: the previous layer's output
  Tensor ref = nn::sigmoid(ref_unact);
  DecoderOutput out;
  const int last = static_cast<int>(layers_.size()) - 1;
  for (int i = 0; i <= last; ++i) {
    // float32; clamped to [-10, 10] inside the layer's sums (nn::add_mixed's clamp of b).
    const Tensor pos = query_pos_(ref);
    output = layers_[i](output, ref, memory, shapes, pos);
    // The float32 copy of the output only where a float32 head reads it alone (the first and
    // the last layer); the bbox head's input output + output_prev is formed in float32 directly
    // from the two compute-dtype outputs (the same sum: float16 -> float32 is exact).
    const Tensor output32 = i == 0 || i == last ? output.to(DType::kF32) : Tensor();
    if (i == 0) {
      ref_initial = nn::sigmoid(pre_bbox_(output32, /*residual=*/nn::inverse_sigmoid(ref)));
    }
    // corners = dec_bbox(...) + corners_prev (the residual; undefined in the first layer).
    const Tensor corners = dec_bbox_[i](
        output_prev.defined() ? nn::add_mixed(output, output_prev, DType::kF32) : output32,
        corners_prev);
    // distance2bbox(ref_initial, integral(corners)) as one op (one kernel on CUDA).
    const Tensor inter = nn::distribution_box(corners, project_, ref_initial, reg_scale_);
    if (i == last) {
      // The class head runs in float32 on the unrounded-to-half path (300 rows: cheap), so the
      // logits are not stored in float16 before the LQE term is added.
      out.logits = lqe_[i](dec_score_[i].rows(output32), corners);
      out.boxes = inter;
      break;
    }
    corners_prev = corners;
    ref = inter;
    output_prev = output;
  }
  return out;
}

std::pair<Tensor, Tensor> Decoder::anchors_for(const std::vector<std::pair<int64_t, int64_t>>& shapes) const {
  if (placement_.device.is_cpu()) return generate_anchors(shapes);
  // Device model: built on the host and uploaded once per feature-size set (a synchronous copy,
  // so the first call of a size must not be inside a graph capture: prepare() at load does it).
  std::lock_guard<std::mutex> lock(anchor_cache_->mu);
  auto& entry = anchor_cache_->by_shapes[shapes];
  if (!entry.first.defined()) {
    auto [anchors, valid] = generate_anchors(shapes);
    entry = {place_tensor(anchors, placement_.with_dtype(DType::kF32)), place_tensor(valid, placement_)};
  }
  return entry;
}

void Decoder::prepare(const std::vector<std::pair<int64_t, int64_t>>& shapes) const {
  (void)anchors_for(shapes);
}

void Decoder::place(const Placement& p) {
  placement_ = p;
  // p.split_tf32 (Options::split_tf32_box_chain) is meant for the float32 box chain's fused MLP
  // kernels (Mlp, Linear::rows); the input projections' convolutions keep their exact kernels.
  const Placement f32 = p.with_dtype(DType::kF32);
  for (size_t l = 0; l < input_proj_.size(); ++l) {
    if (has_input_proj_[l]) input_proj_[l].place({p.device, p.dtype});
  }
  enc_proj_.place(p);
  enc_score_.place(p);
  enc_norm_.place(p);
  // Box chain: boxes, corners, reference points and their embedding input stay float32.
  enc_bbox_.place(f32);
  query_pos_.place(f32);
  pre_bbox_.place(f32);
  for (Linear& l : dec_score_) l.place(f32);  // float32 logits (see forward)
  for (Mlp& m : dec_bbox_) m.place(f32);
  for (Lqe& q : lqe_) q.place(p);  // float32 inside
  for (Layer& l : layers_) {
    place_mha(l.self_attn, p);
    l.norm1.place(p);
    l.gate_norm.place(p);
    l.norm3.place(p);
    l.cross.place(p);
    l.gate.place(p);
    l.linear1.place(p);
    l.linear2.place(p);
  }
}

}  // namespace um::dfine
