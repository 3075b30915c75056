// File: src/models/mobilesam/mask_decoder.cpp
// Purpose: mask decoder forward and loading (see mask_decoder.h).
#include "models/mobilesam/mask_decoder.h"

#include <string>

#include "core/status.h"
#include "nn/ops.h"
#include "nn/ops_layer_norm_act.h"

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
  std::vector<Mlp> hyper;
  for (int i = 0; i < kNumMaskTokens; ++i) {
    hyper.push_back(
        load_mlp(w, "output_hypernetworks_mlps." + std::to_string(i), kDim, kDim, kDim / 8, 3));
  }
  d.hypernet_ = group_mlps(hyper);
  d.iou_head_ = group_mlps({load_mlp(w, "iou_prediction_head", kDim, 256, kNumMaskTokens, 3)});
  return d;
}

namespace {

// ConvTranspose2d(Cin -> Cout, kernel 2, stride 2) as a linear layer on channels-last pixels:
// the taps do not overlap, so output pixel (2y + dy, 2x + dx) channel co is
// b[co] + sum_ci x[ci, y, x] W[ci, co, dy, dx]: row (y, x) of x @ W'^T with
// W'[(dy * 2 + dx) * Cout + co, ci] = W[ci, co, dy, dx] holds the 4 output pixels it covers.
Linear conv_transpose_2x2_as_linear(const Tensor& weight, const Tensor& bias) {
  const int64_t cin = weight.size(0), cout = weight.size(1);
  Linear l;
  l.weight = weight.permute({2, 3, 1, 0}).contiguous().view({4 * cout, cin});
  l.bias = nn::concat({bias, bias, bias, bias}, 0);
  return l;
}

// [B, C, H, W] -> the same values as [B, H, W, C] (a view; contiguous for channels-last data).
Tensor channels_last(const Tensor& nchw) { return nchw.permute({0, 2, 3, 1}); }

// [1, C, H, W] -> token layout [1, H*W, C] (a view for channels-last data, as the dense PE is:
// the transformer recognises its folded PE by that view).
Tensor tokens_of(const Tensor& nchw) {
  return channels_last(nchw).reshape({1, nchw.size(2) * nchw.size(3), nchw.size(1)});
}

}  // namespace

void MaskDecoder::place(const Placement& p, const Tensor& dense_pe_host,
                        const Tensor& dense_pe_placed) {
  transformer_.place(p, dense_pe_host, dense_pe_placed);
  output_tokens_ = placed(output_tokens_, p);
  if (p.device_layouts()) {
    // The device path upscales with two GEMMs (forward()); built from the float32 host weights.
    up0_lin_ = conv_transpose_2x2_as_linear(up0_w_, up0_b_);
    up1_lin_ = conv_transpose_2x2_as_linear(up1_w_, up1_b_);
    up0_lin_.place(p);
    up1_lin_.place(p);
  }
  up0_w_ = placed(up0_w_, p);
  up0_b_ = placed(up0_b_, p);
  up1_w_ = placed(up1_w_, p);
  up1_b_ = placed(up1_b_, p);
  up_norm_.place(p);
  hypernet_.place(p);
  iou_head_.place({p.device, DType::kF32});  // the IoU score stays float32
}

DecoderOutput MaskDecoder::forward(const Tensor& image_embedding, const Tensor& image_pe,
                                   const Tensor& sparse, const Tensor& dense,
                                   bool multimask) const {
  return forward(image_side(image_embedding, image_pe, dense), image_pe, sparse, multimask);
}

MaskDecoder::ImageSide MaskDecoder::image_side(const Tensor& image_embedding,
                                               const Tensor& image_pe,
                                               const Tensor& dense) const {
  if (image_embedding.dim() != 4 || image_embedding.size(0) != 1 ||
      image_embedding.size(1) != kDim || image_pe.shape() != image_embedding.shape() ||
      dense.shape() != image_embedding.shape()) {
    throw Error(StatusCode::kInvalidArgument,
                "MaskDecoder: inconsistent inputs: embedding " +
                    shape_str(image_embedding.shape()) + ", pe " + shape_str(image_pe.shape()) +
                    ", dense " + shape_str(dense.shape()));
  }
  ImageSide out;
  // src = image_embedding + dense, written straight in token layout [1, H*W, C] (the official
  // code adds in NCHW, then flattens and permutes: same values, one pass instead of two); the
  // dense PE is channels last already (PromptEncoder), so its token view is free.
  out.src = nn::add(channels_last(image_embedding), channels_last(dense))
                .view({1, image_embedding.size(2) * image_embedding.size(3), kDim});
  out.first_projection = transformer_.first_image_projection(out.src, tokens_of(image_pe));
  return out;
}

