// File: src/models/mobilesam/mask_decoder.h
// Purpose: SAM's mask decoder: image embedding + prompt embeddings -> low-res mask logits
// [1, C, 256, 256] and IoU predictions [1, C].
// Tokens = [iou_token, 4 mask tokens, sparse prompt tokens]; src = image embedding + dense
// prompt embedding, pos = dense PE; TwoWayTransformer; the image side is upscaled 4x by
// ConvTranspose2d(256->64, 2/2) -> LayerNorm2d -> GELU -> ConvTranspose2d(64->32, 2/2) -> GELU;
// each mask token passes its own 3-layer hypernetwork MLP (-> 32) and is dotted with every
// upscaled pixel; the IoU token passes a 3-layer MLP (-> 4).
// Selection (official SAM v1 / MobileSAM): multimask -> masks 1..3, else mask 0.
// Precision: the decoder computes in the placement's dtype except the IoU head, which stays
// float32 (nn::grouped_mlp reads the float16 token into its float32 math); low_res_logits and
// iou_predictions are float32.
// Usage:
//   MaskDecoder d = MaskDecoder::load(io::WeightSource(tensors, "mask_decoder."));
//   DecoderOutput o = d.forward(embedding, dense_pe, sparse, dense, /*multimask=*/false);
#pragma once

#include <vector>

#include "core/tensor.h"
#include "io/weight_source.h"
#include "models/mobilesam/layers.h"
#include "models/mobilesam/two_way_transformer.h"

namespace um::mobilesam {

struct DecoderOutput {
  Tensor low_res_logits;   // [1, C, 256, 256]
  Tensor iou_predictions;  // [1, C]
};

class MaskDecoder {
 public:
  static constexpr int64_t kDim = 256, kNumMaskTokens = 4;
  static MaskDecoder load(const io::WeightSource& w);
  // dense_pe_host / dense_pe_placed (optional): the prompt encoder's dense PE as float32 host
  // tokens [1, 4096, 256] (before its placement) and as placed (PromptEncoder::dense_pe_tokens):
  // a device placement folds it into the transformer's image-side projections, used whenever
  // forward() gets that PE (TwoWayTransformer::forward).
  void place(const Placement& p, const Tensor& dense_pe_host = Tensor(),
             const Tensor& dense_pe_placed = Tensor());
  // image_embedding, image_pe, sparse, dense: the placement's device and dtype. Outputs float32.
  // = forward(image_side(image_embedding, image_pe, dense), image_pe, sparse, multimask).
  DecoderOutput forward(const Tensor& image_embedding, const Tensor& image_pe,
                        const Tensor& sparse, const Tensor& dense, bool multimask) const;

  // The part of forward() that does not depend on the sparse (box/point) prompt: the image tokens
  // src = image_embedding + dense in token layout [1, H*W, C], and on device placements the
  // transformer's first image-side projections (TwoWayTransformer::first_image_projection).
  // A caller that has the image before the prompt runs it early (the CUDA frame graph: beside
  // D-FINE), then forward(image, ...) with the same image_pe.
  struct ImageSide {
    Tensor src;               // [1, H*W, C]
    Tensor first_projection;  // undefined on the CPU reference path
  };
  ImageSide image_side(const Tensor& image_embedding, const Tensor& image_pe,
                       const Tensor& dense) const;
  DecoderOutput forward(const ImageSide& image, const Tensor& image_pe, const Tensor& sparse,
                        bool multimask) const;

 private:
  // keys [1, H*W, C] (transformer output) and hyper_in [1, 4, 32] -> float32 logits
  // [1, last - first, 4H, 4W] of the masks first..last-1. upscale_and_dot: the official NCHW
  // ConvTranspose2d sequence (the CPU reference). upscale_and_dot_gemm (device placements): the
  // same math channels last, each 2x2/stride-2 transposed conv as one GEMM (no layout transforms
  // around cuDNN, bias in the GEMM), the pixel reordering folded into the float32 conversion
  // copy.
  Tensor upscale_and_dot(const Tensor& keys, const Tensor& hyper_in, int64_t h, int64_t w,
                         int64_t first, int64_t last) const;
  Tensor upscale_and_dot_gemm(const Tensor& keys, const Tensor& hyper_in, int64_t h, int64_t w,
                              int64_t first, int64_t last) const;

  TwoWayTransformer transformer_;
  Tensor output_tokens_;  // [1, 5, 256]: iou_token then the 4 mask_tokens, concatenated at load
  Tensor up0_w_, up0_b_, up1_w_, up1_b_;  // ConvTranspose2d weights [Cin, Cout, 2, 2]
  LayerNorm2d up_norm_;
  Linear up0_lin_, up1_lin_;  // device placements: up0/up1 as GEMMs on channels-last pixels
  GroupedMlp hypernet_;  // 4 x (256 -> 256 -> 256 -> 32), one per mask token
  GroupedMlp iou_head_;  // 1 x (256 -> 256 -> 256 -> 4), float32
};

}  // namespace um::mobilesam
