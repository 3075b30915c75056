// File: src/models/mobilesam/prompt_encoder.h
// Purpose: SAM's prompt encoder: points, a box and a low-res mask -> sparse [1, N, 256] and dense
// [1, 256, 64, 64] embeddings, plus the dense positional encoding of the embedding grid.
// Coordinates are in the 1024-pixel model input frame (after ResizeLongestSide), as the official
// predictor passes them. Positional encoding = random Fourier features: p = (xy + 0.5) / 1024,
// 2p - 1, times the stored gaussian matrix [2, 128], times 2*pi, then [sin, cos].
// Points: label 1 = foreground, 0 = background, -1 = padding ("not a point": its encoding is
// replaced by not_a_point_embed). Without a box, one padding point is appended (official).
// Box: its two corners encoded like points plus point_embeddings[2] / [3].
// Placement (place()): the dense PE and the no-mask dense embedding are computed in float32 on the
// host at load, then stored in the compute dtype on the device; the box path keeps the Fourier
// matrix and the corner embeddings in float32 on the device (box coordinates are float32 end to
// end, converted to the compute dtype only as finished tokens).
// Usage:
//   PromptEncoder pe = PromptEncoder::load(io::WeightSource(tensors, "prompt_encoder."));
//   auto [sparse, dense] = pe.encode(points, labels, box, mask);
//   Tensor sparse_dev = pe.box_sparse(box_xyxy_device, params);  // device path, no host
#pragma once

#include <array>
#include <optional>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "io/weight_source.h"
#include "models/mobilesam/layers.h"
#include "nn/ops_sam.h"

namespace um::mobilesam {

struct EncodedPrompt {
  Tensor sparse;  // [1, N, 256]
  Tensor dense;   // [1, 256, 64, 64]
};

class PromptEncoder {
 public:
  static constexpr int64_t kEmbedDim = 256;
  static constexpr int64_t kGrid = 64;          // image embedding size
  static constexpr int64_t kInputSize = 1024;   // model input size
  static constexpr int64_t kMaskInputSize = 256;

  static PromptEncoder load(const io::WeightSource& w);
  // Moves the weights and constants to p.device / p.dtype (see above).
  void place(const Placement& p);

  // points: (x, y) in the 1024 input frame; labels in {-1, 0, 1} (validated by the predictor).
  // box: x0, y0, x1, y1 in the input frame. mask: low-res logits [1, 1, 256, 256] or undefined.
  EncodedPrompt encode(const std::vector<std::array<float, 2>>& points,
                       const std::vector<int>& labels,
                       const std::optional<std::array<float, 4>>& box, const Tensor& mask) const;
  // Host-side encoding: sparse built on the host, then placed on the model's device; a mask
  // (any device, float32) is moved there too. The frame path uses box_sparse() instead.
  // get_dense_pe(): [1, 256, 64, 64] (placement dtype and device). A channels-last view (strides
  // of [1, 64, 64, 256]): its token view [1, 4096, 256] is contiguous.
  const Tensor& dense_pe() const { return dense_pe_; }
  // The same PE as tokens [1, 64*64, 256] (contiguous; the tensor dense_pe() views).
  const Tensor& dense_pe_tokens() const { return dense_pe_tokens_; }
  // no_mask_embed broadcast to [1, 256, 64, 64] (placement dtype and device; channels-last view
  // as dense_pe()).
  const Tensor& no_mask_dense() const { return no_mask_dense_; }
  // mask_downscaling of low-res logits [1, 1, 256, 256] already in the placement's dtype and
  // device -> dense embedding [1, 256, 64, 64].
  Tensor embed_mask(const Tensor& mask) const;
  // Sparse tokens [1, 2, 256] (placement dtype) of a box-only prompt from a float32 box on the
  // placement's device (nn::sam_box_prompt: clamp, apply_boxes scaling, Fourier + corners).
  Tensor box_sparse(const Tensor& box_xyxy, const nn::SamBoxPromptParams& params) const;

 private:
  // dense_pe_ / no_mask_dense_ = the NCHW views of the token tensors (after load and place).
  void set_nchw_views();
  // Encodes one point already normalised to [0, 1]^2 into out[0..256).
  void fourier(float x01, float y01, float* out) const;

  Tensor gaussian_;                  // [2, 128]
  std::array<Tensor, 4> point_embed_;  // [1, 256] each: neg, pos, box corner 0, box corner 1
  Tensor not_a_point_;               // [1, 256]
  Tensor no_mask_;                   // [1, 256]
  Conv mask_conv0_, mask_conv1_, mask_conv2_;
  LayerNorm2d mask_norm0_, mask_norm1_;
  Tensor dense_pe_tokens_;           // [1, 64*64, 256] contiguous, computed at load
  Tensor no_mask_dense_tokens_;      // [1, 64*64, 256] contiguous, computed at load
  Tensor dense_pe_;                  // [1, 256, 64, 64]: channels-last view of dense_pe_tokens_
  Tensor no_mask_dense_;             // [1, 256, 64, 64]: view of no_mask_dense_tokens_
  Tensor gaussian_dev_;              // gaussian_, float32 on the placement's device
  Tensor corner_embed_;              // [2, 256] point_embed_[2..3], float32 on the device
  Placement placement_;
};

}  // namespace um::mobilesam
