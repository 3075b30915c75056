// File: src/models/mobilesam/mask_decoder.cpp
// Purpose: mask decoder forward and loading (see mask_decoder.h).
#include "models/mobilesam/mask_decoder.h"

#include <string>

#include "core/status.h"
#include "nn/ops.h"

namespace um::mobilesam {

MaskDecoder MaskDecoder::load(const io::WeightSource& w) {
  MaskDecoder d;
  d.transformer_ = TwoWayTransformer::load(w.sub("transformer."));
  d.output_tokens_ = nn::concat({w.get("iou_token.weight", {1, kDim}),
                                 w.get("mask_tokens.weight", {kNumMaskTokens, kDim})},
                                0)
                         .unsqueeze(0);  // [1, 5, 256]
  d.up0_w_ = w.get("output_upscaling.0.weight", {kDim, kDim / 4, 2, 2});
  d.up0_b_ = w.get("output_upscaling.0.bias", {kDim / 4});
  d.up_norm_ = load_layer_norm_2d(w, "output_upscaling.1", kDim / 4);
  d.up1_w_ = w.get("output_upscaling.3.weight", {kDim / 4, kDim / 8, 2, 2});
  d.up1_b_ = w.get("output_upscaling.3.bias", {kDim / 8});
  for (int i = 0; i < kNumMaskTokens; ++i) {
    d.hypernet_.push_back(
        load_mlp(w, "output_hypernetworks_mlps." + std::to_string(i), kDim, kDim, kDim / 8, 3));
  }
  d.iou_head_ = load_mlp(w, "iou_prediction_head", kDim, 256, kNumMaskTokens, 3);
  return d;
}

void MaskDecoder::place(const Placement& p) {
  transformer_.place(p);
  output_tokens_ = placed(output_tokens_, p);
  up0_w_ = placed(up0_w_, p);
  up0_b_ = placed(up0_b_, p);
  up1_w_ = placed(up1_w_, p);
  up1_b_ = placed(up1_b_, p);
  up_norm_.place(p);
  for (Mlp& m : hypernet_) m.place(p);
  iou_head_.place({p.device, DType::kF32});  // the IoU score stays float32
}

DecoderOutput MaskDecoder::forward(const Tensor& image_embedding, const Tensor& image_pe,
                                   const Tensor& sparse, const Tensor& dense,
                                   bool multimask) const {
  if (image_embedding.dim() != 4 || image_embedding.size(0) != 1 ||
      image_embedding.size(1) != kDim || image_pe.shape() != image_embedding.shape() ||
      dense.shape() != image_embedding.shape() || sparse.dim() != 3 || sparse.size(0) != 1 ||
      sparse.size(2) != kDim) {
    throw Error(StatusCode::kInvalidArgument,
                "MaskDecoder: inconsistent inputs: embedding " +
                    shape_str(image_embedding.shape()) + ", pe " + shape_str(image_pe.shape()) +
                    ", sparse " + shape_str(sparse.shape()) + ", dense " +
                    shape_str(dense.shape()));
  }
  const Tensor tokens = nn::concat({output_tokens_, sparse}, 1);
  const Tensor src = nn::add(image_embedding, dense);
  const int64_t c = src.size(1), h = src.size(2), w = src.size(3);

  auto [hs, keys] = transformer_.forward(src, image_pe, tokens);
  const Tensor iou_token_out = hs.select(1, 0);  // [1, 256]

  // keys [1, HW, C] -> [1, C, H, W], then upscale 4x.
  Tensor up = keys.permute({0, 2, 1}).reshape({1, c, h, w});
  up = nn::gelu(up_norm_(nn::conv_transpose2d(up, up0_w_, up0_b_, 2, 0)));
  up = nn::gelu(nn::conv_transpose2d(up, up1_w_, up1_b_, 2, 0));  // [1, 32, 4H, 4W]
  const int64_t uc = up.size(1), uh = up.size(2), uw = up.size(3);

  std::vector<Tensor> hyper;
  for (int64_t i = 0; i < kNumMaskTokens; ++i) {
    hyper.push_back(hypernet_[i](hs.select(1, 1 + i)).unsqueeze(1));  // [1, 1, 32]
  }
  const Tensor hyper_in = nn::concat(hyper, 1);                         // [1, 4, 32]
  const Tensor masks = nn::matmul(hyper_in, up.reshape({1, uc, uh * uw}))
                           .reshape({1, kNumMaskTokens, uh, uw});
  const Tensor iou = iou_head_(iou_token_out.to(DType::kF32));  // [1, 4], float32 head

  DecoderOutput out;
  const int64_t first = multimask ? 1 : 0, last = multimask ? kNumMaskTokens : 1;
  out.low_res_logits = masks.slice(1, first, last).contiguous().to(DType::kF32);
  out.iou_predictions = iou.slice(1, first, last).contiguous();
  return out;
}

}  // namespace um::mobilesam
