// File: src/models/mobilesam/prompt_encoder.h
// Purpose: SAM's prompt encoder: points, a box and a low-res mask -> sparse [1, N, 256] and dense
// [1, 256, 64, 64] embeddings, plus the dense positional encoding of the embedding grid.
// Coordinates are in the 1024-pixel model input frame (after ResizeLongestSide), as the official
// predictor passes them. Positional encoding = random Fourier features: p = (xy + 0.5) / 1024,
// 2p - 1, times the stored gaussian matrix [2, 128], times 2*pi, then [sin, cos].
// Points: label 1 = foreground, 0 = background, -1 = padding ("not a point": its encoding is
// replaced by not_a_point_embed). Without a box, one padding point is appended (official).
// Box: its two corners encoded like points plus point_embeddings[2] / [3].
// Usage:
//   PromptEncoder pe = PromptEncoder::load(io::WeightSource(tensors, "prompt_encoder."));
//   auto [sparse, dense] = pe.encode(points, labels, box, mask);
#pragma once

#include <array>
#include <optional>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "io/weight_source.h"
#include "models/mobilesam/layers.h"

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

  // points: (x, y) in the 1024 input frame; labels in {-1, 0, 1} (validated by the predictor).
  // box: x0, y0, x1, y1 in the input frame. mask: low-res logits [1, 1, 256, 256] or undefined.
  EncodedPrompt encode(const std::vector<std::array<float, 2>>& points,
                       const std::vector<int>& labels,
                       const std::optional<std::array<float, 4>>& box, const Tensor& mask) const;
  // get_dense_pe(): [1, 256, 64, 64].
  const Tensor& dense_pe() const { return dense_pe_; }

 private:
  // Encodes one point already normalised to [0, 1]^2 into out[0..256).
  void fourier(float x01, float y01, float* out) const;

  Tensor gaussian_;                  // [2, 128]
  std::array<Tensor, 4> point_embed_;  // [1, 256] each: neg, pos, box corner 0, box corner 1
  Tensor not_a_point_;               // [1, 256]
  Tensor no_mask_;                   // [1, 256]
  Conv mask_conv0_, mask_conv1_, mask_conv2_;
  LayerNorm2d mask_norm0_, mask_norm1_;
  Tensor dense_pe_;                  // [1, 256, 64, 64], computed at load
};

}  // namespace um::mobilesam
