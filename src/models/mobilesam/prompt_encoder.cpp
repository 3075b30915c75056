// File: src/models/mobilesam/prompt_encoder.cpp
// Purpose: SAM prompt encoder forward (see prompt_encoder.h). Arithmetic follows the official
// float32 order: coords / size, 2c - 1, c @ G, 2*pi*c, sin/cos.
#include "models/mobilesam/prompt_encoder.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/status.h"
#include "nn/ops.h"

namespace um::mobilesam {
namespace {
constexpr float kTwoPi = static_cast<float>(2.0 * M_PI);
}  // namespace

PromptEncoder PromptEncoder::load(const io::WeightSource& w) {
  PromptEncoder p;
  const int64_t half = kEmbedDim / 2;
  p.gaussian_ = w.get("pe_layer.positional_encoding_gaussian_matrix", {2, half});
  for (int i = 0; i < 4; ++i) {
    p.point_embed_[i] = w.get("point_embeddings." + std::to_string(i) + ".weight", {1, kEmbedDim});
  }
  p.not_a_point_ = w.get("not_a_point_embed.weight", {1, kEmbedDim});
  p.no_mask_ = w.get("no_mask_embed.weight", {1, kEmbedDim});
  // mask_downscaling: Conv(1->4, 2/2), LN2d, GELU, Conv(4->16, 2/2), LN2d, GELU, Conv(16->256, 1).
  const int64_t mc = 16;
  p.mask_conv0_ = load_conv(w, "mask_downscaling.0", mc / 4, 1, 2, 2, 0, true);
  p.mask_norm0_ = load_layer_norm_2d(w, "mask_downscaling.1", mc / 4);
  p.mask_conv1_ = load_conv(w, "mask_downscaling.3", mc, mc / 4, 2, 2, 0, true);
  p.mask_norm1_ = load_layer_norm_2d(w, "mask_downscaling.4", mc);
  p.mask_conv2_ = load_conv(w, "mask_downscaling.6", kEmbedDim, mc, 1, 1, 0, true);

  // Dense PE of the 64x64 grid: cell centres (i + 0.5) / 64 (the official cumsum - 0.5). Stored
  // channels last ([1, 64*64, 256] tokens, exposed as an NCHW view): the mask decoder's
  // transformer reads it as tokens, so no transpose pass per frame.
  p.dense_pe_tokens_ = Tensor::empty({1, kGrid * kGrid, kEmbedDim});
  float* d = p.dense_pe_tokens_.data<float>();
  for (int64_t y = 0; y < kGrid; ++y) {
    for (int64_t x = 0; x < kGrid; ++x) {
      const float xs = (static_cast<float>(x + 1) - 0.5f) / static_cast<float>(kGrid);
      const float ys = (static_cast<float>(y + 1) - 0.5f) / static_cast<float>(kGrid);
      p.fourier(xs, ys, d + (y * kGrid + x) * kEmbedDim);
    }
  }
  // no_mask_embed.weight.reshape(1, -1, 1, 1).expand(1, -1, 64, 64), materialised once, also
  // channels last (its token view is contiguous: the decoder adds it to the embedding's).
  p.no_mask_dense_tokens_ = Tensor::empty({1, kGrid * kGrid, kEmbedDim});
  float* nd = p.no_mask_dense_tokens_.data<float>();
  const float* e = p.no_mask_.data<float>();
  for (int64_t i = 0; i < kGrid * kGrid; ++i) std::copy(e, e + kEmbedDim, nd + i * kEmbedDim);
  p.set_nchw_views();
  p.gaussian_dev_ = p.gaussian_;
  p.corner_embed_ = nn::concat({p.point_embed_[2], p.point_embed_[3]}, 0);  // [2, 256]
  return p;
}

void PromptEncoder::place(const Placement& p) {
  // Host copies (gaussian_, point_embed_, not_a_point_, no_mask_) stay for encode()'s loops.
  const Placement f32{p.device, DType::kF32};
  gaussian_dev_ = placed(gaussian_, f32);
  corner_embed_ = placed(corner_embed_, f32);
  dense_pe_tokens_ = placed(dense_pe_tokens_, p);
  no_mask_dense_tokens_ = placed(no_mask_dense_tokens_, p);
  set_nchw_views();
  mask_conv0_.place(p);
  mask_conv1_.place(p);
  mask_conv2_.place(p);
  mask_norm0_.place(p);
  mask_norm1_.place(p);
  placement_ = p;
}

void PromptEncoder::set_nchw_views() {
  dense_pe_ = dense_pe_tokens_.view({1, kGrid, kGrid, kEmbedDim}).permute({0, 3, 1, 2});
  no_mask_dense_ = no_mask_dense_tokens_.view({1, kGrid, kGrid, kEmbedDim}).permute({0, 3, 1, 2});
}

Tensor PromptEncoder::embed_mask(const Tensor& mask) const {
  if (mask.dim() != 4 || mask.size(0) != 1 || mask.size(1) != 1 ||
      mask.size(2) != kMaskInputSize || mask.size(3) != kMaskInputSize) {
    throw Error(StatusCode::kInvalidArgument,
                "PromptEncoder: mask input must be [1, 1, 256, 256], got " + mask.str());
  }
  Tensor m = nn::gelu(mask_norm0_(mask_conv0_(mask)));
  m = nn::gelu(mask_norm1_(mask_conv1_(m)));
  return mask_conv2_(m);
}

Tensor PromptEncoder::box_sparse(const Tensor& box_xyxy,
                                 const nn::SamBoxPromptParams& params) const {
  return nn::sam_box_prompt(box_xyxy, gaussian_dev_, corner_embed_, params).to(placement_.dtype);
}

void PromptEncoder::fourier(float x01, float y01, float* out) const {
  const int64_t half = kEmbedDim / 2;
  const float cx = 2.0f * x01 - 1.0f, cy = 2.0f * y01 - 1.0f;
  const float* g = gaussian_.data<float>();  // row 0 multiplies x, row 1 multiplies y
  for (int64_t i = 0; i < half; ++i) {
    const float proj = kTwoPi * (cx * g[i] + cy * g[half + i]);
    out[i] = std::sin(proj);
    out[half + i] = std::cos(proj);
  }
}

EncodedPrompt PromptEncoder::encode(const std::vector<std::array<float, 2>>& points,
                                    const std::vector<int>& labels,
                                    const std::optional<std::array<float, 4>>& box,
                                    const Tensor& mask) const {
  if (points.size() != labels.size()) {
    throw Error(StatusCode::kInvalidArgument, "PromptEncoder: " + std::to_string(points.size()) +
                                                  " points but " + std::to_string(labels.size()) +
                                                  " labels");
  }
  // Sparse tokens: the points (plus one padding point when there is no box), then the corners.
  struct Token {
    float x, y;
    int kind;  // -1 padding, 0 negative, 1 positive, 2/3 box corners
  };
  std::vector<Token> toks;
  const float size = static_cast<float>(kInputSize);
  for (size_t i = 0; i < points.size(); ++i) {
    toks.push_back({points[i][0] + 0.5f, points[i][1] + 0.5f, labels[i]});
  }
  if (!points.empty() && !box) toks.push_back({0.0f, 0.0f, -1});
  if (box) {
    toks.push_back({(*box)[0] + 0.5f, (*box)[1] + 0.5f, 2});
    toks.push_back({(*box)[2] + 0.5f, (*box)[3] + 0.5f, 3});
  }
  EncodedPrompt out;
  out.sparse = Tensor::empty({1, static_cast<int64_t>(toks.size()), kEmbedDim});
  float* sp = out.sparse.data<float>();
  for (size_t t = 0; t < toks.size(); ++t) {
    float* row = sp + t * kEmbedDim;
    const Token& k = toks[t];
    if (k.kind == -1) {
      const float* e = not_a_point_.data<float>();
      for (int64_t c = 0; c < kEmbedDim; ++c) row[c] = e[c];  // PE zeroed, then + not_a_point
      continue;
    }
    fourier(k.x / size, k.y / size, row);
    const float* e = point_embed_[k.kind].data<float>();
    for (int64_t c = 0; c < kEmbedDim; ++c) row[c] += e[c];
  }

  out.sparse = placed(out.sparse, placement_);  // no-op for a CPU float32 model
  out.dense = mask.defined() ? embed_mask(placed(mask, placement_)) : no_mask_dense_;
  return out;
}

}  // namespace um::mobilesam