DecoderOutput MaskDecoder::forward(const ImageSide& image, const Tensor& image_pe,
                                   const Tensor& sparse, bool multimask) const {
  if (image_pe.dim() != 4 || image_pe.size(0) != 1 || image_pe.size(1) != kDim ||
      !image.src.defined() ||
      image.src.shape() != Shape{1, image_pe.size(2) * image_pe.size(3), kDim} ||
      sparse.dim() != 3 || sparse.size(0) != 1 || sparse.size(2) != kDim) {
    throw Error(StatusCode::kInvalidArgument,
                "MaskDecoder: inconsistent inputs: image tokens " +
                    (image.src.defined() ? shape_str(image.src.shape())
                                         : std::string("undefined")) +
                    ", pe " + shape_str(image_pe.shape()) + ", sparse " +
                    shape_str(sparse.shape()));
  }
  const int64_t h = image_pe.size(2), w = image_pe.size(3);
  const Tensor tokens = nn::concat({output_tokens_, sparse}, 1);
  auto [hs, keys] = transformer_.forward(image.src, tokens_of(image_pe), tokens,
                                         image.first_projection);
  const Tensor iou_token_out = hs.select(1, 0);  // [1, 256]

  // Mask token i through hypernetwork MLP i, the four as one grouped op -> [1, 4, 32].
  const Tensor hyper_in = hypernet_(hs.slice(1, 1, 1 + kNumMaskTokens).select(0, 0)).unsqueeze(0);
  const int64_t first = multimask ? 1 : 0, last = multimask ? kNumMaskTokens : 1;
  DecoderOutput out;
  out.low_res_logits = up0_lin_.weight.defined()
                           ? upscale_and_dot_gemm(keys, hyper_in, h, w, first, last)
                           : upscale_and_dot(keys, hyper_in, h, w, first, last);
  // [1, 4]: the float32 head (G = 1) reads the token as it is (a float16 decoder's token is
  // converted inside the op; on the CPU it is float32 already).
  const Tensor iou = iou_head_(iou_token_out);

  out.iou_predictions = iou.slice(1, first, last).contiguous();
  return out;
}

Tensor MaskDecoder::upscale_and_dot(const Tensor& keys, const Tensor& hyper_in, int64_t h,
                                    int64_t w, int64_t first, int64_t last) const {
  // keys [1, HW, C] -> [1, C, H, W], then upscale 4x (the official NCHW sequence).
  const int64_t c = keys.size(2);
  Tensor up = keys.permute({0, 2, 1}).reshape({1, c, h, w});
  up = nn::gelu(up_norm_(nn::conv_transpose2d(up, up0_w_, up0_b_, 2, 0)));
  up = nn::gelu(nn::conv_transpose2d(up, up1_w_, up1_b_, 2, 0));  // [1, 32, 4H, 4W]
  const int64_t uc = up.size(1), uh = up.size(2), uw = up.size(3);
  const Tensor masks = nn::matmul(hyper_in, up.reshape({1, uc, uh * uw}))
                           .reshape({1, kNumMaskTokens, uh, uw});
  return masks.slice(1, first, last).contiguous().to(DType::kF32);
}

Tensor MaskDecoder::upscale_and_dot_gemm(const Tensor& keys, const Tensor& hyper_in, int64_t h,
                                         int64_t w, int64_t first, int64_t last) const {
  // Channels last throughout: each 2x2 transposed conv is one GEMM over the pixels (bias in its
  // epilogue), its 4 output pixels per input pixel side by side in the row, so the pixel order
  // becomes (y, x, dy, dx) and then (y, x, dy, dx, dy2, dx2); LayerNorm2d over the channels is
  // layer_norm over the rows' last dim. The selected masks are hyper_in @ pixels^T in that order,
  // and the float32 conversion copy reads them back in image order (row 4y + 2dy + dy2,
  // column 4x + 2dx + dx2).
  const int64_t c0 = up0_lin_.weight.size(0) / 4, c1 = up1_lin_.weight.size(0) / 4;
  Tensor up = up0_lin_(keys).view({1, h * w * 4, c0});  // [1, (y, x, dy, dx), 64]
  up = nn::layer_norm_act(up, up_norm_.weight, up_norm_.bias, up_norm_.eps,
                          nn::Activation::kGELU);
  up = nn::gelu(up1_lin_(up)).view({h * w * 16, c1});  // [(y, x, dy, dx, dy2, dx2), 32]
  const int64_t n = last - first;
  const Tensor m = nn::linear(hyper_in.slice(1, first, last), up, Tensor());  // [1, n, pixels]
  return m.view({n, h, w, 2, 2, 2, 2})
      .permute({0, 1, 3, 5, 2, 4, 6})  // (mask, y, dy, dy2, x, dx, dx2)
      .to(DType::kF32)
      .contiguous()  // the copy when the model computes in float32 (to() returned the view)
      .view({1, n, h * 4, w * 4});
}

}  // namespace um::mobilesam
